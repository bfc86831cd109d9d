"""The transformer's own experiments: its attention pattern, interventions on the head, and whether its circuit is
the clean one. The circuits read from the weights are in reversal/circuits.py.

Example, defaults, seed 42: in "abc <eos>", the query at output 1 puts nearly all its attention on key 3 ("c"), and
the head's OV circuit copies "c" into output 1's logits: output 1 says "c". Attention patterns are read with the
hook blocks.0.attn.hook_pattern, (B, heads, query, key), rows summing to 1.

Convention in every figure here: rows = query = output position (each letter output names the input it copies),
columns = key = input position; the mirror, where a clean reversal puts its attention, is boxed.

"Clean" means every letter query puts at least CLEAN_MASS of its mean attention on its mirrored key. It is a
property of one trained model, not of the design: the same accuracy can come from a different circuit.
"""

import numpy as np
import torch
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from .ablation import RESAMPLES, _chance, output_metrics
from .circuits import (_box, _key_name, _span, annotate, key_labels, mirror_keys, ov_circuit, qk_circuit,
                       query_labels, row_layout)
from .common import analysis_sequences, corruptions
from .data import add_eos, make_targets
from .files import save_figure
from .model import run_with_cache, run_with_hooks
from .patching import _gain, _share

PATTERN, VALUE, RESULT = "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_v", "blocks.0.attn.hook_result"
CLEAN_MASS = 0.9  # the definition of a clean circuit: each letter row puts at least this on its mirror
KINDS = ("zero", "mean", "resample")
REPLACEMENTS = ("antidiagonal", "uniform", "resampled")
DIRECTIONS = ("denoising", "noising")


def _device(model):
    return next(model.parameters()).device


def example_sequences(cfg, count=3):
    """A few single sequences to show: the test input, its reverse, and one letter repeated (where only position,
    not letters, can tell the keys apart). Duplicates dropped, e.g. ["abc", "cba", "aaa"]."""
    candidates = [cfg.input, cfg.input[::-1], cfg.vocab[0] * cfg.seq_len, cfg.vocab[-1] * cfg.seq_len]
    return list(dict.fromkeys(candidates))[:count]


def attention_patterns(model, sequences, vocab, examples=()):
    """The attention pattern averaged over the sequences, and for a few single ones. Returns, as lists:
        "mean_pattern": (H, T, T) row = query, column = key
        "antidiagonal_mass": (H, L) each letter query's mean attention on its mirrored key
        "lowest_antidiagonal_mass": (H, L) the same, in the sequence where it is lowest
        "eos_row": (H, T) the <eos> query's mean attention on each key
        "examples": {letters: (H, T, T)} for each of `examples`
        "n_sequences": N
    """
    seq_len = sequences.shape[1]
    device = _device(model)
    _, cache = run_with_cache(model, add_eos(sequences, vocab.eos_id).to(device), [PATTERN])
    pattern = cache[PATTERN].cpu()  # (N, H, T, T)
    letters = torch.arange(seq_len)
    on_mirror = pattern[:, :, letters, torch.tensor(mirror_keys(seq_len))[:seq_len]]  # (N, H, L)
    mean = pattern.mean(0)  # (H, T, T)
    result = {"mean_pattern": mean.tolist(), "antidiagonal_mass": on_mirror.mean(0).tolist(),
              "lowest_antidiagonal_mass": on_mirror.amin(0).tolist(), "eos_row": mean[:, seq_len].tolist(),
              "examples": {}, "n_sequences": len(sequences)}
    if examples:
        tokens = add_eos(torch.tensor([vocab.encode(text) for text in examples]), vocab.eos_id).to(device)
        _, cache = run_with_cache(model, tokens, [PATTERN])
        result["examples"] = {text: cache[PATTERN][n].cpu().tolist() for n, text in enumerate(examples)}
    return result


def explain_patterns(patterns, head=0):
    """Anti-diagonal mass per letter position, the middle position's exception, and where <eos> looks."""
    mass, lowest = np.array(patterns["antidiagonal_mass"][head]), np.array(patterns["lowest_antidiagonal_mass"][head])
    seq_len = len(mass)
    lines = [f"Attention, head {head + 1}, averaged over {patterns['n_sequences']} sequences: each letter output's "
             f"query puts this much of its attention on its mirrored input (the anti-diagonal): "
             + ", ".join(f"output {j + 1} on input {seq_len - j}: {m:.3f}" for j, m in enumerate(mass))
             + f". In single sequences at least {lowest.min():.3f}."]
    if seq_len % 2:
        middle = seq_len // 2
        lines.append(f"  The middle position {middle + 1} is its own mirror: reversing leaves its letter in place, so "
                     f"its anti-diagonal cell is attention to itself ({mass[middle]:.3f}); it is the only letter "
                     f"output whose letter is also in its own residual stream, without any attention.")
    eos = np.array(patterns["eos_row"][head])
    top = int(eos.argmax())
    lines.append(f"  <eos> (query {seq_len + 1}) puts {eos[seq_len]:.3f} of its attention on itself"
                 + ("." if top == seq_len else f" and most, {eos[top]:.3f}, on {_key_name(top, seq_len)}.")
                 + " Its answer is always <eos>, so training needs only that what it reads says <eos>: no key is "
                   "forced on it.")
    return lines


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
    device = _device(model)
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
    n_positions, device = seq_len + 1, _device(model)
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


def attention_patching(model, sequences, vocab):
    """Corrupt the input that output j copies (every other letter, every sequence), and patch per head:
    the value (hook_v) at one key position, the whole pattern (hook_pattern), or the head's whole output
    (hook_result). Measured by LD at output j: the clean letter's logit minus the corrupted letter's.
    Shares as in reversal/patching.py: 1 = the patched part carries all of LD_clean - LD_corrupted.

    Returns {direction: {"value": (H, L, T) [head][output j][key k], "pattern": (H, L), "head": (H, L)}}, direction
    "denoising" (clean part into the corrupted run: sufficiency) or "noising" (corrupted into clean: necessity).
    In a single layer the value at key k depends only on the token at k, so only the corrupted key can matter.
    """
    seq_len, n_letters = sequences.shape[1], len(vocab.letters)
    n_positions, device = seq_len + 1, _device(model)
    result = {direction: {"value": [], "pattern": [], "head": []} for direction in DIRECTIONS}
    for j in range(seq_len):
        i = seq_len - 1 - j  # the input output j copies: corrupt it
        rows = {"clean": sequences.repeat(n_letters - 1, 1), "corrupted": corruptions(sequences, i, n_letters)}
        good, bad = rows["clean"][:, i], rows["corrupted"][:, i]  # (P,) the clean letter and its replacement
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
            shares = _share(_gain(direction, logit_diff(logits), runs), runs)  # (blocks,)
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


def explain_interventions(ablation, replacement, patching, head=0):
    """Head ablation, the pattern replaced, and patching, each with accuracy and a continuous measure."""
    base = ablation["baseline"]
    seq_len = len(base["loss"])
    lines = [f"Interventions on head {head + 1} ({ablation['baseline']['sequence_accuracy']:.0%} of sequences right "
             f"untouched, cross-entropy {np.mean(base['loss']):.1e} over the letter outputs, mean logit difference "
             f"{_span(base['logit_diff'])}):"]
    for kind, meaning in (("zero", "its output set to 0"), ("mean", "its mean output at each position"),
                          ("resample", "its output on another training sequence")):
        entry = ablation["heads"][head][kind]
        lines.append(f"  ablated, {kind} ({meaning}): {entry['sequence_accuracy']:.1%} of sequences right (chance "
                     f"{_chance(ablation['chance_sequence_accuracy'])}), letter outputs right "
                     f"{' '.join(_percent(a) for a in entry['accuracy'])}, cross-entropy "
                     f"{np.mean(entry['loss']):.2f}, mean logit difference {_span(entry['logit_diff'])}.")
    if seq_len % 2:
        middle = seq_len // 2
        zero = ablation["heads"][head]["zero"]
        lines.append(f"  With the head zeroed, output {middle + 1} (the middle, its own mirror) is still right in "
                     f"{zero['accuracy'][middle]:.0%} of sequences: only the direct path (W_E + W_pos) W_U from its "
                     f"own residual stream is left, and it is weak (mean logit difference {zero['logit_diff'][middle]:+.2f}); every "
                     f"other letter output has lost its only route to its input.")
    anti, uniform, resampled = (replacement[kind] for kind in REPLACEMENTS)
    lines.append(f"  Pattern replaced by the exact anti-diagonal (letters on their mirror, <eos> on itself): "
                 f"{anti['sequence_accuracy']:.0%} of sequences right, cross-entropy {np.mean(anti['loss']):.1e}, "
                 f"mean logit difference {_span(anti['logit_diff'])}. Control, a uniform pattern: "
                 f"{uniform['sequence_accuracy']:.0%} of sequences right (letter outputs "
                 f"{' '.join(_percent(a) for a in uniform['accuracy'])}: every output then reads the same mix of all "
                 f"letters), cross-entropy {np.mean(uniform['loss']):.2f}. Another sequence's pattern: "
                 f"{resampled['sequence_accuracy']:.0%} right, cross-entropy {np.mean(resampled['loss']):.1e}.")
    if anti["sequence_accuracy"] >= replacement["baseline"]["sequence_accuracy"]:
        lines.append("  So the pattern this head needs is the anti-diagonal itself: given exactly that, the rest of the "
                     "model reverses every sequence it reversed before.")
    else:
        lines.append(f"  So the exact anti-diagonal does not do this model's job: its values were learned for the "
                     f"pattern it actually has (see the circuit verdict below).")
    for direction in DIRECTIONS:
        entry = patching[direction]
        value = np.array(entry["value"][head])  # (L, T)
        mirror = value[np.arange(seq_len), mirror_keys(seq_len)[:seq_len]]
        others = np.abs(np.delete(value, mirror_keys(seq_len)[:seq_len] + np.arange(seq_len) * (seq_len + 1)))
        lines.append(f"  Patching, {direction}, corrupting the input each output copies: the value (hook_v) at that "
                     f"input's key carries {' '.join(f'{v:.2f}' for v in mirror)} of the answer at outputs 1 to "
                     f"{seq_len}, the value at any other key {others.max():.2f}, the pattern "
                     f"{' '.join(f'{v:.2f}' for v in entry['pattern'][head])}, the whole head "
                     f"{' '.join(f'{v:.2f}' for v in entry['head'][head])}.")
    lines.append("  In one layer the value at a key depends only on the token there, so the other keys' values cannot "
                 "change: their 0 is arithmetic. What the patching measures is the split between what is moved (the "
                 "value: OV) and where it is moved from (the pattern: QK); where the whole head is below 1, the rest "
                 "goes through the residual stream (the direct path).")
    if np.allclose(patching["denoising"]["value"], patching["noising"]["value"], atol=1e-4):
        lines.append("  Noising and denoising agree here because every corrupted sequence is also a clean one, so each "
                     "pair is run both ways round (as in the MLP's patching).")
    return lines


def circuit_verdict(patterns, ov, replacement, head=0):
    """Is the circuit the clean one? Every letter query puts at least CLEAN_MASS of its mean attention on its mirror.

    Returns {"clean", "threshold", "head", "mirror_mass": (L,), "weak_rows": [{"output", "mirror_mass", "other_key",
    "other_mass"}] for each letter row below the threshold (other_key: where most of the rest goes), "eos_key",
    "eos_mass" (<eos>'s favourite key and its attention there), "eos_self_mass", "value_eos_push": (T,) from
    circuits.ov_circuit, "antidiagonal_accuracy", "accuracy"}."""
    mass = patterns["antidiagonal_mass"][head]
    mean = np.array(patterns["mean_pattern"][head])  # (T, T)
    seq_len = len(mass)
    weak = []
    for j, key in enumerate(mirror_keys(seq_len)[:seq_len]):
        if mass[j] < CLEAN_MASS:
            rest = mean[j].copy()
            rest[key] = -1
            weak.append({"output": j, "mirror_mass": mass[j], "other_key": int(rest.argmax()),
                         "other_mass": float(rest.max())})
    eos = mean[seq_len]
    return {"clean": not weak, "threshold": CLEAN_MASS, "head": head, "mirror_mass": mass, "weak_rows": weak,
            "eos_key": int(eos.argmax()), "eos_mass": float(eos.max()), "eos_self_mass": float(eos[seq_len]),
            "value_eos_push": ov["value_eos_push"][head],
            "antidiagonal_accuracy": replacement["antidiagonal"]["sequence_accuracy"],
            "accuracy": replacement["baseline"]["sequence_accuracy"]}


def explain_verdict(verdict):
    """Clean or not, and when not, what the model does instead, from its own numbers."""
    mass, push = verdict["mirror_mass"], verdict["value_eos_push"]
    seq_len = len(mass)
    test = f"every letter output puts at least {verdict['threshold']} of its attention on its mirrored input"
    if verdict["clean"]:
        return [f"Circuit: clean by our test ({test}; here {min(mass):.3f} at least), and <eos> puts "
                f"{verdict['eos_self_mass']:.3f} on itself. Which circuit training finds depends on the seed: this "
                f"verdict is for this one."]
    rows = ", ".join(f"output {w['output'] + 1} {w['mirror_mass']:.2f}" for w in verdict["weak_rows"])
    lines = [f"Circuit: NOT clean by our test ({test}): {rows}, though the model gets {verdict['accuracy']:.0%} of "
             f"these sequences right. Same accuracy, different circuit. What it does instead (numbers from this "
             f"seed):"]
    key = verdict["eos_key"]
    if key != seq_len:
        lines.append(f"  <eos> (query {seq_len + 1}) puts {verdict['eos_mass']:.2f} of its attention on "
                     f"{_key_name(key, seq_len)}, and {verdict['eos_self_mass']:.2f} on itself. What it reads there "
                     f"pushes the <eos> logit {push[key]:+.1f} against the letters' mean (W_V W_O W_U of that key's "
                     f"residual, averaged over the letters there); <eos>'s own key would push {push[seq_len]:+.1f}.")
    else:
        lines.append(f"  <eos> attends to itself ({verdict['eos_self_mass']:.2f}); its key pushes the <eos> logit "
                     f"{push[seq_len]:+.1f}.")
    for w in verdict["weak_rows"]:
        mirror = seq_len - 1 - w["output"]
        other = w["other_key"]
        sentence = (f"  Output {w['output'] + 1} puts {w['mirror_mass']:.2f} on its mirror (input {mirror + 1}) and "
                    f"{w['other_mass']:.2f} on {_key_name(other, seq_len)}, whose value pushes <eos> "
                    f"{push[other]:+.1f}")
        if push[mirror] > 0 > push[other]:
            sentence += f": that cancels part of the {push[mirror]:+.1f} <eos> push its mirror's value carries."
        else:
            sentence += f" (its mirror's value: {push[mirror]:+.1f})."
        lines.append(sentence)
    lines.append(f"  Forcing the exact anti-diagonal pattern leaves {verdict['antidiagonal_accuracy']:.0%} of sequences "
                 f"right" + (": the values were learned for the pattern this model has, not for the clean one."
                             if verdict["antidiagonal_accuracy"] < verdict["accuracy"] else
                             ": the values still work with the clean pattern, so this pattern is a blurred copy of the "
                             "clean one rather than a different route."))
    return lines


def _pattern_panel(ax, pattern, seq_len, title, show_queries):
    """One attention pattern, rows = query, columns = key, numbers in the cells, the mirror boxed."""
    image = ax.imshow(pattern, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    if seq_len <= 8:
        annotate(ax, pattern, ".2f", -1)  # dark everywhere but the brightest cells: white, except near 1
        for text, value in zip(ax.texts, np.asarray(pattern).flat):
            text.set_color("black" if value > 0.6 else "white")
    for query, key in enumerate(mirror_keys(seq_len)):
        ax.add_patch(_box(query, key, "red"))
    ax.set_xticks(range(seq_len + 1), key_labels(seq_len), fontsize=7)
    ax.set_yticks(range(seq_len + 1), query_labels(seq_len) if show_queries else [], fontsize=7)
    ax.set_xlabel("key (input position)", fontsize=8)
    ax.set_title(title, fontsize=8)
    return image


def plot_patterns(patterns, path, head=0):
    """The mean attention pattern and a few single sequences, side by side, the mirror boxed in red."""
    panels = [(patterns["mean_pattern"][head], f"mean over {patterns['n_sequences']} sequences")]
    panels += [(pattern[head], f"'{text} <eos>'") for text, pattern in patterns["examples"].items()]
    seq_len = len(panels[0][0]) - 1
    side = 0.42 * (seq_len + 1) + 0.5
    widths = [1.3] + [side, 0.25] * len(panels) + [0.12, 1.0]
    fig, place = row_layout(widths, [(0.75, side)], top=0.95)
    for n, (pattern, title) in enumerate(panels):
        ax = place(1 + 2 * n)
        image = _pattern_panel(ax, np.array(pattern), seq_len, title, show_queries=n == 0)
    fig.axes[0].set_ylabel("query (output position)", fontsize=8)
    fig.colorbar(image, cax=place(len(widths) - 2), label="attention")
    mass = patterns["antidiagonal_mass"][head]
    fig.suptitle(f"Attention pattern, head {head + 1}: each output's query on each input's key. Red box: the mirror.\n"
                 f"Mean attention on the mirror, letter outputs: {' '.join(f'{m:.2f}' for m in mass)}; <eos> on "
                 f"itself {patterns['eos_row'][head][seq_len]:.2f}", fontsize=9)
    save_figure(fig, path)


def plot_interventions(ablation, replacement, patching, path, head=0):
    """Left: sequence accuracy and cross-entropy under each intervention on the head. Right: patching shares, rows =
    output measured (its mirrored input corrupted), columns = the value at each key, then the pattern, the whole head."""
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
    fig.suptitle(f"Interventions on head {head + 1}: switched off, or its pattern replaced (left); its value at one key, "
                 f"its pattern or all of it\npatched between a clean and a corrupted run (right). In one layer only the "
                 f"corrupted key's value can differ", fontsize=9)
    save_figure(fig, path)


def plot_circuit_comparison(entries, path):
    """Two (or more) trained models side by side: each one's mean pattern, and below it what the value at each key
    does to <eos>. entries: [(label, patterns, verdict)], e.g. [("seed 42", ...), ("seed 0", ...)]."""
    seq_len = len(entries[0][1]["mean_pattern"][0]) - 1
    side = 0.42 * (seq_len + 1) + 0.5
    widths = [1.3] + [side, 0.9] * len(entries)
    widths[-1] = 0.3  # the colour bar's gap
    widths += [0.12, 1.0]
    fig, place = row_layout(widths, [(0.75, 1.3), (0.85, side)], top=1.0)
    push_top = max(np.abs(verdict["value_eos_push"]).max() for _, _, verdict in entries) * 1.15
    for n, (label, patterns, verdict) in enumerate(entries):
        head = verdict["head"]
        state = "clean" if verdict["clean"] else "NOT clean"
        title = (f"{label}: {state}, {verdict['accuracy']:.0%} right\nmirror {min(verdict['mirror_mass']):.2f} at "
                 f"least; <eos> on itself {verdict['eos_self_mass']:.2f}")
        image = _pattern_panel(place(1 + 2 * n, 1), np.array(patterns["mean_pattern"][head]), seq_len, title,
                               show_queries=n == 0)
        ax = place(1 + 2 * n, 0)
        push = np.array(verdict["value_eos_push"])
        ax.bar(range(seq_len + 1), push, color=np.where(push > 0, "tab:red", "tab:blue"))
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_ylim(-push_top, push_top)
        ax.set_xlim(-0.5, seq_len + 0.5)
        ax.set_xticks(range(seq_len + 1), key_labels(seq_len), fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_xlabel("key whose value is read", fontsize=8)
        if n == 0:
            ax.set_ylabel("<eos> push\n(logit minus\nletters' mean)", fontsize=8)
    fig.axes[0].set_ylabel("query (output position)", fontsize=8)
    fig.colorbar(image, cax=place(len(widths) - 2, 1), label="mean attention")
    fig.suptitle("Same accuracy, different circuits: the mean attention pattern (top, mirror boxed in red), and what\n"
                 "the value at each key pushes onto the <eos> logit (bottom)", fontsize=9)
    save_figure(fig, path)


def attention_experiments(model, data, cfg):
    """Every experiment of this module and of circuits.py on one trained transformer, on analysis_sequences(cfg).
    Returns {"patterns", "qk", "ov", "ablation", "replacement", "patching", "verdict"}, each as its function
    returns it; attention_metrics picks what metrics.json keeps, explain_attention says what it means."""
    sequences = analysis_sequences(cfg)
    patterns = attention_patterns(model, sequences, data.vocab, example_sequences(cfg))
    ov = ov_circuit(model)
    replacement = pattern_replacement(model, sequences, data.vocab, cfg.seed)
    return {"patterns": patterns, "qk": qk_circuit(model), "ov": ov,
            "ablation": head_ablation(model, sequences, data.vocab, data.train_sequences, cfg.seed),
            "replacement": replacement, "patching": attention_patching(model, sequences, data.vocab),
            "verdict": circuit_verdict(patterns, ov, replacement)}


def attention_metrics(results):
    """The `attention` entry of metrics.json: lists and numbers only, per head where a head is involved."""
    patterns, qk, ov = results["patterns"], results["qk"], results["ov"]
    return {"mean_pattern": patterns["mean_pattern"], "antidiagonal_mass": patterns["antidiagonal_mass"],
            "lowest_antidiagonal_mass": patterns["lowest_antidiagonal_mass"], "eos_row": patterns["eos_row"],
            "qk_positional_argmax_is_mirror": qk["positional_argmax_is_mirror"],
            "qk_positional_margin": qk["positional_margin"], "qk_token_range": qk["token_range"],
            "qk_worst_margin": qk["worst_margin"],
            "ov_diagonal_argmax_rows": ov["diagonal_argmax_rows"], "ov_value_eos_push": ov["value_eos_push"],
            "antidiagonal_replacement_accuracy": results["replacement"]["antidiagonal"]["sequence_accuracy"],
            "pattern_replacement": {kind: results["replacement"][kind] for kind in REPLACEMENTS},
            "head_ablation": results["ablation"]["heads"], "unablated": results["ablation"]["baseline"],
            "patching": results["patching"], "circuit": results["verdict"]}


def explain_attention(results, head=0):
    """All the sentences, in the lesson's order: pattern, QK, OV, interventions, verdict."""
    from .circuits import explain_ov, explain_qk
    return (explain_patterns(results["patterns"], head) + explain_qk(results["qk"], head)
            + explain_ov(results["ov"], head)
            + explain_interventions(results["ablation"], results["replacement"], results["patching"], head)
            + explain_verdict(results["verdict"]))
