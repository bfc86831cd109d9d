"""Ablation: the continuous measures are right on a hand-made example, a whole layer ablated gives chance (or the
donor's answer), a neuron that never fires costs nothing, and damage on one output reads as a one-position unit."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from conftest import DEAD, assert_finding, assert_png, assert_readable, drawn_figure, panels
from reversal.mlp import ablation as ablation_module
from reversal.mlp.ablation import Ablation, neuron_ablation, output_metrics, plot_ablation, summarize_ablation


@pytest.fixture(scope="module")
def ablation(run):
    return neuron_ablation(run)


@pytest.fixture(scope="module")
def dead_ablation(dead_neuron_model, run):
    return neuron_ablation(replace(run, model=dead_neuron_model))


def test_output_metrics_on_a_hand_made_example():
    logits = torch.tensor([[[2.0, 5.0, 1.0, 0.0], [0.0, 0.0, 3.0, 0.0]]])  # (N=1, T=2, V=4)
    targets = torch.tensor([[0, 2]])  # output 1 wrong (5 beats 2), output 2 right
    accuracy, loss, logit_diff = output_metrics(logits, targets, seq_len=2)
    assert accuracy.tolist() == [0.0, 1.0], f"accuracy per output should be [0, 1], got {accuracy.tolist()}"
    assert torch.allclose(logit_diff, torch.tensor([2.0 - 5.0, 3.0 - 0.0])), \
        f"logit difference should be correct minus the best wrong logit, [-3, 3]; got {logit_diff.tolist()}"
    expected = F.cross_entropy(logits[0], targets[0], reduction="none")
    assert torch.allclose(loss, expected), f"loss should be cross-entropy {expected.tolist()}, got {loss.tolist()}"


def test_ablation_baseline_is_perfect(ablation, trained):
    assert ablation["baseline"]["accuracy"] == [1.0] * trained.cfg.seq_len, \
        f"the unablated model should be right at every output position: {ablation['baseline']['accuracy']}"


@pytest.mark.parametrize("kind", ["zero", "mean"])
@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_a_constant_whole_layer_drops_sequence_accuracy_to_chance(ablation, layer, kind):
    # a constant layer gives a constant output, which is right for at most one of the 3**3 sequences
    accuracy = ablation[layer][kind]["whole_layer"]["sequence_accuracy"]
    assert accuracy <= ablation["chance_sequence_accuracy"] + 1e-9, \
        f"{layer} {kind}-ablated still gets {accuracy:.1%} of sequences right: did the ablation hook forget to " \
        f"return the replaced tensor?"


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_a_whole_layer_resampled_answers_for_the_donor(ablation, layer):
    # everything passes through each layer, so the donor's activations give the donor's answer
    donor = ablation[layer]["resample"]["whole_layer"]["donor_sequence_accuracy"]
    assert donor == 1.0, f"with all of {layer} taken from a donor sequence, only {donor:.0%} of outputs are the " \
                         f"donor reversed: are the donor rows lined up with the repeated input rows?"


@pytest.mark.parametrize("kind", ["zero", "resample"])
@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_ablating_a_neuron_that_never_fires_costs_nothing(dead_ablation, layer, kind):
    loss = dead_ablation[layer][kind]["loss"][DEAD]
    assert loss == pytest.approx(dead_ablation["baseline"]["loss"], abs=1e-7), \
        f"{kind}-ablating {layer} neuron {DEAD}, 0 everywhere, changed the loss {dead_ablation['baseline']['loss']} " \
        f"-> {loss}: is the neuron ablated in row block n really neuron n?"


def test_resample_ablation_is_seeded(ablation, run):
    again = neuron_ablation(run)
    assert again["hidden1"]["resample"]["loss"] == ablation["hidden1"]["resample"]["loss"], \
        "the same seed gave different resample ablations: are the donors drawn from the seeded generator?"


def _fake_ablation(lost):
    """An ablation result in which neuron n of each layer loses lost[n] of a margin of 10 at each output."""
    layer = {"resample": {"logit_diff": [[10 - x for x in row] for row in lost], "loss": [[0.0] * 3] * len(lost),
                          "accuracy": [[1.0] * 3] * len(lost)}}
    return {"baseline": {"logit_diff": [10.0] * 3, "accuracy": [1.0] * 3}, "hidden1": layer, "hidden2": layer}


def test_damage_on_one_output_reads_as_a_one_position_unit():
    verdict = summarize_ablation(_fake_ablation([[4.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))
    assert verdict["concentration"]["hidden1"][:2] == pytest.approx([1.0, 1 / 3]), \
        f"a neuron losing margin at one output should score 1, one spreading it evenly 1/3: " \
        f"{verdict['concentration']['hidden1']}"
    assert verdict["concentration"]["hidden1"][2] is None, "a neuron that does no damage has no concentration"
    assert verdict["worst"]["margin_lost"] == pytest.approx(0.4), \
        f"the worst neuron loses 4 of a margin of 10, got {verdict['worst']['margin_lost']}"


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_plot_ablation_draws_a_png(ablation, tmp_path):
    path = tmp_path / "plot_ablation.png"
    plot_ablation(ablation, path)
    assert_png(path)


def test_the_ablation_finding_is_layered(ablation):
    assert_finding(ablation)


def test_no_verdict_says_why_without_claiming_nothing_breaks(ablation):
    text = str(Ablation({**ablation.values, "baseline_sequence_accuracy": 0.89}).finding())
    assert "No verdict" in text and "little for an ablation to break" not in text and "own errors" in text, (
        f"a model right on 89% still has plenty to break; the reason is that its errors mix with a neuron's effect, "
        f"got:\n{text}")


@pytest.mark.slow  # builds full-size figures: about 1 s
def test_the_default_figure_is_one_row_of_resample_panels(ablation, monkeypatch):
    simple = drawn_figure(monkeypatch, ablation_module, plot_ablation, ablation)
    full = drawn_figure(monkeypatch, ablation_module, plot_ablation, ablation, detail=True)
    assert [ax.get_title() for ax in panels(simple)] == ["hidden1", "hidden2"], \
        "the default figure draws the standard (resample) ablation of each layer, one panel each"
    assert len(panels(full)) == 6, "detail=True draws every layer x every way of ablating, 2 x 3 panels"


@pytest.mark.slow  # lays the figure out: about 0.5 s
def test_the_default_figure_reads_when_projected(ablation, monkeypatch):
    assert_readable(drawn_figure(monkeypatch, ablation_module, plot_ablation, ablation))
