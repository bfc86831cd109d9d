"""Steering: the class-mean vector moves one output and only that one; random directions of the same norm do not, at
their 95th percentile; and where the layer feeds the linear readout, the readout predicts it all."""

import copy

import numpy as np
import pytest
import torch

from conftest import assert_finding, assert_png, shared_model
from reversal.core.common import layer_features
from reversal.core.run import Run
from reversal.core.train import make_model
from reversal.features import steering_plot
from reversal.features.sae import ON_A_LINE, TowardMiddle, letters_on_a_line, steer_toward_middle
from reversal.features.steering import RANDOM_DRAWS, class_mean_vector, steering_experiment, steering_triples
from reversal.features.steering_plot import plot_steering
from reversal.features.steering_result import (CLEAN_FLIP, CLEAN_SIDE_EFFECTS, Steering, beats_random_p95,
                                               is_clean)


@pytest.fixture(scope="module")
def steering(run):
    return steering_experiment(run)


@pytest.fixture(scope="module")
def unclamped(run):
    return steering_experiment(run, clamp=False)


def _window(sweep):
    """(A,) the alphas at which the class means are clean for every triple."""
    return is_clean(sweep["class means"]).all(-1)


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_some_alpha_steers_every_triple_cleanly(steering, layer):
    assert steering[layer]["clean_window"]["class means"], (
        f"{layer}: no alpha makes every (position, from, to) flip its mirrored output in >= {CLEAN_FLIP:.0%} of "
        f"sequences with <= {CLEAN_SIDE_EFFECTS:.0%} side effects. Is v the mean with y minus the mean with x (not "
        f"the reverse), and is the flip read at output L-1-p?")


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_random_directions_of_the_same_norm_are_not_clean_there_at_their_95th_percentile(steering, layer):
    sweep, n = steering["sweep"][layer], len(steering["triples"])
    window, alphas = _window(sweep), sweep["random_alphas"]
    assert set(np.flatnonzero(window)) <= set(alphas), "the draws must be read at every alpha of the window"
    inside = window[alphas]
    best = is_clean(sweep["random"])[:, inside].sum(-1).max(-1)  # (K,) each draw's most triples clean at once
    assert len(best) == RANDOM_DRAWS >= 20, "the random control takes at least 20 draws"
    control = steering[layer]["control_at_window"]["random"]
    assert control["most_triples_clean"] == pytest.approx(best.mean())
    assert control["most_triples_clean_p95"] == pytest.approx(np.percentile(best, 95))
    assert control["most_triples_clean_p95"] < n and steering[layer]["beats_random_p95"], (
        f"{layer}: 5% or more of the random directions of the same norm steer every triple cleanly where the class "
        f"means do: then the class-mean direction is nothing special. Is each draw scaled to v's norm?")


def test_the_draws_are_seeded_distinct_and_the_same_on_a_second_run(run, steering):
    again = steering_experiment(run)
    assert again.to_json() == steering.to_json(), "same seed, different numbers: draw with a seeded torch.Generator"
    logits = steering["sweep"]["hidden1"]["random"]["logit_diff"][:, -1].mean(-1)  # (K,) at the last alpha read
    assert len(set(np.round(logits, 6))) == RANDOM_DRAWS, "the random draws are not 20 different directions"
    assert steering["random_sequences"] == steering["analysis_sequences"] == 27, "with the defaults, every sequence"
    assert "seeded sample" not in str(steering.finding())
    values = copy.deepcopy(steering.values)
    values["random_sequences"] = 10  # where there are many sequences, the draws read a sample, and the text says so
    assert "(on a seeded sample of 10 of the 27 sequences)" in str(Steering(values, steering.arrays).finding())


def test_metrics_keep_the_random_mean_with_its_95th_percentile_beside_it(steering):
    kept = steering.to_json()["hidden1"]
    assert {"most_triples_clean", "most_triples_clean_p95", "mean_flip", "mean_flip_p95", "mean_side_effects",
            "mean_side_effects_p95"} <= set(kept["control_at_window"]["random"])
    for measure in ("flip", "side_effects", "logit_diff"):
        assert set(kept["mean_over_triples"][measure]) == {"class means", "random", "random_p95", "neuron"}
    at_one = kept["mean_over_triples"]["logit_diff"]
    assert at_one["random"]["alpha_1"] < at_one["random_p95"]["alpha_1"] < at_one["class means"]["alpha_1"]


def test_the_verdict_compares_the_unrounded_95th_percentile_and_prints_it():
    assert beats_random_p95({"random": {"most_triples_clean_p95": 17.95}}, 18)
    assert not beats_random_p95({"random": {"most_triples_clean_p95": 18.0}}, 18)
    assert not beats_random_p95(None, 18), "no window: nothing to beat"


def _doctored(steering, layer, **changes):
    """A copy of the result with some of one layer's values replaced (the arrays shared)."""
    values = copy.deepcopy(steering.values)
    values[layer].update(changes)
    return Steering(values, steering.arrays)


def test_a_random_control_at_the_triple_count_is_not_beaten(steering):
    # the old verdict read one draw's count; now the 95th percentile decides, and the text prints it to 2 decimals
    n, control = len(steering["triples"]), copy.deepcopy(steering["hidden1"]["control_at_window"])
    control["random"]["most_triples_clean_p95"] = float(n)
    doctored = _doctored(steering, "hidden1", control_at_window=control, beats_random_p95=False)
    text = str(doctored.finding())
    assert "random directions (95th percentile of 20) do" in doctored.finding().headline, doctored.finding().headline
    assert f"95th percentile of the 20 draws: {n:.2f}" in text and "does not beat their 95th percentile" in text
    assert "random directions (95th percentile of 20) and one neuron do not" in steering.finding().headline


def test_alpha_zero_changes_nothing(steering):
    for layer in ("hidden1", "hidden2"):
        sweep = steering["sweep"][layer]
        for method in ("class means", "neuron"):
            assert np.all(sweep[method]["flip"][0] == 0) and np.all(sweep[method]["side_effects"][0] == 0), (
                f"{layer}, {method}: at alpha 0 some output changed: is the clean activation put back unchanged (the "
                f"clamp at 0 must not move post-ReLU values)?")
        assert sweep["random_alphas"][0] == 0 and np.all(sweep["random"]["flip"][:, 0] == 0)


def test_the_finding_names_the_window(steering):
    low, high = steering["hidden1"]["clean_window"]["class means"][0]
    assert f"{low:.2f} to {high:.2f}" in str(steering.finding())


def test_hidden1_is_the_site_that_tests_the_directions_and_hidden2_is_arithmetic(steering):
    assert steering["sites_testing_directions"] == ["hidden1"] and steering["readout_sites"] == ["hidden2"]
    finding = steering.finding()
    assert finding.headline.startswith("Steering hidden1 along"), (
        "the headline leads with the site that tests the directions, not hidden2, which is readout arithmetic")
    assert "(hidden2 too: readout arithmetic)" in finding.headline
    assert "hidden1 is the site that tests them" in str(finding)
    assert "readout_predicted_logit_diff_alpha_1" not in steering["hidden1"], "hidden1 does not feed the readout"


def test_the_readout_prediction_is_the_measured_unclamped_sweep_at_hidden2(unclamped):
    # unclamped, hidden2 steering is arithmetic: logits + alpha W v, with no intervention run
    sweep, found = unclamped["sweep"]["hidden2"], unclamped["hidden2"]
    predicted, measured = sweep["readout_predicted"], sweep["class means"]
    assert np.allclose(predicted["logit_diff"], measured["logit_diff"], atol=1e-4), "the readout is linear"
    assert np.array_equal(predicted["flip"], measured["flip"])
    assert np.array_equal(predicted["side_effects"], measured["side_effects"])
    assert found["readout_prediction_gap"] < 1e-4
    assert found["readout_predicted_logit_diff_alpha_1"] == pytest.approx(
        found["mean_over_triples"]["logit_diff"]["class means"]["alpha_1"], abs=1e-4)
    assert "The clamp at 0" not in str(unclamped.finding()), "no clamp, nothing for it to change"


def test_the_readout_prediction_matches_an_independent_computation(trained, sequences, steering):
    # from the weights by hand, for the first triple (input 1, a -> b) at alpha 1: W (h + v) + b at the mirror
    model, data, cfg = trained.model, trained.data, trained.cfg
    train = data.train_sequences
    v = class_mean_vector(layer_features(model, train, data.vocab, cfg.device, ("hidden2",))["hidden2"].double(),
                          train, 0, 0, 1)
    steered = sequences[sequences[:, 0] == 0]
    h = layer_features(model, steered, data.vocab, cfg.device, ("hidden2",))["hidden2"].double()
    logits = (h + v) @ model.unembed.weight.detach().double().T + model.unembed.bias.detach().double()
    mirror = logits.view(len(steered), cfg.seq_len + 1, -1)[:, cfg.seq_len - 1]  # output 3 copies input 1
    by_hand = (mirror[:, 1] - mirror[:, 0]).mean().item()
    one = steering["alpha_grid"].index(1.0)
    assert steering["sweep"]["hidden2"]["readout_predicted"]["logit_diff"][one, 0] == pytest.approx(by_hand, abs=1e-4)


def test_the_clamp_is_what_separates_prediction_and_measurement_at_hidden2(steering):
    found = steering["hidden2"]
    assert found["readout_prediction_gap"] < 1e-4, "measured without the clamp, hidden2 is the readout's arithmetic"
    clamped = found["mean_over_triples"]["logit_diff"]["class means"]["alpha_1"]
    assert abs(clamped - found["readout_predicted_logit_diff_alpha_1"]) > 1e-3, "the clamp changes the default run"
    text = str(steering.finding())
    assert (f"predict a mirror logit difference of {found['readout_predicted_logit_diff_alpha_1']:+.3f} at alpha 1"
            in text and f"with it the measured difference at alpha 1 is {clamped:+.3f}" in text)
    assert "so steering it is arithmetic" in text and "Agreement here tests the readout's weights" in text


def test_a_readout_prediction_that_missed_is_not_called_arithmetic(steering):
    doctored = _doctored(steering, "hidden2", readout_prediction_gap=0.5)
    text = str(doctored.finding())
    assert "They differ" in text and "Agreement here" not in text and "so steering it is arithmetic" not in text
    assert "all that the prediction leaves out" not in text


def test_only_the_readout_site_steered_is_said_so(steering):
    doctored = _doctored(steering, "hidden1", clean_window={"class means": [], "neuron": []})
    headline = doctored.finding().headline
    assert headline.startswith("Only hidden2, which the linear readout reads (arithmetic)"), headline
    assert_finding(doctored)


def test_the_figure_shades_the_window_the_text_states(steering, tmp_path, monkeypatch):
    # the darker band is every triple's window (the text's), the lighter one the figure's triple's own
    figures = []
    monkeypatch.setattr(steering_plot, "save_figure", lambda fig, path: figures.append(fig))
    plot_steering(steering, tmp_path / "steering.png")
    ax = figures[0].axes[0]  # hidden1, flip
    spans = {round(patch.get_alpha(), 2): (patch.get_x(), patch.get_x() + patch.get_width())
             for patch in ax.patches if patch.get_alpha() in (0.2, 0.07)}
    assert spans[0.2] == pytest.approx(tuple(steering["hidden1"]["clean_window"]["class means"][0]))
    assert spans[0.07] == pytest.approx(tuple(steering["hidden1"]["chosen_clean"]["class means"][0]))


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_the_figure_draws(steering, tmp_path):
    plot_steering(steering, tmp_path / "steering.png")
    assert_png(tmp_path / "steering.png")


@pytest.fixture(scope="module")
def transformer_steering(transformer_run):
    return steering_experiment(transformer_run)


@pytest.mark.parametrize("layer", ["blocks.0.hook_resid_pre", "blocks.0.hook_resid_post"])
def test_the_transformer_steers_cleanly_on_its_residual_stream_and_random_does_not(transformer_steering, layer):
    assert _window(transformer_steering["sweep"][layer]).any(), \
        f"{layer}: no alpha steers every triple cleanly at the position the triple names"
    assert transformer_steering[layer]["beats_random_p95"], f"{layer}: random directions are as clean"


def test_resid_pre_steering_is_the_embedding_difference(trained_transformer, transformer_steering):
    # resid_pre at position p is W_E[token] + W_pos[p]: the class means differ by W_E[y] - W_E[x] exactly
    assert transformer_steering["blocks.0.hook_resid_pre"]["largest_gap_to_embedding_difference"] < 1e-5
    assert "typing y instead of x" in str(transformer_steering.finding())


def test_resid_post_steering_cannot_reach_another_output(transformer_steering):
    # only the unembedding reads resid_post, position by position: arithmetic, and the text must call it that
    sweep = transformer_steering["sweep"]["blocks.0.hook_resid_post"]
    assert all(np.all(sweep[method]["side_effects"] == 0) for method in ("class means", "neuron", "random"))
    assert "arithmetic, not evidence, and so is the flip there" in str(transformer_steering.finding())
    assert transformer_steering["clamp"] is False, "the residual stream is not the output of a ReLU: no clamp"


def test_resid_post_is_predicted_by_the_unembedding_and_resid_pre_tests_more(transformer_steering):
    s = transformer_steering
    assert s["readout_sites"] == ["blocks.0.hook_resid_post"]
    assert s["sites_testing_directions"] == ["blocks.0.hook_resid_pre"]
    sweep = s["sweep"]["blocks.0.hook_resid_post"]
    assert np.allclose(sweep["readout_predicted"]["logit_diff"], sweep["class means"]["logit_diff"], atol=1e-4)
    assert np.array_equal(sweep["readout_predicted"]["flip"], sweep["class means"]["flip"])
    assert s["blocks.0.hook_resid_post"]["readout_prediction_gap"] < 1e-4
    text = str(s.finding())
    assert "the test is at blocks.0.hook_resid_pre, where the head must carry the push" in text
    assert s.finding().headline.startswith("Steering blocks.0.hook_resid_pre along")
    assert "The clamp at 0" not in text


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
    found, sweep = transformer_steering[layer], transformer_steering["sweep"][layer]["class means"]
    past, alphas = found["past_window"], transformer_steering["alpha_grid"]
    assert past["largest_side_effects"] > CLEAN_SIDE_EFFECTS, (
        "steering the input's position never changed another output: the head reads that position as a key and a "
        "value for every output, so at alpha 3 it should")
    if past["alpha"] is not None:  # the first alpha after the window: some triple must fail there
        i = alphas.index(past["alpha"])
        failing = (sweep["flip"][i] < CLEAN_FLIP) | (sweep["side_effects"][i] > CLEAN_SIDE_EFFECTS)
        assert failing.any() and past["triples_missing_flip"] + past["triples_with_side_effects"] >= failing.sum()
        assert f"The window ends because at alpha {past['alpha']:.2f}" in str(transformer_steering.finding())


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_the_logit_difference_turns_with_the_class_means_and_not_with_a_random_direction(steering, layer):
    # the continuous measure beside the flip rate: the mirror's logit for y minus x, (alphas, triples)
    sweep = steering["sweep"][layer]
    one = steering["alpha_grid"].index(1.0)
    assert (sweep["class means"]["logit_diff"][0] < 0).all(), "unsteered, every mirror prefers its own letter x"
    assert (sweep["class means"]["logit_diff"][one] > 0).all(), "at alpha 1 the class means make every mirror say y"
    draws = sweep["random"]["logit_diff"][:, sweep["random_alphas"].index(one)].mean(-1)  # (K,)
    assert np.percentile(draws, 95) < 0, "at their 95th percentile, random directions of the same norm leave x ahead"


@pytest.mark.parametrize("model", ["mlp", "transformer"])
def test_the_steering_finding_is_layered(steering, transformer_steering, model):
    assert_finding(steering if model == "mlp" else transformer_steering)


def test_metrics_keep_the_summary_not_the_sweep(steering):
    kept = steering.to_json()
    assert kept["alphas"] == {"first": 0.0, "last": 3.0, "count": len(steering["alpha_grid"])}
    assert "flip" not in kept["hidden1"] and set(kept["hidden1"]["mean_over_triples"]) == {"flip", "side_effects",
                                                                                          "logit_diff"}
    assert {"readout_predicted_logit_diff_alpha_1", "readout_predicted_flip_alpha_1", "readout_predicted_clean_window",
            "readout_prediction_gap", "unclamped_logit_diff_alpha_1"} <= set(kept["hidden2"])


def test_toward_the_middle_a_one_alpha_window_reads_at_that_alpha():
    told = TowardMiddle({"position": 1, "start": "c", "middle": "b", "far": "a", "output": 3, "steered": 9,
                         "alphas": [0.0, 0.5, 1.0, 1.5], "says_middle": [0.0, 0.2, 1.0, 0.0],
                         "says_far": [0.0, 0.0, 0.0, 1.0]}).finding()
    assert "at alpha 1." in told.headline and "from alpha 1 to 1" not in told.headline
    assert "the overshoot of the line code" in str(told), "the middle letter first, then the far one: an overshoot"


def test_no_overshoot_is_claimed_where_the_middle_letter_was_never_written():
    # measured at --epochs 5 --seq-len 5, seed 42: positions 3 and 4 lie on a line c - b - a, and pushing c toward b
    # reaches a (at alpha 2.5 and 1.5) though b is never said by 90% of the sequences (at most 63% and 72%)
    five = shared_model(seq_len=5, epochs=5)
    run = Run(five.model, make_model(five.cfg, five.data.vocab), five.data, five.cfg)
    acts = layer_features(five.model, run.sequences, five.data.vocab, five.cfg.device, ("hidden1",))["hidden1"]
    lines = [line for line in letters_on_a_line(acts.double(), run.sequences, 3, five.data.vocab.letters)
             if line["share"] >= ON_A_LINE and line["middle"]]
    told = [steer_toward_middle(run, line) for line in lines]
    never = [steer for steer in told if max(steer["says_middle"]) < 0.9 and max(steer["says_far"]) >= 0.5]
    assert never, "at this setting some push was expected to reach the far letter without writing the middle one"
    for steer in never:
        text = str(steer.finding())
        assert "the overshoot of the line code" not in text and "without writing" in text, text


def test_no_triple_clean_anywhere_is_said_so_and_not_at_most_0(steering):
    # at --epochs 5 no triple is ever clean: the old text said "at most 0 of 18 are clean" and "every triple is clean
    # at no alpha"
    values = copy.deepcopy(steering.values)
    for layer in ("hidden1", "hidden2"):
        values[layer].update(clean_window={"class means": [], "neuron": []},
                             triples_ever_clean={"class means": 0, "neuron": 0})
    values["hidden2"]["readout_predicted_clean_window"] = []
    text = str(Steering(values, steering.arrays).finding())
    assert "none of the 18 is clean at any alpha" in text and "at most 0" not in text, text
    assert "no alpha clean for every triple at once" in text and "clean at no alpha" not in text.split("figure's")[0]
