"""Run every exercise's check on the default model, trained here once (a few seconds), and print one line each. The
transformer's exercises run on the default transformer (demo.py --model transformer), trained here too when one of
them is run.

    python -m reversal.exercises                  # the stubs in reversal/exercises/, as you have edited them
    python -m reversal.exercises my_answers.py    # your own file, defining the stubs' function names
    python -m reversal.exercises --solutions      # the reference solutions
    python -m reversal.exercises --hints          # each exercise not passed is followed by its hint
    python -m reversal.exercises --exercise 4     # exercise 4 alone (or --exercise patch); repeat for more

Exits 0 when every check passes, 1 otherwise. Writes no files.
"""

import argparse
import functools
import importlib.util
import pathlib
import sys
import textwrap

import torch

from ..core.run import start_run
from ..core.train import train
from ..support.config import Config, OneLineParser
from . import EXERCISES, solutions
from .checking import model_kind, verdict


def student_functions(path):
    """{function name: function or None} from the student's file; None where the file lacks the name."""
    spec = importlib.util.spec_from_file_location("student_answers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {exercise.FUNCTION: getattr(module, exercise.FUNCTION, None) for exercise in EXERCISES}


@functools.cache
def trained_run(kind):
    """The default run of a model kind ("mlp" or "transformer"), trained the first time an exercise needs it."""
    run = start_run(Config(model=kind))
    train(run.model, run.data, run.cfg, progress=False)
    return run


def exercise_named(text):
    """An argparse type: an exercise by its number or its title, or a one-line error listing them."""
    for exercise in EXERCISES:
        if text in (str(exercise.NUMBER), exercise.TITLE):
            return exercise
    listed = ", ".join(f"{exercise.NUMBER} {exercise.TITLE}" for exercise in EXERCISES)
    raise argparse.ArgumentTypeError(f"no exercise {text!r}: choose a number or a title ({listed})")


def main(argv=None):
    parser = OneLineParser(prog="python -m reversal.exercises", description=__doc__.split("\n")[0],
                           allow_abbrev=False)
    parser.add_argument("file", nargs="?", help="your own file defining the stubs' function names")
    parser.add_argument("--solutions", action="store_true", help="check the reference solutions instead")
    parser.add_argument("--hints", action="store_true", help="print the hint of each exercise not passed")
    parser.add_argument("--exercise", action="append", type=exercise_named, metavar="N",
                        help="check only this exercise, by number or title (repeat for more); default: all")
    args = parser.parse_args(argv)
    if args.solutions and args.file:
        parser.error("give a file or --solutions, not both")
    if args.file and not pathlib.Path(args.file).is_file():
        parser.error(f"no file {args.file}")
    chosen = [exercise for exercise in EXERCISES if exercise in (args.exercise or EXERCISES)]  # in lesson order
    if args.solutions:
        where = "reversal/exercises/solutions.py"
        functions = {exercise.FUNCTION: getattr(solutions, exercise.FUNCTION) for exercise in EXERCISES}
    elif args.file:
        where = args.file
        try:
            functions = student_functions(where)
        except Exception as error:  # a syntax error, say: one line, as for any of the student's errors
            print(f"{where} does not load: {type(error).__name__}: {error}")
            return 1
    else:
        where = None
        functions = {exercise.FUNCTION: getattr(exercise, exercise.FUNCTION) for exercise in EXERCISES}

    torch.set_num_threads(1)  # as the scripts do: matrices this small run faster on one thread
    passed = 0
    for exercise in chosen:
        line = verdict(exercise, functions[exercise.FUNCTION], trained_run(model_kind(exercise)),
                       where or f"reversal/exercises/{pathlib.Path(exercise.__file__).name}")
        print(line, flush=True)
        passed += line.endswith(": passed")
        if args.hints and not line.endswith(": passed"):
            print(textwrap.fill(exercise.HINT, 120, initial_indent="  hint: ", subsequent_indent="        "))
    return 0 if passed == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
