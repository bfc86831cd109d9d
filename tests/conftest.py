"""Fixtures shared by the tests: one default model, trained once for the whole session (about a second)."""

from dataclasses import dataclass

import pytest

from reversal.config import Config
from reversal.train import make_data, make_model, train


@dataclass
class Trained:
    cfg: Config
    data: object
    model: object
    history: object


def train_model(**settings):
    cfg = Config(**settings)
    data = make_data(cfg)
    model = make_model(cfg, data.vocab)
    history = train(model, data, cfg, progress=False)
    return Trained(cfg, data, model, history)


@pytest.fixture(scope="session")
def trained():
    """The default model of demo.py: seed 42, 2000 samples, 100 epochs."""
    return train_model()
