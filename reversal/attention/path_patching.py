"""Path patching in the transformer's head: which route through the head carries the answer that activation
patching (head_interventions.attention_patching) gives the head as a whole.

The same pairs and the same share as attention_patching: output j is measured on every sequence beside itself with
the input it copies, i = L-1-j, changed (corrupted_pairs); LD = the clean letter's logit minus the corrupted one's;
a share is the part of LD_clean - LD_corrupted, summed over the pairs, that a route carries (1 = all of it).

Two splits, both exact:
    per key    the head's output at j is  sum_k A[j, k] v[k] W_O,  and the logits are linear in it, so the head's
               share is the sum over keys k of  (A_clean[j, k] v_clean[k] - A_corrupted[j, k] v_corrupted[k]) W_O u,
               u = W_U[:, good] - W_U[:, bad]. At any key but i the value is the same in both runs (in one layer it
               reads only its own token), so its term is all pattern: attention moved onto or off an unchanged value.
               Activation patching of that value gives 0 there, by arithmetic; this term need not be 0.
    pattern    the pattern's share (the clean pattern patched in, the values left as they were) split by what the
               pattern is computed from: the query path (clean queries, corrupted keys), the key path (corrupted
               queries, clean keys), and the interaction (the rest: softmax is not additive). Only the query at i
               changes, so the query path can be nonzero only at the output that copies itself, the middle one.

Example, seed 3 (a messy circuit: output 2 puts 0.38 on its mirror, 0.60 on <eos>): at output 2 the head carries
0.918 of the answer, 0.724 through its mirror and 0.184 through the <eos> key, whose value never changes (activation
patching gives that value 0); the pattern's 0.350 is 0.377 through the query, 0.126 through the key and -0.153 of
interaction. At seed 42 (clean) every output's share goes through its mirror, and path patching adds little.

The MLP needs none of this: it has no residual stream and no attention, so every path from hidden1 to the output runs
through all of hidden2. Patching a path there is patching the layer it starts from, which reversal/mlp/patching.py
does.
"""

import numpy as np
import torch
from matplotlib.colors import TwoSlopeNorm

from .circuits import annotate, key_labels, mirror_keys, query_labels, row_layout
from .head_interventions import DIRECTIONS, PATTERN, RESULT, VALUE, attention_patching, corrupted_pairs
from ..core.common import patch_gain, patch_share
from ..core.data import add_eos
from ..core.model import device_of, run_with_cache, run_with_hooks
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import numbers

QUERY, KEY = "blocks.0.attn.hook_q", "blocks.0.attn.hook_k"  # (B, T, heads, d_head) each
PATHS = ("query", "key", "pattern")  # the pattern's share, then split: query path, key path (interaction = the rest)
NEGLIGIBLE = 0.05  # a per-key term or a path below this share of the answer is not worth a sentence
MLP_SENTENCE = ("The MLP needs no path patching: it has no residual stream, so every path from hidden1 to the output "
                "runs through all of hidden2, and patching a path there is patching the layer it starts from, which "
                "the MLP's activation patching already does.")


def path_patching(model, sequences, vocab, patching=None):
    """Split the head's share of the answer at each letter output into per-key terms, and the pattern's share into
    its query path, key path and interaction (module docstring). patching: attention_patching's result for these
    sequences, computed if None; its per-key value shares are kept beside the terms, for the contrast.

    Returns a PathPatching: {"per_key": (H, L, T) [head][output j][key k], "head": (H, L) the head's share computed
    from its output (the per-key terms sum to it), "value_patching": (H, L, T) attention_patching's denoising value
    shares, direction: {"query", "key", "pattern", "interaction": (H, L)} for "denoising" and "noising"}."""
    patching = attention_patching(model, sequences, vocab) if patching is None else patching
    seq_len, n_letters = sequences.shape[1], len(vocab.letters)
    device = device_of(model)
    W_O = model.blocks[0].attn.W_O.detach().cpu().double()  # (H, e, d)
    W_U = model.unembed.W_U.detach().cpu().double()  # (d, V)
    per_key, head_share = [], []
    paths = {direction: {path: [] for path in PATHS} for direction in DIRECTIONS}
    for j in range(seq_len):
        rows, good, bad = corrupted_pairs(sequences, j, n_letters)
        pairs = torch.arange(len(good))

        def logit_diff(logits):  # (k*P, T, V) -> (k, P), as in attention_patching
            logits = logits.cpu()[:, j].view(-1, len(good), logits.shape[-1])
            return logits[:, pairs, good] - logits[:, pairs, bad]

        runs = {}
        for name, letters in rows.items():
            tokens = add_eos(letters, vocab.eos_id).to(device)
            logits, cache = run_with_cache(model, tokens, [QUERY, KEY, VALUE, PATTERN, RESULT])
            runs[name] = {"tokens": tokens, "cache": cache, "ld": logit_diff(logits)[0]}
        clean, corrupted = (runs[name]["cache"] for name in ("clean", "corrupted"))
        n_heads = clean[PATTERN].shape[1]

        # per key: each key's route through the head, read through W_O and u onto LD at j, in float64
        u = (W_U[:, good] - W_U[:, bad]).T  # (P, d): what raises LD at j
        denominator = (runs["clean"]["ld"] - runs["corrupted"]["ld"]).double().sum()

        def routes(cache):  # (P, H, T, d): A[j, k] v[k] W_O, one route per head and key
            pattern, value = cache[PATTERN].cpu().double()[:, :, j], cache[VALUE].cpu().double()  # (P,H,T), (P,T,H,e)
            return torch.einsum("phk,pkhe,hed->phkd", pattern, value, W_O)

        gained = routes(clean) - routes(corrupted)  # (P, H, T, d)
        per_key.append(torch.einsum("phkd,pd->hk", gained, u) / denominator)  # (H, T)
        output_gained = clean[RESULT].cpu().double()[:, j] - corrupted[RESULT].cpu().double()[:, j]  # (P, H, d)
        head_share.append(torch.einsum("phd,pd->h", output_gained, u) / denominator)  # (H,)

        # pattern paths: one batched run, blocks [query path of each head, key path of each head, whole pattern]
        for direction in DIRECTIONS:
            donor, target = ("clean", "corrupted") if direction == "denoising" else ("corrupted", "clean")
            n_blocks = len(PATHS) * n_heads

            def patch(name, block, head_axis):  # q, k (P, T, H, e): head axis 2; the pattern (P, H, T, T): axis 1
                def hook(out):
                    out = out.clone().view(n_blocks, -1, *out.shape[1:])
                    for h in range(n_heads):
                        out[block * n_heads + h].select(head_axis, h).copy_(runs[donor]["cache"][name].select(
                            head_axis, h))
                    return out.flatten(0, 1)
                return hook

            logits = run_with_hooks(model, runs[target]["tokens"].repeat(n_blocks, 1),
                                    {QUERY: patch(QUERY, 0, 2), KEY: patch(KEY, 1, 2), PATTERN: patch(PATTERN, 2, 1)})
            shares = patch_share(patch_gain(direction, logit_diff(logits), runs), runs).view(len(PATHS), n_heads)
            for path, share in zip(PATHS, shares):
                paths[direction][path].append(share)
    values = {"per_key": torch.stack(per_key, 1).tolist(), "head": torch.stack(head_share, 1).tolist(),
              "value_patching": patching["denoising"]["value"]}
    for direction, entry in paths.items():
        split = {path: torch.stack(entry[path], 1) for path in PATHS}  # (H, L) each
        split["interaction"] = split["pattern"] - split["query"] - split["key"]  # the rest: softmax is not additive
        values[direction] = {name: share.tolist() for name, share in split.items()}
    return PathPatching(values)


class PathPatching(Result):
    """What path_patching measured; finding() says which route carries the head's share, and where it is not the
    value at the mirrored key."""

    def split(self, head=0):
        """The numbers the finding and the figure read, as arrays: per_key (L, T), head (L,), value (L, T), and each
        direction's query, key, pattern, interaction (L,); plus the largest term off the mirror and where it is."""
        per_key = np.array(self["per_key"][head])
        seq_len = len(per_key)
        off = per_key.copy()
        off[np.arange(seq_len), mirror_keys(seq_len)[:seq_len]] = 0  # the terms at keys whose value is unchanged
        output, key = np.unravel_index(np.abs(off).argmax(), off.shape)
        return {"per_key": per_key, "head": np.array(self["head"][head]),
                "value": np.array(self["value_patching"][head]), "off_output": int(output), "off_key": int(key),
                **{direction: {name: np.array(share[head]) for name, share in self[direction].items()}
                   for direction in DIRECTIONS}}

    def finding(self, head=0):
        s = self.split(head)
        per_key, seq_len = s["per_key"], len(s["head"])
        eos = per_key[:, seq_len]  # (L,): the <eos> key's term at each output
        paths, k = s["denoising"], s["off_key"]
        mirror = per_key[np.arange(seq_len), mirror_keys(seq_len)[:seq_len]]  # (L,) each output's mirror term
        off_mirror = abs(per_key[s["off_output"], k]) >= NEGLIGIBLE
        # the output to tell: where a key off the mirror carries most, else where the pattern does
        j = s["off_output"] if off_mirror else int(np.abs(paths["pattern"]).argmax())
        where = "<eos> key" if k == seq_len else f"key {k + 1}"
        numbers_ = {"largest_off_mirror_term": float(per_key[s["off_output"], k]),
                    "largest_eos_term": float(eos[np.abs(eos).argmax()]), "output": j + 1,
                    "head_share": float(s["head"][j]), "mirror_term": float(mirror[j]),
                    "pattern_share": float(paths["pattern"][j]), "query_path": float(paths["query"][j]),
                    "key_path": float(paths["key"][j]), "interaction": float(paths["interaction"][j]),
                    "sum_error": float(np.abs(per_key.sum(1) - s["head"]).max())}
        pattern_split = (f"the pattern's {paths['pattern'][j]:.3f} is {paths['query'][j]:.3f} query, "
                         f"{paths['key'][j]:.3f} key, {paths['interaction'][j]:.3f} interaction.")
        if off_mirror:
            headline = (f"At output {j + 1} the head carries {s['head'][j]:.3f} of the answer: {mirror[j]:.3f} "
                        f"through its mirror, {per_key[j, k]:.3f} through the {where}, whose value never changes; "
                        + pattern_split)
        elif abs(paths["pattern"][j]) >= NEGLIGIBLE:
            headline = (f"At output {j + 1} the head's {s['head'][j]:.3f} of the answer goes through its mirrored "
                        f"key ({mirror[j]:.3f}), every other key's term under {NEGLIGIBLE}; " + pattern_split)
        else:
            headline = (f"Path patching adds little here: each output's mirrored key carries {numbers(mirror, 3)} of "
                        f"the head's {numbers(s['head'], 3)}; any other key's term, <eos> included, is at most "
                        f"{abs(per_key[s['off_output'], k]):.3f}, the pattern's share at most "
                        f"{np.abs(paths['pattern']).max():.3f}.")
        evidence = [f"  Path patching, head {head + 1}, the head's share at each output split by key (A[j,k] v[k] W_O "
                    f"read onto the logit difference; keys {', '.join(key_labels(seq_len))}; the terms sum to the "
                    f"head's share within {numbers_['sum_error']:.0e}):"]
        for output in range(seq_len):
            evidence.append(f"  output {output + 1}: {numbers(per_key[output], 3)}, sum {s['head'][output]:.3f}; "
                            f"activation patching of each value: {numbers(s['value'][output], 3)}")
        evidence.append(f"  The pattern's share at outputs 1 to {seq_len}: {numbers(paths['pattern'], 3)}; through the "
                        f"query {numbers(paths['query'], 3)}, through the key {numbers(paths['key'], 3)}, interaction "
                        f"{numbers(paths['interaction'], 3)} (denoising: clean queries or keys into the corrupted "
                        f"run).")
        if np.abs(eos).max() >= NEGLIGIBLE:
            at = int(np.abs(eos).argmax())
            evidence.append(f"  The <eos> key's term at output {at + 1} is {eos[at]:.3f}: the corrupted letter moves "
                            f"how much output {at + 1} attends to <eos>, whose value is the same in both runs, and "
                            f"that moves the logit; activation patching of <eos>'s value reports "
                            f"{s['value'][at, seq_len]:.3f} there.")
        else:
            evidence.append(f"  The <eos> key's term is at most {np.abs(eos).max():.3f} at any output: negligible "
                            f"here.")
        noising = s["noising"]
        if all(np.allclose(noising[name], paths[name], atol=1e-4) for name in noising):
            evidence.append("  Noising (corrupted queries or keys into the clean run) gives the same split: every "
                            "corrupted sequence is also a clean one, so each pair is run both ways round.")
        else:
            evidence.append(f"  Noising (corrupted into clean): pattern {numbers(noising['pattern'], 3)}, query "
                            f"{numbers(noising['query'], 3)}, key {numbers(noising['key'], 3)}.")
        caveats = ["  A key's term other than the mirror's is pattern alone (its value reads only its own token, the "
                   "same in both runs); the mirror's mixes what its value and its attention changed. The query path "
                   "can be nonzero only at the output that copies itself: only the corrupted position's query "
                   "changes.",
                   f"  {MLP_SENTENCE}"]
        return Finding(headline, numbers_, evidence, caveats)


def plot_path_patching(result, path, head=0, model_name=""):
    """Left: the head's share at each output (rows) split by key (columns), then their sum. Middle: activation
    patching of each key's value, for the contrast. Right: the pattern's share split into query path, key path and
    interaction. result: a PathPatching; model_name, e.g. "seed 43", heads the title where two are compared."""
    s = result.split(head)
    seq_len = len(s["head"])
    terms = np.concatenate([s["per_key"], s["head"][:, None]], axis=1)  # (L, T + 1)
    paths = s["denoising"]
    split = np.stack([paths[name] for name in ("query", "key", "interaction", "pattern")], axis=1)  # (L, 4)
    panels = [(terms, [*key_labels(seq_len), "sum =\nhead"], "per-key terms\nA[j,k] v[k], path patching"),
              (s["value"], key_labels(seq_len), "each key's value patched\n(activation patching)"),
              (split, ["query", "key", "inter-\naction", "sum =\npattern"], "the pattern's share\nby path")]
    cell = 0.75
    widths = [1.9]
    for values, _, _ in panels:
        widths += [cell * values.shape[1], 0.35]
    widths[-1] = 0.25
    widths += [0.15, 1.4]
    fig, place = row_layout(widths, [(1.0, max(cell * seq_len, 1.6))], top=1.0)
    top = max(1.0, max(np.abs(values).max() for values, _, _ in panels))
    for n, (values, columns, title) in enumerate(panels):
        ax = place(1 + 2 * n)
        image = ax.imshow(values, cmap="RdBu_r", norm=TwoSlopeNorm(0, -top, top), aspect="auto",
                          interpolation="nearest")
        annotate(ax, values, ".2f", 0.6 * top, fontsize=9)
        ax.set_xticks(range(len(columns)), columns, fontsize=9)
        ax.set_yticks(range(seq_len), query_labels(seq_len)[:seq_len] if n == 0 else [], fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("path" if n == 2 else "key (input position)", fontsize=9)
        if n != 1:  # the sum column apart from the terms it adds up
            ax.axvline(values.shape[1] - 1.5, color="black", linewidth=1.5)
    fig.axes[0].set_ylabel("output measured\n(its mirrored input corrupted)", fontsize=9)
    colorbar = fig.colorbar(image, cax=place(len(widths) - 2))
    colorbar.set_label("share of the clean answer", fontsize=9)
    colorbar.ax.tick_params(labelsize=9)
    name = f" ({model_name})" if model_name else ""
    fig.suptitle(f"Path patching{name}, head {head + 1}: the head's share split by key; activation patching gives 0 "
                 "to any key\nwhose value does not change, path patching shows what attention moved there", fontsize=10)
    save_figure(fig, path)
