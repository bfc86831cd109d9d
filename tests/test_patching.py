"""Activation patching: a whole layer carries everything both ways, hidden2's single shares are direct logit
attribution and add up to the whole layer, a neuron that never fires carries nothing."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import DEAD, assert_finding, assert_png, assert_readable, drawn_figure, panels
from reversal.mlp import patching as patching_module
from reversal.core.common import corruptions, layer_features
from reversal.mlp.patching import activation_patching, patch_neurons, plot_patching


@pytest.fixture(scope="module")
def patching(run):
    return activation_patching(run)


@pytest.mark.parametrize("direction", ["denoising", "noising"])
@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_patching_a_whole_layer_carries_the_whole_answer(patching, layer, direction):
    whole = patching[direction][layer]["whole_layer"]
    np.testing.assert_allclose(whole, 1.0, atol=1e-5, err_msg=(
        f"{direction} all of {layer} should give the other run's logits exactly, a share of 1: did the hook forget "
        f"to return the patched tensor, or patch from the wrong cache?"))


@pytest.mark.parametrize("direction", ["denoising", "noising"])
def test_hidden2_single_shares_add_up_to_the_whole_layer(patching, direction):
    entry = patching[direction]["hidden2"]
    np.testing.assert_allclose(entry["neuron_sum"], entry["whole_layer"], atol=1e-4, err_msg=(
        f"hidden2 feeds a linear readout, so its single-neuron {direction} shares must add up to the whole layer's; "
        f"does block n of the batched run patch neuron n only?"))


def test_hidden2_single_shares_are_direct_logit_attribution(patching, trained, sequences):
    # computed by hand for output 1, which copies the last input: W_out[clean letter] - W_out[corrupted letter],
    # dotted with each neuron's change between the clean and the corrupted run
    vocab, seq_len, n_letters = trained.data.vocab, trained.cfg.seq_len, len(trained.data.vocab.letters)
    i = seq_len - 1
    clean = sequences.repeat(n_letters - 1, 1)
    corrupted = corruptions(sequences, i, n_letters)
    change = (layer_features(trained.model, clean, vocab, "cpu", ("hidden2",))["hidden2"]
              - layer_features(trained.model, corrupted, vocab, "cpu", ("hidden2",))["hidden2"])  # (P, H)
    readout = trained.model.unembed.weight.detach().view(seq_len + 1, len(vocab), -1)[0]  # (V, H) for output 1
    direction = readout[clean[:, i]] - readout[corrupted[:, i]]  # (P, H)
    attribution = (direction * change).sum(0)  # (H,)
    expected = attribution / attribution.sum()
    got = torch.tensor(patching["denoising"]["hidden2"]["neurons"])[:, 0]
    assert torch.allclose(got, expected, atol=1e-4), \
        f"hidden2 shares at output 1 should equal direct logit attribution {expected.tolist()}, got {got.tolist()}"


def test_noising_equals_denoising_when_every_pair_runs_both_ways(patching):
    assert patching["pairs_both_ways"], "with all 27 sequences every corruption is also a clean sequence"
    np.testing.assert_allclose(patching["noising"]["hidden1"]["neurons"], patching["denoising"]["hidden1"]["neurons"],
                               atol=1e-4, err_msg="summed over pairs that each run both ways round, the noising run "
                                                  "of (x, y) is the denoising run of (y, x): are the signs right?")


def test_noising_and_denoising_differ_pair_by_pair_in_hidden1(patching):
    # the agreement above is about sums; the ReLU in hidden2 makes single pairs differ
    assert patching["largest_pair_gap"]["hidden1"] > 0.1, \
        f"noising and denoising agree pair by pair in hidden1 ({patching['largest_pair_gap']}): is the gap measured?"


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_patching_a_neuron_that_never_fires_carries_nothing(dead_neuron_model, run, layer):
    # its clean value and its corrupted value are both 0: the patch changes nothing, so nothing can come back
    patching = activation_patching(replace(run, model=dead_neuron_model))
    restored = patching["denoising"][layer]["neurons"][DEAD]
    np.testing.assert_allclose(restored, 0.0, atol=1e-6, err_msg=(
        f"patching {layer} neuron {DEAD}, which is 0 in every run, restored {restored}: is block n of the batched "
        f"run patching a different neuron than n?"))


def test_patch_neurons_with_every_neuron_restores_everything(trained, sequences):
    shares = patch_neurons(trained.model, sequences, trained.data.vocab, trained.cfg.device, "hidden1",
                           list(range(trained.cfg.hidden)))
    np.testing.assert_allclose(shares, 1.0, atol=1e-5, err_msg="patching all neurons together is the whole layer")


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_plot_patching_draws_a_png(patching, tmp_path):
    path = tmp_path / "plot_patching.png"
    plot_patching(patching, path)
    assert_png(path)


def test_the_patching_finding_is_layered(patching):
    assert_finding(patching)


def test_many_is_said_only_for_a_large_part_of_the_layer(patching):
    text = str(patching.finding())
    hidden2 = -np.sort(-np.array(patching["denoising"]["hidden2"]["neurons"]), axis=0)
    needed = (hidden2.cumsum(0) < 0.5).sum(0) + 1
    if needed.min() <= len(hidden2) / 3:
        assert "many" not in text.split("In hidden2 the largest")[1], (
            f"{needed} of {len(hidden2)} neurons carry half the answer: a small part of the layer, not 'many'")


def made_up_patching(noising_shift):
    """Patching shares for 4 neurons and 3 outputs, noising = denoising + noising_shift: the figure reads nothing
    else, so no model is needed."""
    neurons = np.random.default_rng(0).normal(0, 0.1, (4, 3))
    entry = lambda shift: {"neurons": (neurons + shift).tolist(), "whole_layer": [1.0] * 3, "neuron_sum": [0.9] * 3}
    return {"denoising": {layer: entry(0) for layer in ("hidden1", "hidden2")},
            "noising": {layer: entry(noising_shift) for layer in ("hidden1", "hidden2")}}


@pytest.mark.parametrize("shift, columns", [(0.0, 1), (1e-8, 1), (1e-3, 2)])
def test_the_default_figure_drops_noising_only_where_it_repeats_denoising(monkeypatch, shift, columns):
    fig = drawn_figure(monkeypatch, patching_module, plot_patching, made_up_patching(shift))
    assert len(panels(fig)) == 2 * columns, \
        f"noising off denoising by {shift}: expected {columns} column(s) of 2 layers, got {len(panels(fig))} panels " \
        f"(do the two directions agree to 1e-6 everywhere?)"
    assert ("noising gives the same values here" in fig._suptitle.get_text()) == (columns == 1), \
        "the title says noising is left out exactly when it is"


def test_detail_draws_both_directions_even_when_they_agree(monkeypatch):
    fig = drawn_figure(monkeypatch, patching_module, plot_patching, made_up_patching(0.0), detail=True)
    assert len(panels(fig)) == 4, "detail=True is the full figure: 2 layers x 2 directions"


@pytest.mark.slow  # builds full-size figures: about 1 s
def test_noising_equals_denoising_in_the_trained_model(patching, monkeypatch):
    # hidden2 by construction (the linear readout); the default figure draws one column where this holds
    simple = drawn_figure(monkeypatch, patching_module, plot_patching, patching)
    full = drawn_figure(monkeypatch, patching_module, plot_patching, patching, detail=True)
    assert len(panels(simple)) < len(panels(full)), \
        f"the default figure should drop the noising column here: {len(panels(simple))} panels, detail " \
        f"{len(panels(full))}"


@pytest.mark.slow  # lays the figure out: about 0.5 s
def test_the_default_figure_reads_when_projected(patching, monkeypatch):
    assert_readable(drawn_figure(monkeypatch, patching_module, plot_patching, patching))
