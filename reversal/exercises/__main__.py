"""Run every exercise's check on the default model, trained here once (a few seconds), and print one line each. The
transformer's exercises run on the default transformer (demo.py --model transformer), trained here too when one of
them is run.

    python -m reversal.exercises                  # the stubs in reversal/exercises/, as you have edited them
    python -m reversal.exercises my_answers.py    # your own file, defining the stubs' function names
    python -m reversal.exercises --solutions      # the reference solutions
    python -m reversal.exercises --hints          # each exercise not passed is followed by its hint

Exits 0 when every check passes, 1 otherwise. Writes no files.
"""

import argparse
import importlib.util
import pathlib
import sys

import torch

from ..core.run import start_run
from ..core.train import train
from ..support.config import Config
from . import EXERCISES, solutions
from .checking import model_kind, verdict


def student_functions(path):
    """{function name: function or None} from the student's file; None where the file lacks the name."""
    spec = importlib.util.spec_from_file_location("student_answers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {exercise.FUNCTION: getattr(module, exercise.FUNCTION, None) for exercise in EXERCISES}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reversal.exercises", description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", help="your own file defining the stubs' function names")
    parser.add_argument("--solutions", action="store_true", help="check the reference solutions instead")
    parser.add_argument("--hints", action="store_true", help="print the hint of each exercise not passed")
    args = parser.parse_args(argv)
    if args.solutions:
        where = "reversal/exercises/solutions.py"
        functions = {exercise.FUNCTION: getattr(solutions, exercise.FUNCTION) for exercise in EXERCISES}
    elif args.file:
        where = args.file
        if not pathlib.Path(where).is_file():
            parser.error(f"no file {where}")
        try:
            functions = student_functions(where)
        except Exception as error:  # a syntax error, say: one line, as for any of the student's errors
            print(f"{where} does not load: {type(error).__name__}: {error}")
            return 1
    else:
        where = None
        functions = {exercise.FUNCTION: getattr(exercise, exercise.FUNCTION) for exercise in EXERCISES}

    torch.set_num_threads(1)  # as the scripts do: matrices this small run faster on one thread
    runs = {}  # by model kind ("mlp", "transformer"), each trained the first time an exercise needs it

    def trained(kind):
        if kind not in runs:
            runs[kind] = start_run(Config(model=kind))
            train(runs[kind].model, runs[kind].data, runs[kind].cfg, progress=False)
        return runs[kind]

    passed = 0
    for exercise in EXERCISES:
        line = verdict(exercise, functions[exercise.FUNCTION], trained(model_kind(exercise)),
                       where or f"reversal/exercises/{pathlib.Path(exercise.__file__).name}")
        print(line)
        passed += line.endswith(": passed")
        if args.hints and not line.endswith(": passed"):
            print(f"  hint: {exercise.HINT}")
    return 0 if passed == len(EXERCISES) else 1


if __name__ == "__main__":
    sys.exit(main())
