"""Every experiment leaves the model as it found it: no hook left behind, the same logits after."""

import copy

import pytest
import torch

from reversal.core.data import add_eos
from reversal.core.model import hook_count
from reversal.core.run import Run
from reversal.mlp.ablation import neuron_ablation
from reversal.mlp.activations import capture_all
from reversal.mlp.influence import position_influence
from reversal.mlp.mechanism import find_mechanism
from reversal.mlp.patching import activation_patching
from reversal.mlp.probes import probe_accuracy
from reversal.mlp.selectivity import neuron_selectivity
from reversal.mlp.weights import first_layer_weights

def as_run(t):
    return Run(t.model, copy.deepcopy(t.model), t.data, t.cfg)


ANALYSES = {  # seqs is as_run(t).sequences; the techniques that take no sequences read them from the run
    "position_influence": lambda t, seqs: position_influence(as_run(t)),
    "probe_accuracy": lambda t, seqs: probe_accuracy(as_run(t), sequences=seqs),
    "neuron_selectivity": lambda t, seqs: neuron_selectivity(as_run(t)),
    "first_layer_weights": lambda t, seqs: first_layer_weights(as_run(t)),
    "neuron_ablation": lambda t, seqs: neuron_ablation(as_run(t)),
    "activation_patching": lambda t, seqs: activation_patching(as_run(t)),
    "find_mechanism": lambda t, seqs: find_mechanism(as_run(t)),
    "capture_all": lambda t, seqs: capture_all(as_run(t)),
}


@pytest.mark.parametrize("name", ANALYSES)
def test_no_hook_is_left_registered_after(trained, sequences, name):
    ANALYSES[name](trained, sequences)
    assert hook_count(trained.model) == 0, f"{name} left a forward hook on the model: was it removed in `finally`?"


@pytest.mark.parametrize("name", ANALYSES)
def test_model_outputs_are_unchanged_after(trained, sequences, name):
    tokens = add_eos(sequences, trained.data.vocab.eos_id)
    with torch.no_grad():
        before = trained.model(tokens)
        ANALYSES[name](trained, sequences)
        after = trained.model(tokens)
    assert torch.equal(before, after), f"{name} changed the model's logits: did an intervention write into weights?"
