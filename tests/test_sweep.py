"""The capacity sweep trains each cell with that cell's settings, at each budget, and retrains only the misses."""

import json

import numpy as np
import pytest

from conftest import assert_finding, assert_png, train_model
from reversal.core.train import sequence_accuracy
from reversal.studies.sweep import CapacitySweep, accuracy_grids, capacity_sweep, plot_sweep
from reversal.support.config import Config

SWEEP_SEQ_LENS, SWEEP_WIDTHS = [3, 4], [4, 16]
# small enough to train the cells in about a second; with seed 42 one cell reaches 100% at the first budget, one
# more at the second, and two at neither, so each branch of the sweep runs
SWEEP_SETTINGS = dict(epochs=40, samples=600)
LARGER = dict(samples=1200)  # the second budget: twice the samples (the demo uses ten times)


@pytest.fixture(scope="module")
def sweep():
    return capacity_sweep(Config(**SWEEP_SETTINGS), seq_lens=SWEEP_SEQ_LENS, widths=SWEEP_WIDTHS,
                          budgets=[{}, LARGER], progress=False)


def held_out_alone(**settings):
    run = train_model(**settings)
    return sequence_accuracy(run.model, run.data.heldout_sequences, run.data.vocab.eos_id)


@pytest.mark.slow
def test_sweep_has_one_grid_per_budget_with_one_accuracy_per_cell(sweep):
    grids = accuracy_grids(sweep)
    assert grids.shape == (2, len(SWEEP_SEQ_LENS), len(SWEEP_WIDTHS)), f"grids of shape {grids.shape}"
    assert ((grids[0] >= 0) & (grids[0] <= 1)).all(), f"every cell trains at budget 1, in [0, 1]:\n{grids[0]}"


@pytest.mark.slow
def test_sweep_first_budget_cells_match_a_model_trained_alone(sweep):
    grid = accuracy_grids(sweep)[0]
    for a, seq_len in enumerate(SWEEP_SEQ_LENS):
        for b, width in enumerate(SWEEP_WIDTHS):
            alone = held_out_alone(**SWEEP_SETTINGS, seq_len=seq_len, hidden=width)
            assert grid[a, b] == alone, \
                f"seq_len {seq_len}, hidden {width}: sweep {grid[a, b]}, trained alone {alone}; " \
                f"does the sweep train each cell with that cell's settings?"


@pytest.mark.slow
def test_sweep_retrains_exactly_the_cells_below_100_percent(sweep):
    first, second = accuracy_grids(sweep)
    assert (first < 1).any() and (first == 1).any(), \
        f"these tiny settings should leave some cells below 100% at budget 1 and some at 100%:\n{first}"
    assert (np.isnan(second) == (first == 1)).all(), \
        f"budget 2 must retrain the cells below 100% at budget 1 and only those:\n{first}\n{second}"


@pytest.mark.slow
def test_sweep_second_budget_cell_matches_a_model_trained_alone_with_its_settings(sweep):
    first, second = accuracy_grids(sweep)
    a, b = np.argwhere(first < 1)[0]
    alone = held_out_alone(**{**SWEEP_SETTINGS, **LARGER}, seq_len=SWEEP_SEQ_LENS[a], hidden=SWEEP_WIDTHS[b])
    assert second[a, b] == alone, \
        f"seq_len {SWEEP_SEQ_LENS[a]}, hidden {SWEEP_WIDTHS[b]} at budget 2: sweep {second[a, b]}, trained alone " \
        f"{alone}; does the second budget apply its samples to the cell's Config?"


@pytest.mark.slow
def test_sweep_reports_each_budgets_optimizer_steps(sweep):
    steps = [budget["optimizer_steps"] for budget in sweep["budgets"]]
    assert steps == [40 * 6, 40 * 12], f"600 and 1200 samples in batches of 100 for 40 epochs, got {steps}"


@pytest.mark.slow
def test_sweep_result_is_valid_json(sweep):
    kept = sweep.to_json()
    assert json.loads(json.dumps(kept, allow_nan=False)) == kept, "metrics.json needs plain lists, None, no NaN"


def test_the_sweep_never_calls_a_fixed_cell_a_width_limit():
    fixed = {"seq_lens": [3], "widths": [8], "seconds": 1.0, "heldout_accuracy": [[[0.5]], [[1.0]]],
             "needed_directions": [6],
             "budgets": [{"samples": 10, "epochs": 1, "batch_size": 10, "optimizer_steps": 1},
                         {"samples": 100, "epochs": 1, "batch_size": 10, "optimizer_steps": 10}]}
    text = str(CapacitySweep(fixed).finding())
    assert "brought 3 to 100%" in text and "still below at none" in text and "wider layer" not in text, \
        f"a cell the larger budget fixed must read as fixed by training, not as a width limit:\n{text}"


@pytest.mark.slow
def test_plot_sweep_draws_a_png(sweep, tmp_path):
    path = tmp_path / "plot_sweep.png"
    plot_sweep(sweep, path)
    assert_png(path)


def test_the_sweep_sets_needed_directions_against_the_width():
    # widths 4 and 8 at length 3 (6 needed): the width-4 cell is crowded; it fails, then more training fixes it
    crowded = {"seq_lens": [3], "widths": [4, 8], "seconds": 1.0, "heldout_accuracy": [[[0.4, 1.0]], [[1.0, None]]],
               "needed_directions": [6],
               "budgets": [{"samples": 10, "epochs": 1, "batch_size": 10, "optimizer_steps": 1},
                           {"samples": 100, "epochs": 1, "batch_size": 10, "optimizer_steps": 10}]}
    text = str(CapacitySweep(crowded).finding())
    assert "1 of 2 cells have more needed directions than neurons" in text, text
    assert "superposition possible there: necessary, not proof): length 3 x width 4" in text, text
    assert "only after more training: length 3 x width 4" in text and "Still below 100%: none" in text, text


@pytest.mark.parametrize("budgets", [1, 2])
def test_the_sweep_finding_is_layered(budgets):
    crowded = {"seq_lens": [3], "widths": [4, 8], "seconds": 1.0, "heldout_accuracy": [[[0.4, 1.0]], [[0.9, None]]],
               "needed_directions": [6],
               "budgets": [{"samples": 10, "epochs": 1, "batch_size": 10, "optimizer_steps": 1},
                           {"samples": 100, "epochs": 1, "batch_size": 10, "optimizer_steps": 10}]}
    crowded = {**crowded, "heldout_accuracy": crowded["heldout_accuracy"][:budgets],
               "budgets": crowded["budgets"][:budgets]}
    assert_finding(CapacitySweep(crowded))
