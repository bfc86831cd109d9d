"""Behaviour: the influence map is the anti-diagonal for a reversing model, and not for random weights; in logits the
mirrored input moves an output most, and the others move it too."""

from dataclasses import replace

import numpy as np
import pytest

from conftest import assert_finding, assert_png
from reversal.core.common import mirror_mask
from reversal.mlp.influence import plot_influence, position_influence
from reversal.report.plots import output_position_labels


@pytest.fixture(scope="module")
def influence(run):
    return position_influence(run)


@pytest.fixture(scope="module")
def transformer_influence(transformer_run):
    return position_influence(transformer_run)


def is_clean_reversal(changes):
    """Each input position changes its mirrored output position (anti-diagonal) and nothing else."""
    changes = np.array(changes)
    mirror = mirror_mask(len(changes))
    return changes[mirror].min() >= 0.99 and (changes[~mirror] <= 0.01).all()


def test_trained_model_influence_is_the_anti_diagonal(influence):
    assert is_clean_reversal(influence["argmax"]), \
        f"a reversing model should change output L-1-i, and only it, when input i changes; got\n{influence['argmax']}"


def test_untrained_model_influence_is_not_the_anti_diagonal(run):
    influence = position_influence(replace(run, model=run.untrained))
    assert not is_clean_reversal(influence["argmax"]), \
        f"random weights gave a clean reversal map: is position_influence measuring the model at all?\n" \
        f"{influence['argmax']}"


def test_the_mirrored_input_moves_each_output_logit_most(influence):
    shifts = np.array(influence["logit"])  # (L, L)
    mirror = mirror_mask(len(shifts))
    assert (shifts[mirror].min() > shifts[~mirror].max()), \
        f"the mirrored input should move each output's logit more than any other input does:\n{shifts}"


def test_other_inputs_move_the_logits_too(influence):
    # the argmax never changes off the anti-diagonal, yet the logits do: the point of the logit view
    off = np.array(influence["logit"])[~mirror_mask(len(influence["logit"]))]
    assert off.min() > 0.1, f"off-diagonal logit moves {off} should be clearly above 0: is the logit view reading " \
                            f"the changed runs, or the clean run twice?"


def test_output_labels_name_the_mirrored_input():
    assert output_position_labels(3) == ["1\n(copies 3)", "2\n(copies 2)", "3\n(copies 1)"], \
        f"output j copies input L+1-j: got {output_position_labels(3)}"


@pytest.mark.parametrize("model", ["mlp", "transformer"])
def test_the_influence_finding_is_layered(influence, transformer_influence, model):
    assert_finding(influence if model == "mlp" else transformer_influence)


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_plot_influence_draws_a_png(influence, tmp_path):
    path = tmp_path / "plot_influence.png"
    plot_influence(influence, path)
    assert_png(path)
