"""The tutorial's plumbing, so that demo_notebook.py's first cell holds only what a student may change.

    args, cfg, out = start(NOTEBOOK_FLAGS, DETAILS)   # the first code cell of demo_notebook.py
    start_chapter(args)                               # the end of the cell of imports below it

start() reads the settings (from the command line in a terminal, from NOTEBOOK_FLAGS in a notebook) and checks
every one before torch is imported, so --help and a typo answer at once; then it prepares the run: the output
folder, one thread for torch, --details, --show and the introduction printed in a terminal. start_chapter() jumps
to --chapter.
"""

import argparse
import inspect
import os

from ..report.files import remove_stale_temp_files, stop_cleanly_on_signals, stop_quietly_when_the_reader_goes
from .config import build_parser, resolve
from .tutorial import in_notebook, show_details, show_figures, start_at_chapter, tell

# --chapter: the step each chapter starts at, and the earlier steps whose results it needs (run first, quietly)
CHAPTERS = {"model": (1, []), "mechanism": (8, [1, 2, 3, 4, 7]), "attention": (15, [1, 2, 3, 4, 7, 13]),
            "features": (21, [1, 2, 3, 4, 7, 15])}


def chapter(text):
    """A chapter's name in any case, or its number: 4 and Features both mean features."""
    name = list(CHAPTERS)[int(text) - 1] if text in ("1", "2", "3", "4") else text.lower()
    if name not in CHAPTERS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(CHAPTERS)}, or its number 1 to 4, got {text!r}")
    return name


def notebook_parser():
    """The settings both scripts share (config.build_parser), and the tutorial's own."""
    parser = build_parser("demo_notebook.py", default_samples=1000, choose_model=False,
                          description="A guided, step-by-step tutorial: train a tiny sequence reverser and look "
                                      "inside it. Four chapters, 26 steps: an MLP, then a one-layer transformer, "
                                      "then features.")
    parser.add_argument("--no-pause", action="store_true", help="run straight through without waiting for Enter")
    parser.add_argument("--details", action="store_true",
                        help="print every step's evidence and caveats, and the longer notes, besides its question "
                             "and takeaway (in a notebook: DETAILS = True)")
    parser.add_argument("--chapter", type=chapter, default="model", metavar="{" + ",".join(CHAPTERS) + "}",
                        help="start at this chapter, by name or number: model (1, step 1), mechanism (2, step 8), "
                             "attention (3, step 15) or features (4, step 21); the earlier steps it needs run first "
                             "without their output (default: model)")
    parser.add_argument("--show", action="store_true",
                        help="also open each figure in a window as its step runs (where there is a display)")
    parser.add_argument("--crowded", action="store_true",
                        help="step 25 trains a second MLP at --seq-len 6 --vocab abcd (18 needed directions in 16 "
                             "neurons) and measures its superposition and SAEs on it (about 4 s more); without it, "
                             "step 25 only says how")
    parser.add_argument("--model", help=argparse.SUPPRESS)  # not a setting here: caught below, to say where it lives
    return parser


def start(notebook_flags, details):
    """Check the settings, then prepare the run. Returns (args, cfg, out): the parsed flags (args.details is True
    with --details or DETAILS = True), the Config, and out(name), the path of a file in the output folder."""
    if not in_notebook():  # in a notebook, Ctrl-C (interrupt the kernel) stops one cell, and the kernel stays
        stop_cleanly_on_signals()  # Ctrl-C, kill or a closed terminal: one line, nothing half-written
    parser = notebook_parser()
    # in a notebook sys.argv holds the kernel's own arguments, so the flags come from NOTEBOOK_FLAGS instead
    args = parser.parse_args(notebook_flags if in_notebook() else None)
    if args.model is not None:
        parser.error("argument --model: the notebook tells both stories, the MLP (chapters 1, 2 and 4) and the "
                     "transformer (chapters 3 and 4); for the transformer alone run demo.py --model transformer")
    if args.chapter != "model" and in_notebook():
        parser.error("argument --chapter: in a notebook, run the first cell of each step that CHAPTERS "
                     "(reversal/support/notebook.py) lists for the chapter, then the chapter's own cells")
    cfg = resolve(args, parser)  # every setting checked: from here on nothing is refused

    import torch  # here, after the checks: --help and a typo must not wait seconds for torch to load

    torch.set_num_threads(1)  # matrices this small run faster on one thread than split across cores
    os.makedirs(cfg.out, exist_ok=True)
    remove_stale_temp_files(cfg.out)  # what a killed run (kill -9) was writing when it died
    if not in_notebook():
        stop_quietly_when_the_reader_goes()  # python demo_notebook.py | head: no traceback when head stops reading
    args.details = bool(details or args.details)
    show_details(args.details)  # say() and tell() print the evidence and the folded notes only with details
    tell(inspect.currentframe().f_back)  # in a terminal, the introduction above the first cell (a notebook shows it)
    show_figures(args.show)  # --show: find a way to open windows, or say in one line that there is none
    return args, cfg, lambda name: os.path.join(cfg.out, name)


def start_chapter(args):
    """--chapter: run that chapter's cells (and, quietly, the first cell of each step it needs), then exit. Without
    it, nothing. Call it at the end of the cell just above step 1: the cells below the caller are the lesson."""
    if args.chapter != "model":
        start_at_chapter(*CHAPTERS[args.chapter], caller=inspect.currentframe().f_back)
