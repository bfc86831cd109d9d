"""Selectivity (eta squared) and the first-layer weights."""

import numpy as np
import pytest
import torch

from conftest import DEAD, assert_png
from reversal.data import all_sequences
from reversal.selectivity import eta_squared, neuron_selectivity, plot_selectivity
from reversal.weights import plot_first_layer_weights


@pytest.fixture(scope="module")
def selectivity(trained, untrained, sequences):
    return neuron_selectivity(trained.model, sequences, trained.data.vocab, trained.cfg.device, untrained)


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_eta_squared_lies_between_0_and_1(selectivity, trained, layer):
    eta = np.array(selectivity[layer]["eta"])
    assert eta.shape == (trained.cfg.hidden, trained.cfg.seq_len), f"expected (neurons, positions), got {eta.shape}"
    assert eta.min() >= 0 and eta.max() <= 1, f"eta squared is a share of variance, got {eta.min()}..{eta.max()}"


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_eta_squared_is_0_for_a_neuron_that_never_fires(dead_neuron_model, trained, untrained, sequences, layer):
    result = neuron_selectivity(dead_neuron_model, sequences, trained.data.vocab, trained.cfg.device,
                                         untrained)
    assert result[layer]["eta"][DEAD] == [0.0] * trained.cfg.seq_len, \
        f"a neuron with no variance has none to explain; got {result[layer]['eta'][DEAD]} (0/0 not caught?)"


def test_eta_squared_of_an_activation_equal_to_the_first_letter():
    sequences = all_sequences(3, 2)  # (9, 2): every letter at every position equally often
    acts = sequences[:, :1].double()  # (9, 1): one fake neuron whose activation is the letter id at position 0
    np.testing.assert_allclose(eta_squared(acts, sequences), [[1.0, 0.0]], atol=1e-12, err_msg=(
        "the letter at position 0 explains all of this neuron's variance, the letter at position 1 none of it"))


def test_eta_squared_of_a_constant_activation_is_0():
    sequences = all_sequences(3, 2)
    eta = eta_squared(torch.full((9, 1), 2.5), sequences)
    assert (eta == 0).all(), f"a constant has no variance to explain, got {eta}"


def test_plot_selectivity_draws_a_png(selectivity, tmp_path):
    path = tmp_path / "plot_selectivity.png"
    plot_selectivity(selectivity, path)
    assert_png(path)


def test_plot_first_layer_weights_draws_a_png(selectivity, tmp_path):
    path = tmp_path / "plot_first_layer_weights.png"
    plot_first_layer_weights(selectivity, path)
    assert_png(path)
