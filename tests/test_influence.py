"""Behaviour: the influence map is the anti-diagonal for a reversing model, and not for random weights."""

import numpy as np

from conftest import assert_png
from reversal.influence import plot_influence, position_influence


def is_clean_reversal(influence):
    """Each input position changes its mirrored output position (anti-diagonal) and nothing else."""
    anti_diagonal = np.eye(len(influence), dtype=bool)[::-1]
    return influence[anti_diagonal].min() >= 0.99 and (influence[~anti_diagonal] <= 0.01).all()


def test_trained_model_influence_is_the_anti_diagonal(trained, sequences):
    influence = position_influence(trained.model, sequences, trained.data.vocab)
    assert is_clean_reversal(influence), \
        f"a reversing model should change output L-1-i, and only it, when input i changes; got\n{influence}"


def test_untrained_model_influence_is_not_the_anti_diagonal(untrained, trained, sequences):
    influence = position_influence(untrained, sequences, trained.data.vocab)
    assert not is_clean_reversal(influence), \
        f"random weights gave a clean reversal map: is position_influence measuring the model at all?\n{influence}"


def test_plot_influence_draws_a_png(trained, sequences, tmp_path):
    path = tmp_path / "plot_influence.png"
    plot_influence(position_influence(trained.model, sequences, trained.data.vocab), path)
    assert_png(path)
