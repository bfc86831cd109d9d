"""The same task in a one-layer, attention-only transformer, with hook points named as in TransformerLens.

    tokens (B, T) -> W_E[tokens] + W_pos           resid_pre  (B, T, d)
                  -> one attention head, bidirectional:
                       q, k, v = resid_pre @ W_Q, W_K, W_V           (B, T, heads, d_head)
                       pattern = softmax(q k^T / sqrt(d_head))       (B, heads, T query, T key)
                       z = pattern @ v                               (B, T, heads, d_head)
                       attn_out = z @ W_O summed over heads          (B, T, d)
                  -> resid_post = resid_pre + attn_out              (B, T, d)
                  -> logits = resid_post @ W_U                      (B, T, V)

No MLP, no LayerNorm, no biases: every path from input to output is a product of matrices you can read, which is
what "A Mathematical Framework for Transformer Circuits" (Elhage et al. 2021) does with its QK and OV circuits.
Attention is bidirectional (no causal mask): output position j must read input position L-1-j, which comes later.

The parameters have TransformerLens's names and shapes (embed.W_E (V, d), pos_embed.W_pos (T, d),
blocks.0.attn.W_Q/W_K/W_V (heads, d, d_head), blocks.0.attn.W_O (heads, d_head, d), unembed.W_U (d, V)), so a
state_dict loads into a HookedTransformer with its biases set to zero; docs/running.md shows how.

The starting weights and the learning rate were chosen by measurement (bench/transformer_design.py). Every design
tried reverses the held-out sequences on nearly every seed; they differ in how often the attention pattern comes out
clean (every letter puts >= 0.9 of its attention on its mirror), and that depends on the seed more than on the design.
At L=3 and lr 3e-3, small output matrices at the start (W_O, W_U ~ N(0, 0.02), the rest N(0, 1/d_model)) gave a clean
pattern on 31 of 52 seeded runs, N(0, 1/d_model) everywhere on 18 of 41: a modest gain, within seed-to-seed noise.
At L=5 the patterns are right but softer (0.84 to 0.93 on most seeds); lr 1e-2 sharpens them but then seed 2 misses
held-out sequences at L=3; lr 1e-3 is softer still (clean on 2 of 11 seeds at L=3). N(0, 1) embeddings (PyTorch's
nn.Embedding) give sharp patterns, but <eos> reads a letter, and the pattern is messy, on about two seeds in three.
"""

import math

import torch
import torch.nn as nn

from .limits import DEFAULT_LR

TRANSFORMER_LR = DEFAULT_LR["transformer"]  # 3e-3, measured (above): 1e-3 gives softer patterns, 1e-2 loses held-out sequences
OUTPUT_INIT_STD = 0.02  # W_O and W_U start small, so the first logits are near uniform: a little cleaner (above)


class HookPoint(nn.Identity):
    """A named place in the forward pass. It returns its input unchanged, so a forward hook on it can read the
    activation, or replace it by returning a tensor (reversal.core.model.hooks), as TransformerLens's HookPoint does."""


class Embed(nn.Module):
    def __init__(self, n_tokens, d_model):
        super().__init__()
        self.W_E = nn.Parameter(torch.randn(n_tokens, d_model) / math.sqrt(d_model))

    def forward(self, tokens):
        return self.W_E[tokens]  # (B, T, d)


class PosEmbed(nn.Module):
    def __init__(self, n_positions, d_model):
        super().__init__()
        self.W_pos = nn.Parameter(torch.randn(n_positions, d_model) / math.sqrt(d_model))

    def forward(self, tokens):
        return self.W_pos[: tokens.shape[1]].expand(tokens.shape[0], -1, -1)  # (B, T, d)


class Attention(nn.Module):
    def __init__(self, d_model, n_heads, d_head):
        super().__init__()
        scale = 1 / math.sqrt(d_model)
        self.W_Q = nn.Parameter(torch.randn(n_heads, d_model, d_head) * scale)
        self.W_K = nn.Parameter(torch.randn(n_heads, d_model, d_head) * scale)
        self.W_V = nn.Parameter(torch.randn(n_heads, d_model, d_head) * scale)
        self.W_O = nn.Parameter(torch.randn(n_heads, d_head, d_model) * OUTPUT_INIT_STD)  # the head adds ~0 at first
        self.hook_q, self.hook_k, self.hook_v = HookPoint(), HookPoint(), HookPoint()  # (B, T, heads, d_head)
        self.hook_attn_scores = HookPoint()  # (B, heads, query, key), before the softmax
        self.hook_pattern = HookPoint()  # (B, heads, query, key): each row sums to 1
        self.hook_z = HookPoint()  # (B, T, heads, d_head): the pattern-weighted values
        self.hook_result = HookPoint()  # (B, T, heads, d): each head's output, before the heads are summed

    def forward(self, resid):  # (B, T, d)
        q = self.hook_q(torch.einsum("btd,hde->bthe", resid, self.W_Q))  # (B, T, heads, d_head)
        k = self.hook_k(torch.einsum("btd,hde->bthe", resid, self.W_K))
        v = self.hook_v(torch.einsum("btd,hde->bthe", resid, self.W_V))
        scores = self.hook_attn_scores(torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(q.shape[-1]))
        pattern = self.hook_pattern(scores.softmax(dim=-1))  # (B, heads, query, key); no mask: bidirectional
        z = self.hook_z(torch.einsum("bhqk,bkhe->bqhe", pattern, v))  # (B, T, heads, d_head)
        result = self.hook_result(torch.einsum("bqhe,hed->bqhd", z, self.W_O))  # (B, T, heads, d)
        return result.sum(dim=2)  # (B, T, d)


class Block(nn.Module):
    def __init__(self, d_model, n_heads, d_head):
        super().__init__()
        self.attn = Attention(d_model, n_heads, d_head)
        self.hook_resid_pre = HookPoint()  # (B, T, d)
        self.hook_attn_out = HookPoint()  # (B, T, d)
        self.hook_resid_post = HookPoint()  # (B, T, d)

    def forward(self, resid):
        resid = self.hook_resid_pre(resid)
        return self.hook_resid_post(resid + self.hook_attn_out(self.attn(resid)))  # the residual stream


class Unembed(nn.Module):
    def __init__(self, d_model, n_tokens):
        super().__init__()
        self.W_U = nn.Parameter(torch.randn(d_model, n_tokens) * OUTPUT_INIT_STD)  # logits start near 0: uniform

    def forward(self, resid):
        return resid @ self.W_U  # (B, T, V)


class AttentionReverser(nn.Module):
    """One attention layer on a residual stream; an unembedding at every position reads that position's output."""

    hook_points = ("hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre", "blocks.0.attn.hook_q",
                   "blocks.0.attn.hook_k", "blocks.0.attn.hook_v", "blocks.0.attn.hook_attn_scores",
                   "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z", "blocks.0.attn.hook_result",
                   "blocks.0.hook_attn_out", "blocks.0.hook_resid_post")

    def __init__(self, n_tokens, seq_len, d_model=32, n_heads=1, d_head=32):
        super().__init__()
        self.n_tokens, self.n_positions = n_tokens, seq_len + 1
        self.embed = Embed(n_tokens, d_model)
        self.pos_embed = PosEmbed(self.n_positions, d_model)
        self.hook_embed, self.hook_pos_embed = HookPoint(), HookPoint()  # (B, T, d) each
        self.blocks = nn.ModuleList([Block(d_model, n_heads, d_head)])
        self.unembed = Unembed(d_model, n_tokens)

    def forward(self, tokens):  # (B, T) token ids
        resid = self.hook_embed(self.embed(tokens)) + self.hook_pos_embed(self.pos_embed(tokens))  # (B, T, d)
        for block in self.blocks:
            resid = block(resid)
        return self.unembed(resid)  # (B, T, V) logits

    def parameter_count(self):
        return sum(p.numel() for p in self.parameters())
