"""Principal components of a layer's activations: one home for the centred SVD that dimensionality, superposition
and the SAE all read. Centre each neuron on its mean over the rows, in float64, then take the SVD."""

import torch


def centred(activations):
    """(N, H) -> (N, H) float64, each column minus its mean over the N rows."""
    return activations.double() - activations.double().mean(0)


def singular_values(activations):
    """(N, H) -> (min(N, H),) the centred activations' singular values, largest first; squared, each is the
    variance (times N) along one principal component."""
    return torch.linalg.svdvals(centred(activations))


def principal_axes(activations):
    """(N, H) -> centred (N, H), singular values (K,), axes (K, H) with K = min(N, H): row k of the axes is the k-th
    principal direction."""
    rows = centred(activations)
    _, values, axes = torch.linalg.svd(rows, full_matrices=False)
    return rows, values, axes
