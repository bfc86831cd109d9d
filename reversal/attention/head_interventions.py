"""Interventions on the transformer's attention head: switch it off (ablation), replace its pattern, and patch
its values, pattern or output between a clean and a corrupted run.

Example, defaults, seed 42: zeroing the head leaves the letter outputs only the direct path W_E W_U, and sequence
accuracy falls to chance; forcing the exact anti-diagonal pattern keeps every sequence right. Each intervention is a
hook on a TransformerLens-named hook point (PATTERN, VALUE, RESULT below) that returns the replacement.
"""

import numpy as np
import torch
from matplotlib.colors import TwoSlopeNorm

from ..mlp.ablation import RESAMPLES, output_metrics
from .circuits import annotate, key_labels, mirror_keys, query_labels, row_layout
from ..core.common import corruptions, patch_gain, patch_share
from ..core.data import add_eos, make_targets
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import chance_precise, numbers, span
from ..core.model import device_of, run_with_cache, run_with_hooks

PATTERN, VALUE, RESULT = "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_v", "blocks.0.attn.hook_result"
KINDS = ("zero", "mean", "resample")
REPLACEMENTS = ("antidiagonal", "uniform", "resampled")
DIRECTIONS = ("denoising", "noising")


def _evaluate(logits, targets, seq_len):
    """Accuracy, loss and logit difference per letter output (ablation.output_metrics), whole-sequence accuracy
    and the <eos> output's accuracy. logits (N, T, V), targets (N, T)."""
    accuracy, loss, logit_diff = output_metrics(logits, targets, seq_len)
    predicted = logits.argmax(-1).cpu()
    return {"accuracy": accuracy.tolist(), "loss": loss.tolist(), "logit_diff": logit_diff.tolist(),
            "sequence_accuracy": (predicted == targets).all(1).float().mean().item(),
            "eos_accuracy": (predicted[:, seq_len] == targets[:, seq_len]).float().mean().item()}


def head_ablation(model, sequences, vocab, reference, seed, resamples=RESAMPLES):
    """Switch each head off in three ways at hook_result (B, T, heads, d), its output before the heads are summed:
    zero; mean (its mean output at each position over the reference sequences); resample (its output on another
    reference sequence, `resamples` draws). Returns {"baseline": metrics, "chance_sequence_accuracy",
    "heads": [{kind: metrics}] one dict per head}, metrics as _evaluate gives them."""
    seq_len, n = sequences.shape[1], len(sequences)
    device = device_of(model)
    tokens = add_eos(sequences, vocab.eos_id).to(device)  # (N, T)
    targets = make_targets(sequences, vocab.eos_id)  # (N, T)
    _, cache = run_with_cache(model, add_eos(reference, vocab.eos_id).to(device), [RESULT])
    reference_result = cache[RESULT]  # (R, T, H, d)
    donors = torch.randint(len(reference), (resamples * n,), generator=torch.Generator().manual_seed(seed))
    result = {"baseline": _evaluate(run_with_hooks(model, tokens, {}), targets, seq_len),
              "chance_sequence_accuracy": 1 / len(vocab.letters) ** seq_len, "heads": []}
    for head in range(reference_result.shape[2]):
        stand_ins = {"zero": torch.zeros_like(reference_result[:1, :, head]),  # (1, T, d), broadcast over rows
                     "mean": reference_result[:, :, head].mean(0, keepdim=True),  # (1, T, d)
                     "resample": reference_result[donors.to(device), :, head]}  # (resamples*N, T, d)
        entry = {}
        for kind, values in stand_ins.items():
            copies = 1 if len(values) == 1 else resamples

            def ablate(out, values=values, head=head):
                out = out.clone()
                out[:, :, head] = values
                return out

            logits = run_with_hooks(model, tokens.repeat(copies, 1), {RESULT: ablate})
            entry[kind] = _evaluate(logits, targets.repeat(copies, 1), seq_len)
        result["heads"].append(entry)
    return result


def pattern_replacement(model, sequences, vocab, seed):
    """Replace every head's pattern at hook_pattern, and measure. Three replacements:
        antidiagonal  exactly the clean circuit: letter query j on key L-1-j, <eos> on itself, weight 1
        uniform       the control: every query spreads evenly over every key, so no routing is left
        resampled     each sequence gets another sequence's pattern: does the pattern depend on the letters?
    Returns {"baseline": metrics, replacement: metrics}, metrics as _evaluate gives them."""
    seq_len = sequences.shape[1]
    n_positions, device = seq_len + 1, device_of(model)
    tokens = add_eos(sequences, vocab.eos_id).to(device)
    targets = make_targets(sequences, vocab.eos_id)
    _, cache = run_with_cache(model, tokens, [PATTERN])
    own = cache[PATTERN]  # (N, H, T, T)
    offsets = torch.randint(1, max(len(sequences), 2), (len(sequences),), generator=torch.Generator().manual_seed(seed))
    donors = (torch.arange(len(sequences)) + offsets) % len(sequences)  # never the sequence itself (when N > 1)
    exact = torch.zeros(n_positions, n_positions, device=device)
    exact[torch.arange(n_positions), torch.tensor(mirror_keys(seq_len))] = 1
    stand_ins = {"antidiagonal": exact.expand_as(own), "resampled": own[donors.to(device)],
                 "uniform": torch.full_like(own, 1 / n_positions)}
    result = {"baseline": _evaluate(run_with_hooks(model, tokens, {}), targets, seq_len)}
    for kind in REPLACEMENTS:
        logits = run_with_hooks(model, tokens, {PATTERN: lambda out, new=stand_ins[kind]: new})
        result[kind] = _evaluate(logits, targets, seq_len)
    return result


def corrupted_pairs(sequences, j, n_letters):
    """The pairs output j is measured on: each sequence (clean) beside itself with the input that output j copies,
    i = L-1-j, changed to each other letter (corrupted). Returns {"clean", "corrupted"}, ((V-1)*N, L) each, and
    good, bad (P,): the clean letter at i and its replacement. LD at output j = logit[good] - logit[bad]."""
    i = len(sequences[0]) - 1 - j
    rows = {"clean": sequences.repeat(n_letters - 1, 1), "corrupted": corruptions(sequences, i, n_letters)}
    return rows, rows["clean"][:, i], rows["corrupted"][:, i]


def attention_patching(model, sequences, vocab):
    """Corrupt the input that output j copies (every other letter, every sequence), and patch per head:
    the value (hook_v) at one key position, the whole pattern (hook_pattern), or the head's whole output
    (hook_result). Measured by LD at output j: the clean letter's logit minus the corrupted letter's.
    Shares as in reversal/mlp/patching.py: 1 = the patched part carries all of LD_clean - LD_corrupted.

    Returns {direction: {"value": (H, L, T) [head][output j][key k], "pattern": (H, L), "head": (H, L)}}, direction
    "denoising" (clean part into the corrupted run: sufficiency) or "noising" (corrupted into clean: necessity).
    In a single layer the value at key k depends only on the token at k, so only the corrupted key can matter.
    """
    seq_len, n_letters = sequences.shape[1], len(vocab.letters)
    n_positions, device = seq_len + 1, device_of(model)
    result = {direction: {"value": [], "pattern": [], "head": []} for direction in DIRECTIONS}
    for j in range(seq_len):
        rows, good, bad = corrupted_pairs(sequences, j, n_letters)
        pairs = torch.arange(len(good))

        def logit_diff(logits):  # (k*P, T, V) -> (k, P)
            logits = logits.cpu()[:, j].view(-1, len(good), logits.shape[-1])
            return logits[:, pairs, good] - logits[:, pairs, bad]

        runs = {}
        for name, letters in rows.items():
            tokens = add_eos(letters, vocab.eos_id).to(device)
            logits, cache = run_with_cache(model, tokens, [VALUE, PATTERN, RESULT])
            runs[name] = {"tokens": tokens, "cache": cache, "ld": logit_diff(logits)[0]}
        n_heads = runs["clean"]["cache"][PATTERN].shape[1]
        # blocks of the batch: (head h, key k) patches v at k in head h; then each head's pattern; then each head
        n_blocks = n_heads * n_positions + 2 * n_heads
        for direction in DIRECTIONS:
            target, source = ("corrupted", "clean") if direction == "denoising" else ("clean", "corrupted")
            donor = runs[source]["cache"]

            def patch_value(out):  # (blocks*P, T, H, d_head)
                out = out.clone().view(n_blocks, -1, *out.shape[1:])
                for h in range(n_heads):
                    for k in range(n_positions):
                        out[h * n_positions + k, :, k, h] = donor[VALUE][:, k, h]
                return out.flatten(0, 1)

            def patch_head(name, offset, head_axis):  # the pattern (P, H, T, T): axis 1, or the result (P, T, H, d): 2
                def patch(out):
                    out = out.clone().view(n_blocks, -1, *out.shape[1:])
                    for h in range(n_heads):
                        out[offset + h].select(head_axis, h).copy_(donor[name].select(head_axis, h))
                    return out.flatten(0, 1)
                return patch

            logits = run_with_hooks(model, runs[target]["tokens"].repeat(n_blocks, 1),
                                    {VALUE: patch_value, PATTERN: patch_head(PATTERN, n_heads * n_positions, 1),
                                     RESULT: patch_head(RESULT, n_heads * n_positions + n_heads, 2)})
            shares = patch_share(patch_gain(direction, logit_diff(logits), runs), runs)  # (blocks,)
            result[direction]["value"].append(shares[: n_heads * n_positions].view(n_heads, n_positions))
            result[direction]["pattern"].append(shares[n_heads * n_positions: -n_heads])
            result[direction]["head"].append(shares[-n_heads:])
    for entry in result.values():
        entry["value"] = torch.stack(entry["value"], 1).tolist()  # (H, L, T)
        entry["pattern"] = torch.stack(entry["pattern"], 1).tolist()  # (H, L)
        entry["head"] = torch.stack(entry["head"], 1).tolist()  # (H, L)
    return result


def _percent(fraction):
    return f"{fraction:.0%}"


class HeadInterventions(Result):
    """The head switched off (head_ablation), its pattern replaced (pattern_replacement) and its parts patched
    (attention_patching), under "ablation", "replacement" and "patching"; finding() says what each did."""

    def finding(self, head=0):
        ablation, replacement, patching = self["ablation"], self["replacement"], self["patching"]
        base = ablation["baseline"]
        seq_len = len(base["loss"])
        anti, uniform, resampled = (replacement[kind] for kind in REPLACEMENTS)
        zeroed = ablation["heads"][head]["zero"]["sequence_accuracy"]
        headline = (f"Zeroing head {head + 1} leaves {zeroed:.1%} of sequences right ({base['sequence_accuracy']:.0%} "
                    f"untouched, chance {chance_precise(ablation['chance_sequence_accuracy'])}); forcing the exact "
                    f"anti-diagonal pattern leaves {anti['sequence_accuracy']:.0%}, a uniform one "
                    f"{uniform['sequence_accuracy']:.0%}.")
        carried = {"untouched": base["sequence_accuracy"], "head_zeroed": zeroed,
                   "antidiagonal_forced": anti["sequence_accuracy"], "uniform_forced": uniform["sequence_accuracy"]}
        lines = [f"  Interventions on head {head + 1} ({base['sequence_accuracy']:.0%} of sequences right untouched, "
                 f"cross-entropy {np.mean(base['loss']):.1e} over the letter outputs, mean logit difference "
                 f"{span(base['logit_diff'])}):"]
        for kind, meaning in (("zero", "its output set to 0"), ("mean", "its mean output at each position"),
                              ("resample", "its output on another training sequence")):
            entry = ablation["heads"][head][kind]
            lines.append(f"  ablated, {kind} ({meaning}): {entry['sequence_accuracy']:.1%} of sequences right (chance "
                         f"{chance_precise(ablation['chance_sequence_accuracy'])}), letter outputs right "
                         f"{' '.join(_percent(a) for a in entry['accuracy'])}, cross-entropy "
                         f"{np.mean(entry['loss']):.2f}, mean logit difference {span(entry['logit_diff'])}.")
        if seq_len % 2:
            middle = seq_len // 2
            zero = ablation["heads"][head]["zero"]
            lines.append(f"  With the head zeroed, output {middle + 1} (the middle, its own mirror) is still right in "
                         f"{zero['accuracy'][middle]:.0%} of sequences: only the direct path (W_E + W_pos) W_U from "
                         f"its own residual stream is left, with a mean logit difference of "
                         f"{zero['logit_diff'][middle]:+.2f} (with the head: {base['logit_diff'][middle]:.1f}); every "
                         f"other letter output has lost its only route to its input.")
        lines.append(f"  Pattern replaced by the exact anti-diagonal (letters on their mirror, <eos> on itself): "
                     f"{anti['sequence_accuracy']:.0%} of sequences right, cross-entropy {np.mean(anti['loss']):.1e}, "
                     f"mean logit difference {span(anti['logit_diff'])}. Control, a uniform pattern: "
                     f"{uniform['sequence_accuracy']:.0%} of sequences right (letter outputs "
                     f"{' '.join(_percent(a) for a in uniform['accuracy'])}: every output then reads the same mix of "
                     f"all letters), cross-entropy {np.mean(uniform['loss']):.2f}. Another sequence's pattern: "
                     f"{resampled['sequence_accuracy']:.0%} right, cross-entropy {np.mean(resampled['loss']):.1e}.")
        if anti["sequence_accuracy"] == replacement["baseline"]["sequence_accuracy"] == 0:
            lines.append("  So neither pattern gets any sequence right: this model has no working circuit to read.")
        elif anti["sequence_accuracy"] >= replacement["baseline"]["sequence_accuracy"]:
            lines.append("  So the pattern this head needs is the anti-diagonal itself: given exactly that, the rest "
                         "of the model reverses every sequence it reversed before.")
        else:
            lines.append("  So the exact anti-diagonal does not do this model's job: its values were learned for the "
                         "pattern it actually has (see the circuit verdict below).")
        for direction in DIRECTIONS:
            entry = patching[direction]
            value = np.array(entry["value"][head])  # (L, T)
            mirror = value[np.arange(seq_len), mirror_keys(seq_len)[:seq_len]]
            others = np.abs(np.delete(value, mirror_keys(seq_len)[:seq_len] + np.arange(seq_len) * (seq_len + 1)))
            lines.append(f"  Patching, {direction}, corrupting the input each output copies: the value (hook_v) at "
                         f"that input's key carries {numbers(mirror)} of the answer at outputs 1 to "
                         f"{seq_len}, the value at any other key {others.max():.2f}, the pattern "
                         f"{numbers(entry['pattern'][head])}, the whole head {numbers(entry['head'][head])}.")
        # what the patching can and cannot show, beside its numbers (they read wrong without it)
        lines.append("  In one layer the value at a key depends only on the token there, so the other keys' values "
                     "cannot change: their 0 is arithmetic. What the patching measures is the split between what is "
                     "moved (the value: OV) and where it is moved from (the pattern: QK); where the whole head is "
                     "below 1, the rest goes through the residual stream (the direct path).")
        if np.allclose(patching["denoising"]["value"], patching["noising"]["value"], atol=1e-4):
            lines.append("  Noising and denoising agree here because every corrupted sequence is also a clean one, "
                         "so each pair is run both ways round (as in the MLP's patching).")
        return Finding(headline, carried, lines)


def plot_interventions(interventions, path, head=0):
    """Left: sequence accuracy and cross-entropy under each intervention on the head. Right: patching shares, rows =
    output measured (its mirrored input corrupted), columns = the value at each key, then the pattern, the whole
    head. interventions: a HeadInterventions."""
    ablation, replacement, patching = (interventions[name] for name in ("ablation", "replacement", "patching"))
    runs = [("untouched", ablation["baseline"])]
    runs += [(f"head {kind}-ablated", ablation["heads"][head][kind]) for kind in KINDS]
    runs += [(f"pattern: {kind}", replacement[kind]) for kind in REPLACEMENTS]
    seq_len = len(ablation["baseline"]["loss"])
    shares = {direction: np.concatenate([np.array(patching[direction]["value"][head]),
                                         np.array(patching[direction]["pattern"][head])[:, None],
                                         np.array(patching[direction]["head"][head])[:, None]], axis=1)
              for direction in DIRECTIONS}  # (L, T + 2)
    cell = 0.5
    heat_width, heat_height = cell * (seq_len + 3), max(cell * seq_len, 1.5)
    bar_height = max(0.28 * len(runs), heat_height)
    fig, place = row_layout([1.7, 1.8, 0.3, 1.8, 1.3, heat_width, 0.3, heat_width, 0.25, 0.12, 1.2],
                            [(1.0, bar_height)], top=1.0)
    names = [name for name, _ in runs]
    positions = np.arange(len(runs))[::-1]
    accuracy_ax, loss_ax = place(1), place(3)
    accuracy_ax.barh(positions, [100 * run["sequence_accuracy"] for _, run in runs], color="tab:blue")
    accuracy_ax.axvline(100 * ablation["chance_sequence_accuracy"], color="grey", linestyle=":")
    accuracy_ax.set_xlim(0, 135)
    accuracy_ax.set_xticks([0, 25, 50, 75, 100])
    accuracy_ax.set_yticks(positions, names, fontsize=8)
    accuracy_ax.set_xlabel("sequences right (%)\n(dotted: chance)", fontsize=8)
    losses = [np.mean(run["loss"]) for _, run in runs]
    floor = min([loss for loss in losses if loss > 0] + [1e-6]) / 10  # a loss of 0 cannot go on a log scale
    losses = [max(loss, floor) for loss in losses]
    loss_ax.barh(positions, losses, color="tab:orange")
    loss_ax.set_xscale("log")
    loss_ax.set_xlim(min(losses) / 3, max(losses) * 300)  # room for the numbers right of the bars
    for y, (_, run), loss in zip(positions, runs, losses):  # the numbers, so a bar of 0 still says so
        accuracy_ax.text(100 * run["sequence_accuracy"] + 2, y, f"{run['sequence_accuracy']:.0%}", va="center",
                         fontsize=7)
        loss_ax.text(loss * 1.3, y, f"{np.mean(run['loss']):.1e}", va="center", fontsize=7)
    loss_ax.set_yticks(positions, [])
    loss_ax.set_xlabel("cross-entropy, letter outputs\n(log scale)", fontsize=8)
    for ax in (accuracy_ax, loss_ax):
        ax.tick_params(axis="x", labelsize=7)
    top = max(1.0, max(np.abs(values).max() for values in shares.values()))
    columns = [f"v {label}" for label in key_labels(seq_len)] + ["pattern", "whole\nhead"]
    for n, direction in enumerate(DIRECTIONS):
        ax = place(5 + 2 * n)
        image = ax.imshow(shares[direction], cmap="RdBu_r", norm=TwoSlopeNorm(0, -top, top), aspect="auto",
                          interpolation="nearest")
        annotate(ax, shares[direction], ".2f", 0.6 * top)
        ax.set_xticks(range(seq_len + 3), columns, fontsize=7, rotation=90)
        ax.set_yticks(range(seq_len), query_labels(seq_len)[:seq_len] if n == 0 else [], fontsize=7)
        ax.set_title(f"patching, {direction}\n" + ("clean into corrupted" if direction == "denoising" else
                                                    "corrupted into clean"), fontsize=8)
    fig.axes[2].set_ylabel("output measured\n(its mirrored input corrupted)", fontsize=8)
    fig.colorbar(image, cax=place(9), label="share of the clean answer")
    fig.suptitle(f"Interventions on head {head + 1}: switched off, or its pattern replaced (left); its value at one "
                 "key, its pattern or all of it\npatched between a clean and a corrupted run (right). In one layer "
                 "only the corrupted key's value can differ", fontsize=9)
    save_figure(fig, path)

