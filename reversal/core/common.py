"""What the experiments share: the sequences they test on, activations at the hook points, single-letter
corruptions, and small formatting helpers."""

import numpy as np
import torch

from .data import add_eos, all_sequences
from .model import run_with_cache

SEED_NOTE = "neuron numbers change with --seed; the counts and the pattern are what to compare"
MAX_ANALYSIS_SEQUENCES = 512  # longer sequences have too many to test all; a seeded sample of this many stands in


def letters(sequence, vocab):
    return "".join(vocab.decode(sequence.tolist()))


def analysis_sequences(cfg):
    """Every distinct sequence when there are few; else a seeded sample. (N, L), lexicographic order."""
    generator = torch.Generator().manual_seed(cfg.seed)
    return sample_rows(all_sequences(len(cfg.vocab), cfg.seq_len), MAX_ANALYSIS_SEQUENCES, generator)


def sample_rows(sequences, limit, generator):
    """All the sequences if there are at most `limit`, else a seeded sample of `limit`, in their original order."""
    if len(sequences) <= limit:
        return sequences
    return sequences[torch.randperm(len(sequences), generator=generator)[:limit].sort().values]


def corruptions(sequences, position, n_letters):
    """Each sequence with the letter at `position` replaced by every other letter: ((V-1)*N, L), block k shifted by k."""
    copies = []
    for shift in range(1, n_letters):
        corrupted = sequences.clone()
        corrupted[:, position] = (sequences[:, position] + shift) % n_letters
        copies.append(corrupted)
    return torch.cat(copies)


def layer_features(model, sequences, vocab, device, names=None):
    """{hook point: (N, D) activations} for the sequences; names=None means every hook point the model names.

    An activation with more than one dimension per sequence is flattened, so every hook point gives one feature
    vector per sequence: the transformer's blocks.0.hook_resid_post, (N, T, d) = (27, 4, 32) at the defaults,
    becomes (27, 128), position 0's 32 features first. The MLP's layers are (N, D) already and stay as they are.
    """
    names = model.hook_points if names is None else names
    _, cache = run_with_cache(model, add_eos(sequences, vocab.eos_id).to(device), names)
    return {name: cache[name].cpu().flatten(1) for name in names}  # (N, ...) -> (N, D)


def per_position_accuracy(predicted, targets, seq_len):
    return (predicted[:, :seq_len] == targets[:, :seq_len]).float().mean(0)  # (L,)


def mirror_mask(seq_len):
    """True where output j copies input i, i + j = L - 1: the anti-diagonal."""
    return np.eye(seq_len, dtype=bool)[::-1]


def mirror_split(matrix):
    """(L, L) [input i][output j] -> the values at the mirrored output j = L-1-i (L,), and all the others."""
    matrix = np.asarray(matrix)
    mirror = mirror_mask(len(matrix))
    return matrix[mirror], matrix[~mirror]  # matrix[mirror] is in the order of input position i


def patch_gain(direction, ld_patched, runs):
    """Per pair, the part of LD_clean - LD_corrupted that the patched part carries: (k, P) -> (k, P)."""
    if direction == "denoising":
        return ld_patched - runs["corrupted"]["ld"]  # how much came back
    return runs["clean"]["ld"] - ld_patched  # how much was lost


def patch_share(gain, runs):
    """Summed over pairs and normalised, (k, P) -> (k,): 1 = the patched part carries the whole difference."""
    return gain.sum(-1) / (runs["clean"]["ld"] - runs["corrupted"]["ld"]).sum()


def replace_each(out, values):
    """One batched run for every neuron at once: block n of the batch gets neuron n replaced by values[:, n], and
    the last block gets the whole layer replaced. Ablation (values = a mean, zero, or a resampled run) and patching
    (values = the donor run) both use it.

    out: ((H+1)*M, H) activations of H+1 stacked copies of M rows; values: (M, H). Returns ((H+1)*M, H).
    """
    width = out.shape[1]
    out = out.clone().view(width + 1, -1, width)  # (block, row, neuron)
    index = torch.arange(width, device=out.device)
    values = values.to(out.device)
    out[index, :, index] = values.T  # block n, neuron n: values[:, n]; the rest stay as they were
    out[width] = values
    return out.view(-1, width)


def margin(logits, targets):
    """The correct token's logit minus the best wrong one's: 0 is the decision boundary, below 0 is wrong.

    logits (..., N, L, V), targets (..., N, L) token ids -> (..., N, L).
    """
    correct = logits.gather(-1, targets[..., None])[..., 0]
    wrong = logits.scatter(-1, targets[..., None], float("-inf")).amax(-1)  # the best wrong logit
    return correct - wrong
