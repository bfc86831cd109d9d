"""Exercises: write the core of each technique yourself, in a few lines, and let a check answer on the model just
trained. In the lesson's order:

    1 hook       a forward hook that caches hidden1                                   (hook.py)
    2 ablate     zero one hidden1 neuron with run_with_hooks, read each output         (ablate.py)
    3 direction  the class-mean letter direction of one (position, letter)              (direction.py)
    4 patch      patch one input position's letter subspace, clean into corrupted       (patch.py)
    5 pattern    the transformer's attention pattern, from W_Q, W_K and resid_pre       (pattern.py)
    6 ov         the transformer's OV circuit, letters to letters, from the weights      (ov.py)
    7 steer      push hidden1 along a class-mean direction, read the mirrored output    (steer.py)

Each file holds the stub to fill in (its body raises NotImplementedError), its check, a hint, a difficulty (1 to 3)
and the minutes it takes; the transformer's exercises say MODEL = "transformer", and their checks run on the
default transformer instead of the MLP. The reference solutions are in solutions.py: read them after trying.

Run every check, on the stubs, on your own file defining the same function names, or on the solutions:

    python -m reversal.exercises                  # the stubs in this folder, as you have edited them
    python -m reversal.exercises my_answers.py    # your own file
    python -m reversal.exercises --solutions      # the reference solutions: every line says passed
    python -m reversal.exercises --hints          # each exercise not passed is followed by its hint
"""

from . import ablate, direction, hook, ov, patch, pattern, steer

EXERCISES = (hook, ablate, direction, patch, pattern, ov, steer)  # lesson order: exercise n is EXERCISES[n - 1]
