"""What every check shares: the exception a check raises when an answer is wrong, the one line the runner prints
for an exercise, whatever the student's code does, which model its check runs on, and the notebook's check cell."""

import pathlib

from ..core.progress import in_notebook
from . import solutions


def model_kind(exercise):
    """The model the exercise's check runs on: "transformer" where the exercise says MODEL = "transformer", else the
    lesson's MLP, "mlp" (reversal.support.config.MODELS)."""
    return getattr(exercise, "MODEL", "mlp")


class Wrong(Exception):
    """A check's verdict: the answer is wrong, and the message says what is probably the mistake."""


def verdict(exercise, student_fn, run, where):
    """One line for the exercise: "1 hook: passed", "... not written yet", or what the check or the code said.

    `where` names the file the function came from. Any exception the student's code raises becomes one line naming
    it: a traceback would bury the message."""
    label = f"{exercise.NUMBER} {exercise.TITLE}"
    if student_fn is None:
        return f"{label}: not written yet (no function {exercise.FUNCTION} in {where})"
    try:
        exercise.check(student_fn, run)
    except NotImplementedError:
        return f"{label}: not written yet ({exercise.FUNCTION} still raises NotImplementedError, {where})"
    except Wrong as wrong:
        return f"{label}: {wrong}"
    except Exception as error:  # the student's code failed: say how, in one line
        line = f"{label}: {exercise.FUNCTION} raised {type(error).__name__}: {error}"
        if "Double" in str(error) and "Float" in str(error):  # float64 met float32: the usual cause, named
            line += (". The model computes in float32: did you hand it float64 (a hook's return, say)? Cast it back "
                     "with .float()")
        return line
    return f"{label}: passed"


def check(exercise, student_fn, run):
    """An exercise's check cell in demo_notebook: print its one line.

    In a notebook it checks your function, written in the cell above. Run as a script (python demo_notebook.py), the
    lesson goes on end to end, so it checks the reference solution; in a terminal, write yours in the exercise's file
    and run python -m reversal.exercises.

        check(hook, cache_hidden1, run)    # 1 hook: passed
    """
    if in_notebook():
        print(verdict(exercise, student_fn, run, "the cell above"))
        return
    line = verdict(exercise, getattr(solutions, exercise.FUNCTION), run, "solutions.py")
    file = pathlib.Path(exercise.__file__).name
    print(f"Exercise {line}, by the reference solution (yours: reversal/exercises/{file})")
