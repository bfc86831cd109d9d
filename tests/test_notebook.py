"""The notebook's chapters, --chapter, --show and --crowded."""

import ast
import os
import re
import subprocess
import sys

import pytest

from conftest import assert_png
from reversal.support import tutorial

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "demo_notebook.py")
FEATURE_FIGURES = ["notebook_steering.png", "notebook_transformer_steering.png", "notebook_superposition.png",
                   "notebook_sae.png", "notebook_superposition_crowded.png", "notebook_sae_crowded.png"]


def notebook_chapters():
    """CHAPTERS as written in demo_notebook.py: {name: (first step, needed steps)}."""
    tree = ast.parse(open(NOTEBOOK).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "CHAPTERS":
            return ast.literal_eval(node.value)
    raise AssertionError("demo_notebook.py defines no CHAPTERS")


def run_notebook(*args, env=None):
    return subprocess.run([sys.executable, NOTEBOOK, "--no-pause", *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120, env=env)


def test_each_chapter_starts_where_its_heading_is():
    text = open(NOTEBOOK).read()
    headed = {int(step) for step in re.findall(r"^# # Chapter \d+: .*\n# ## Step (\d+):", text, re.MULTILINE)}
    steps = {int(step) for step in re.findall(r"^# ## Step (\d+):", text, re.MULTILINE)}
    chapters = notebook_chapters()
    assert sorted(first for first, _ in chapters.values()) == sorted(headed), "a chapter starts at a step without a heading"
    for name, (first, needs) in chapters.items():
        assert all(step in steps and step < first for step in needs), f"{name} needs a step that is not before it"


@pytest.mark.slow
def test_chapter_features_starts_there_shows_each_figure_and_runs_the_crowded_model(features_notebook_run):
    result, out, tmp_path = features_notebook_run  # --chapter features --show --crowded, a stand-in viewer
    assert result.returncode == 0, result.stderr
    assert "Step 21" in result.stdout and "Step 26" in result.stdout
    assert not re.search(r"^Step ([1-9]|1\d|20):", result.stdout, re.MULTILINE), "an earlier step printed its text"
    assert not (out / "notebook_training_loss.png").exists(), "a step run only for what the chapter needs drew"
    for name in FEATURE_FIGURES:
        assert_png(out / name)
    opened = [os.path.basename(line) for line in (tmp_path / "opened").read_text().split()]
    assert opened == FEATURE_FIGURES, "--show opens each figure once, as its step runs"
    assert "an additive code needs L x (V-1) = 6 x 3 = 18 directions" in result.stdout  # the crowded model's report


@pytest.mark.slow
def test_unknown_chapter_exits_2_with_one_line(tmp_path):
    result = run_notebook("--chapter", "superposition", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--chapter" in result.stderr and "features" in result.stderr  # names the setting and what is allowed
    assert not (tmp_path / "out").exists()


def test_show_without_a_display_says_so_in_one_line(monkeypatch, capsys):
    find_viewer = tutorial.find_viewer
    monkeypatch.setattr(tutorial, "find_viewer", lambda: find_viewer(platform="linux", environ={}))
    monkeypatch.setattr(tutorial, "_viewer", None)
    tutorial.show_figures(True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "--show" in lines[0] and "no display" in lines[0]
    assert tutorial._viewer is None


@pytest.mark.parametrize("platform, environ, has_xdg_open, expected", [
    ("linux", {"DISPLAY": ":0"}, True, ["xdg-open"]),
    ("linux", {"WAYLAND_DISPLAY": "wayland-0"}, True, ["xdg-open"]),
    ("linux", {"DISPLAY": ":0"}, False, None),
    ("linux", {}, True, None),
    ("darwin", {}, False, ["open"]),
])
def test_find_viewer(platform, environ, has_xdg_open, expected):
    which = lambda name: "/usr/bin/xdg-open" if has_xdg_open else None
    viewer, why_not = tutorial.find_viewer(platform=platform, environ=environ, which=which)
    assert viewer == expected
    assert (why_not is None) == (expected is not None)


def test_tell_prints_every_markdown_cell_back_to_the_previous_code_cell(tmp_path):
    """A step's closing words are a markdown cell after its code: the terminal must print them too (issue 14)."""
    script = tmp_path / "cells.py"
    script.write_text("# %% [markdown]\n# ## Step 1\n# first question\n\n"
                      "# %%\nfrom reversal.support.tutorial import tell\ntell()\n\n"
                      "# %% [markdown]\n# What it proves: the closing words\n\n"
                      "# %% [markdown]\n# ## Step 2\n# second question\n\n"
                      "# %%\ntell()\n")
    result = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.count("first question") == 1 and text.count("second question") == 1, text
    assert "What it proves: the closing words" in text, f"the markdown cell after a step's code was not printed:\n{text}"
    assert text.index("first question") < text.index("What it proves") < text.index("second question"), text


def test_the_shipped_ipynb_is_the_script_as_a_notebook():
    """demo_notebook.ipynb is generated from demo_notebook.py; after editing the script, run
    python -m reversal.support.ipynb."""
    from reversal.support.ipynb import NOTEBOOK, notebook_text, percent_cells

    script = open(NOTEBOOK.with_suffix(".py")).read()
    assert NOTEBOOK.read_text() == notebook_text(script), \
        "demo_notebook.ipynb differs from demo_notebook.py: run python -m reversal.support.ipynb"
    cells = percent_cells(script)
    assert sum(kind == "code" for kind, _ in cells) >= 20 and cells[0][0] == "markdown", "the parse lost the cells"
    markdown = [line for kind, source in cells if kind == "markdown" for line in source.splitlines()]
    assert not any(line.startswith("# #") for line in markdown), "a markdown cell kept its comment marks"
