"""demo_notebook.ipynb, made from demo_notebook.py: the same cells, with no outputs.

    python -m reversal.support.ipynb     # rewrite demo_notebook.ipynb after changing demo_notebook.py

demo_notebook.py is the one to edit. It is written in the "percent" format that jupytext, VS Code and PyCharm read:
a line "# %%" starts a code cell, "# %% [markdown]" a markdown cell whose lines each begin with "# ". This module
reads that format and writes the notebook, so a student needs neither jupytext nor an editor that knows the format;
the .ipynb records the pairing, so jupytext users can keep the two in step from either side.
"""

import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
SCRIPT, NOTEBOOK = ROOT / "demo_notebook.py", ROOT / "demo_notebook.ipynb"


def percent_cells(text):
    """[(kind, source)] for the cells of a percent-format script: kind is "markdown" or "code"; a markdown cell's
    source has its "# " marks removed. Blank lines at a cell's ends are dropped, as jupytext does."""
    cells = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            cells.append(("markdown" if line.startswith("# %% [markdown]") else "code", []))
        elif cells:  # lines above the first cell marker are not part of any cell
            kind, lines = cells[-1]
            lines.append(line[2:] if kind == "markdown" and line.startswith("# ") else
                         "" if kind == "markdown" and line == "#" else line)
    tidy = []
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        tidy.append((kind, "\n".join(lines)))
    return tidy


def notebook(text):
    """The nbformat 4 notebook of a percent-format script, as a dict, with no outputs."""
    def cell(number, kind, source):
        lines = source.splitlines(keepends=True)
        if kind == "markdown":
            return {"cell_type": "markdown", "id": f"cell-{number}", "metadata": {}, "source": lines}
        return {"cell_type": "code", "execution_count": None, "id": f"cell-{number}", "metadata": {}, "outputs": [],
                "source": lines}

    return {"cells": [cell(number, *parts) for number, parts in enumerate(percent_cells(text))],
            "metadata": {"jupytext": {"formats": "ipynb,py:percent"},
                         "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def notebook_text(text):
    """notebook(text) as the file's text: indented JSON, one key order, so the same script gives the same bytes."""
    return json.dumps(notebook(text), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    NOTEBOOK.write_text(notebook_text(SCRIPT.read_text()))
    print(f"wrote {NOTEBOOK.name} from {SCRIPT.name}: {len(percent_cells(SCRIPT.read_text()))} cells, no outputs")
