"""Steering: the class-mean vector moves one output and only that one; a random direction of the same norm does not."""

import numpy as np
import pytest

from conftest import assert_png
from reversal.steering import CLEAN_FLIP, CLEAN_SIDE_EFFECTS, explain_steering, plot_steering, steering_experiment


@pytest.fixture(scope="module")
def steering(trained):
    return steering_experiment(trained.model, trained.data, trained.cfg)


def _clean(found, method):
    index = ["class means", "random", "neuron"].index(method)
    return (found["flip"][index] >= CLEAN_FLIP) & (found["side_effects"][index] <= CLEAN_SIDE_EFFECTS)  # (A, T)


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_some_alpha_steers_every_triple_cleanly(steering, layer):
    assert steering[layer]["clean_window"]["class means"], (
        f"{layer}: no alpha makes every (position, from, to) flip its mirrored output in >= {CLEAN_FLIP:.0%} of "
        f"sequences with <= {CLEAN_SIDE_EFFECTS:.0%} side effects. Is v the mean with y minus the mean with x (not "
        f"the reverse), and is the flip read at output L-1-p?")


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_a_random_direction_of_the_same_norm_is_not_clean_there(steering, layer):
    window = _clean(steering[layer], "class means").all(1)  # (A,) the alphas where every triple is clean
    random = _clean(steering[layer], "random")[window]  # (alphas in the window, T)
    assert not random.all(1).any(), (
        f"{layer}: a random direction of the same norm steers every triple cleanly at an alpha where the class "
        f"means do: then the class-mean direction is nothing special. Is the random vector scaled to v's norm?")
    assert random.mean() < 0.25, f"{layer}: the random control is clean for {random.mean():.0%} of the cases"


def test_alpha_zero_changes_nothing(steering):
    for layer in ("hidden1", "hidden2"):
        assert np.all(steering[layer]["flip"][:, 0] == 0) and np.all(steering[layer]["side_effects"][:, 0] == 0), (
            f"{layer}: at alpha 0 some output changed: is the clean activation put back unchanged (the clamp at 0 "
            f"must not move post-ReLU values)?")


def test_the_explanation_names_the_window_and_the_figure_draws(steering, tmp_path):
    low, high = steering["hidden1"]["clean_window"]["class means"][0]
    assert f"{low:.2f} to {high:.2f}" in "\n".join(explain_steering(steering))
    plot_steering(steering, tmp_path / "steering.png")
    assert_png(tmp_path / "steering.png")
