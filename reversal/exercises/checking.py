"""What every check shares: the exception a check raises when an answer is wrong, the one line the runner prints
for an exercise, whatever the student's code does, and which model its check runs on."""


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
        return f"{label}: not written yet (raise NotImplementedError in {exercise.FUNCTION}, {where})"
    except Wrong as wrong:
        return f"{label}: {wrong}"
    except Exception as error:  # the student's code failed: say how, in one line
        return f"{label}: {exercise.FUNCTION} raised {type(error).__name__}: {error}"
    return f"{label}: passed"
