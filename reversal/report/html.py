"""One run on one page: an HTML report with every figure beside its words, for a browser or a projector.

    from reversal.report.html import Section, write_report
    sections = [Section("Behaviour", "Which input does each output copy?", ["position_influence.png"], finding)]
    write_report("report.html", "Reversing letters", ["mlp, seed 42, ..."], "In short: ...", sections, GLOSSARY)

Each section shows its question, its figures, the finding's headline and key numbers, and folds the evidence and
caveats into a <details> a reader opens on demand. The file stands alone: the PNGs are embedded as base64 data: URIs
and the style is inline, so it opens from disk in any browser, with no network and no script.
"""

import base64
import html
from dataclasses import dataclass

from .files import write_atomically

# Sized for a projector at 1280x800: large type, figures as wide as the column, nothing a reader must scroll sideways.
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: 18px;
       line-height: 1.5; color: #1a1a1a; background: #fff; max-width: 1180px; margin: 0 auto; padding: 0 1.5em 3em; }
h1 { font-size: 2.3em; margin: 0.8em 0 0.3em; }
h2 { font-size: 1.8em; margin: 1.6em 0 0.2em; border-top: 2px solid #ccc; padding-top: 0.8em; }
.settings { color: #444; margin: 0 0 0.2em; }
.in-short, .headline { font-size: 1.2em; font-weight: 600; }
.in-short { background: #eef4fb; border-left: 6px solid #3b73b9; padding: 0.6em 1em; }
.question { font-size: 1.25em; font-style: italic; color: #3b73b9; margin: 0.2em 0 0.6em; }
img { max-width: 100%; height: auto; display: block; margin: 0.6em auto; }
table { border-collapse: collapse; margin: 0.6em 0; }
td { border-bottom: 1px solid #ddd; padding: 0.15em 1em 0.15em 0; }
td.value { font-variant-numeric: tabular-nums; text-align: right; }
details { margin: 0.8em 0; }
summary { cursor: pointer; font-weight: 600; color: #3b73b9; }
details p { margin: 0.3em 0; }
p.aligned { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85em; white-space: pre-wrap; }
dt { font-weight: 600; margin-top: 0.5em; }
dd { margin: 0 0 0 1.5em; }
@media print {
  body { font-size: 12pt; max-width: none; }
  h2 { break-before: auto; }
  section, img { break-inside: avoid; }
}
"""


@dataclass
class Section:
    title: str  # a few words, the section's heading
    question: str  # the one question the experiment answers
    figures: list  # paths of the PNGs to show, read when the report is written (after they are drawn)
    finding: object  # a report.result.Finding: headline, numbers, evidence, caveats


def write_report(path, title, settings_lines, in_short, sections, glossary):
    """Write the report to path, whole or not at all (files.write_atomically).

    settings_lines: the run's settings and training, one string a line; in_short: the mechanism in one paragraph, or
    None where the run did not look for it (the notebook's later chapters); sections: Sections in lesson order; glossary: (term, definition) pairs, as report.glossary.GLOSSARY."""
    page = render(title, settings_lines, in_short, sections, glossary)
    write_atomically(path, lambda file: file.write(page.encode()))


def render(title, settings_lines, in_short, sections, glossary):
    """The whole page as one string."""
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{e(title)}</title>",
             f"<style>{STYLE}</style>", "</head>", "<body>", f"<h1>{e(title)}</h1>"]
    parts += [f'<p class="settings">{e(line)}</p>' for line in settings_lines]
    if in_short:
        parts.append(f'<p class="in-short">{e(in_short)}</p>')
    parts += [render_section(section) for section in sections]
    parts.append("<h2>Glossary</h2>")
    parts.append("<dl>" + "".join(f"<dt>{e(term)}</dt><dd>{e(definition)}</dd>" for term, definition in glossary)
                 + "</dl>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def render_section(section):
    """One experiment: question, figures, headline, key numbers, then the evidence and caveats folded away."""
    e, finding = html.escape, section.finding
    parts = ["<section>", f"<h2>{e(section.title)}</h2>", f'<p class="question">{e(section.question)}</p>']
    parts += [f'<img src="{embedded_png(path)}" alt="{e(section.title)}: figure {k + 1}">'
              for k, path in enumerate(section.figures)]
    parts.append(f'<p class="headline">{e(finding.headline)}</p>')
    if finding.numbers:
        rows = "".join(f'<tr><td>{e(name.replace("_", " "))}</td><td class="value">{e(number_text(value))}</td></tr>'
                       for name, value in finding.numbers.items())
        parts.append(f"<table>{rows}</table>")
    if finding.evidence or finding.caveats:
        parts.append("<details><summary>Evidence and caveats</summary>")
        parts += [evidence_line(line) for line in finding.evidence + finding.caveats]
        parts.append("</details>")
    parts.append("</section>")
    return "\n".join(parts)


def evidence_line(line):
    """A printed line as a paragraph, indented as deep as the printout indents it. A line whose columns are lined
    up with runs of spaces (a table of accuracies, say) keeps them, in a monospace font."""
    text = line.lstrip(" ")
    depth = max(0, (len(line) - len(text)) // 2 - 1)  # the printout indents evidence by 2 spaces, nested by 4
    aligned = ' class="aligned"' if "   " in text else ""
    return f'<p{aligned} style="margin-left: {1.5 * depth:g}em">{html.escape(text)}</p>'


def number_text(value):
    """A key number as the table shows it: whole numbers whole, others to 4 significant digits."""
    if isinstance(value, (list, tuple)):
        return ", ".join(number_text(item) for item in value)
    if value is None:
        return "none"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4g}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def embedded_png(path):
    """The PNG at path as a data: URI, so that the page carries its figures with it."""
    with open(path, "rb") as file:
        return "data:image/png;base64," + base64.b64encode(file.read()).decode("ascii")
