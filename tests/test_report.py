"""report.html and notebook_report.html: every section has its headline, every figure is embedded, nothing points
off the page. The fast tests build a report from made-up findings and tiny PNGs, and hold the notebook's headings to
STEPS; the slow ones read the reports that real demo.py and demo_notebook.py runs wrote."""

import base64
import html
import os
import re
from html.parser import HTMLParser

import matplotlib.image
import numpy as np
import pytest

from reversal.report.glossary import GLOSSARY
from reversal.report.html import Section, write_report
from reversal.report.questions import QUESTIONS, STEPS
from reversal.report.result import Finding

OFF_PAGE = re.compile(r"^\s*(https?:|//)", re.IGNORECASE)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]*)", re.IGNORECASE)


class ReportReader(HTMLParser):
    """What the tests check, collected from the page: the <h1> title, each <section>'s title, headline and number of
    images, every <img> src, every href, src and CSS url(...), and whether there is any <script>."""

    def __init__(self):
        super().__init__()
        self.title = ""
        self.sections = []  # [{"title": ..., "headline": ..., "images": count}]
        self.images, self.links, self.scripts = [], [], 0
        self.reading = None  # "title" or "headline" while inside that element of the current section
        self.in_h1 = False
        self.in_section = self.in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append({"title": "", "headline": "", "images": 0})
            self.in_section = True
        elif tag == "h1":
            self.in_h1 = True
        elif tag == "h2" and self.in_section:
            self.reading = "title"
        elif tag == "p" and self.in_section and "headline" in (attrs.get("class") or "").split():
            self.reading = "headline"
        elif tag == "img":
            self.images.append(attrs.get("src") or "")
            if self.in_section:
                self.sections[-1]["images"] += 1
        elif tag == "script":
            self.scripts += 1
        elif tag == "style":
            self.in_style = True
        self.links += [value for name, value in attrs.items() if name in ("href", "src") and value]
        self.links += CSS_URL.findall(attrs.get("style") or "")

    def handle_endtag(self, tag):
        if tag in ("h2", "p"):
            self.reading = None
        if tag == "section":
            self.in_section = False
        if tag == "h1":
            self.in_h1 = False
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.reading:
            self.sections[-1][self.reading] += data
        if self.in_h1:
            self.title += data
        if self.in_style:
            self.links += CSS_URL.findall(data)


def read_report(path):
    reader = ReportReader()
    reader.feed(path.read_text(encoding="utf-8"))
    reader.close()
    return reader


def assert_self_contained(reader):
    """The checks every report must pass: a headline in each section, embedded figures, no address off the page."""
    for section in reader.sections:
        assert section["headline"].strip(), f"section {section['title']!r} has no headline"
    for src in reader.images:
        assert src.startswith("data:image/png;base64,"), f"an <img> is not embedded: src={src[:60]!r}"
    off_page = [link[:60] for link in reader.links if OFF_PAGE.match(link)]
    assert not off_page, f"the report points off the page, so it would not open offline: {off_page}"
    assert reader.scripts == 0, "the report has a <script>: it should be plain HTML and CSS"


@pytest.fixture
def tiny_pngs(tmp_path):
    paths = []
    for k in range(2):
        path = tmp_path / f"figure{k}.png"
        matplotlib.image.imsave(path, np.full((4, 4, 3), k / 2))  # a 4x4 image: enough to embed and decode
        paths.append(path)
    return paths


def made_up_report(tmp_path, pngs, headlines):
    """A report with one section per headline, each with made-up numbers, evidence and a caveat."""
    sections = [Section(f"Step {k}", f"Question {k}?", pngs if k == 0 else [],
                        Finding(headline, {"share": 0.123456, "count": 3, "missing": None},
                                ["  evidence line", "    nested   aligned   columns"], ["  a caveat"]))
                for k, headline in enumerate(headlines)]
    path = tmp_path / "report.html"
    write_report(path, "A made-up run", ["settings <one>", "training & more"], "In short: it works.", sections,
                 GLOSSARY)
    return path


def test_a_made_up_report_passes_the_checks(tmp_path, tiny_pngs):
    reader = read_report(made_up_report(tmp_path, tiny_pngs, ["First headline.", "Second headline."]))
    assert_self_contained(reader)
    assert [s["headline"] for s in reader.sections] == ["First headline.", "Second headline."], \
        "each section should show its finding's headline, in the order given"
    assert len(reader.images) == 2, "both PNGs of the first section should be on the page"


def test_figures_are_embedded_byte_for_byte(tmp_path, tiny_pngs):
    reader = read_report(made_up_report(tmp_path, tiny_pngs, ["A headline."]))
    for src, path in zip(reader.images, tiny_pngs):
        assert base64.b64decode(src.split(",", 1)[1]) == path.read_bytes(), f"{path.name} is not embedded as it is"


def test_text_is_escaped(tmp_path, tiny_pngs):
    text = made_up_report(tmp_path, tiny_pngs, ["Logits <b> & 'quotes'."]).read_text()
    assert "<b>" not in text and "settings <one>" not in text, "text must go through html.escape, not raw"
    assert "Logits &lt;b&gt; &amp;" in text


def test_evidence_and_caveats_are_folded_and_the_glossary_ends_the_page(tmp_path, tiny_pngs):
    text = html.unescape(made_up_report(tmp_path, tiny_pngs, ["A headline."]).read_text())
    folded = text[text.index("<details>"):text.index("</details>")]
    assert "evidence line" in folded and "a caveat" in folded, "evidence and caveats belong inside <details>"
    assert "0.1235" in text and "none" in text, "the key numbers should be in the section's table"
    glossary = text[text.index("<h2>Glossary</h2>"):]
    assert all(term in glossary for term, _ in GLOSSARY), "every glossary term should be in the report's glossary"


def test_the_checks_catch_an_image_or_a_link_off_the_page(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<section><h2>T</h2><p class="headline">H</p><img src="https://example.com/a.png">'
                    '<a href="//cdn.example.com/x">x</a></section>')
    with pytest.raises(AssertionError, match="not embedded"):
        assert_self_contained(read_report(page))
    page.write_text('<section><h2>T</h2><p>no headline here</p></section>')
    with pytest.raises(AssertionError, match="no headline"):
        assert_self_contained(read_report(page))
    page.write_text('<style>body { background: url("http://example.com/b.png") }</style>')
    with pytest.raises(AssertionError, match="off the page"):
        assert_self_contained(read_report(page))


MLP_SECTIONS = ["training", "activations", "behaviour", "probes", "selectivity", "weights", "ablation", "patching",
                "mechanism", "steering", "superposition", "across_seeds"]  # demo_run is `demo.py --seeds 2`
TRANSFORMER_SECTIONS = ["training", "behaviour", "probes", "attention_patterns", "circuits", "interventions",
                        "path_patching", "verdict", "steering"]


@pytest.mark.slow
@pytest.mark.parametrize("fixture, expected", [("demo_run", MLP_SECTIONS),
                                               ("transformer_demo_run", TRANSFORMER_SECTIONS)])
def test_demo_writes_a_self_contained_report(fixture, expected, request):
    result, out, _ = request.getfixturevalue(fixture)
    assert result.returncode == 0, result.stderr
    reader = read_report(out / "report.html")
    assert_self_contained(reader)
    assert [s["title"] for s in reader.sections] == [QUESTIONS[name][0] for name in expected], \
        "the report's sections should follow the lesson's order"
    figures = sorted(path.name for path in out.glob("*.png"))
    assert len(reader.images) == len(figures), f"every figure written should be in the report: {figures}"


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["demo_run", "transformer_demo_run"])
def test_the_default_log_is_short(fixture, request):
    result, _, _ = request.getfixturevalue(fixture)
    lines = result.stdout.splitlines()
    assert len(lines) <= 25, f"the default log has {len(lines)} lines; --verbose is for the full story"
    longest = max(lines, key=len)
    assert len(longest) <= 120, f"a line of {len(longest)} characters: {longest[:80]}..."
    files = result.stdout.strip().split("\n\n")[-1]  # the last paragraph: the files written
    assert "report.html" in files, f"the log should end by naming the report: {files!r}"


NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo_notebook.py")


def notebook_steps():
    """{step: (heading, question)} as demo_notebook.py's markdown writes them: the heading "## Step N: ..." without
    its minutes, and the "**Question.**" line under it, up to the line that ends with "?"; markdown marks removed."""
    lines, steps = open(NOTEBOOK).read().splitlines(), {}
    for k, line in enumerate(lines):
        heading = re.match(r"^# ## (Step (\d+): .*) \(\d+ min\)$", line)
        if heading:
            question = [lines[k + 1].removeprefix("# **Question.** ")]
            while not question[-1].endswith("?") and k + len(question) + 1 < len(lines):
                question.append(lines[k + len(question) + 1].removeprefix("# "))
            steps[int(heading.group(2))] = tuple(re.sub(r"[*`]", "", text)
                                                 for text in (heading.group(1), " ".join(question)))
    return steps


def test_the_notebooks_headings_and_questions_are_the_reports():
    written = notebook_steps()
    assert sorted(written) == sorted(STEPS), \
        f"demo_notebook.py has steps {sorted(written)}, questions.STEPS has {sorted(STEPS)}: add or remove one"
    for step, (heading, question) in written.items():
        assert heading == STEPS[step][0], \
            f"step {step}'s heading in demo_notebook.py is {heading!r}, in questions.STEPS {STEPS[step][0]!r}"
        assert question == STEPS[step][1], \
            f"step {step}'s question in demo_notebook.py is {question!r}, in questions.STEPS {STEPS[step][1]!r}"


def step_of_each_figure():
    """{figure file name: the step whose code draws it}, from demo_notebook.py's out("...png") names."""
    step, steps = 0, {}
    for line in open(NOTEBOOK).read().splitlines():
        heading = re.match(r"^# ## Step (\d+):", line)
        step = int(heading.group(1)) if heading else step
        for name in re.findall(r'out\("([^"]+\.png)"\)', line):
            steps[name] = step
    return steps


@pytest.mark.slow
@pytest.mark.parametrize("fixture, steps", [("notebook_run", range(1, 27)),
                                            ("features_notebook_run", range(21, 27))])  # --chapter features
def test_the_notebook_writes_a_self_contained_report(fixture, steps, request):
    result, out, _ = request.getfixturevalue(fixture)
    assert result.returncode == 0, result.stderr
    reader = read_report(out / "notebook_report.html")
    assert_self_contained(reader)
    assert [s["title"] for s in reader.sections] == [STEPS[step][0] for step in steps], \
        "the notebook's report should have a section for each step run, in step order"
    if steps != range(1, 27):
        assert f"steps {steps[0]} to {steps[-1]}" in reader.title, f"the title should say which steps: {reader.title!r}"
    figures = sorted(path.name for path in out.glob("*.png"))
    assert len(reader.images) == len(figures), f"every figure written should be in the report: {figures}"
    section = {STEPS[step][0]: s for step, s in zip(steps, reader.sections)}
    drawn_by = step_of_each_figure()
    for name in figures:
        assert section[STEPS[drawn_by[name]][0]]["images"], f"step {drawn_by[name]} drew {name}, its section shows none"
