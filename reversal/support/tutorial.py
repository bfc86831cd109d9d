"""Small helpers that let demo_notebook.py run the same way as a script, in a terminal, and as a notebook."""

import contextlib
import functools
import inspect
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap

from ..core.progress import heartbeat, in_notebook
from ..report.glossary import GLOSSARY
from ..report.html import Section, write_report
from ..report.questions import STEPS
from ..report.result import Finding
from ..report.wording import listing, plural


WIDTH = 120  # a takeaway is wrapped to lines of at most this many characters, for a terminal or a projector
_details = False  # True with --details (DETAILS = True in a notebook): print the evidence and the folded text too
_quiet = False  # True while start_at_chapter() runs the earlier steps a chapter needs, without their output
_viewer = None  # the command that opens a figure in a window, set by show_figures() for --show
VIEWER_WAIT = 2  # seconds to wait for the viewer's exit status: xdg-open and open answer in a fraction of that
# what report() puts on the page, kept as the run goes:
_lesson = {}  # step number -> (figure paths, Finding): the step's figures and takeaway, from say(..., step=N)
_drawn = []  # the figures drawn since the last say(): they belong to the step that say() closes
_in_short = None  # the run in one paragraph, from summarize(): the report opens with it


def pause(enabled):
    """Wait for Enter between steps, but only for a person at a terminal: never in a notebook, pipe or CI."""
    if not enabled or _quiet or in_notebook() or not sys.stdin or not sys.stdin.isatty():
        return
    name = heartbeat.name
    heartbeat.stage(None)  # waiting for the person: nothing is still working
    try:
        input("\n[press Enter to continue] ")
    except EOFError:  # stdin closed while waiting: carry on rather than crash
        pass
    heartbeat.stage(name)


def show(path):
    """Show a written PNG inline in a notebook; in a terminal, open it in a window (--show) or say where it is."""
    global _viewer
    if in_notebook():
        from IPython.display import Image, display

        display(Image(filename=path))
        return
    opened = ": open it to look"
    if _viewer is not None:
        try:  # the viewer runs on its own: the tutorial goes on while the window stays open
            viewer = subprocess.Popen(_viewer + [path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
            # xdg-open and open hand the file to a viewer and exit at once, 0 if it worked; wait that long only
            status = viewer.wait(timeout=VIEWER_WAIT)
        except OSError as error:  # it would not start at all
            status = error.strerror
        except subprocess.TimeoutExpired:  # still running: the viewer itself, showing it (or slow to start)
            status = None
            opened = f", and handed to {_viewer[0]}, which is still running"
        if _viewer[0] == "explorer" and isinstance(status, int):  # explorer exits 1 whether it opened it or not
            status, opened = None, ", and handed to explorer"
        if status == 0:
            opened = ", and opened in a window"
        elif status is not None:
            cause = f"exit status {status}" if isinstance(status, int) else status
            print(f"--show: {_viewer[0]} could not open it ({cause}); the figures are only written from now on")
            _viewer = None
    print(f"(figure written to {path}{opened})")


def find_viewer(platform=sys.platform, environ=os.environ, which=shutil.which):
    """(command, None) for the program that opens an image in a window here, or (None, why not) without a display."""
    if platform == "darwin":
        return ["open"], None
    if platform == "win32":
        return ["explorer"], None
    if not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")):
        return None, "no display here (DISPLAY and WAYLAND_DISPLAY are unset)"
    if which("xdg-open") is None:
        return None, "no xdg-open here to open a window with"
    return ["xdg-open"], None


def show_figures(enabled):
    """--show: open each figure in a window as its step runs. Without a display, say so in one line and go on."""
    global _viewer
    if not enabled or in_notebook():  # a notebook shows every figure inline anyway
        return
    _viewer, why_not = find_viewer()
    if _viewer is None:
        print(f"--show: {why_not}, so each figure is only written to a file, as without --show")


def show_details(enabled):
    """--details, or DETAILS = True in a notebook: from now on say() prints each finding's evidence and caveats, and
    tell() the markdown folded in <details> blocks. Without it a step prints its question and its takeaway."""
    global _details
    _details = bool(enabled)


def say(*takeaways, step=None):
    """Close a step's experiment: each finding's headline (or a sentence computed from the run), the last one as
    the step's one-line takeaway. With details, each finding's evidence and caveats come first, the measurements
    and limits behind its headline. step: the notebook's step number; the takeaways, and the figures drawn since the
    last say(), become that step's section of the report (report()), headed as questions.STEPS[step] says.

        say(probes.finding(), step=8)                             # Takeaway: Linear probes name the input letters ...
        say(f"{n_found} of {n_features} features found", step=24)  # a step with no Result says what it computed
    """
    if step is not None and not _quiet:  # a step run quietly, for a later chapter, is not part of the report
        _lesson[step] = (list(_drawn), one_finding(takeaways))  # running a cell again replaces its step's section
    _drawn.clear()
    for number, takeaway in enumerate(takeaways, 1):
        if isinstance(takeaway, Finding):
            if _details:
                print("\n".join([*takeaway.evidence, *takeaway.caveats]))
            takeaway = takeaway.headline
        print(textwrap.fill(f"{'Takeaway: ' if number == len(takeaways) else ''}{takeaway}", WIDTH,
                            subsequent_indent="  ", break_long_words=False, break_on_hyphens=False))


def one_finding(takeaways):
    """say()'s takeaways as one Finding for the report: the headlines in order as its headline (a sentence given as a
    string starts with a capital there), their numbers, evidence and caveats together."""
    findings = [takeaway if isinstance(takeaway, Finding) else Finding(takeaway[:1].upper() + takeaway[1:])
                for takeaway in takeaways]
    return Finding(" ".join(finding.headline for finding in findings),
                   {name: value for finding in findings for name, value in finding.numbers.items()},
                   [line for finding in findings for line in finding.evidence],
                   [line for finding in findings for line in finding.caveats])


def summarize(text):
    """Print the run's result in one paragraph (the mechanism, "In short: ..."); the report opens with it."""
    global _in_short
    _in_short = text
    print(textwrap.fill(text, WIDTH, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False))


def report(path, *configs):
    """Write every step said so far on one page, path (report/html.py): each config's settings and the summary at
    the top, then a section per step in step order, with its heading and question (questions.STEPS), its figures,
    its takeaway and key numbers, and the evidence folded; the glossary at the end. A run that started at a chapter
    has only its steps, and its title says which. Waits for the figures still being drawn, then says where it is."""
    finish_figures()  # the figures are embedded in the page, so each must be written first
    steps = sorted(_lesson)
    sections = [Section(*STEPS[step], *_lesson[step]) for step in steps]
    shown = (f"all {len(STEPS)} steps" if steps == sorted(STEPS) else
             f"steps {steps[0]} to {steps[-1]}" if steps == list(range(steps[0], steps[-1] + 1)) else
             "steps " + listing(map(str, steps)))
    write_report(path, f"Reversing letters, the notebook: {shown}", [cfg.summary() for cfg in configs], _in_short,
                 sections, GLOSSARY)
    figure_count = sum(len(section.figures) for section in sections)
    print(f"wrote {os.path.abspath(path)}: {shown} on one page, {plural(figure_count, 'figure')} embedded (open it "
          f"in a browser)")


def tell(caller=None):
    """Print the markdown cells above the calling code cell, back to the code cell before them, so that a terminal
    shows the story a notebook renders (a step's closing words sit in a markdown cell of their own, after its code).

    Lines from "<details><summary>Title</summary>" to "</details>", which a notebook shows folded, print only with
    details (show_details), under their title. In a notebook the markdown is already on screen, so this does nothing.
    """
    if in_notebook():
        return
    caller = caller or inspect.currentframe().f_back  # the calling cell's frame; notebook.start passes the first's
    with open(caller.f_code.co_filename) as file:
        above = file.read().splitlines()[:caller.f_lineno - 1]
    starts = [i for i, line in enumerate(above) if line.startswith("# %%")]  # where each cell starts
    calling = len(starts) - 1
    first = calling  # back over the markdown cells right above the calling cell
    while first > 0 and above[starts[first - 1]].startswith("# %% [markdown]"):
        first -= 1
    for begin, end in zip(starts[first:calling], starts[first + 1:calling + 1]):
        shown = [""]  # a blank line before each cell
        folded = False  # inside a <details> block that is not printed
        for line in above[begin + 1:end]:
            text = line[2:].replace("**", "").replace("`", "")  # markdown marks, which a terminal shows as they are
            if text.startswith("<details>"):
                folded = not _details
                if _details:
                    shown.append(f"[details] {re.sub(r'<[^>]+>', '', text).strip()}:")
            elif text.startswith("</details>"):
                folded = False
            elif folded:
                continue
            elif text.startswith("#"):  # a heading: make it stand out
                heading = text.lstrip("# ")
                step = re.match(r"Step \d+", heading)
                if step:  # what the heartbeat names, should the step's cells run long (core.progress)
                    heartbeat.name = step.group(0).lower()
                shown.append(f"{'=' * 78}\n{heading}\n{'=' * 78}")
            else:
                shown.append(text)
        if any(shown):  # a cell that is all folded prints nothing, not blank lines
            print("\n".join(shown))
    heartbeat.stage(heartbeat.name or "the introduction")  # a code cell starts now


_background = None  # the worker pool that draws a terminal run's figures; started by the first figure()


def stop_lesson(line, path, *configs):
    """End the tutorial early, in one line, after writing the report of the steps so far: a network whose output does
    not depend on its input leaves the later steps nothing to study. In a notebook, "Run all" stops here too."""
    summarize(line)
    report(path, *configs)
    sys.exit(0)  # a result, not a failure


def figure(plot, *args, **kwargs):
    """Draw a figure, plot(*args, **kwargs), whose last argument is the path, and show it.

    In a notebook it is drawn here and shown inline. In a terminal it is drawn by a worker process on the second core
    while the next steps run (plots.BackgroundFigures), and its path is printed; finish_figures() waits for them all.
    """
    path = args[-1]
    if _quiet:  # an earlier step run only for what a later chapter needs: its figure is not wanted
        return
    _drawn.append(path)  # the report shows it in the section of the step the next say() closes
    if in_notebook() or _viewer is not None:  # drawn now, to be shown now
        plot(*args, **kwargs)
        show(path)
        return
    global _background
    if _background is None:
        from ..report.plots import BackgroundFigures  # here: only a terminal run needs the worker pool

        _background = BackgroundFigures().__enter__()
    _background.draw(functools.partial(plot, **kwargs), *args)
    print(f"(figure: {path})")


def finish_figures():
    """Wait until every figure figure() queued is written; a worker's error is raised here."""
    global _background
    if _background is not None:
        pool, _background = _background, None
        pool.__exit__(None, None, None)


def start_at_chapter(first_step, needs, caller=None):
    """--chapter: run the code cells of the steps in `needs` without their output, then every cell from step
    `first_step` on, in the calling script's globals; then exit. Called by notebook.start_chapter.

    A step is the code below a markdown cell headed "## Step N". Of a needed step only its first code cell runs (the
    exercises below it are skipped). Each cell is compiled at its own line numbers, so tell() and tracebacks work.
    """
    caller = caller or inspect.currentframe().f_back  # the frame of the cell that asked: notebook.start_chapter's
    namespace, filename = caller.f_globals, caller.f_code.co_filename
    with open(filename) as file:
        lines = file.read().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("# %%")] + [len(lines)]
    cells, step = [], 0  # (step, first line, source) of every code cell
    for begin, end in zip(starts, starts[1:]):
        text = "\n".join(lines[begin:end])
        if lines[begin].startswith("# %% [markdown]"):
            found = re.search(r"^# ## Step (\d+)", text, re.MULTILINE)
            step = int(found.group(1)) if found else step
        elif begin > caller.f_lineno:  # code cells after the one that called us
            cells.append((step, begin, text))
    first_cells = {}
    for cell_step, begin, text in cells:
        first_cells.setdefault(cell_step, (begin, text))
    run = lambda begin, text: exec(compile("\n" * begin + text, filename, "exec"), namespace)

    global _quiet
    if needs:
        steps = ", ".join(map(str, needs[:-1])) + f" and {needs[-1]}" if len(needs) > 1 else str(needs[0])
        print(f"--chapter: running step{'s' if len(needs) > 1 else ''} {steps} first, without their output "
              f"(this chapter uses what they compute)")
        _quiet = True
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                for step in needs:
                    run(*first_cells[step])
        finally:
            _quiet = False
    for cell_step, begin, text in cells:
        if cell_step >= first_step:
            run(begin, text)
    sys.exit(0)
