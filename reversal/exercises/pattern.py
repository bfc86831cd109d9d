"""Exercise 5, the attention pattern from the weights: where each of the transformer's output positions looks.

The transformer (core/transformer.py) has one attention layer and no LayerNorm and no biases. Its head reads the
residual stream before the attention, blocks.0.hook_resid_pre (N, T, d) = W_E[tokens] + W_pos (model.embed.W_E,
model.pos_embed.W_pos), and makes

    q = resid_pre @ W_Q[head],  k = resid_pre @ W_K[head]          (N, T, d_head) each
    pattern = softmax(q k^T / sqrt(d_head)) over the keys           (N, T query, T key): each row sums to 1

Row j is output j's query; the column it puts its weight on is the input it copies. There is no causal mask: output
j must read input L-1-j, which comes after it. attention/patterns.py reads this pattern from the hook
blocks.0.attn.hook_pattern for every sequence and asks whether each row's weight is on its mirror.
"""

import math

import torch

from ..core.data import add_eos
from ..core.model import hooks, run_with_cache
from .checking import Wrong

NUMBER, TITLE, FUNCTION = 5, "pattern", "attention_pattern"
DIFFICULTY, MINUTES = 2, 10
MODEL = "transformer"  # the check runs on the default transformer, not the MLP
HINT = ("_, cache = run_with_cache(model, tokens, (\"blocks.0.hook_resid_pre\",)); resid = cache[...] (N, T, d). "
        "attn = model.blocks[0].attn; q = resid @ attn.W_Q[head] and k = resid @ attn.W_K[head] (N, T, d_head); "
        "scores = q @ k.transpose(-1, -2) / sqrt(d_head) (N, T, T); return scores.softmax(dim=-1).")

RESID_PRE, RESID_POST, EMBED = "blocks.0.hook_resid_pre", "blocks.0.hook_resid_post", "hook_embed"
PATTERN, SCORES = "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_attn_scores"  # (N, heads, query, key) each


def attention_pattern(model, tokens, head):
    """The attention pattern of head `head` of the transformer `model` on tokens (N, T), from its weights.

    Cache the residual stream the head reads with core.model.run_with_cache, and compute the pattern from it and
    model.blocks[0].attn.W_Q, W_K (heads, d, d_head) yourself, as the module docstring says: reading the hook
    blocks.0.attn.hook_pattern would be copying the answer. Returns (N, T query, T key), each row summing to 1.
    """
    raise NotImplementedError


def check(student_fn, run):
    """Compare with the model's own blocks.0.attn.hook_pattern, for every head, on every sequence of the run. The
    likely mistakes are recognised by the patterns they give, made from the model's own scores, or by the model's
    own head run on another residual stream."""
    tokens = add_eos(run.sequences, run.vocab.eos_id).to(run.device)  # (N, T)
    _, cache = run_with_cache(run.model, tokens, (RESID_POST, EMBED, PATTERN, SCORES))
    d_head = run.model.blocks[0].attn.W_Q.shape[-1]
    for head in range(cache[PATTERN].shape[1]):
        expected, scores = cache[PATTERN][:, head], cache[SCORES][:, head]  # (N, T, T) each
        pattern = torch.as_tensor(student_fn(run.model, tokens, head)).detach().to(expected)
        if pattern.shape != expected.shape:
            heads = f", with an axis for the heads: return head {head}'s alone" if pattern.dim() == 4 else ": return"
            raise Wrong(f"head {head}'s pattern has shape {tuple(pattern.shape)}{heads} (N, T query, T key) = "
                        f"{tuple(expected.shape)}, one row per query position")
        if torch.allclose(pattern, expected, atol=1e-5):
            continue
        n_positions = scores.shape[-1]
        later = torch.ones(n_positions, n_positions, dtype=torch.bool, device=scores.device).triu(1)  # key > query
        mistakes = [
            (scores.softmax(dim=-2), "each column sums to 1, not each row: you took the softmax over the queries; "
                                     "take it over the keys, the last axis (dim=-1), so that each query's weights "
                                     "sum to 1"),
            (torch.softmax(scores * math.sqrt(d_head), dim=-1),
             f"your pattern is too sharp: did you divide the scores q k^T by sqrt(d_head) = {math.sqrt(d_head):.2f}? "
             f"Without it the scores grow with d_head and the softmax saturates"),
            (scores.transpose(-1, -2).softmax(dim=-1), "your pattern is softmax(k q^T): the query comes from W_Q and "
                                                       "the key from W_K; did you swap them?"),
            (scores.masked_fill(later, -math.inf).softmax(dim=-1),
             "your pattern puts nothing on later keys: this transformer has no causal mask. Output j copies input "
             "L-1-j, which comes after it, so every query sees every key"),
            (_head_on(run.model, tokens, cache[RESID_POST])[:, head],
             f"your pattern is the one the head would make from {RESID_POST}, the residual stream after the "
             f"attention has added its output: the head reads {RESID_PRE}, the stream before it"),
            (_head_on(run.model, tokens, cache[EMBED])[:, head],
             f"your pattern is the one the head would make from {EMBED}, the token embeddings alone: the head reads "
             f"{RESID_PRE} = W_E[tokens] + W_pos, and the positions are what tell it where the mirror is"),
        ]
        for wrong, message in mistakes:
            if torch.allclose(pattern, wrong, atol=1e-5):
                raise Wrong(f"head {head}: {message}")
        row_sums = pattern.sum(-1)
        if not torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-4):
            raise Wrong(f"head {head}'s rows sum to {row_sums.min().item():.2f} to {row_sums.max().item():.2f}, not 1: "
                        f"turn the scores into weights with a softmax over the keys (dim=-1)")
        raise Wrong(f"head {head}'s pattern differs from the model's own {PATTERN} by up to "
                    f"{(pattern - expected).abs().max().item():.3f}: q = resid_pre @ W_Q[head], k = resid_pre @ "
                    f"W_K[head], pattern = softmax(q k^T / sqrt(d_head)) over the keys")


def _head_on(model, tokens, resid):
    """The model's own pattern, (N, heads, T, T), with its attention reading `resid` (N, T, d) in place of
    resid_pre: what a student who cached the wrong activation computes."""
    cache = {}

    def save(output):
        cache["pattern"] = output.detach()

    with torch.no_grad(), hooks(model, {RESID_PRE: lambda output: resid, PATTERN: save}):
        model(tokens)
    return cache["pattern"]
