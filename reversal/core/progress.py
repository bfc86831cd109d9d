"""Is a person watching? Progress bars are drawn only for someone who can see them: a terminal or a notebook."""

import sys


def in_notebook():
    """True inside a Jupyter kernel (VS Code, JupyterLab), where sys.argv holds the kernel's own arguments."""
    return "ipykernel" in sys.modules


def watching():
    """Is a person watching the output live? Then progress bars are worth drawing (not in a pipe or CI)."""
    return in_notebook() or sys.stderr.isatty()
