"""Experiments on the trained model. Each one returns plain numbers; `explain_*` turns them into sentences.

Nothing here is a canned claim: every sentence is built from numbers measured on the model at hand, and says so where
the answer (which neuron does what) depends on the seed.
"""

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from .data import add_eos, all_sequences, make_targets
from .model import run_with_cache
from .train import predict

SEED_NOTE = "neuron numbers change with --seed; the counts and the pattern are what to compare"


def letters(sequence, vocab):
    return "".join(vocab.decode(sequence.tolist()))


@dataclass
class Capture:
    """Hidden activations for every distinct sequence, in lexicographic order (aaa, aab, ...)."""
    labels: list  # each sequence's letters, e.g. "abc"
    heldout: np.ndarray  # (N,) True where the sequence was held out of training
    test_row: int  # the row of the test input (--input)
    layers: dict  # {"hidden1": (N, H) array, "hidden2": (N, H) array}


def capture_all(model, data, cfg, names=("hidden1", "hidden2")):
    """Run every distinct sequence through the model with capture hooks on `names`."""
    sequences = all_sequences(len(cfg.vocab), cfg.seq_len)  # (N, L)
    _, cache = run_with_cache(model, add_eos(sequences, data.vocab.eos_id).to(cfg.device), names)
    labels = [letters(s, data.vocab) for s in sequences]
    heldout = {letters(s, data.vocab) for s in data.heldout_sequences}
    return Capture(labels=labels, heldout=np.array([label in heldout for label in labels]),
                   test_row=labels.index(cfg.input), layers={name: cache[name].cpu().numpy() for name in names})


def activation_stats(acts):
    """Per layer: which neurons never fire, which always fire, which fire for some inputs only."""
    fires = acts > 0  # (N, H) post-ReLU, so "fires" means "is above zero"
    return {"dead": np.flatnonzero(~fires.any(0)).tolist(),
            "always": np.flatnonzero(fires.all(0)).tolist(),
            "sometimes": np.flatnonzero(fires.any(0) & ~fires.all(0)).tolist(),
            "mean_active_fraction": float(fires.mean())}


def explain_activations(capture, top=3):
    """Sentences about the captured hidden layers, and the neurons that fire most for the test input."""
    lines = []
    row, input_letters = capture.test_row, capture.labels[capture.test_row]
    for name, acts in capture.layers.items():
        stats = activation_stats(acts)
        n, h = acts.shape
        lines.append(f"{name}: {len(stats['dead'])} of {h} neurons are dead (0 for all {n} inputs)"
                     f"{' ' + str(stats['dead']) if stats['dead'] else ''}, {len(stats['always'])} fire for every "
                     f"input, {len(stats['sometimes'])} fire for some inputs and not others; on average "
                     f"{stats['mean_active_fraction']:.0%} of the neurons are above 0 for an input.")
        strongest = np.argsort(-acts[row], kind="stable")[:top]
        values = ", ".join(f"neuron {i} ({acts[row, i]:.2f})" for i in strongest if acts[row, i] > 0)
        lines.append(f"  strongest for {input_letters!r}: {values or 'none: every neuron is 0 for it'}")
    lines.append(f"  ({SEED_NOTE}; every value is >= 0 because it is taken after a ReLU.)")
    return lines


def missing_pairs(sequence, train_sequences):
    """Pairs of positions (i, j) whose letters in `sequence` never occur together in any training sequence.

    A network that sees every position at once can fail on such a combination: nothing in training showed it.
    """
    missing = []
    for i, j in itertools.combinations(range(len(sequence)), 2):
        together = (train_sequences[:, i] == sequence[i]) & (train_sequences[:, j] == sequence[j])
        if not together.any():
            missing.append((i, j))
    return missing


def explain_accuracy(model, data, train_accuracy, heldout_accuracy):
    """Whether the model learned the rule (held-out 100%), and if not, what the training data lacked."""
    n_train, n_heldout = len(data.train_sequences), len(data.heldout_sequences)
    n_total = n_train + n_heldout
    lines = [f"Sequences: there are only {n_total} distinct ones; {n_heldout} were held out and never trained on, "
             f"the {len(data.samples)} training samples are repeats of the other {n_train}.",
             f"Exact-match accuracy: training sequences {train_accuracy:.1%}, held-out sequences {heldout_accuracy:.1%}."]
    if heldout_accuracy == 1.0:
        lines.append("It reverses every sequence it never saw, so it learned the rule, not a lookup table of its "
                     "training data.")
        return lines
    wrong = data.heldout_sequences[(predict(model, data.heldout_sequences, data.vocab.eos_id)
                                    != make_targets(data.heldout_sequences, data.vocab.eos_id)).any(1)]
    lines.append(f"It gets {len(wrong)} held-out sequence(s) wrong, so it has NOT fully learned the rule: with so few "
                 f"distinct training sequences it can fit them without generalizing. Try another --seed, or a longer "
                 f"--seq-len (more distinct sequences to learn from).")
    for sequence in wrong[:5]:
        gaps = missing_pairs(sequence, data.train_sequences)
        vocab = data.vocab
        if gaps:
            gap_text = "; ".join(f"{vocab.tokens[sequence[i]]!r} at position {i + 1} with {vocab.tokens[sequence[j]]!r} "
                                 f"at position {j + 1}" for i, j in gaps)
            lines.append(f"  {letters(sequence, vocab)!r}: no training sequence had {gap_text}.")
        else:
            lines.append(f"  {letters(sequence, vocab)!r}: every pair of its letters occurs in training, yet it fails.")
    return lines
