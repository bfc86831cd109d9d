"""The MLP against the transformer: the comparison says "the same behaviour" only when the influence maps agree."""

import numpy as np

from conftest import assert_finding
from reversal.attention.compare import comparison

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
