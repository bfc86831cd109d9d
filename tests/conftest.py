"""Fixtures shared by the tests: one default model, trained once for the whole session (about a second), its
untrained twin, the run that bundles them (core.run.Run), and a copy with a neuron switched off on purpose."""

from dataclasses import dataclass

import copy
import json

import numbers

import matplotlib.image
import pytest
import torch

from reversal.core.common import analysis_sequences
from reversal.core.run import Run
from reversal.report.result import HEADLINE_WORDS
from reversal.core.train import make_data, make_model, train
from reversal.support.config import Config

torch.set_num_threads(1)  # as the scripts do: matrices this small run faster on one thread, and give the same numbers

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
def run(trained, untrained):
    """What every technique takes: the default trained model, its untrained twin, the data and the settings."""
    return Run(trained.model, untrained, trained.data, trained.cfg)


@pytest.fixture(scope="session")
def transformer_run(trained_transformer):
    """The same for the default transformer."""
    cfg, data = trained_transformer.cfg, trained_transformer.data
    return Run(trained_transformer.model, make_model(cfg, data.vocab), data, cfg)


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


def assert_finding(result):
    """A technique's result says what it found in layers (report.result): a short computed headline, named numbers,
    and evidence and caveats as lines; and its to_json() holds numbers and lists only, no prose."""
    finding = result.finding()
    words = len(finding.headline.split())
    assert 0 < words <= HEADLINE_WORDS, f"{type(result).__name__}'s headline has {words} words, at most " \
                                        f"{HEADLINE_WORDS}: move the rest into evidence:\n{finding.headline}"
    assert finding.numbers and all(isinstance(value, numbers.Number) for value in finding.numbers.values()), \
        f"{type(result).__name__}'s finding names no numbers, or not only numbers: {finding.numbers}"
    assert all(isinstance(line, str) for line in finding.evidence + finding.caveats)
    prose = [value for value in leaves(result.to_json()) if isinstance(value, str) and len(value.split()) > 3]
    assert not prose, f"{type(result).__name__}.to_json() stores prose: {prose[:2]}"
    json.dumps(result.to_json())  # numbers and lists all the way down


def leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value
