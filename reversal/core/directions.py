"""Class-mean letter directions: one home for the quantity the mechanism, steering, superposition and the SAE all read.

Example with the defaults (3 letters, length 3, 16 neurons). Average hidden1 over the sequences with `a` at input
position 1: that is the class mean of "a at 1", 16 numbers. Subtract the average over all the sequences: that is the
direction along which "a at 1" moves hidden1. Every (position, letter) has one, 3 x 3 = 9 of them.

    means = class_means(hidden1, sequences, 3)               # (L, V, H) = (3, 3, 16)
    directions = letter_directions(hidden1, sequences, 3)    # (3, 3, 16): the class means minus the overall mean
    v = means[p, y] - means[p, x]                            # steering x -> y at p: the overall mean cancels

Each caller chooses its sequences (the training ones for the mechanism and steering, every analysed one for
superposition and the SAE) and what to keep: the mechanism drops the last letter of each position (its direction
is minus a weighted sum of the others), superposition keeps them all.
"""

import torch


def class_mean(activations, sequences, position, letter):
    """(N, H) activations of the (N, L) sequences -> (H,) float64: their mean over the sequences with `letter` at
    `position`. NaN where no sequence has it."""
    return activations[sequences[:, position] == letter].double().mean(0)


def class_means(activations, sequences, n_letters):
    """(N, H) activations of the (N, L) sequences -> (L, V, H) float64: [p, x] = class_mean(..., p, x)."""
    return torch.stack([torch.stack([class_mean(activations, sequences, position, letter)
                                     for letter in range(n_letters)])
                        for position in range(sequences.shape[1])])


def letter_directions(activations, sequences, n_letters):
    """(N, H) activations of the (N, L) sequences -> (L, V, H) float64: each class mean minus the mean over all the
    sequences. Weighted by how often each letter occurs, one position's V directions add up to 0."""
    return class_means(activations, sequences, n_letters) - activations.double().mean(0)
