"""The transformer's QK and OV circuits, read from its weights alone (Elhage et al. 2021, "A Mathematical Framework
for Transformer Circuits"). No input is run: every number here is a product of parameter matrices.

The model has no MLP, no LayerNorm and no biases, so the residual stream at position p holding token t is exactly
x = W_E[t] + W_pos[p], and everything the head does is bilinear in such vectors:
    QK  the attention score of query x_q on key x_k is  x_q W_Q W_K^T x_k^T / sqrt(d_head). Put in only the
        positional halves and you get W_pos W_Q W_K^T W_pos^T / sqrt(d_head), a (T, T) matrix: where each position
        would look if the letters did not matter. The token halves add three more terms (query token x key
        position, query position x key token, token x token): how much the letters move the pattern.
    OV  what a key position sends to the output that attends to it, read as logits: x_k W_V W_O W_U. The token
        half W_E W_V W_O W_U (V, V) says which letter's logit goes up when a letter is attended to: a copying head
        has the largest entry on the diagonal. The positional half W_pos W_V W_O W_U (T, V) is what the position
        sends whatever letter is there.
    direct  the residual stream also reaches the unembedding without the head: W_E W_U and W_pos W_U.

Example, defaults, seed 42: the positional QK matrix's row for query 1 has its largest score on key 3 (its mirror),
and OV's row for "a" has its largest logit on "a": output 1 looks at input 3 and copies what it finds there.
"""

import math

import numpy as np
import torch
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import span


def mirror_keys(seq_len):
    """The key each query should read: letter query j -> key L-1-j, <eos> (query L) -> itself. (T,) list."""
    return [seq_len - 1 - j for j in range(seq_len)] + [seq_len]


def _weights(model):
    """The matrices the circuits multiply, detached, on the CPU, in float64 (sums of products stay exact enough)."""
    attn = model.blocks[0].attn
    return {name: tensor.detach().cpu().double() for name, tensor in
            (("W_E", model.embed.W_E), ("W_pos", model.pos_embed.W_pos), ("W_Q", attn.W_Q), ("W_K", attn.W_K),
             ("W_V", attn.W_V), ("W_O", attn.W_O), ("W_U", model.unembed.W_U))}


def _residuals(w):
    """Every residual vector that can occur: x[p, t] = W_E[t] + W_pos[p] (T, V, d), and which (p, t) do occur:
    letters at the letter positions, <eos> only at the last. (T, V) bool."""
    n_positions, n_tokens = len(w["W_pos"]), len(w["W_E"])
    occurs = torch.zeros(n_positions, n_tokens, dtype=torch.bool)
    occurs[:-1, :-1] = True  # letters at letter positions
    occurs[-1, -1] = True  # <eos> (the last token id) at the last position
    return w["W_pos"][:, None] + w["W_E"][None], occurs


class QKCircuit(Result):
    """What qk_circuit read from the weights; finding() says where each position looks, and whether letters can
    change that."""

    def finding(self, head=0):
        positional_is_mirror = self["positional_argmax_is_mirror"][head]
        margin, spread, worst = (np.array(self[key][head]) for key in ("positional_margin", "token_range",
                                                                       "worst_margin"))
        seq_len = len(margin) - 1
        letters = slice(0, seq_len)
        hits = sum(positional_is_mirror[letters])
        overturned = [j for j in range(seq_len) if worst[j] <= 0]
        headline = (f"Read from the weights alone, head {head + 1}'s positional QK scores rank the mirrored key first "
                    f"in {hits} of {seq_len} letter rows; with the letters in, the mirror "
                    + ("wins every letter row whatever the letters." if not overturned else
                       f"loses {len(overturned)} of them for some choice of letters."))
        numbers = {"mirror_rows": hits, "letter_rows": seq_len, "worst_margin": float(worst[letters].min()),
                   "lowest_positional_margin": float(margin[letters].min())}
        evidence = [f"  QK circuit from the weights, head {head + 1}: the positional part W_pos W_Q W_K^T W_pos^T / "
                    f"sqrt(d_head) has its largest score on the mirrored key in {hits} of {seq_len} letter rows (the "
                    f"mirror's lead over the next key: {span(margin[letters])})."]
        eos_key = self["positional_argmax"][head][seq_len]
        evidence.append(f"  Its <eos> row scores {key_name(eos_key, seq_len)} highest"
                        + (" (itself), by {:.1f}.".format(margin[seq_len]) if eos_key == seq_len else
                           f", {-margin[seq_len]:.1f} above <eos> itself."))
        evidence.append(f"  The letters move a row's scores by up to {span(spread[letters])} in the letter rows (the "
                        f"three token-dependent terms together), next to those positional margins of "
                        f"{span(margin[letters])}.")
        if not overturned:
            evidence.append(f"  With the letters in, the mirror still scores highest in every letter row for every "
                            f"choice of letters (by at least {worst[letters].min():.1f}): the positional preference "
                            f"survives them.")
        else:
            evidence.append(f"  With the letters in, some choice of letters puts another key ahead of the mirror in "
                            f"letter row(s) {', '.join(str(j + 1) for j in overturned)} (worst case "
                            f"{worst[overturned].min():+.1f}). So the positional argmax alone does not show a clean "
                            f"circuit: the token-dependent terms can overturn it, and they are what can differ between "
                            f"seeds.")
        return Finding(headline, numbers, evidence)


class OVCircuit(Result):
    """What ov_circuit read from the weights; finding() says whether the head copies, and what it sends to <eos>."""

    def finding(self, head=0):
        diagonal, off = np.array(self["diagonal"][head]), np.array(self["largest_off_diagonal"][head])
        n_letters = len(diagonal)
        hits = self["diagonal_argmax_rows"][head]
        direct = np.abs(np.array(self["direct"]))
        headline = (f"Head {head + 1}'s OV circuit, read from the weights, raises the attended letter's own logit "
                    f"most in {hits} of {n_letters} letter rows"
                    + (": it copies what it attends to." if hits == n_letters else ": not a pure copying head."))
        numbers = {"copying_rows": hits, "letters": n_letters, "smallest_diagonal": float(diagonal.min()),
                   "largest_direct": float(direct.max())}
        evidence = [f"  OV circuit from the weights, head {head + 1}: W_E W_V W_O W_U has its largest entry on the "
                    f"diagonal in {hits} of {n_letters} letter rows: attending to a letter adds {span(diagonal)} to "
                    f"its own logit; " + (
                        f"each row's diagonal entry beats that row's largest other entry by at least "
                        f"{(diagonal - off).min():.1f}, a copying matrix." if hits == n_letters else
                        f"in {n_letters - hits} rows another entry is larger, by up to {(off - diagonal).max():.1f}: "
                        f"not a pure copying matrix.")]
        smallest = diagonal.min()
        evidence.append(f"  The direct path W_E W_U (a letter's logits at its own position, without the head) is at "
                        f"most {direct.max():.1f} in size, " + (
                            f"{smallest / direct.max():.0f} times smaller than OV's smallest diagonal entry."
                            if smallest >= 2 * direct.max() else
                            f"while OV's smallest diagonal entry is {smallest:+.1f}: not small beside it."))
        push = np.array(self["value_eos_push"][head])
        seq_len = len(push) - 1
        evidence.append("  What attending to a key position does to <eos> (its logit minus the letters' mean, from "
                        "W_E W_V W_O W_U and W_pos W_V W_O W_U together, averaged over the letters there): "
                        + ", ".join(f"{key_name(k, seq_len)} {push[k]:+.1f}" for k in range(seq_len + 1)) + ".")
        return Finding(headline, numbers, evidence)


def qk_circuit(model):
    """The attention scores from the weights, positional part and token-dependent part, per head.

    Returns a QKCircuit, all lists (H heads, T positions, V tokens, the <eos> query's mirror is itself):
        "positional": (H, T, T) W_pos W_Q W_K^T W_pos^T / sqrt(d_head), row = query, column = key
        "positional_argmax": (H, T) the key each row scores highest
        "positional_argmax_is_mirror": (H, T) bools
        "positional_margin": (H, T) the mirror's score minus the best other key's (negative: another key wins)
        "token_range": (H, T) for each query row, how far the token-dependent terms (everything but the positional
                 part) spread that row's scores: max minus min over the keys and the letters that can be there,
                 for the query letter that spreads them most. Beside a margin: if it is smaller, the letters can
                 never overturn the positional preference.
        "worst_margin": (H, T) with the letters in: the mirror's score minus the best other key's, for the worst
                 choice of letters (the query's own, the mirror's, and the others'). Positive: the mirror scores
                 highest in every sequence.
        "token_terms": {"query_token_key_position": (H, V, T) W_E W_QK W_pos^T, "query_position_key_token":
                 (H, T, V) W_pos W_QK W_E^T, "token_token": (H, V, V) W_E W_QK W_E^T},
                 with W_QK = W_Q W_K^T / sqrt(d_head)
    metrics.json keeps the mirror test, the margins and the token range; the matrices are for the figure.
    """
    w = _weights(model)
    qk = torch.einsum("hde,hfe->hdf", w["W_Q"], w["W_K"]) / math.sqrt(w["W_Q"].shape[-1])  # (H, d, d)
    pos, emb = w["W_pos"], w["W_E"]
    positional = torch.einsum("qd,hdf,kf->hqk", pos, qk, pos)  # (H, T, T)
    x, occurs = _residuals(w)
    scores = torch.einsum("qad,hdf,kbf->hqakb", x, qk, x)  # (H, T, V, T, V): query (q, a) on key (k, b)
    n_positions, n_tokens = occurs.shape
    # which (key position, key token) a query (q, a) can meet: what occurs there, and at k = q only its own token
    same = torch.eye(n_positions, dtype=torch.bool)[:, None, :, None]  # (T, 1, T, 1) k == q
    own = torch.eye(n_tokens, dtype=torch.bool)[None, :, None, :]  # (1, V, 1, V) b == a
    meets = occurs[None, None] & (~same | own) & occurs[:, :, None, None]  # (T, V, T, V)
    token_part = scores - positional[:, :, None, :, None]  # (H, T, V, T, V)
    spread = (token_part.masked_fill(~meets, -math.inf).amax((-2, -1))
              - token_part.masked_fill(~meets, math.inf).amin((-2, -1)))  # (H, T, V) per query (q, a)
    mirror = torch.tensor(mirror_keys(n_positions - 1))  # (T,)
    at_mirror = torch.zeros(n_positions, n_positions, dtype=torch.bool)
    at_mirror[torch.arange(n_positions), mirror] = True  # (T query, T key)
    mirror_meets = meets & at_mirror[:, None, :, None]
    other_meets = meets & ~at_mirror[:, None, :, None]
    lowest_mirror = scores.masked_fill(~mirror_meets, math.inf).amin((-2, -1))  # (H, T, V)
    best_other = scores.masked_fill(~other_meets, -math.inf).amax((-2, -1))  # (H, T, V)
    query_occurs = occurs[None]  # (1, T, V): only the letters that can be at the query position count
    others = positional.masked_fill(at_mirror[None], -math.inf)
    return QKCircuit(
        {"positional_argmax_is_mirror": (positional.argmax(-1) == mirror).tolist(),
         "positional_margin": (positional[:, at_mirror] - others.amax(-1)).tolist(),
         "token_range": spread.masked_fill(~query_occurs, -math.inf).amax(-1).tolist(),
         "worst_margin": (lowest_mirror - best_other).masked_fill(~query_occurs, math.inf).amin(-1).tolist()},
        {"positional": positional.tolist(), "positional_argmax": positional.argmax(-1).tolist(),
         "token_terms": {"query_token_key_position": torch.einsum("ad,hdf,kf->hak", emb, qk, pos).tolist(),
                         "query_position_key_token": torch.einsum("qd,hdf,bf->hqb", pos, qk, emb).tolist(),
                         "token_token": torch.einsum("ad,hdf,bf->hab", emb, qk, emb).tolist()}})


def ov_circuit(model):
    """What attending to each token and position sends to the logits, and the direct path beside it, per head.

    Returns an OVCircuit, all lists (H heads, T positions, V tokens; rows = what is attended to, columns = the
    logit it moves):
        "ov": (H, V, V) W_E W_V W_O W_U
        "diagonal_argmax_rows": (H,) how many letter rows have their largest entry (over all V columns, <eos>
                 too) on the diagonal: V - 1 for a head that copies every letter
        "diagonal", "largest_off_diagonal": (H, V-1) each letter row's diagonal entry, and its largest other one
        "direct": (V, V) W_E W_U: a token's own logits at its own position, not through the head
        "positional_value": (H, T, V) W_pos W_V W_O W_U: what a key position sends whatever letter is there
        "value_eos_push": (H, T) for each key position, the <eos> logit minus the letters' mean logit in what it
                 sends, averaged over the tokens that occur there: what attending there does to <eos>
    metrics.json keeps the diagonal count and the <eos> push; the matrices are for the figure and the sentences.
    """
    w = _weights(model)
    ov_unembed = torch.einsum("hde,hef,fv->hdv", w["W_V"], w["W_O"], w["W_U"])  # (H, d, V)
    ov = torch.einsum("td,hdv->htv", w["W_E"], ov_unembed)  # (H, V, V)
    n_letters = ov.shape[-1] - 1
    letter_rows = ov[:, :n_letters]  # (H, V-1, V)
    diagonal = letter_rows.diagonal(dim1=-2, dim2=-1)  # (H, V-1)
    off = letter_rows.clone()
    off[:, torch.arange(n_letters), torch.arange(n_letters)] = -math.inf
    x, occurs = _residuals(w)
    sent = torch.einsum("ptd,hdv->hptv", x, ov_unembed)  # (H, T, V, V) logits sent by token t at position p
    eos_push = sent[..., -1] - sent[..., :-1].mean(-1)  # (H, T, V)
    counts = occurs.sum(-1)  # (T,)
    return OVCircuit(
        {"diagonal_argmax_rows": (letter_rows.argmax(-1) == torch.arange(n_letters)).sum(-1).tolist(),
         "value_eos_push": ((eos_push * occurs).sum(-1) / counts).tolist()},
        {"ov": ov.tolist(), "diagonal": diagonal.tolist(), "largest_off_diagonal": off.amax(-1).tolist(),
         "direct": (w["W_E"] @ w["W_U"]).tolist(),
         "positional_value": torch.einsum("pd,hdv->hpv", w["W_pos"], ov_unembed).tolist()})


def key_name(key, seq_len):
    return "<eos>" if key == seq_len else f"input {key + 1}"


def query_labels(seq_len):
    """Row labels for query (= output) positions: each letter output names the input it copies, then <eos>."""
    return [f"{j + 1} (copies {seq_len - j})" for j in range(seq_len)] + ["<eos>"]


def key_labels(seq_len, letters=None):
    """Column labels for key (= input) positions, with the letter there when a single sequence is shown."""
    names = [str(k + 1) for k in range(seq_len)] + ["<eos>"]
    return names if letters is None else [f"{name}\n{letter}" for name, letter in zip(names, list(letters) + [""])]


def annotate(ax, values, spec, threshold):
    """Write each cell's value, in white where the colour is dark (|value| beyond the threshold) and black elsewhere."""
    for (row, col), value in np.ndenumerate(values):
        text = format(value, spec)
        ax.text(col, row, text.lstrip("-") if float(text) == 0 else text, ha="center", va="center", fontsize=7,
                color="white" if abs(value) > threshold else "black")


def plot_circuits(qk, ov, vocab, path, head=0):
    """Four matrices read from the weights: the positional QK scores (mirror = the boxed cell), OV's token part, the
    direct path, and OV's positional part. The three logit matrices share one colour scale, so their sizes compare."""
    positional = np.array(qk["positional"][head])  # (T, T)
    seq_len = len(positional) - 1
    logit_panels = [(np.array(ov["ov"][head]), "OV: W_E W_V W_O W_U\n(attended token -> logit)", vocab.tokens),
                    (np.array(ov["direct"]), "direct path: W_E W_U\n(own token -> logit, no head)", vocab.tokens),
                    (np.array(ov["positional_value"][head]), "OV positional: W_pos W_V W_O W_U\n(attended position "
                     "-> logit)", key_labels(seq_len))]
    side = 0.42 * max(seq_len + 1, len(vocab)) + 0.5  # inches per panel: room for every cell's number
    # columns, in inches: left margin, QK, its colour bar, gap, the three logit panels, their colour bar, right margin
    fig, place = row_layout([1.2, side, 0.1, 0.12, 1.45, side, 0.95, side, 0.95, side, 0.2, 0.12, 0.9],
                            [(0.7, side)], top=1.05)
    axes = [place(column) for column in (1, 5, 7, 9)]
    top = np.abs(positional).max()
    image = axes[0].imshow(positional, cmap="PuOr_r", norm=TwoSlopeNorm(0, -top, top), interpolation="nearest")
    fig.colorbar(image, cax=place(3), label="score")
    annotate(axes[0], positional, ".1f", 0.6 * top)
    for query, key in enumerate(mirror_keys(seq_len)):
        axes[0].add_patch(box_cell(query, key, "black"))
    axes[0].set_xticks(range(seq_len + 1), key_labels(seq_len), fontsize=7)
    axes[0].set_yticks(range(seq_len + 1), query_labels(seq_len), fontsize=7)
    axes[0].set_xlabel("key position", fontsize=8)
    axes[0].set_ylabel("query position (= output)", fontsize=8)
    axes[0].set_title("QK positional: W_pos W_Q W_K^T W_pos^T\n/ sqrt(d_head) (box: mirror)", fontsize=8)
    top = max(np.abs(values).max() for values, _, _ in logit_panels)
    for ax, (values, title, rows) in zip(axes[1:], logit_panels):
        image = ax.imshow(values, cmap="RdBu_r", norm=TwoSlopeNorm(0, -top, top), interpolation="nearest")
        annotate(ax, values, ".1f", 0.6 * top)
        ax.set_xticks(range(len(vocab)), vocab.tokens, fontsize=7)
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
        ax.set_xlabel("logit of", fontsize=8)
        ax.set_title(title, fontsize=8)
    axes[1].set_ylabel("attended token", fontsize=8)
    axes[2].set_ylabel("token at the output's position", fontsize=8)
    axes[3].set_ylabel("attended key position", fontsize=8)
    fig.colorbar(image, cax=place(11), label="logit (one scale for all three)")
    hits = ov["diagonal_argmax_rows"][head]
    fig.suptitle(f"Circuits from the weights, head {head + 1}. QK: where each position looks (mirror is the argmax in "
                 f"{sum(qk['positional_argmax_is_mirror'][head][:seq_len])} of {seq_len} letter rows).\nOV: what it "
                 f"copies (diagonal is the largest in {hits} of {len(vocab) - 1} letter rows). The direct path is at "
                 f"most {np.abs(logit_panels[1][0]).max():.1f} in size", fontsize=9)
    save_figure(fig, path)


def row_layout(widths, rows, top):
    """A Figure laid out in inches: columns of the given widths, left to right, and rows of (space below, height),
    bottom to top, with `top` inches above for the titles. Returns the figure and place(column, row=0), which adds
    an axes in that cell. Fixed inches keep labels readable whatever the sequence length."""
    fig_width, fig_height = sum(widths), sum(below + height for below, height in rows) + top
    fig = Figure(figsize=(fig_width, fig_height))
    lefts = np.cumsum([0] + list(widths[:-1]))
    bottoms = np.cumsum([0] + [below + height for below, height in rows[:-1]]) + [below for below, _ in rows]

    def place(column, row=0):
        return fig.add_axes([lefts[column] / fig_width, bottoms[row] / fig_height, widths[column] / fig_width,
                             rows[row][1] / fig_height])

    return fig, place


def box_cell(row, col, color):
    from matplotlib.patches import Rectangle
    return Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=color, linewidth=2)
