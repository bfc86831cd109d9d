"""Exercise 2, zero-ablating one hidden1 neuron: a hook that returns a replacement, and what each output loses.

The hook gets hidden1 (N, H) and returns a copy with one neuron's column set to 0; core.model.run_with_hooks runs
the model with it. Then, at each output letter position (the <eos> output left out), read the accuracy and the
margin: the correct letter's logit minus the best wrong one's, 0 at the decision boundary (core.common.margin).
mlp/ablation.py does the same for every neuron at once, three ways (zero, mean, resample).
"""

import numpy as np
import torch

from ..core.common import margin  # for your answer, with run_with_hooks
from ..core.data import add_eos, make_targets
from ..core.model import run_with_hooks
from ..mlp.ablation import neuron_ablation
from .checking import Wrong

NUMBER, TITLE, FUNCTION = 2, "ablate", "zero_ablate"
DIFFICULTY, MINUTES = 2, 10
HINT = ("hook(output): out = output.clone(); out[:, neuron] = 0; return out. Then logits = run_with_hooks(model, "
        "tokens, {\"hidden1\": hook}); keep logits[:, :L] and targets[:, :L] with L = T - 1; accuracy is "
        "(argmax == target) averaged over the sequences; the margin is core.common.margin(...), averaged likewise.")


def zero_ablate(model, tokens, targets, neuron):
    """Run the model on tokens (N, T) with hidden1 neuron `neuron` set to 0 for every sequence.

    targets (N, T) are the correct output tokens (the letters reversed, then <eos>). Returns (accuracy (L,),
    margin (L,)), L = T - 1: at each output letter position, the fraction of sequences right and the mean margin
    (correct logit minus the best wrong logit), both over the N sequences.
    """
    raise NotImplementedError


def check(student_fn, run):
    """Compare with mlp.ablation.neuron_ablation's zero ablation, on the hidden1 neuron whose loss costs most."""
    ablation = neuron_ablation(run)
    baseline = np.array(ablation["baseline"]["logit_diff"])  # (L,)
    zeroed = np.array(ablation["hidden1"]["zero"]["logit_diff"])  # (H, L)
    neuron = int((baseline - zeroed).sum(1).argmax())  # the neuron whose ablation shows most
    tokens = add_eos(run.sequences, run.vocab.eos_id).to(run.device)  # (N, T)
    targets = make_targets(run.sequences, run.vocab.eos_id).to(run.device)  # (N, T)
    accuracy, margins = (torch.as_tensor(value).detach().cpu().double().flatten()
                         for value in student_fn(run.model, tokens, targets, neuron))
    seq_len = run.sequences.shape[1]
    if len(margins) == seq_len + 1:
        raise Wrong(f"you return {seq_len + 1} values, one per output with <eos>: leave out the <eos> output "
                    f"(the last), and return the {seq_len} letter outputs")
    if len(margins) != seq_len or len(accuracy) != seq_len:
        raise Wrong(f"you return {len(accuracy)} accuracies and {len(margins)} margins: return one of each per output "
                    f"letter position, {seq_len}, averaged over the sequences")
    expected = torch.tensor(zeroed[neuron])
    if torch.allclose(margins, torch.tensor(baseline), atol=1e-4):
        raise Wrong(f"neuron {neuron} zeroed changes nothing (margin {_list(margins)}, as without ablation): does your "
                    f"hook return the changed copy? One that returns None, having changed only the copy, leaves the "
                    f"activation as it was")
    if (margins <= 0).all() and (expected > 0).all():
        raise Wrong(f"the margin is at most 0 everywhere ({_list(margins)}): did you subtract the largest logit of "
                    f"all, the correct one included? Take the best wrong logit (core.common.margin)")
    if not torch.allclose(margins, expected, atol=1e-4):
        raise Wrong(f"the margin with neuron {neuron} zeroed is {_list(margins)}, the package's {_list(expected)}: "
                    f"zero column `neuron` of hidden1 (out[:, neuron] = 0), for every sequence")
    expected = torch.tensor(ablation["hidden1"]["zero"]["accuracy"][neuron], dtype=torch.float64)
    if not torch.allclose(accuracy, expected, atol=1e-6):
        raise Wrong(f"the accuracy is {_list(accuracy)}, the package's {_list(expected)}: compare the argmax of each "
                    f"output's logits with the target and average over the sequences")


def _list(values):
    return "[" + ", ".join(f"{value:.2f}" for value in values.tolist()) + "]"
