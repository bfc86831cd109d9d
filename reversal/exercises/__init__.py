"""Exercises: write the core of each technique yourself, in a few lines, and let a check answer on the model just
trained. In the lesson's order:

    1 hook       a forward hook that caches hidden1                                   (hook.py)
    2 ablate     zero one hidden1 neuron with run_with_hooks, read each output         (ablate.py)
    3 direction  the class-mean letter direction of one (position, letter)              (direction.py)
    4 patch      patch one input position's letter subspace, clean into corrupted       (patch.py)
    5 steer      push hidden1 along a class-mean direction, read the mirrored output    (steer.py)

Each file holds the stub to fill in (its body raises NotImplementedError), its check, a hint, a difficulty (1 to 3)
and the minutes it takes. The reference solutions are in solutions.py: read them after trying.

Run every check, on the stubs, on your own file defining the same function names, or on the solutions:

    python -m reversal.exercises                  # the stubs in this folder, as you have edited them
    python -m reversal.exercises my_answers.py    # your own file
    python -m reversal.exercises --solutions      # the reference solutions: every line says passed
    python -m reversal.exercises --hints          # each exercise not passed is followed by its hint
"""

from . import ablate, direction, hook, patch, steer

EXERCISES = (hook, ablate, direction, patch, steer)  # lesson order: exercise n is EXERCISES[n - 1]
