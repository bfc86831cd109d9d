"""Ablation: a whole layer ablated gives chance, a neuron that never fires costs nothing."""

import pytest

from conftest import DEAD, assert_png
from reversal.ablation import neuron_ablation, plot_ablation


@pytest.fixture(scope="module")
def ablation(trained, sequences):
    return neuron_ablation(trained.model, sequences, trained.data.vocab, trained.cfg.device,
                                    mean_over=trained.data.train_sequences)


def test_ablation_baseline_is_perfect(ablation, trained):
    assert ablation["baseline"] == [1.0] * trained.cfg.seq_len, \
        f"the unablated model should be right at every output position: {ablation['baseline']}"


@pytest.mark.parametrize("kind", ["zero", "mean"])
@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_ablating_a_whole_layer_drops_sequence_accuracy_to_chance(ablation, trained, layer, kind):
    # a constant layer gives a constant output, which is right for at most one of the 3**3 sequences
    chance = 1 / len(trained.data.vocab.letters) ** trained.cfg.seq_len
    accuracy = ablation[layer][kind]["whole_layer_sequence_accuracy"]
    assert accuracy <= chance + 1e-9, \
        f"{layer} {kind}-ablated still gets {accuracy:.1%} of sequences right (chance {chance:.1%}): " \
        f"did the ablation hook forget to return the replaced tensor?"


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_ablating_a_neuron_that_never_fires_costs_nothing(dead_neuron_model, trained, sequences, layer):
    result = neuron_ablation(dead_neuron_model, sequences, trained.data.vocab, trained.cfg.device,
                                      mean_over=trained.data.train_sequences)
    assert result[layer]["zero"]["accuracy"][DEAD] == result["baseline"], \
        f"zeroing {layer} neuron {DEAD}, already 0 everywhere, changed the accuracy: is the ablated neuron in " \
        f"row block n really neuron n?"


def test_plot_ablation_draws_a_png(ablation, tmp_path):
    path = tmp_path / "plot_ablation.png"
    plot_ablation(ablation, path)
    assert_png(path)
