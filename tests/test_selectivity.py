"""Selectivity (eta squared) against a permutation null, and what the first layer's weights predict of it."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import DEAD, assert_finding, assert_png, assert_readable, drawn_figure, panels
from reversal.mlp import weights as weights_module
from reversal.core.data import add_eos, all_sequences
from reversal.core.model import run_with_cache
from reversal.mlp.selectivity import (SELECTIVE, Selectivity, eta_squared, neuron_selectivity, null_cutoff,
                                      plot_selectivity)
from reversal.mlp.weights import first_layer_weights, letter_variance_shares, plot_first_layer_weights


@pytest.fixture(scope="module")
def selectivity(run):
    return neuron_selectivity(run)


@pytest.fixture(scope="module")
def weights(run):
    return first_layer_weights(run)


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_eta_squared_lies_between_0_and_1(selectivity, trained, layer):
    eta = np.array(selectivity[layer]["eta"])
    assert eta.shape == (trained.cfg.hidden, trained.cfg.seq_len), f"expected (neurons, positions), got {eta.shape}"
    assert eta.min() >= 0 and eta.max() <= 1, f"eta squared is a share of variance, got {eta.min()}..{eta.max()}"


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_eta_squared_is_0_for_a_neuron_that_never_fires(dead_neuron_model, run, trained, layer):
    result = neuron_selectivity(replace(run, model=dead_neuron_model))
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


def test_noise_passes_the_null_cutoff_about_1_percent_of_the_time():
    generator = torch.Generator().manual_seed(0)
    sequences = all_sequences(3, 3)  # (27, 3)
    noise = torch.randn(27, 300, generator=generator, dtype=torch.float64)  # 300 neurons that depend on nothing
    cutoff = null_cutoff(noise, sequences, generator)
    passing = (eta_squared(noise, sequences) >= cutoff).mean()
    assert 0.001 <= passing <= 0.03, (f"{passing:.1%} of pure-noise (neuron, position) pairs reach the null's 99th "
                                      f"percentile {cutoff:.2f}; expected about 1%: is the quantile taken over the "
                                      f"right axis?")


def test_the_cutoff_is_the_larger_of_the_floor_and_the_null(selectivity):
    assert selectivity["threshold"] == max(SELECTIVE, selectivity["null"]["eta_squared"]), (
        f"threshold {selectivity['threshold']}, null {selectivity['null']['eta_squared']}, floor {SELECTIVE}")


def test_weight_shares_are_eta_squared_before_the_relu(trained, sequences):
    tokens = add_eos(sequences, trained.data.vocab.eos_id)
    _, cache = run_with_cache(trained.model, tokens, ("linear1",))  # hidden1 before its ReLU
    shares = letter_variance_shares(trained.model, len(trained.data.vocab.letters))
    np.testing.assert_allclose(shares, eta_squared(cache["linear1"], sequences), atol=1e-5, err_msg=(
        "over all sequences a sum over positions splits its variance by position, so each position's share of the "
        "variance of W_p E_x must equal eta squared before the ReLU: is the embedding of <eos> counted as a letter?"))


def test_the_weights_predict_trained_selectivity(weights):
    assert weights["correlation"] > 0.8, f"weight shares vs eta squared, trained: r = {weights['correlation']:.2f}"


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_plot_selectivity_draws_a_png(selectivity, tmp_path):
    path = tmp_path / "plot_selectivity.png"
    plot_selectivity(selectivity, path)
    assert_png(path)


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_plot_first_layer_weights_draws_a_png(weights, tmp_path):
    path = tmp_path / "plot_first_layer_weights.png"
    plot_first_layer_weights(weights, path)
    assert_png(path)


def test_the_selectivity_finding_is_layered(selectivity):
    assert_finding(selectivity)


def test_the_weights_finding_is_layered(weights):
    assert_finding(weights)


def test_an_uninformative_null_leaves_the_counts_out(selectivity):
    doctored = Selectivity({**selectivity.values,
                            "null": {**selectivity["null"], "eta_squared": 1.0, "informative": False}})
    text = str(doctored.finding())
    assert "Neurons depending on one position" not in text and "can be told from chance" in text, (
        f"a null that reaches 1.00 cannot separate dependence from chance: the counts must be left out, got:\n{text}")


@pytest.mark.slow  # builds full-size figures: about 1 s
def test_the_weights_figure_draws_both_maps_in_one_colour_map_on_one_scale(weights, monkeypatch):
    maps = [ax.images[0] for ax in panels(drawn_figure(monkeypatch, weights_module, plot_first_layer_weights, weights))]
    drawn = {(image.get_cmap().name, image.get_clim()) for image in maps}
    assert len(maps) == 2 and len(drawn) == 1, \
        f"the weights' shares and eta squared are both shares from 0 to 1: one colour map, one scale; got {drawn}"


@pytest.mark.slow  # lays the figure out: about 0.5 s
def test_the_weights_figure_reads_when_projected(weights, monkeypatch):
    assert_readable(drawn_figure(monkeypatch, weights_module, plot_first_layer_weights, weights))
