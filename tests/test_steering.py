"""Steering: the class-mean vector moves one output and only that one; a random direction of the same norm does not."""

import numpy as np
import pytest
import torch

from conftest import assert_finding, assert_png
from reversal.core.common import layer_features
from reversal.features.steering import (CLEAN_FLIP, CLEAN_SIDE_EFFECTS, class_mean_vector, plot_steering,
                                        steering_experiment, steering_triples)


@pytest.fixture(scope="module")
def steering(run):
    return steering_experiment(run)


def _clean(sweep, method):
    index = ["class means", "random", "neuron"].index(method)
    return (sweep["flip"][index] >= CLEAN_FLIP) & (sweep["side_effects"][index] <= CLEAN_SIDE_EFFECTS)  # (A, T)


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_some_alpha_steers_every_triple_cleanly(steering, layer):
    assert steering[layer]["clean_window"]["class means"], (
        f"{layer}: no alpha makes every (position, from, to) flip its mirrored output in >= {CLEAN_FLIP:.0%} of "
        f"sequences with <= {CLEAN_SIDE_EFFECTS:.0%} side effects. Is v the mean with y minus the mean with x (not "
        f"the reverse), and is the flip read at output L-1-p?")


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_a_random_direction_of_the_same_norm_is_not_clean_there(steering, layer):
    window = _clean(steering["sweep"][layer], "class means").all(1)  # (A,) the alphas where every triple is clean
    random = _clean(steering["sweep"][layer], "random")[window]  # (alphas in the window, T)
    assert not random.all(1).any(), (
        f"{layer}: a random direction of the same norm steers every triple cleanly at an alpha where the class "
        f"means do: then the class-mean direction is nothing special. Is the random vector scaled to v's norm?")
    assert random.mean() < 0.25, f"{layer}: the random control is clean for {random.mean():.0%} of the cases"


def test_alpha_zero_changes_nothing(steering):
    for layer in ("hidden1", "hidden2"):
        sweep = steering["sweep"][layer]
        assert np.all(sweep["flip"][:, 0] == 0) and np.all(sweep["side_effects"][:, 0] == 0), (
            f"{layer}: at alpha 0 some output changed: is the clean activation put back unchanged (the clamp at 0 "
            f"must not move post-ReLU values)?")


def test_the_finding_names_the_window(steering):
    low, high = steering["hidden1"]["clean_window"]["class means"][0]
    assert f"{low:.2f} to {high:.2f}" in str(steering.finding())


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_the_figure_draws(steering, tmp_path):
    plot_steering(steering, tmp_path / "steering.png")
    assert_png(tmp_path / "steering.png")


@pytest.fixture(scope="module")
def transformer_steering(transformer_run):
    return steering_experiment(transformer_run)


@pytest.mark.parametrize("layer", ["blocks.0.hook_resid_pre", "blocks.0.hook_resid_post"])
def test_the_transformer_steers_cleanly_on_its_residual_stream_and_random_does_not(transformer_steering, layer):
    sweep = transformer_steering["sweep"][layer]
    window = _clean(sweep, "class means").all(1)  # (A,)
    assert window.any(), f"{layer}: no alpha steers every triple cleanly at the position the triple names"
    assert not _clean(sweep, "random")[window].all(1).any(), f"{layer}: a random direction is as clean"


def test_resid_pre_steering_is_the_embedding_difference(trained_transformer, transformer_steering):
    # resid_pre at position p is W_E[token] + W_pos[p]: the class means differ by W_E[y] - W_E[x] exactly
    assert transformer_steering["blocks.0.hook_resid_pre"]["largest_gap_to_embedding_difference"] < 1e-5
    assert "typing y instead of x" in str(transformer_steering.finding())


def test_resid_post_steering_cannot_reach_another_output(transformer_steering):
    # only the unembedding reads resid_post, position by position: arithmetic, and the text must call it that
    assert np.all(transformer_steering["sweep"]["blocks.0.hook_resid_post"]["side_effects"] == 0)
    assert "arithmetic, not evidence" in str(transformer_steering.finding())
    assert transformer_steering["clamp"] is False, "the residual stream is not the output of a ReLU: no clamp"


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_the_transformer_figure_draws(transformer_steering, tmp_path):
    plot_steering(transformer_steering, tmp_path / "steering.png")
    assert_png(tmp_path / "steering.png")


def test_resid_pre_class_means_differ_by_the_embedding_difference_alone(trained_transformer, transformer_steering):
    # computed here from the hook, not from the experiment: resid_pre[:, p] = W_E[token] + W_pos[p]
    t = trained_transformer
    train, d_model = t.data.train_sequences, t.model.embed.W_E.shape[1]
    resid = layer_features(t.model, train, t.data.vocab, t.cfg.device, ("blocks.0.hook_resid_pre",))
    resid = resid["blocks.0.hook_resid_pre"].double().view(len(train), -1, d_model)  # (N, L+1, d)
    W_E = t.model.embed.W_E.detach().cpu().double()
    found = transformer_steering["blocks.0.hook_resid_pre"]
    for t_index, (p, x, y) in enumerate(steering_triples(t.cfg.seq_len, len(t.cfg.vocab))):
        v = class_mean_vector(resid[:, p], train, p, x, y)
        assert torch.allclose(v, W_E[y] - W_E[x], atol=1e-5), f"resid_pre at input {p + 1}: v is not W_E[y] - W_E[x]"
        assert abs(found["vector_norm"][t_index] - v.norm().item()) < 1e-5, "the experiment steers another vector"


def test_resid_pre_side_effects_are_real_and_the_window_end_is_explained(transformer_steering):
    layer = "blocks.0.hook_resid_pre"
    found, sweep = transformer_steering[layer], transformer_steering["sweep"][layer]
    past, alphas = found["past_window"], transformer_steering["alpha_grid"]
    assert past["largest_side_effects"] > CLEAN_SIDE_EFFECTS, (
        "steering the input's position never changed another output: the head reads that position as a key and a "
        "value for every output, so at alpha 3 it should")
    if past["alpha"] is not None:  # the first alpha after the window: some triple must fail there
        i = alphas.index(past["alpha"])
        failing = (sweep["flip"][0, i] < CLEAN_FLIP) | (sweep["side_effects"][0, i] > CLEAN_SIDE_EFFECTS)
        assert failing.any() and past["triples_missing_flip"] + past["triples_with_side_effects"] >= failing.sum()
        assert f"The window ends because at alpha {past['alpha']:.2f}" in str(transformer_steering.finding())


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_the_logit_difference_turns_with_the_class_means_and_not_with_a_random_direction(steering, layer):
    # the continuous measure beside the flip rate: the mirror's logit for y minus x, (methods, alphas, triples)
    difference = steering["sweep"][layer]["logit_diff"]
    one = steering["alpha_grid"].index(1.0)
    assert (difference[:, 0] < 0).all(), "unsteered, every mirror prefers its own letter x over y"
    assert (difference[0, one] > 0).all(), "at alpha 1 the class means make every triple's mirror prefer y"
    assert difference[1, one].mean() < 0, "a random direction of the same norm leaves x ahead on average"


@pytest.mark.parametrize("model", ["mlp", "transformer"])
def test_the_steering_finding_is_layered(steering, transformer_steering, model):
    assert_finding(steering if model == "mlp" else transformer_steering)


def test_metrics_keep_the_summary_not_the_sweep(steering):
    kept = steering.to_json()
    assert kept["alphas"] == {"first": 0.0, "last": 3.0, "count": len(steering["alpha_grid"])}
    assert "flip" not in kept["hidden1"] and set(kept["hidden1"]["mean_over_triples"]) == {"flip", "side_effects",
                                                                                          "logit_diff"}
