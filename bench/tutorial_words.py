"""How much does the tutorial print? Words and numbers per step, against issue 14's reading targets.

    python bench/tutorial_words.py                  # runs demo_notebook.py --no-pause at the defaults, then counts
    python bench/tutorial_words.py --details        # the same with --details (everything the tutorial can print)
    python bench/tutorial_words.py --from nb.txt    # counts a printout saved earlier instead of running anything

A word is what `wc -w` counts (a run of non-blank characters); a number is a match of NUMBER, so "12.5%", "1,000"
and "-0.3" are one number each. A step starts at its heading line ("Step N: ..." as tell() prints it, or
"## Step N"); what comes before step 1 is the introduction, step 0, and the glossary after the last step is its own
part. The targets (issue 14, part C) hold for the
default printout: at most 4,000 words and 300 numbers in all, no step over 350 words, and step 13 stating the
mechanism ("In short") within its first 60 words. It is a report: it exits 0 whatever the counts. Writes nothing
that stays.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUMBER = re.compile(r"[-+]?\d[\d,.]*%?")
HEADING = re.compile(r"^(?:#+ )?(?:Step (\d+):|(Glossary)$)", re.MULTILINE)
MAX_WORDS, MAX_NUMBERS, MAX_STEP_WORDS, MECHANISM_WITHIN = 4000, 300, 350, 60


def steps(text):
    """{step: its printed text}: step 0 is everything before the first step heading, "glossary" the glossary."""
    starts = [(0, 0)] + [(int(found.group(1)) if found.group(1) else "glossary", found.start())
                         for found in HEADING.finditer(text)]
    ends = [start for _, start in starts[1:]] + [len(text)]
    return {step: text[start:end] for (step, start), end in zip(starts, ends)}


def counts(text):
    """[(step, words, numbers)] for each step of a printout, in order."""
    return [(step, len(part.split()), len(NUMBER.findall(part))) for step, part in steps(text).items()]


def mechanism_word(text, step=13, phrase="In short"):
    """How many words into `step` the phrase starts (the mechanism's statement), or None if it is not there."""
    part = steps(text).get(step, "")
    where = part.find(phrase)
    return None if where < 0 else len(part[:where].split())


def run_tutorial(flags):
    """The tutorial's printout at the defaults plus `flags`, run from a scratch folder."""
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run([sys.executable, os.path.join(ROOT, "demo_notebook.py"), "--no-pause",
                                 "--out", os.path.join(folder, "out"), *flags], cwd=folder, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"demo_notebook.py failed:\n{result.stderr}")
    return result.stdout


def main():
    parser = argparse.ArgumentParser(description="Words and numbers the tutorial prints, per step.")
    parser.add_argument("--details", action="store_true", help="count the printout with --details")
    parser.add_argument("--from", dest="saved", metavar="FILE", help="count this saved printout instead of running")
    args = parser.parse_args()
    text = open(args.saved).read() if args.saved else run_tutorial(["--details"] if args.details else [])
    rows = counts(text)
    print(f"{'step':>8} {'words':>6} {'numbers':>8}")
    for step, words, numbers in rows:
        flag = "  over the step limit" if isinstance(step, int) and step and words > MAX_STEP_WORDS else ""
        print(f"{step:>8} {words:>6} {numbers:>8}{flag}")
    words, numbers = sum(row[1] for row in rows), sum(row[2] for row in rows)
    largest = max((row for row in rows if isinstance(row[0], int)), key=lambda row: row[1])
    where = mechanism_word(text)
    print(f"all: {words:,} words (target {MAX_WORDS:,}), {numbers:,} numbers (target {MAX_NUMBERS}); largest step "
          f"{largest[0]}, {largest[1]} words (target {MAX_STEP_WORDS}); step 13 states the mechanism "
          + (f"at word {where} (target {MECHANISM_WITHIN})" if where is not None else "nowhere (no 'In short')"))


if __name__ == "__main__":
    main()
