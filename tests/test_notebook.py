"""The notebook's chapters, --chapter, --show and --crowded."""

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
                   "notebook_sae.png"]


def notebook_chapters():
    """CHAPTERS, from reversal/support/notebook.py: {name: (first step, needed steps)}."""
    from reversal.support.notebook import CHAPTERS
    return CHAPTERS


def test_the_first_code_cell_is_short_and_holds_the_settings():
    text = open(NOTEBOOK).read()
    cells = text.split("\n# %%")
    first = next(cell for cell in cells[1:] if not cell.startswith(" [markdown]"))
    lines = [line for line in first.splitlines()[1:] if line.strip()]
    assert len(lines) <= 10, f"the first code cell has {len(lines)} lines, at most 10: move the plumbing into the package"
    assert any(line.startswith("NOTEBOOK_FLAGS = ") for line in lines) and any(line.startswith("DETAILS = ")
                                                                               for line in lines)
    assert "pip install" in first, "where the package is missing, the first cell says the one line to run"


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
def test_chapter_features_starts_there_shows_each_figure_and_the_details(features_notebook_run):
    result, out, tmp_path = features_notebook_run  # --chapter features --show --details, a stand-in viewer
    assert result.returncode == 0, result.stderr
    assert "Step 21" in result.stdout and "Step 26" in result.stdout
    assert not re.search(r"^Step ([1-9]|1\d|20):", result.stdout, re.MULTILINE), "an earlier step printed its text"
    assert not (out / "notebook_training_loss.png").exists(), "a step run only for what the chapter needs drew"
    for name in FEATURE_FIGURES:
        assert_png(out / name)
    opened = [os.path.basename(line) for line in (tmp_path / "opened").read_text().split()]
    assert opened == FEATURE_FIGURES, "--show opens each figure once, as its step runs"
    assert "not run: add --crowded" in result.stdout, "without --crowded, step 25 says how to run it"
    assert "[details] What it proves, and what not:" in result.stdout, "--details did not unfold the notes"


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


def test_every_glossary_term_is_in_the_notebooks_markdown():
    """Each term of reversal/report/glossary.py is defined in the tutorial's own words where it is first used."""
    from reversal.report.glossary import GLOSSARY
    from reversal.support.ipynb import percent_cells

    markdown = "\n".join(source for kind, source in percent_cells(open(NOTEBOOK).read()) if kind == "markdown").lower()
    missing = [term for term, _ in GLOSSARY if term.lower() not in markdown]
    assert not missing, f"glossary terms the notebook's markdown never uses (define each where it is first used): {missing}"


def test_tell_prints_details_blocks_only_with_details(tmp_path):
    """A <details> block in a markdown cell is folded in a notebook; in a terminal it prints only with --details."""
    script = tmp_path / "cells.py"
    script.write_text("# %% [markdown]\n# ## Step 1\n# the question\n#\n"
                      "# <details><summary>The evidence</summary>\n#\n# the long caveat\n#\n# </details>\n"
                      "# the exercise\n\n"
                      "# %%\nimport sys\nfrom reversal.support.tutorial import say, show_details, tell\n"
                      "from reversal.report.result import Finding\n"
                      "show_details(len(sys.argv) > 1)\ntell()\n"
                      "say(Finding('the headline', evidence=['  the evidence line'], caveats=['  the caveat line']))\n")
    run = lambda *flags: subprocess.run([sys.executable, str(script), *flags], cwd=ROOT, capture_output=True,
                                        text=True, stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": ROOT})
    short, full = run(), run("--details")
    assert short.returncode == 0 and full.returncode == 0, short.stderr + full.stderr
    assert "the question" in short.stdout and "the exercise" in short.stdout, short.stdout
    assert "long caveat" not in short.stdout and "<details>" not in short.stdout, "a folded block printed by default"
    assert "evidence line" not in short.stdout, "say() printed a finding's evidence without details"
    assert short.stdout.strip().endswith("Takeaway: the headline"), "a step closes with its takeaway"
    assert "The evidence" in full.stdout and "the long caveat" in full.stdout, f"--details lost the block:\n{full.stdout}"
    assert "the evidence line" in full.stdout and "the caveat line" in full.stdout
    assert full.stdout.strip().endswith("Takeaway: the headline")


@pytest.mark.slow
def test_the_default_printout_meets_the_reading_targets(notebook_run):
    """Issue 14: at the defaults the tutorial prints at most 4,000 words and 300 numbers, no step over 350 words, and
    step 13 states the mechanism early. bench/tutorial_words.py prints the counts per step."""
    from bench.tutorial_words import (MAX_NUMBERS, MAX_STEP_WORDS, MAX_WORDS, MECHANISM_WITHIN, counts,
                                      mechanism_word)

    result, out, _ = notebook_run
    assert result.returncode == 0, result.stderr
    text = result.stdout.replace(str(out), "OUT")  # the folder's random name is no number the reader reads
    rows = counts(text)
    words, numbers = sum(row[1] for row in rows), sum(row[2] for row in rows)
    assert words <= MAX_WORDS, f"{words} words: move evidence behind --details (python bench/tutorial_words.py)"
    assert numbers <= MAX_NUMBERS, f"{numbers} numbers: print fewer by default (python bench/tutorial_words.py)"
    long = [(step, n) for step, n, _ in rows if isinstance(step, int) and n > MAX_STEP_WORDS]
    assert not long, f"steps over {MAX_STEP_WORDS} words: {long}"
    assert len({step for step, _, _ in rows if isinstance(step, int)}) == 27, "the introduction and 26 steps"
    where = mechanism_word(text)
    assert where is not None and where <= MECHANISM_WITHIN, f"step 13 states the mechanism at word {where}"
    assert text.count("Takeaway: ") >= 26, "every step closes with a takeaway"


@pytest.mark.slow
def test_details_with_a_value_exits_2_with_one_line(tmp_path):
    result = run_notebook("--details=yes", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "--details" in result.stderr
    assert not (tmp_path / "out").exists()
