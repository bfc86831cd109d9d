"""Exercise 4, patching one input position's letter subspace: where the answer for each output lives.

Run the corrupted sequences (every letter changed), and in hidden1 put back one input position's part of the clean
run's activation: the corrupted activation, minus its position-i part, plus the clean run's position-i part. The
parts come from mlp.subspaces.LetterSubspaces.components, (P, H) -> (P, L, H) in float64, built on the class-mean
directions of exercise 3 (the model runs in float32: cast what your hook returns back with .float()). Then read, at
every output j, the share of the clean answer restored:

    share_j = sum over pairs (LD_patched - LD_corrupted) / sum over pairs (LD_clean - LD_corrupted)

with LD = the logit of the clean letter minus the logit of the corrupted letter at output j
(mlp.subspaces.logit_difference). Output j reverses the
input, so its letter is the input letter at L-1-j (the mirror). A position the outputs read shows a share near 1
at its mirror and near 0 elsewhere. mlp/subspaces.py does every position at once (intervene, share_restored).
"""

import torch

from ..core.common import layer_features
from ..core.data import add_eos
from ..core.model import run_with_cache, run_with_hooks  # run_with_hooks is for your answer
from ..mlp.subspaces import Corruption, intervene, letter_subspaces, logit_difference, share_restored, shifted
from .checking import Wrong

NUMBER, TITLE, FUNCTION = 4, "patch", "patch_position"
DIFFICULTY, MINUTES = 3, 15
HINT = ("Cache the clean run's hidden1 (run_with_cache) and take clean_part = subspaces.components(acts)[:, "
        "position] (P, H). The hook returns out + clean_part - subspaces.components(out)[:, position] (components "
        "works in float64: cast back with .float()). Run it on the corrupted tokens with run_with_hooks. LD needs "
        "the letters at each output: clean.flip(1) and corrupted.flip(1); mlp.subspaces.logit_difference(logits, "
        "good, bad) gives (P, L).")


def patch_position(model, subspaces, clean, corrupted, eos_id, position):
    """Patch input `position`'s letter subspace of hidden1 from the clean run into the corrupted run.

    subspaces: the LetterSubspaces of hidden1. clean, corrupted (P, L) letter sequences, row r of `corrupted` being
    row r of `clean` with every letter changed; add eos_id to each (core.data.add_eos) to make the model's input
    (P, L+1). Returns (L,): at each output j, the share of the clean answer the patch restores (module docstring).
    """
    raise NotImplementedError


def check(student_fn, run):
    """Compare with mlp.subspaces.intervene and share_restored, the batched version mlp.mechanism runs, for every
    input position; the directions are fit on the training sequences, as there."""
    n_letters, seq_len = len(run.vocab.letters), run.sequences.shape[1]
    fit = run.data.train_sequences
    subspaces = letter_subspaces(layer_features(run.model, fit, run.vocab, run.device, ("hidden1",))["hidden1"], fit,
                                 n_letters)
    clean, corrupted = run.sequences.repeat(n_letters - 1, 1), shifted(run.sequences, n_letters)  # (P, L) each
    logits, cache = run_with_cache(run.model, add_eos(torch.cat([run.sequences, corrupted]), run.vocab.eos_id),
                                   ("hidden1",))
    clean_logits, corrupt_logits = logits[:len(run.sequences)].repeat(n_letters - 1, 1, 1), logits[len(run.sequences):]
    corruption = Corruption(run.sequences, clean, corrupted, {"hidden1": cache["hidden1"][:len(run.sequences)]})
    patched = intervene(run, "hidden1", subspaces, corruption).patched  # (L, P, T, V): block i patches position i
    expected = share_restored(patched, clean_logits, corrupt_logits, clean, corrupted).double()  # (L in, L out)
    # the mirror mistake, measured by the package: share_restored flips the letters itself, so flipped letters in
    # give LD at output j for input j's letters
    unmirrored = share_restored(patched, clean_logits, corrupt_logits, clean.flip(1), corrupted.flip(1)).double()
    # the mean of each pair's own ratio, rather than the ratio of the sums
    ld = lambda logits: logit_difference(logits, clean.flip(1), corrupted.flip(1)).double()  # (..., P, L)
    per_pair = ((ld(patched) - ld(corrupt_logits)) / (ld(clean_logits) - ld(corrupt_logits))).mean(-2)  # (L, L)
    for position in range(seq_len):
        share = torch.as_tensor(student_fn(run.model, subspaces, clean, corrupted, run.vocab.eos_id, position))
        share = share.detach().double().cpu().flatten()
        mirror = seq_len - 1 - position
        if len(share) != seq_len:
            raise Wrong(f"patching position {position}, you return {len(share)} shares: return one per output letter "
                        f"position, {seq_len} (the <eos> output left out), summed over the pairs")
        if torch.allclose(share, torch.zeros(seq_len, dtype=torch.float64), atol=1e-6):
            raise Wrong(f"patching position {position} restores nothing at any output: does your hook return the "
                        f"patched activation? One that returns None, having changed only a copy, leaves the corrupted "
                        f"run as it was")
        if position != mirror and torch.allclose(share, unmirrored[position], atol=1e-3):
            raise Wrong(f"patching position {position}, you restore {_list(share)}, the package "
                        f"{_list(expected[position])}: output j's letter is input L-1-j's (the mirror), not input "
                        f"j's; did you take the letters as clean rather than clean.flip(1)?")
        elsewhere = [share[j] for j in range(seq_len) if j != mirror]
        if share[mirror] < 0.5 < expected[position, mirror] and all(0.5 < value < 1.5 for value in elsewhere):
            raise Wrong(f"patching position {position}, the share at its mirror, output {mirror}, is "
                        f"{share[mirror]:.2f} (the package's: {expected[position, mirror]:.2f}), and near 1 "
                        f"elsewhere: did you patch the corrupted run's activation into the clean run, rather than the "
                        f"clean into the corrupted?")
        if torch.allclose(share, per_pair[position], atol=1e-3) and not torch.allclose(share, expected[position],
                                                                                        atol=1e-3):
            raise Wrong(f"patching position {position}, you restore {_list(share)}, the package "
                        f"{_list(expected[position])}: you average each pair's own ratio; the share is one ratio of "
                        f"sums, (LD_patched - LD_corrupted) summed over the pairs over (LD_clean - LD_corrupted) "
                        f"summed likewise")
        if not torch.allclose(share, expected[position], atol=1e-3):
            raise Wrong(f"patching position {position}, you restore {_list(share)}, the package "
                        f"{_list(expected[position])}: replace only position {position}'s part, out - "
                        f"components(out)[:, {position}] + the clean run's components[:, {position}]")


def _list(values):
    return "[" + ", ".join(f"{value:.2f}" for value in values.tolist()) + "]"
