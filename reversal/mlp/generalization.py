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

from ..report.result import Finding, Result
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


class Generalization(Result):
    """What generalization measured; finding() says what it shows and what not, and, if some fail, what is missing.
    "Drawn" means drawn at least once as a training sample: with long sequences most training sequences are not."""

    def finding(self):
        n_train, n_heldout, n_seen, n_samples = (self[key] for key in ("train_sequences", "heldout_sequences",
                                                                       "drawn_sequences", "samples"))
        train_accuracy, heldout_accuracy, fit = self["train_accuracy"], self["heldout_accuracy"], self["drawn_accuracy"]
        right, heldout = round(heldout_accuracy * n_heldout), plural(n_heldout, "held-out sequence")
        share = f"all {heldout}" if right == n_heldout else f"{right} of the {heldout}"
        if fit < 1.0:
            verdict = "it has not even learned the sequences it was trained on"
        elif heldout_accuracy == 1.0:
            verdict = "it is more than a lookup table of the sequences it saw"
        else:
            verdict = "it fits its training sequences but has not generalized to every new combination"
        trained_on = (f"{train_accuracy:.1%} of its training sequences" if n_seen == n_train else
                      f"{fit:.1%} of the {n_seen} training sequences it was shown")
        headline = f"The model reverses {share} it never saw and {trained_on}: {verdict}."
        numbers = {"train_accuracy": train_accuracy, "heldout_accuracy": heldout_accuracy,
                   "heldout_sequences": n_heldout, "drawn_accuracy": fit}
        drawn = "all of them" if n_seen == n_train else f"{n_seen} of them"
        on_drawn = "" if n_seen == n_train else f" ({fit:.1%} on the {n_seen} drawn)"
        evidence = [f"  Sequences: there are {n_train + n_heldout} distinct ones; {n_heldout} held out, never trained "
                    f"on; the {n_samples} training samples are drawn, with repeats, from the other {n_train} ({drawn} "
                    f"drawn at least once).",
                    f"  Exact-match accuracy: training sequences {train_accuracy:.1%}{on_drawn}, held-out sequences "
                    f"{heldout_accuracy:.1%}."]
        samples = "" if n_samples == DEMO_SAMPLES else f" --samples {n_samples}"  # demo.py's default
        caveats = [f"  This rests on {plural(n_heldout, 'held-out sequence')}, and --seed picks which sequences are "
                   f"held out, and the starting weights: `python demo.py{samples} --seeds N` shows the spread over N "
                   f"seeds."]
        if fit < 1.0:
            evidence.append(f"  It has not even learned all the sequences it was trained on, so it has NOT learned to "
                            f"reverse: {self['health'].misfit_advice()}.")
            return Finding(headline, numbers, evidence)
        if heldout_accuracy == 1.0:
            n_new_letter = self["new_letter_sequences"]
            if n_new_letter == 0:
                evidence.append(f"  It reverses all {plural(n_heldout, 'held-out sequence')}, which it never saw, so "
                                f"it is more than a lookup table of whole training sequences. Each is a new "
                                f"combination of letters that training did show at each position (every held-out "
                                f"letter occurs at its position in some training sample): it generalizes to unseen "
                                f"combinations of seen (position, letter) pairs.")
            else:
                evidence.append(f"  It reverses all {plural(n_heldout, 'held-out sequence')}, which it never saw, so "
                                f"it is more than a lookup table of whole training sequences; {n_new_letter} of them "
                                f"even have a letter at a position where no training sample had that letter.")
            return Finding(headline, numbers, evidence, caveats)
        advice = (self["health"].generalize_advice() if n_seen == n_train else
                  f"More --samples would show it more of its {n_train} training sequences.")
        evidence.append(f"  It fits every sequence it was trained on but gets {self['wrong_sequences']} of "
                        f"{plural(n_heldout, 'held-out sequence')} wrong: it has not generalized to every new "
                        f"combination. {advice}")
        for sequence, gaps in zip(self["wrong"], self["missing_pairs"]):
            if gaps:
                gap_text = "; ".join(f"{sequence[i]!r} at position {i + 1} with {sequence[j]!r} at position {j + 1}"
                                     for i, j in gaps)
                evidence.append(f"    {''.join(sequence)!r}: no training sample had {gap_text}.")
            else:
                evidence.append(f"    {''.join(sequence)!r}: every pair of its letters occurs together in some "
                                f"training sample, yet it fails.")
        return Finding(headline, numbers, evidence, caveats)


def generalization(run, train_accuracy, heldout_accuracy, health):
    """How well run.model reverses the sequences it was trained on and the held-out ones, what the held-out ones have
    in common with the training samples, and, for the first five it gets wrong, which letter pairs training never
    showed together.

    Returns a Generalization: {"train_accuracy", "heldout_accuracy": as given, "drawn_accuracy": on the training
    sequences drawn at least once, "train_sequences", "heldout_sequences", "samples", "drawn_sequences": counts,
    "new_letter_sequences": held-out sequences with a letter at a position where no training sample had it,
    "wrong_sequences": held-out sequences it gets wrong}; and arrays "wrong": the first five of those, as lists of
    tokens, "missing_pairs": for each of them, the position pairs (i, j) whose letters no training sample had
    together; and "health", core.health's verdict on the training, which picks the advice for a model that falls short.
    """
    model, data, vocab = run.model, run.data, run.vocab
    heldout, n_train = data.heldout_sequences, len(data.train_sequences)
    n_letters = len(vocab.letters)
    seen = distinct_rows(data.samples, n_letters)  # (D, L) the sequences training actually showed
    # with long sequences most training sequences are never drawn: fitting the drawn ones is what training asks for
    fit = sequence_accuracy(model, seen, vocab.eos_id) if len(seen) < n_train else train_accuracy
    wrong = heldout[(predict(model, heldout, vocab.eos_id) != make_targets(heldout, vocab.eos_id)).any(1)]
    wrong_tokens = [vocab.decode(sequence.tolist()) for sequence in wrong[:5]]  # the ones the wording names
    return Generalization(
        {"train_accuracy": train_accuracy, "heldout_accuracy": heldout_accuracy, "drawn_accuracy": fit,
         "train_sequences": n_train, "heldout_sequences": len(heldout), "samples": len(data.samples),
         "drawn_sequences": len(seen), "new_letter_sequences": int(unseen_letters(heldout, seen, n_letters).sum()),
         "wrong_sequences": len(wrong)},
        {"wrong": wrong_tokens, "missing_pairs": [missing_pairs(sequence, seen) for sequence in wrong[:5]],
         "health": health})
