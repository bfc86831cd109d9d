"""Did the model generalize? Exact-match accuracy on training and held-out sequences, what the held-out sequences
have in common with the training samples, and, where one fails, which letter pairs training never showed together.

What a held-out score can show, and what not. With the defaults there are 27 distinct sequences; 5 are held out. If
the model reverses all 5, it is more than a lookup table of its 22 training sequences: it answers combinations it
never saw. But each held-out sequence, say 'aca', is a new combination of (position, letter) pairs that training did
show ('a' first in 'abc', 'c' second in 'bcb', 'a' third in 'cba'), and a network that adds up one contribution per
position gets such combinations right by construction. Five sequences are also a small test: the seed picks them, and
on some seeds the model fails one or more of them (with the defaults: seeds 0, 6, 12 and 17 of 0 to 19 and 42).
"""

import itertools

import torch

from ..core.common import letters
from ..report.wording import plural
from ..core.data import make_targets
from ..core.limits import DEMO_SAMPLES
from ..core.train import predict, sequence_accuracy


def distinct_rows(sequences, n_letters):
    """The distinct rows of (N, L) letter sequences, in lexicographic order: (D, L).

    Each row is read as a number in base n_letters ('abc' with 3 letters is 0*9 + 1*3 + 2 = 5): a 1-d unique over
    those numbers takes milliseconds, where torch.unique(dim=0) takes seconds for a million rows.
    """
    place = n_letters ** torch.arange(sequences.shape[1] - 1, -1, -1)  # (L,) 9, 3, 1 for three letters
    codes = torch.unique((sequences * place).sum(1))  # (D,) sorted, so the rows come out in lexicographic order
    return codes[:, None] // place % n_letters  # (D, L) back to letters, digit by digit


def unseen_letters(sequences, seen, n_letters):
    """(N,) True where a sequence has a letter at a position at which no `seen` sequence has that letter."""
    seq_len = sequences.shape[1]
    present = torch.zeros(seq_len, n_letters, dtype=torch.bool)  # present[p, v]: some seen sequence has v at p
    present[torch.arange(seq_len).expand_as(seen), seen] = True
    return ~present[torch.arange(seq_len), sequences].all(1)  # (N, L) looked up, then "any position missing?"


def missing_pairs(sequence, seen):
    """Pairs of positions (i, j) whose letters in `sequence` never occur together in any `seen` sequence.

    A network that sees every position at once can fail on such a combination: nothing in training showed it.
    """
    missing = []
    for i, j in itertools.combinations(range(len(sequence)), 2):
        together = (seen[:, i] == sequence[i]) & (seen[:, j] == sequence[j])
        if not together.any():
            missing.append((i, j))
    return missing


def explain_accuracy(model, data, train_accuracy, heldout_accuracy):
    """How well it reverses sequences it never saw, what that shows and what not, and, if some fail, what is missing.

    Every number comes from the data and the model at hand; "seen" means drawn at least once as a training sample
    (with long sequences most training sequences are never drawn).
    """
    vocab, heldout = data.vocab, data.heldout_sequences
    n_train, n_heldout = len(data.train_sequences), len(heldout)
    seen = distinct_rows(data.samples, len(vocab.letters))  # (D, L) the sequences training actually showed
    # with long sequences most training sequences are never drawn: fitting the drawn ones is what training asks for
    fit = sequence_accuracy(model, seen, vocab.eos_id) if len(seen) < n_train else train_accuracy
    drawn = "all of them" if len(seen) == n_train else f"{len(seen)} of them"
    on_drawn = "" if len(seen) == n_train else f" ({fit:.1%} on the {len(seen)} drawn)"
    lines = [f"Sequences: there are {n_train + n_heldout} distinct ones; {n_heldout} held out, never trained on; the "
             f"{len(data.samples)} training samples are drawn, with repeats, from the other {n_train} ({drawn} "
             f"drawn at least once).",
             f"Exact-match accuracy: training sequences {train_accuracy:.1%}{on_drawn}, held-out sequences "
             f"{heldout_accuracy:.1%}."]
    samples = "" if len(data.samples) == DEMO_SAMPLES else f" --samples {len(data.samples)}"  # demo.py's default
    seed_note = (f"This rests on {plural(n_heldout, 'held-out sequence')}, and --seed picks which sequences are held "
                 f"out, and the starting weights: `python demo.py{samples} --seeds N` shows the spread over N seeds.")
    if fit < 1.0:
        lines.append("It has not even learned all the sequences it was trained on, so it has NOT learned to reverse: "
                     "train it longer (--epochs, --samples) or wider (--hidden).")
        return lines
    if heldout_accuracy == 1.0:
        n_new_letter = int(unseen_letters(heldout, seen, len(vocab.letters)).sum())
        if n_new_letter == 0:
            lines.append(f"It reverses all {plural(n_heldout, 'held-out sequence')}, which it never saw, so it is "
                         f"more than a lookup table of whole training sequences. Each is a new combination of letters "
                         f"that training did show at each position (every held-out letter occurs at its position in "
                         f"some training sample): it generalizes to unseen combinations of seen (position, letter) "
                         f"pairs.")
        else:
            lines.append(f"It reverses all {plural(n_heldout, 'held-out sequence')}, which it never saw, so it is "
                         f"more than a lookup table of whole training sequences; {n_new_letter} of them even have a "
                         f"letter at a position where no training sample had that letter.")
        lines.append(seed_note)
        return lines
    wrong = heldout[(predict(model, heldout, vocab.eos_id) != make_targets(heldout, vocab.eos_id)).any(1)]
    advice = ("Try another --seed, a wider --hidden, or a longer --seq-len (more distinct sequences to learn from)."
              if len(seen) == n_train else f"More --samples would show it more of its {n_train} training sequences.")
    lines.append(f"It fits every sequence it was trained on but gets {len(wrong)} of "
                 f"{plural(n_heldout, 'held-out sequence')} wrong: it has not generalized to every new combination. "
                 f"{advice}")
    for sequence in wrong[:5]:
        gaps = missing_pairs(sequence, seen)
        if gaps:
            gap_text = "; ".join(f"{vocab.tokens[sequence[i]]!r} at position {i + 1} with "
                                 f"{vocab.tokens[sequence[j]]!r} at position {j + 1}" for i, j in gaps)
            lines.append(f"  {letters(sequence, vocab)!r}: no training sample had {gap_text}.")
        else:
            lines.append(f"  {letters(sequence, vocab)!r}: every pair of its letters occurs together in some training "
                         f"sample, yet it fails.")
    lines.append(seed_note)
    return lines
