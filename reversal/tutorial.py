"""Small helpers that let demo_notebook.py run the same way as a script, in a terminal, and as a notebook."""

import functools
import inspect
import sys


def in_notebook():
    """True inside a Jupyter kernel (VS Code, JupyterLab), where sys.argv holds the kernel's own arguments."""
    return "ipykernel" in sys.modules


def watching():
    """Is a person watching the output live? Then progress bars are worth drawing."""
    return in_notebook() or sys.stderr.isatty()


def pause(enabled):
    """Wait for Enter between steps, but only for a person at a terminal: never in a notebook, pipe or CI."""
    if not enabled or in_notebook() or not sys.stdin or not sys.stdin.isatty():
        return
    try:
        input("\n[press Enter to continue] ")
    except EOFError:  # stdin closed while waiting: carry on rather than crash
        pass


def show(path):
    """Show a written PNG inline in a notebook; in a terminal, say where it is."""
    if in_notebook():
        from IPython.display import Image, display

        display(Image(filename=path))
    else:
        print(f"(figure written to {path}: open it to look)")


def tell():
    """Print the markdown cell above the calling code cell, so that a terminal shows the story a notebook renders.

    In a notebook the markdown is already on screen, so this does nothing there.
    """
    if in_notebook():
        return
    caller = inspect.currentframe().f_back
    with open(caller.f_code.co_filename) as file:
        above = file.read().splitlines()[:caller.f_lineno - 1]
    code_cell = max(i for i, line in enumerate(above) if line.startswith("# %%"))  # where the calling cell starts
    markdown_cell = max(i for i, line in enumerate(above[:code_cell]) if line.startswith("# %% [markdown]"))
    print()
    for line in above[markdown_cell + 1:code_cell]:
        text = line[2:].replace("**", "").replace("`", "")  # markdown marks, which a terminal shows as they are
        if text.startswith("#"):  # a heading: make it stand out
            heading = text.lstrip("# ")
            print(f"{'=' * 78}\n{heading}\n{'=' * 78}")
        else:
            print(text)


_background = None  # the worker pool that draws a terminal run's figures; started by the first figure()


def figure(plot, *args, **kwargs):
    """Draw a figure, plot(*args, **kwargs), whose last argument is the path, and show it.

    In a notebook it is drawn here and shown inline. In a terminal it is drawn by a worker process on the second core
    while the next steps run (plots.BackgroundFigures), and its path is printed; finish_figures() waits for them all.
    """
    path = args[-1]
    if in_notebook():
        plot(*args, **kwargs)
        show(path)
        return
    global _background
    if _background is None:
        from .plots import BackgroundFigures  # here: only a terminal run needs the worker pool

        _background = BackgroundFigures().__enter__()
    _background.draw(functools.partial(plot, **kwargs), *args)
    print(f"(figure drawn in the background to {path}: open it to look)")


def finish_figures():
    """Wait until every figure figure() queued is written; a worker's error is raised here."""
    global _background
    if _background is not None:
        pool, _background = _background, None
        pool.__exit__(None, None, None)
