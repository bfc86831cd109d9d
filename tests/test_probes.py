"""Probes read every input letter from the trained hidden layers."""

import pytest

from conftest import assert_png
from reversal.probes import plot_probes, probe_accuracy


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_probes_read_every_input_letter_from_the_trained_hidden_layers(trained, layer):
    accuracy = probe_accuracy(trained.model, trained.data, trained.cfg)[layer]
    assert len(accuracy) == trained.cfg.seq_len, "expected one probe per input position"
    assert min(accuracy) >= 0.99, f"held-out probe accuracy per position in {layer}: {accuracy}"


def test_plot_probes_draws_a_png(trained, untrained, tmp_path):
    path = tmp_path / "plot_probes.png"
    plot_probes(probe_accuracy(trained.model, trained.data, trained.cfg), probe_accuracy(untrained, trained.data, trained.cfg), path)
    assert_png(path)
