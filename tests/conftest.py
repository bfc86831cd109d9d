"""Fixtures shared by the tests: one default model, trained once for the whole session (about a second), its
untrained twin, and a copy with a neuron switched off on purpose."""

from dataclasses import dataclass

import copy

import matplotlib.image
import pytest
import torch

from reversal.core.common import analysis_sequences
from reversal.core.train import make_data, make_model, train
from reversal.support.config import Config

DEAD = 0  # the neuron `dead_neuron_model` switches off in each hidden layer


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
def trained_transformer():
    """The default transformer of `demo.py --model transformer`: seed 42, lr 3e-3 (about 2.3 s), trained once for
    every test file that needs it."""
    return train_model(model="transformer")


@pytest.fixture(scope="session")
def trained():
    """The default model of demo.py: seed 42, 2000 samples, 100 epochs."""
    return train_model()


@pytest.fixture(scope="session")
def sequences(trained):
    return analysis_sequences(trained.cfg)  # (27, 3): every sequence of the default settings


@pytest.fixture(scope="session")
def untrained(trained):
    return make_model(trained.cfg, trained.data.vocab)  # same shape and seed, no training


@pytest.fixture(scope="session")
def dead_neuron_model(trained):
    """A copy of the trained model in which neuron DEAD of each hidden layer never fires, whatever the input.

    Built on purpose rather than searched for: which neurons training kills depends on the seed.
    """
    model = copy.deepcopy(trained.model)
    with torch.no_grad():
        for linear in (model.linear1, model.linear2):
            linear.weight[DEAD] = 0
            linear.bias[DEAD] = -1  # pre-activation -1 for every input: ReLU gives 0
    return model


def assert_png(path):
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100, \
        f"{path.name} is not a real image: shape {image.shape}"
