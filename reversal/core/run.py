"""The bundle every experiment reads: the trained model, its untrained twin, the data and the settings.

    run = start_run(cfg)               # data, model, and a copy of the model before any training
    train(run.model, run.data, run.cfg)
    probes = probe_accuracy(run)       # every technique takes the run; a few also take what they vary

Swap one part with dataclasses.replace, e.g. replace(run, model=broken) runs a technique on a broken copy.
"""

import copy
from dataclasses import dataclass
from functools import cached_property

import torch

from .common import analysis_sequences
from .train import Data, make_data, make_model
from .transformer import AttentionReverser


@dataclass(frozen=True)
class Run:
    model: torch.nn.Module  # the network the lesson studies, trained by core.train.train
    untrained: torch.nn.Module  # the control: the same shape and starting weights, never trained
    data: Data  # the vocabulary, the held-out split and the training samples
    cfg: object  # the settings (reversal.support.config.Config): seed, seq_len, device, ...

    @property
    def vocab(self):
        return self.data.vocab

    @property
    def device(self):
        return self.cfg.device

    @property
    def seed(self):
        return self.cfg.seed

    @property
    def kind(self):
        """"mlp" or "transformer": the one place the model kind is told, by the model's class."""
        return "transformer" if isinstance(self.model, AttentionReverser) else "mlp"

    @cached_property
    def sequences(self):  # (N, L) what the experiments test on: every distinct sequence, or a seeded sample
        return analysis_sequences(self.cfg)


def start_run(cfg):
    """The data and the model for cfg, with the untrained twin copied before any training."""
    data = make_data(cfg)
    model = make_model(cfg, data.vocab)
    return Run(model, copy.deepcopy(model), data, cfg)
