"""The shared figures draw, and BackgroundFigures draws in workers and passes their errors on."""

import pytest

from conftest import assert_png
from reversal.activations import capture_all, plot_activations
from reversal.influence import plot_influence, position_influence
from reversal.plots import BackgroundFigures, plot_training


def test_plot_training_draws_a_png(trained, tmp_path):
    path = tmp_path / "plot_training.png"
    plot_training(trained.history, path)
    assert_png(path)


def test_plot_activations_draws_a_png(trained, tmp_path):
    path = tmp_path / "plot_activations.png"
    plot_activations(capture_all(trained.model, trained.data, trained.cfg), path)
    assert_png(path)


def fail_to_draw(path):
    raise ValueError(f"cannot draw {path}")  # module level, so a worker process can unpickle it


def test_background_figures_draws_a_file(trained, sequences, tmp_path):
    path = tmp_path / "influence.png"
    with BackgroundFigures() as figures:
        figures.draw(plot_influence, position_influence(trained.model, sequences, trained.data.vocab), path)
    assert_png(path)  # leaving the `with` block waits for every drawing


def test_background_figures_raises_a_worker_error_in_the_caller(tmp_path):
    with pytest.raises(ValueError, match="cannot draw"):
        with BackgroundFigures() as figures:
            figures.draw(fail_to_draw, tmp_path / "never.png")
