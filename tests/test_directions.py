"""The class-mean letter directions (core.directions), against a layer whose directions are known exactly."""

import torch

from reversal.core.data import all_sequences
from reversal.core.directions import class_means, letter_directions


def additive_layer():
    """Every sequence of length 3 over 3 letters, and a layer that is a sum of one random vector per (position,
    letter): (27, 3) sequences, (27, 16) activations, and the (3, 3, 16) table of vectors."""
    sequences = all_sequences(3, 3)
    table = torch.randn(3, 3, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return sequences, sum(table[p, sequences[:, p]] for p in range(3)), table


def test_letter_directions_recover_an_additive_layer():
    # every letter occurs equally often at every position, so the other positions average out of a class mean
    sequences, activations, table = additive_layer()
    expected = table - table.mean(1, keepdim=True)  # (L, V, H): each letter's vector, centred on its position's
    assert torch.allclose(letter_directions(activations, sequences, 3), expected, atol=1e-12), (
        "the class-mean direction of x at p should be table[p, x] minus the mean of table[p]: is the overall mean "
        "taken over every sequence, and each class over the sequences with x at p?")


def test_class_means_are_the_mean_activation_of_each_class():
    sequences, activations, _ = additive_layer()
    means = class_means(activations, sequences, 3)  # (L, V, H)
    assert means.shape == (3, 3, 16)
    assert torch.equal(means[1, 2], activations[sequences[:, 1] == 2].mean(0)), "[p, x]: position first, then letter"
