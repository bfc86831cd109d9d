"""Superposition is claimed only where the needed directions outnumber the neurons and the model does the task."""

import pytest
import torch

from conftest import assert_finding, assert_png, train_model
from reversal.core.run import Run
from reversal.core.train import make_model
from reversal.features.superposition import plot_superposition, superposition_report, verdict


@pytest.fixture(scope="module")
def defaults(run):
    return superposition_report(run)


def test_the_verdict_needs_success_as_well_as_more_directions_than_neurons():
    assert verdict(18, 16, succeeds=True) == "superposition"
    assert verdict(18, 16, succeeds=False) == "fails", "a model that fails the task shows no superposition"
    assert verdict(6, 16, succeeds=True) == "not forced", "6 directions fit in 16 neurons: nothing forces it"


def test_the_defaults_are_not_superposition(defaults):
    assert defaults["needed_directions"] == 6 and defaults["width"] == 16
    assert defaults["verdict"] == "not forced" and "nothing forces superposition" in str(defaults.finding())


def test_a_model_too_little_trained_with_too_few_neurons_is_not_called_superposition():
    t = train_model(hidden=4, epochs=1)  # 6 needed directions in 4 neurons, trained one epoch: it fails
    report = superposition_report(Run(t.model, make_model(t.cfg, t.data.vocab), t.data, t.cfg))
    assert report["needed_directions"] > report["width"] and not report["succeeds"], (
        f"held-out accuracy {report['heldout_accuracy']:.0%} after one epoch: expected a failing model")
    assert report["verdict"] == "fails" and "that is superposition" not in str(report.finding())
    assert_finding(report)


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_the_cosine_matrix_has_ones_on_its_diagonal(defaults, layer):
    cosines = torch.as_tensor(defaults[layer]["cosines"])
    assert cosines.shape == (9, 9), f"expected one row per (position, letter): 3 x 3, got {tuple(cosines.shape)}"
    assert torch.allclose(cosines.diagonal(), torch.ones(9, dtype=cosines.dtype)), (
        "a direction's cosine with itself must be 1: are the class-mean directions normalised before the product?")
    assert torch.allclose(cosines, cosines.T), "cosine similarity is symmetric"


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_the_figure_draws(defaults, tmp_path):
    plot_superposition(defaults, tmp_path / "superposition.png")
    assert_png(tmp_path / "superposition.png")


def test_the_superposition_finding_is_layered(defaults):
    assert_finding(defaults)


def test_metrics_keep_every_cosine(defaults):
    assert len(defaults.to_json()["hidden1"]["cosines"]) == 9, "metrics.json keeps each layer's cosine matrix"
