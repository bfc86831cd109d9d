"""The reference solutions of the exercises, one function each, under the stubs' names. Try the stub first:

    python -m reversal.exercises --solutions      # every check passes on these
"""

import math

import torch

from ..core.common import margin
from ..core.data import add_eos
from ..core.model import hooks, run_with_cache, run_with_hooks
from ..mlp.subspaces import logit_difference


def cache_hidden1(model, tokens):
    """Exercise 1 (hook.py)."""
    cache = {}

    def hook(output):
        cache["hidden1"] = output.detach()  # returns None: read, not changed

    with torch.no_grad(), hooks(model, {"hidden1": hook}):
        logits = model(tokens)  # (N, T, V)
    return logits, cache["hidden1"]  # (N, H)


def zero_ablate(model, tokens, targets, neuron):
    """Exercise 2 (ablate.py)."""

    def hook(output):
        out = output.clone()  # (N, H)
        out[:, neuron] = 0
        return out  # returned: it replaces hidden1

    seq_len = tokens.shape[1] - 1
    logits = run_with_hooks(model, tokens, {"hidden1": hook})[:, :seq_len]  # (N, L, V): the <eos> output left out
    targets = targets[:, :seq_len]  # (N, L)
    accuracy = (logits.argmax(-1) == targets).float().mean(0)  # (L,)
    return accuracy, margin(logits, targets).mean(0)  # (L,) each


def letter_direction(activations, sequences, position, letter):
    """Exercise 3 (direction.py)."""
    with_letter = activations[sequences[:, position] == letter]  # (M, H)
    return with_letter.double().mean(0) - activations.double().mean(0)  # (H,)


def patch_position(model, subspaces, clean, corrupted, eos_id, position):
    """Exercise 4 (patch.py)."""
    clean_tokens, corrupt_tokens = add_eos(clean, eos_id), add_eos(corrupted, eos_id)  # (P, T) each
    clean_logits, cache = run_with_cache(model, clean_tokens, ("hidden1",))
    corrupt_logits, _ = run_with_cache(model, corrupt_tokens, ())
    clean_part = subspaces.components(cache["hidden1"])[:, position]  # (P, H) position's part of the clean run

    def patch(out):
        corrupt_part = subspaces.components(out)[:, position]  # (P, H)
        return (out.double() - corrupt_part + clean_part).float()  # the corrupted run, position's part clean

    patched_logits = run_with_hooks(model, corrupt_tokens, {"hidden1": patch})
    good, bad = clean.flip(1), corrupted.flip(1)  # (P, L): output j reads input L-1-j, the mirror
    ld = lambda logits: logit_difference(logits, good, bad)  # (P, L)
    return (ld(patched_logits) - ld(corrupt_logits)).sum(0) / (ld(clean_logits) - ld(corrupt_logits)).sum(0)


def attention_pattern(model, tokens, head):
    """Exercise 5 (pattern.py)."""
    _, cache = run_with_cache(model, tokens, ("blocks.0.hook_resid_pre",))
    resid = cache["blocks.0.hook_resid_pre"]  # (N, T, d): W_E[tokens] + W_pos, what the head reads
    attn = model.blocks[0].attn
    q, k = resid @ attn.W_Q[head], resid @ attn.W_K[head]  # (N, T, d_head) each
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (N, T query, T key)
    return scores.softmax(dim=-1).detach()  # over the keys: each query's row sums to 1; no mask, bidirectional


def ov_letters(model, n_letters, head):
    """Exercise 6 (ov.py)."""
    attn = model.blocks[0].attn
    embed, unembed = model.embed.W_E[:n_letters], model.unembed.W_U[:, :n_letters]  # (L, d), (d, L)
    return (embed @ attn.W_V[head] @ attn.W_O[head] @ unembed).detach()  # (L attended, L logits)


def steer(model, hidden1, sequences, eos_id, position, source, target, alpha):
    """Exercise 7 (steer.py)."""
    has = lambda letter: sequences[:, position] == letter  # (N,)
    vector = hidden1[has(target)].mean(0) - hidden1[has(source)].mean(0)  # (H,) from source towards target
    tokens = add_eos(sequences[has(source)], eos_id)  # (M, L+1): only the sequences with source at position

    def push(out):
        return (out + alpha * vector).clamp(min=0)  # hidden1 is post-ReLU: no input makes it negative

    before = run_with_hooks(model, tokens, {}).argmax(-1)  # (M, L+1) the unsteered answers
    after = run_with_hooks(model, tokens, {"hidden1": push}).argmax(-1)  # (M, L+1)
    mirror = sequences.shape[1] - 1 - position  # the output that copies input `position`
    others = torch.arange(tokens.shape[1]) != mirror  # (L+1,) every other output, <eos> included
    flip = (after[:, mirror] == target).float().mean()
    side_effects = (after != before)[:, others].any(1).float().mean()
    return flip.item(), side_effects.item()
