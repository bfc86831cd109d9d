"""Exercise 7, steering hidden1 along a class-mean direction: push the layer so that one output changes its mind.

Take input position p and two letters, source x and target y. The steering vector is the difference of two class
means (exercise 3): v = mean hidden1 over the sequences with y at p, minus the mean over those with x at p, (H,).
Add alpha v to hidden1 for the sequences with x at p (a hook that returns out + alpha v) and run the rest of the
network. hidden1 comes out of a ReLU, so no real input makes it negative, but out + alpha v can be: clamp the sum at
0, so that the next layer only sees values some input could give it. Then ask two questions:

    flip          does the mirrored output, L-1-p (the one that copies input p), now say y?
    side effects  does any other output, <eos> included, give a different answer than it did unsteered?

alpha 1 moves the class mean of x onto that of y. features/steering.py does every (p, x, y) and alpha in a few
forward passes (steer_layer), with random directions and a single neuron as controls (steering_experiment), and fits
v on the training sequences; here v comes from the sequences you steer.
"""

import torch

from ..core.common import layer_features
from ..core.data import add_eos
from ..core.model import run_with_hooks
from ..features.steering import class_mean_vector, steer_layer, steering_triples
from .checking import Wrong

NUMBER, TITLE, FUNCTION = 7, "steer", "steer"
DIFFICULTY, MINUTES = 2, 15
ALPHAS = (0.5, 1.0, 2.0, 3.0)  # the check's: below, at and past alpha 1, where the clamp shows
HINT = ("v = hidden1[sequences[:, position] == target].mean(0) - the same for source. Keep the rows with source at "
        "position, tokens = add_eos(sequences[rows], eos_id); hook(out) returns (out + alpha * v).clamp(min=0). Run "
        "run_with_hooks(model, tokens, {}) and with {\"hidden1\": hook}; take argmax(-1) of each, (M, L+1). The flip "
        "reads output L-1-position; the side effects every other output, <eos> included, against the unsteered "
        "answers.")


def steer(model, hidden1, sequences, eos_id, position, source, target, alpha):
    """Steer hidden1 from letter `source` towards letter `target` at input `position`, by alpha times the class-mean
    vector, for the sequences with `source` there.

    hidden1 (N, H) is the layer's activation on the letter sequences (N, L); add eos_id to each (core.data.add_eos)
    to make the model's input (N, L+1). Returns (flip, side_effects), two floats, each a share of the sequences with
    `source` at `position`: those whose mirrored output now says `target`, and those where any other output changed.
    """
    raise NotImplementedError


def check(student_fn, run):
    """Compare with features.steering.steer_layer at hidden1, for every (position, source, target) at each of ALPHAS,
    v fit on the same sequences."""
    sequences, vocab, seq_len = run.sequences, run.vocab, run.sequences.shape[1]
    hidden1 = layer_features(run.model, sequences, vocab, run.device, ("hidden1",))["hidden1"]  # (N, H)
    triples = steering_triples(seq_len, len(vocab.letters))
    vectors = torch.stack([class_mean_vector(hidden1, sequences, p, x, y) for p, x, y in triples])[None]  # (1, T, H)
    package = lambda alphas, **how: {name: torch.tensor(value[0]).T for name, value in  # (T, A) each
                                     steer_layer(run.model, "hidden1", vectors, triples, sequences, vocab, run.device,
                                                 alphas, **how).items()}
    expected, unclamped, unsteered = package(ALPHAS), package(ALPHAS, clamp=False), package([0.0] * len(ALPHAS))
    reversed_sign = package([-alpha for alpha in ALPHAS])  # -alpha v is alpha times the reversed vector
    flip, side = (torch.zeros(len(triples), len(ALPHAS), dtype=torch.float64) for _ in range(2))  # (T, A) each
    for t, (p, x, y) in enumerate(triples):
        for a, alpha in enumerate(ALPHAS):  # float64 handed to the model is named by checking.verdict, for all
            answer = student_fn(run.model, hidden1, sequences, vocab.eos_id, p, x, y, alpha)
            flip[t, a], side[t, a] = (float(torch.as_tensor(value)) for value in answer)
    same = lambda ours, theirs: torch.allclose(ours, theirs.double(), atol=1e-6)
    if same(flip, expected["flip"]) and same(side, expected["side_effects"]):
        return
    wrong = (flip - expected["flip"]).abs() + (side - expected["side_effects"]).abs()
    t, a = divmod(int(wrong.argmax()), len(ALPHAS))  # the case that differs most, to quote
    p, x, y = triples[t]
    quoted = (f"steering position {p} from {vocab.letters[x]!r} to {vocab.letters[y]!r} at alpha {ALPHAS[a]}, you "
              f"find a flip of {flip[t, a]:.2f} and side effects {side[t, a]:.2f}, the package "
              f"{expected['flip'][t, a]:.2f} and {expected['side_effects'][t, a]:.2f}")
    if same(flip, unsteered["flip"]) and same(side, unsteered["side_effects"]):
        raise Wrong(f"steering changes nothing at any alpha ({quoted}): does your hook return out + alpha * v? A hook "
                    f"that returns None, having changed only a copy, leaves hidden1 as it was")
    if same(flip, reversed_sign["flip"]) and same(side, reversed_sign["side_effects"]):
        raise Wrong(f"{quoted}: your vector points the wrong way, from target to source. v is the mean with `target` "
                    f"at position minus the mean with `source` there")
    if same(flip, unclamped["flip"]) and same(side, unclamped["side_effects"]):
        raise Wrong(f"{quoted}; yours are the numbers without the clamp: hidden1 is the output of a ReLU, so no "
                    f"input makes it negative, but out + alpha * v can be. Clamp the sum at 0, .clamp(min=0)")
    misread, all_rows = _mistakes(run, hidden1, vectors[0], triples)
    flip_wrong = not same(flip, expected["flip"])
    if flip_wrong and same(flip, misread):
        raise Wrong(f"{quoted}: output j copies input L-1-j (the mirror), so steering position p shows at output "
                    f"L-1-p; did you read the flip at output `position`?")
    if flip_wrong and same(flip, all_rows):
        with_source = int((sequences[:, p] == x).sum())
        raise Wrong(f"{quoted}: did you steer and count all {len(sequences)} sequences? The shares are over the "
                    f"{with_source} with `source` at `position`: steer only those, sequences[:, position] == source")
    raise Wrong(f"{quoted}: v = class mean with `target` at `position` minus class mean with `source` there; the hook "
                f"returns (out + alpha * v).clamp(min=0); the side effects count the sequences where any output but "
                f"the mirror changed")


def _mistakes(run, hidden1, vectors, triples):
    """The flips (T, A) two wrong versions find: read at output `position` rather than its mirror, and with every
    sequence steered and counted, not only those with the source letter there."""
    tokens = add_eos(run.sequences, run.vocab.eos_id).to(run.device)  # (N, L+1)
    seq_len = run.sequences.shape[1]
    misread, all_rows = (torch.zeros(len(triples), len(ALPHAS), dtype=torch.float64) for _ in range(2))
    for t, (p, x, y) in enumerate(triples):
        rows = run.sequences[:, p] == x  # (N,)
        for a, alpha in enumerate(ALPHAS):
            steered = (hidden1 + alpha * vectors[t].float()).clamp(min=0).to(run.device)  # (N, H)
            answers = run_with_hooks(run.model, tokens, {"hidden1": lambda out: steered}).argmax(-1).cpu()  # (N, T)
            misread[t, a] = (answers[rows, p] == y).double().mean()
            all_rows[t, a] = (answers[:, seq_len - 1 - p] == y).double().mean()
    return misread, all_rows
