"""Exercise 6, the OV circuit read from the weights: what the head copies, once it has chosen where to look.

Exercise 5's pattern says where each output looks; the OV circuit says what it brings back. A key's token t sits in
the residual stream as W_E[t] (d,). The head reads it through W_V (d -> d_head), writes the result back through W_O
(d_head -> d), and the unembedding W_U (d -> V) turns that into logits. With no LayerNorm or MLP between, the whole
path is one matrix, as in "A Mathematical Framework for Transformer Circuits" (Elhage et al. 2021):

    OV = W_E[letters] @ W_V[head] @ W_O[head] @ W_U[:, letters]        (letters attended, letters' logits)

Row = the letter attended to, column = the logit it moves. A head that copies has its largest entry of each row on
the diagonal. The position's part, W_pos @ W_V @ W_O @ W_U, is what attending to a position sends whatever letter is
there; attention/circuits.py keeps it apart (ov_circuit's positional_value) and so does this exercise.
"""

import torch

from ..attention.circuits import ov_circuit
from .checking import Wrong

NUMBER, TITLE, FUNCTION = 6, "ov", "ov_letters"
DIFFICULTY, MINUTES = 2, 10
MODEL = "transformer"  # the check runs on the default transformer, not the MLP
HINT = ("W_E = model.embed.W_E[:n_letters] (letters, d); attn = model.blocks[0].attn; W_U = model.unembed.W_U[:, "
        ":n_letters] (d, letters). Return W_E @ attn.W_V[head] @ attn.W_O[head] @ W_U, in that order: d -> d_head "
        "-> d -> logits.")


def ov_letters(model, n_letters, head):
    """The OV circuit of head `head` of the transformer `model`, letters to letters, from its weights.

    The letters are token ids 0 .. n_letters-1; <eos> is the last id, n_letters. The weights: model.embed.W_E (V, d),
    model.blocks[0].attn.W_V (heads, d, d_head) and W_O (heads, d_head, d), model.unembed.W_U (d, V). Returns
    (n_letters, n_letters): row = the letter attended to, column = the letter whose logit it moves.
    """
    raise NotImplementedError


def check(student_fn, run):
    """Compare with attention.circuits.ov_circuit's "ov" (W_E W_V W_O W_U over every token, in float64), its letter
    block, for every head."""
    n_letters = len(run.vocab.letters)
    circuit = torch.tensor(ov_circuit(run.model)["ov"], dtype=torch.float64)  # (H, V, V)
    attn = run.model.blocks[0].attn
    weight = lambda tensor: tensor.detach().cpu().double()
    embed, unembed = weight(run.model.embed.W_E)[:n_letters], weight(run.model.unembed.W_U)[:, :n_letters]
    n_tokens = len(circuit[0])
    for head in range(len(circuit)):
        expected = circuit[head, :n_letters, :n_letters]  # (letters, letters)
        ov = torch.as_tensor(student_fn(run.model, n_letters, head)).detach().cpu().double()
        if ov.shape != expected.shape:
            raise Wrong(f"head {head}: {_shape_mistake(tuple(ov.shape), n_letters, n_tokens)}")
        close = lambda matrix: torch.allclose(ov, matrix, rtol=1e-4, atol=1e-3)  # float32 products: ~1e-5 apart
        if close(expected):
            continue
        values, output = weight(attn.W_V[head]), weight(attn.W_O[head])  # (d, d_head), (d_head, d)
        if close(expected.T):
            raise Wrong(f"head {head}: you have the transpose: rows are the letter attended to, columns the logit it "
                        f"moves. Start from W_E[letters] on the left and end with W_U[:, letters] on the right")
        if close(embed @ output @ values @ unembed):
            raise Wrong(f"head {head}: W_O and W_V are the wrong way round (both are "
                        f"{tuple(values.shape)} here, so the shapes do not tell): W_V reads the value from "
                        f"the residual stream, d -> d_head, then W_O writes it back, d_head -> d: W_E W_V W_O W_U")
        if close(embed @ values @ unembed):
            raise Wrong(f"head {head}: did you leave out W_O? The head's value (d_head) reaches the residual stream "
                        f"only through W_O (d_head -> d), and only then can W_U read it")
        if close(embed @ output @ unembed):
            raise Wrong(f"head {head}: did you leave out W_V? The head reads the attended token through W_V "
                        f"(d -> d_head) before W_O writes it back")
        offset = ov - expected  # (letters, letters)
        if not torch.allclose(offset, torch.zeros_like(offset), atol=1e-3) and \
                torch.allclose(offset, offset[:1].expand_as(offset), atol=1e-3):
            raise Wrong(f"head {head}: every row is off by the same logits, {_list(offset[0])}: did you add a "
                        f"positional embedding to W_E? The OV circuit here is the token's part alone, "
                        f"W_E[letters] W_V W_O W_U; what a position sends (W_pos W_V W_O W_U) is kept apart")
        raise Wrong(f"head {head}: your OV circuit differs from attention.circuits.ov_circuit's by up to "
                    f"{(ov - expected).abs().max().item():.2f}: W_E[letters] @ W_V[head] @ W_O[head] @ W_U[:, letters]")


def _shape_mistake(shape, n_letters, n_tokens):
    if shape == (n_letters, n_tokens):
        return (f"your matrix is {shape}, a column for every token, <eos> too: take W_U's letter columns only, "
                f"W_U[:, :{n_letters}], for ({n_letters}, {n_letters})")
    if shape == (n_tokens, n_letters) or shape == (n_tokens, n_tokens):
        return (f"your matrix is {shape}, a row for every token, <eos> too: take W_E's letter rows only, "
                f"W_E[:{n_letters}] (and W_U[:, :{n_letters}]), for ({n_letters}, {n_letters})")
    if len(shape) == 3:
        return (f"your matrix is {shape}, with an axis for the heads: take one head's W_V[head] and W_O[head], for "
                f"({n_letters}, {n_letters})")
    return f"your matrix is {shape}: return ({n_letters}, {n_letters}), a row per letter attended, a column per logit"


def _list(values):
    return "[" + ", ".join(f"{value:+.2f}" for value in values.tolist()) + "]"
