"""The capacity sweep trains each cell with that cell's settings."""

import pytest

from conftest import assert_png, train_model
from reversal.config import Config
from reversal.sweep import capacity_sweep, plot_sweep
from reversal.train import sequence_accuracy

SWEEP_SEQ_LENS, SWEEP_WIDTHS = [2, 3], [4, 16]
SWEEP_SETTINGS = dict(epochs=30, samples=500)  # small enough to train four models in about a second


@pytest.fixture(scope="module")
def sweep():
    return capacity_sweep(Config(**SWEEP_SETTINGS), seq_lens=SWEEP_SEQ_LENS, widths=SWEEP_WIDTHS,
                                   progress=False)


def test_sweep_returns_one_accuracy_per_length_and_width(sweep):
    assert sweep.shape == (len(SWEEP_SEQ_LENS), len(SWEEP_WIDTHS))
    assert ((sweep >= 0) & (sweep <= 1)).all(), f"accuracies must lie in [0, 1]:\n{sweep}"


def test_sweep_cells_match_a_model_trained_alone_with_those_settings(sweep):
    for a, seq_len in enumerate(SWEEP_SEQ_LENS):
        for b, width in enumerate(SWEEP_WIDTHS):
            run = train_model(**SWEEP_SETTINGS, seq_len=seq_len, hidden=width)
            alone = sequence_accuracy(run.model, run.data.heldout_sequences, run.data.vocab.eos_id)
            assert sweep[a, b] == alone, \
                f"seq_len {seq_len}, hidden {width}: sweep {sweep[a, b]}, trained alone {alone}; " \
                f"does the sweep train each cell with that cell's settings?"


def test_plot_sweep_draws_a_png(sweep, tmp_path):
    path = tmp_path / "plot_sweep.png"
    plot_sweep(sweep, SWEEP_SEQ_LENS, SWEEP_WIDTHS, path)
    assert_png(path)
