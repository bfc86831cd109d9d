"""The MLP against the transformer: the comparison says "the same behaviour" only when the influence maps agree."""

import numpy as np

from conftest import assert_finding, drawn_figure, panels
from reversal.attention import compare as compare_module
from reversal.attention.compare import comparison, plot_comparison

ANTI = np.eye(3)[::-1].tolist()  # a clean routing map: all on the mirror


def summary(kind, influence, routing=ANTI, heldout=1.0):
    return {"kind": kind, "parameters": 100, "train_seconds": 1.0, "heldout_accuracy": heldout,
            "heldout_sequences": 5, "influence": influence, "routing": routing}


def test_the_same_behaviour_only_where_the_influence_maps_agree():
    same = str(comparison(summary("mlp", ANTI), summary("transformer", ANTI)).finding())
    assert "identical" in same and "The same behaviour, routed in different places" in same, same
    skewed = (0.89 * np.eye(3)[::-1] + 0.22 * np.eye(3)).tolist()  # seed 6's MLP: its own position moves too
    messy = (0.5 * np.eye(3)[::-1] + 0.5 * np.eye(3)).tolist()
    different = str(comparison(summary("mlp", skewed, messy, 0.4), summary("transformer", ANTI)).finding())
    assert "different" in different and "The same behaviour" not in different, different
    assert "the MLP's routing map is not a clean anti-diagonal" in different, different


def test_the_comparison_finding_is_layered():
    skewed = (0.89 * np.eye(3)[::-1] + 0.22 * np.eye(3)).tolist()
    for mlp in (summary("mlp", ANTI), summary("mlp", skewed, skewed, 0.4)):
        assert_finding(comparison(mlp, summary("transformer", ANTI)))


def test_the_figure_draws_attention_from_0_to_1_with_outputs_as_rows(monkeypatch):
    attention = [[0.1, 0.0, 0.9], [0.0, 0.8, 0.2], [0.7, 0.3, 0.0]]  # rows = output j, columns = input i
    both = comparison(summary("mlp", ANTI), summary("transformer", ANTI, attention))
    image = panels(drawn_figure(monkeypatch, compare_module, plot_comparison, both))[3].images[0]
    assert image.get_clim() == (0, 1), f"attention is a share of 1: drawn from 0 to 1, got {image.get_clim()}"
    np.testing.assert_allclose(image.get_array(), attention, err_msg="drawn transposed: attention_patterns.png "
                               "puts the output (query) in the rows, the input (key) in the columns")
