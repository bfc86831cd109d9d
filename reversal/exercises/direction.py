"""Exercise 3, the class-mean letter direction: how "letter x at position p" moves hidden1.

Average hidden1 over the sequences with letter x at input position p: that is the class mean. Subtract the mean
over all the sequences: what is left is the direction along which that letter at that position moves the layer.
core/directions.py computes all L x V of them at once; the mechanism, steering, superposition and the SAE read them.
"""

import torch

from ..core.common import layer_features
from ..core.directions import class_means, letter_directions
from .checking import Wrong

NUMBER, TITLE, FUNCTION = 3, "direction", "letter_direction"
DIFFICULTY, MINUTES = 1, 5
HINT = ("Select the rows with the letter: activations[sequences[:, position] == letter] is (M, H); average over "
        "the sequences, axis 0; subtract activations.mean(0).")


def letter_direction(activations, sequences, position, letter):
    """activations (N, H) of the sequences (N, L) -> (H,): the mean activation over the sequences with `letter` at
    `position`, minus the mean over all N sequences."""
    raise NotImplementedError


def check(student_fn, run):
    """Compare with core.directions.letter_directions on hidden1 of every sequence of the run, at every position
    and letter."""
    hidden1 = layer_features(run.model, run.sequences, run.vocab, run.device, ("hidden1",))["hidden1"]  # (N, H)
    n_letters = len(run.vocab.letters)
    expected = letter_directions(hidden1, run.sequences, n_letters)  # (L, V, H)
    means = class_means(hidden1, run.sequences, n_letters)  # (L, V, H)
    for position in range(run.sequences.shape[1]):
        for letter in range(n_letters):
            named = f"letter {run.vocab.letters[letter]!r} at position {position}"
            try:
                answer = student_fn(hidden1, run.sequences, position, letter)
            except RuntimeError as error:
                if "must match the size" not in str(error):
                    raise
                raise Wrong(f"for {named} your function raised RuntimeError: {error}. The class mean has one row per "
                            f"selected sequence and the overall mean one per sequence: did you average over the "
                            f"neurons (axis 1)? Average over the sequences (axis 0)") from None
            answer = torch.as_tensor(answer).detach().double().cpu()
            if answer.shape != expected[position, letter].shape:
                rows = int((run.sequences[:, position] == letter).sum())  # one number per selected sequence
                fix = ("you averaged over the neurons (axis 1); average over the sequences (axis 0)"
                       if answer.shape == (rows,) else "return one number per neuron")
                raise Wrong(f"for {named} you return shape {tuple(answer.shape)}, not (H,) = "
                            f"{tuple(expected[position, letter].shape)}: {fix}")
            if torch.allclose(answer, means[position, letter], atol=1e-5):
                raise Wrong(f"for {named} you return the class mean itself: subtract the mean over all the sequences, "
                            f"so that what the letter adds is left")
            has = run.sequences[:, position] == letter  # (N,)
            others = means[position, letter] - hidden1[~has].double().mean(0)  # the mean of the rest subtracted
            if torch.allclose(answer, others, atol=1e-5):
                raise Wrong(f"for {named} you subtract the mean of the other sequences, those without the letter: "
                            f"subtract the mean over all N sequences, the letter's own included")
            if not torch.allclose(answer, expected[position, letter], atol=1e-5):
                raise Wrong(f"for {named} your direction differs from core.directions' by up to "
                            f"{(answer - expected[position, letter]).abs().max().item():.2f}: select the sequences "
                            f"whose column `position` equals `letter` (sequences[:, position] == letter)")
