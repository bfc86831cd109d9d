"""Did the model learn the rule? Exact-match accuracy on training and held-out sequences, and, where a held-out
sequence fails, which letter pairs its training data never showed together."""

import itertools

from .common import letters
from .data import make_targets
from .train import predict


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
    """Whether the model learned the rule (held-out 100%), and if not, what is missing."""
    n_train, n_heldout = len(data.train_sequences), len(data.heldout_sequences)
    lines = [f"Sequences: there are {n_train + n_heldout} distinct ones; {n_heldout} held out, never trained on; the "
             f"{len(data.samples)} training samples are drawn, with repeats, from the other {n_train}.",
             f"Exact-match accuracy: training sequences {train_accuracy:.1%}, held-out sequences {heldout_accuracy:.1%}."]
    if heldout_accuracy == 1.0:
        lines.append("It reverses every sequence it never saw, so it learned the rule, not a lookup table of its "
                     "training data.")
        return lines
    if train_accuracy < 1.0:
        lines.append("It has not even learned its training sequences, so it has NOT learned the rule: train it "
                     "longer (--epochs, --samples) or wider (--hidden).")
        return lines
    wrong = data.heldout_sequences[(predict(model, data.heldout_sequences, data.vocab.eos_id)
                                    != make_targets(data.heldout_sequences, data.vocab.eos_id)).any(1)]
    lines.append(f"It fits every training sequence but gets {len(wrong)} held-out one(s) wrong, so it has NOT fully "
                 f"learned the rule: it fit its training data without generalizing. Try another --seed, or a longer "
                 f"--seq-len (more distinct sequences to learn from).")
    vocab = data.vocab
    for sequence in wrong[:5]:
        gaps = missing_pairs(sequence, data.train_sequences)
        if gaps:
            gap_text = "; ".join(f"{vocab.tokens[sequence[i]]!r} at position {i + 1} with {vocab.tokens[sequence[j]]!r} "
                                 f"at position {j + 1}" for i, j in gaps)
            lines.append(f"  {letters(sequence, vocab)!r}: no training sequence had {gap_text}.")
        else:
            lines.append(f"  {letters(sequence, vocab)!r}: every pair of its letters occurs together in training, "
                         f"yet it fails.")
    return lines
