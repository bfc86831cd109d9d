"""Did training work, and if not, why? The one place both scripts ask, right after training.

    health = training_health(run, history)
    health.responsive      # False: the model gives every input the same output, so the experiments have nothing to read
    health.line            # "training diverged at epoch 1: try a smaller --lr (...)"; "" where training did not break
    health.misfit_advice() # what to try when it does not fit its training sequences: names the likely cause

A diverged model is a result, not a crash: its output no longer depends on its input (every neuron dead, or weights
blown up to inf), so there is nothing for the experiments to explain, and the scripts say so instead of running them.
"""

import math
from dataclasses import dataclass

import torch

from .data import add_eos

RISE = 0.05  # the loss "rose" when it ends this far (and 10%) above its lowest: a sign of too large a step, not width
FALLING = 0.9  # the loss is "still falling" when the last tenth of training cut it below this fraction
EXPLODED = 2  # a loss above twice chance's (a uniform guess) has blown up: the steps were too large
FEW_EPOCHS = 10  # below this many epochs there is too little history to tell a plateau from a slow start


@torch.no_grad()
def responds_to_input(model, tokens):
    """True while the model's logits on tokens (N, T) are finite and differ between inputs.

    False once training has diverged: every hidden neuron dead (the ReLUs output 0 whatever the input, so the logits
    are the last layer's bias alone), or weights so large that softmax saturates and every input reads the same."""
    logits = model(tokens)  # (N, T, V)
    if not torch.isfinite(logits).all():
        return False
    return not torch.allclose(logits, logits[:1].expand_as(logits), rtol=1e-5, atol=1e-6)


def probe_tokens(data, device, limit=64):
    """(n, T) a fixed handful of distinct training sequences with <eos>: what train() checks after every epoch."""
    return add_eos(data.train_sequences[:limit], data.vocab.eos_id).to(device)


@dataclass(frozen=True)
class Health:
    kind: str  # "mlp" or "transformer": which flags the advice may name (the transformer has no --hidden)
    loss: list  # the per-epoch training loss, from History
    responsive: bool = True  # does the trained model's output depend on its input? If not, there is nothing to explain
    broken_since: int = None  # the epoch (from 1) from which every epoch was broken: non-finite, exploded, unresponsive
    exploded: bool = False  # in that stretch the loss went non-finite or far above chance: the steps were too large
    dead: str = ""  # for an unresponsive MLP, which layer is all dead, e.g. "every hidden2 neuron is dead"

    @property
    def line(self):
        """One line for the log: what went wrong and what to try; "" for a model whose training did not break."""
        if self.broken_since is None:
            return ""
        # a dead layer is why every input gets the same output: say the cause, not both
        what = self.dead or ("every input now gets the same output" if not self.responsive else "")
        if self.exploded:
            peak = max(self.loss[self.broken_since - 1:], key=lambda loss: loss if math.isfinite(loss) else math.inf)
            why = "; ".join(filter(None, [f"the loss reached {peak:.2g}", what]))
            return f"training diverged at epoch {self.broken_since}: try a smaller --lr ({why})"
        return f"training stalled at epoch {self.broken_since} ({what}): {self._stalled_advice()}"

    def to_json(self):
        """What metrics.json keeps: whether the output depends on the input, and since which epoch training broke."""
        return {"responsive": self.responsive, "broken_since_epoch": self.broken_since, "diverged": self.exploded}

    def _stalled_advice(self):
        return "try another --seed or a wider --hidden" if self.kind == "mlp" else "try another --seed"

    def misfit_advice(self):
        """What to try for a model that does not fit its own training sequences, from how its loss moved."""
        if self.broken_since is not None:
            return "try a smaller --lr: training diverged" if self.exploded else self._stalled_advice()
        loss = self.loss
        if len(loss) < FEW_EPOCHS:
            return f"train it longer: {len(loss)} epoch{'s' if len(loss) > 1 else ''} is too few (--epochs, --samples)"
        lowest = min(loss)
        if loss[-1] > lowest + RISE and loss[-1] > 1.1 * lowest:  # it was better once: the steps overshoot
            return (f"try a smaller --lr: the loss rose from {lowest:.3f} (epoch {loss.index(lowest) + 1}) to "
                    f"{loss[-1]:.3f}")
        tenth = max(1, len(loss) // 10)
        if loss[-1] < FALLING * loss[-1 - tenth]:
            return "train it longer (--epochs, --samples): the loss was still falling"
        levelled = f"the loss levelled off at {loss[-1]:.3f}"
        if self.kind == "mlp":
            return f"try a wider --hidden or another --seed: {levelled}"
        return f"try another --seed: {levelled}"

    def generalize_advice(self):
        """What to try for a model that fits its training sequences but fails some held-out ones."""
        if self.kind == "mlp":
            return ("Try another --seed, a wider --hidden, or a longer --seq-len (more distinct sequences to learn "
                    "from).")
        return "Try another --seed, or a longer --seq-len (more distinct sequences to learn from)."


def training_health(run, history):
    """The Health of run.model after train(): whether its output still depends on its input, and if training broke
    for good, from which epoch and why."""
    chance = math.log(len(run.vocab))  # the loss of a uniform guess over the output tokens: ln 4 = 1.39 for 'abc'
    exploded = [not math.isfinite(loss) or loss > EXPLODED * chance for loss in history.loss]
    broken = [blown or not responsive for blown, responsive in zip(exploded, history.responsive)]
    if not broken or not broken[-1]:
        return Health(run.kind, list(history.loss))
    since = len(broken) - next(i for i, bad in enumerate(reversed(broken)) if not bad) if not all(broken) else 0
    responsive = history.responsive[-1]
    dead = _dead_layers(run) if run.kind == "mlp" and not responsive else ""
    return Health(run.kind, list(history.loss), responsive, since + 1, any(exploded[since:]), dead)


def _dead_layers(run):
    """"every hidden1 neuron is dead" (and/or hidden2), or "": a neuron is dead when it is 0 on every sequence."""
    from .model import run_with_cache  # the MLP's hooks; imported here so the transformer never needs them

    tokens = add_eos(run.sequences, run.vocab.eos_id).to(run.device)  # (N, T) every analysis sequence
    _, cache = run_with_cache(run.model, tokens, ("hidden1", "hidden2"))
    dead = [name for name, activation in cache.items() if not (activation > 0).any()]  # (N, H) all zero
    return f"every {' and '.join(dead)} neuron is dead" if dead else ""
