"""The attention-only transformer: its forward pass against a hand computation, its hooks, and what the chosen design
(reversal.core.transformer, lr TRANSFORMER_LR) learns with the default settings."""

import math

import pytest
import torch

from conftest import shared_model
from reversal.core.common import analysis_sequences
from reversal.core.data import add_eos
from reversal.core.model import hook_count, hooks, run_with_cache
from reversal.core.train import sequence_accuracy
from reversal.core.transformer import TRANSFORMER_LR, AttentionReverser, HookPoint

ATTN = "blocks.0.attn"


@pytest.fixture(scope="module")
def default(trained_transformer):
    """The transformer demo.py --model transformer trains: seed 42, L=3 (conftest trains it once)."""
    assert trained_transformer.cfg.lr == TRANSFORMER_LR, "the session's transformer should use the chosen lr"
    return trained_transformer.cfg, trained_transformer.data, trained_transformer.model


@pytest.fixture(scope="module")
def cache(default):
    cfg, data, model = default
    tokens = add_eos(analysis_sequences(cfg), data.vocab.eos_id)  # (27, 4) every sequence
    names = ["blocks.0.hook_resid_pre", f"{ATTN}.hook_q", f"{ATTN}.hook_k", f"{ATTN}.hook_v", f"{ATTN}.hook_pattern"]
    logits, cache = run_with_cache(model, tokens, names)
    return tokens, logits, cache


def test_parameters_have_transformerlens_names_and_shapes():
    model = AttentionReverser(n_tokens=4, seq_len=3)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {"embed.W_E": (4, 32), "pos_embed.W_pos": (4, 32), "blocks.0.attn.W_Q": (1, 32, 32),
                      "blocks.0.attn.W_K": (1, 32, 32), "blocks.0.attn.W_V": (1, 32, 32),
                      "blocks.0.attn.W_O": (1, 32, 32), "unembed.W_U": (32, 4)}, \
        "a renamed or reshaped weight no longer loads into a HookedTransformer (README)"
    assert model.parameter_count() == 4480


def test_every_hook_point_name_is_a_hook_point():
    model = AttentionReverser(n_tokens=4, seq_len=3)
    for name in model.hook_points:
        assert isinstance(model.get_submodule(name), HookPoint), f"{name} is listed but is not a HookPoint"


def test_residual_stream_starts_as_token_plus_position_embedding(default, cache):
    _, _, model = default
    tokens, _, activations = cache
    expected = model.embed.W_E[tokens] + model.pos_embed.W_pos  # (N, T, d)
    torch.testing.assert_close(activations["blocks.0.hook_resid_pre"], expected)


def test_forward_pass_equals_the_attention_formula_by_hand(default, cache):
    """softmax(q k^T / sqrt(d_head)) v, through W_O, added to the residual stream, read by W_U: the logits."""
    _, _, model = default
    _, logits, activations = cache
    attn = model.blocks[0].attn
    q, k, v = (activations[f"{ATTN}.hook_{name}"] for name in "qkv")  # (N, T, heads, d_head) each
    scores = torch.einsum("nqhe,nkhe->nhqk", q, k) / math.sqrt(q.shape[-1])  # (N, heads, query, key)
    pattern = scores.softmax(dim=-1)
    torch.testing.assert_close(activations[f"{ATTN}.hook_pattern"], pattern,
                               msg="the pattern is not softmax(q k^T / sqrt(d_head)) over the keys")
    z = torch.einsum("nhqk,nkhe->nqhe", pattern, v)  # (N, T, heads, d_head)
    attn_out = torch.einsum("nqhe,hed->nqd", z, attn.W_O)  # (N, T, d): the heads summed
    by_hand = (activations["blocks.0.hook_resid_pre"] + attn_out) @ model.unembed.W_U  # (N, T, V)
    torch.testing.assert_close(logits, by_hand, msg="logits differ from resid_pre + attn_out, unembedded: "
                                                    "a missing residual connection or a different scale?")


def test_dotted_hooks_are_removed_even_when_the_body_raises(default):
    _, _, model = default
    with pytest.raises(RuntimeError):
        with hooks(model, {f"{ATTN}.hook_pattern": lambda pattern: pattern, "blocks.0.hook_resid_post": abs}):
            assert hook_count(model) == 2, "the dotted hook names were not attached"
            raise RuntimeError("the body failed")
    assert hook_count(model) == 0, "a hook outlived its `with` block: hooks() must remove them in `finally`"


# length 6: the model test_attention reads too, trained once, at collection (conftest.AHEAD)
@pytest.mark.parametrize("settings", [dict(seed=42), dict(seed=1), dict(seq_len=6)], ids=["seed42", "seed1", "seq_len6"])
@pytest.mark.slow
def test_reverses_every_heldout_sequence(default, settings):
    if settings == dict(seed=42):
        _, data, model = default
    else:  # trained at collection, in the background (conftest.AHEAD)
        trained = shared_model(model="transformer", **settings)
        data, model = trained.data, trained.model
    accuracy = sequence_accuracy(model, data.heldout_sequences, data.vocab.eos_id)
    assert accuracy == 1.0, f"held-out accuracy {accuracy:.0%} with {settings}: did the init or TRANSFORMER_LR change?"


def test_each_letter_attends_to_its_mirror_with_the_default_seed(default, cache):
    cfg, _, _ = default
    _, _, activations = cache
    mean_pattern = activations[f"{ATTN}.hook_pattern"].mean(0)[0]  # (query, key), head 0, over every sequence
    L = cfg.seq_len
    mass = [mean_pattern[j, L - 1 - j].item() for j in range(L)]  # query j's attention on key L-1-j
    assert min(mass) >= 0.9, f"anti-diagonal mass {[round(m, 3) for m in mass]}: the pattern is not clean at seed 42"
