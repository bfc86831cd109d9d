"""The mechanism: each input letter lives in its own few directions of the hidden layers, and each output position
reads the directions of its mirrored input. Stated from measurements on the model at hand, with the settings where
it does not hold.

The evidence, in the order the lesson gives it:
    dimensionality   how many principal components the hidden layers need, against the L x (V-1) directions an
                     additive code needs (3 positions x 2 letter contrasts = 6 with the defaults), beside the
                     untrained network, which shows what the architecture gives for free
    subspaces        patching and removing each input position's letter directions (reversal/subspaces.py),
                     measured at every output position, beside random subspaces of the same size
    attribution      the readout from hidden2 is linear, so the logit difference splits exactly into parts
    surrogate        a model of the logits with no interaction between positions, and how well it fits
"""

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .common import (MAX_ANALYSIS_SEQUENCES, analysis_sequences, layer_features, mirror_mask, mirror_split,
                     sample_rows)
from .data import add_eos, make_targets
from .files import save_figure
from .model import run_with_cache
from .plots import heatmap, output_position_labels
from .subspaces import (LAYERS, accuracy_and_margin, direct_logit_attribution, intervene, largest_overlap,
                        letter_subspaces, margin, random_subspaces, share_restored, shifted, spread_over_neurons)

PASS_RESTORED = 0.9  # "restores the answer" means at least this share at the mirrored output ...
PASS_ELSEWHERE = 0.1  # ... and at most this share, in magnitude, at every other output
PASS_VARIANCE = 0.99  # "lives in L x (V-1) directions" means they hold at least this much of the variance


def variance_explained(activations):
    """Cumulative fraction of the variance held by the top k principal components, k = 1 .. H: a list of H.

    Example: [0.55, 0.80, 0.92, 0.97, 0.99, 0.997, 0.998, ...]: 6 directions hold 99.7% of the layer's variance.
    """
    centred = activations.double() - activations.double().mean(0)  # (N, H)
    variances = torch.linalg.svdvals(centred) ** 2  # (min(N, H),) largest first
    total = variances.sum()
    if total == 0:  # a layer that is the same for every input (all neurons dead) has no direction at all
        return [0.0] * activations.shape[1]
    cumulative = (variances.cumsum(0) / total).tolist()
    return cumulative + [1.0] * (activations.shape[1] - len(cumulative))  # fewer sequences than neurons: the rest 0


def numerical_rank(activations, tolerance=1e-6):
    """How many directions the centred activations span, ignoring those below `tolerance` x the largest."""
    values = torch.linalg.svdvals(activations.double() - activations.double().mean(0))
    return int((values > tolerance * values.max()).sum()) if values.max() > 0 else 0


def one_hot_letters(sequences, n_letters):
    """(N, L) -> (N, 1 + L*(V-1)): a 1 for the bias, then one indicator per (position, letter), the last letter left
    out at each position (it is what is left when the others are 0)."""
    columns = [torch.ones(len(sequences), 1, dtype=torch.float64)]
    for position in range(sequences.shape[1]):
        one_hot = torch.nn.functional.one_hot(sequences[:, position], n_letters).double()  # (N, V)
        columns.append(one_hot[:, :-1])
    return torch.cat(columns, dim=1)


def fit_additive(sequences, logits, n_letters):
    """Least-squares fit of logits as bias + one vector per (position, letter): no term sees two positions at once.

    Returns the surrogate, a function (N, L) sequences -> (N, T, V+1) logits.
    """
    shape = logits.shape[1:]
    targets = logits.double().flatten(1)  # (N, T*(V+1))
    weights = torch.linalg.lstsq(one_hot_letters(sequences, n_letters), targets).solution  # (1 + L*(V-1), T*(V+1))
    return lambda new: (one_hot_letters(new, n_letters) @ weights).view(len(new), *shape)


def r_squared(predicted, actual):
    """1 - residual sum of squares / total sum of squares, pooled over every logit."""
    actual = actual.double().flatten(1)
    predicted = predicted.flatten(1)
    return (1 - ((actual - predicted) ** 2).sum() / ((actual - actual.mean(0)) ** 2).sum()).item()


def find_mechanism(model, untrained, data, cfg):
    """Every number the mechanism statement rests on, in one dict (the `mechanism` key of metrics.json).

    Class means and the surrogate are fit on training sequences only; everything is measured on the analysis
    sequences (common.analysis_sequences: all 27 with the defaults), held-out ones included.
    """
    vocab, device = data.vocab, cfg.device
    seq_len, n_letters, width = cfg.seq_len, len(vocab.letters), cfg.hidden
    generator = torch.Generator().manual_seed(cfg.seed)
    fit = sample_rows(data.train_sequences, MAX_ANALYSIS_SEQUENCES, generator)  # (F, L) training sequences
    heldout = sample_rows(data.heldout_sequences, MAX_ANALYSIS_SEQUENCES, generator)  # (K, L)
    sequences = analysis_sequences(cfg)  # (N, L)
    corrupted = shifted(sequences, n_letters)  # (P, L), P = (V-1) N: every letter changed
    clean = sequences.repeat(n_letters - 1, 1)  # (P, L): row r of `clean` is the clean twin of row r of `corrupted`

    # one forward pass for everything the trained model must run unchanged; "linear1" is hidden1 before its ReLU
    batch = torch.cat([fit, heldout, sequences, corrupted])
    logits, cache = run_with_cache(model, add_eos(batch, vocab.eos_id).to(device), ("linear1",) + LAYERS)
    sizes = [len(fit), len(heldout), len(sequences), len(corrupted)]
    fit_logits, heldout_logits, logits, corrupt_logits = logits.cpu().split(sizes)
    acts = {name: dict(zip(("fit", "heldout", "all", "corrupted"), cache[name].cpu().split(sizes))) for name in cache}
    untrained_acts = layer_features(untrained, sequences, vocab, device, ("linear1",) + LAYERS)
    clean_logits = logits.repeat(n_letters - 1, 1, 1)  # (P, T, V+1)

    mechanism = {
        "needed_directions": seq_len * (n_letters - 1), "width": width, "seq_len": seq_len, "n_letters": n_letters,
        "pca_variance_explained": {name: variance_explained(acts[name]["all"]) for name in LAYERS},
        "pca_variance_explained_untrained": {name: variance_explained(untrained_acts[name]) for name in LAYERS},
        "hidden1_preactivation_rank": numerical_rank(acts["linear1"]["all"]),
        "hidden1_preactivation_rank_untrained": numerical_rank(untrained_acts["linear1"]),
        "baseline_accuracy": (margin(logits, sequences) > 0).double().mean(0).tolist(),
        "baseline_margin": margin(logits, sequences).mean(0).tolist(),
    }
    for key in ("subspace_patching", "random_subspace_patching", "subspace_ablation", "subspace_ablation_margin",
                "random_subspace_ablation", "neurons_per_position", "subspace_overlap", "below_zero"):
        mechanism[key] = {}
    for name in LAYERS:
        subspaces = letter_subspaces(acts[name]["fit"], fit, n_letters)
        mechanism["neurons_per_position"][name] = spread_over_neurons(subspaces)
        mechanism["subspace_overlap"][name] = largest_overlap(subspaces)
        bases = random_subspaces(width, n_letters - 1, seq_len, generator)  # (L, H, V-1): one per input position
        off_range = {}  # how often the interventions push this post-ReLU layer below 0, where no input takes it
        patched, random_patched, ablated, random_ablated = intervene(
            model, name, subspaces, bases, acts[name]["all"].repeat(n_letters - 1, 1), clean, corrupted,
            sequences, vocab, device, record=off_range)
        mechanism["below_zero"][name] = off_range
        mechanism["subspace_patching"][name] = share_restored(patched, clean_logits, corrupt_logits, clean,
                                                              corrupted).tolist()
        mechanism["random_subspace_patching"][name] = share_restored(random_patched, clean_logits, corrupt_logits,
                                                                     clean, corrupted).tolist()
        accuracy, margins = accuracy_and_margin(ablated, sequences)
        mechanism["subspace_ablation"][name] = accuracy.tolist()
        mechanism["subspace_ablation_margin"][name] = margins.tolist()
        mechanism["random_subspace_ablation"][name] = accuracy_and_margin(random_ablated, sequences)[0].tolist()
        if name == "hidden2":
            mechanism["direct_logit_attribution"] = direct_logit_attribution(model, logits, acts[name]["all"],
                                                                             sequences, subspaces)

    surrogate = fit_additive(fit, fit_logits, n_letters)
    targets = make_targets(heldout, vocab.eos_id)
    mechanism.update({
        "additive_r2": r_squared(surrogate(sequences), logits),
        "additive_r2_heldout": r_squared(surrogate(heldout), heldout_logits),
        "additive_heldout_accuracy": (surrogate(heldout).argmax(-1) == targets).all(1).double().mean().item(),
        "heldout_accuracy": (heldout_logits.argmax(-1) == targets).all(1).double().mean().item(),
        "heldout_sequences": len(heldout), "train_sequences": len(fit),
    })
    mechanism["statement"] = "\n".join(explain_mechanism(mechanism))
    return mechanism


def _share(value):
    """A share as a percentage, with a decimal where it is small: 3%, but 0.4% rather than 0%."""
    text = f"{value:.0%}" if abs(value) >= 0.095 else f"{value:.1%}"
    return text.replace("-0.0%", "0.0%")


def _span(values, fmt="{:.0%}"):
    """"low to high", or one number where both read the same."""
    low, high = (fmt.format(value).replace("-0%", "0%") for value in (min(values), max(values)))
    return low if low == high else f"{low} to {high}"


def _layer_verdict(mechanism, name):
    """The numbers one layer's sentence rests on, and whether they match the per-position picture."""
    mirror, others = mirror_split(mechanism["subspace_patching"][name])
    random_mirror, _ = mirror_split(mechanism["random_subspace_patching"][name])
    ablated, ablated_others = mirror_split(mechanism["subspace_ablation"][name])
    elsewhere = np.abs(others).max() if others.size else 0.0
    return {"mirror": mirror, "elsewhere": elsewhere, "random_mirror": random_mirror, "ablated": ablated,
            "kept": ablated_others.min() if ablated_others.size else 1.0,
            "restores": mirror.min() >= PASS_RESTORED and elsewhere <= PASS_ELSEWHERE,
            "control_separates": random_mirror.max() < 0.5 * mirror.min()}


def in_short(mechanism):
    """The mechanism in one sentence, computed: where each letter lives and what reads it, or that it holds only
    in part on this run."""
    m = mechanism
    needed, width, n_letters, seq_len = m["needed_directions"], m["width"], m["n_letters"], m["seq_len"]
    size = f"{n_letters - 1} direction{'s' if n_letters > 2 else ''}"
    verdicts = {name: _layer_verdict(m, name) for name in LAYERS}
    clean = [name for name in LAYERS if verdicts[name]["restores"] and verdicts[name]["kept"] >= 0.99]
    first = verdicts["hidden1"]
    if "hidden1" not in clean:
        return "on this run the per-position picture holds only in part; the lines below say where it falls short."
    also = " The same holds in hidden2." if "hidden2" in clean else " In hidden2 it holds only in part (below)."
    shared = "" if needed <= width else (f" ({needed} needed directions in {width} neurons cannot all be "
                                         f"independent, so the positions share some)")
    return (f"each input letter lives in its own {size} of hidden1, spread over "
            f"{_span(m['neurons_per_position']['hidden1'], '{}')} of its {width} neurons{shared}, and output "
            f"j reads only the directions of its mirrored input {seq_len + 1}-j: patching them restores "
            f"{_span(first['mirror'])} of the answer there and at most {_share(first['elsewhere'])} in "
            f"magnitude anywhere else.{also}")


def explain_mechanism(mechanism):
    """The mechanism in sentences, each computed from the numbers; where a number misses what the mechanism
    predicts (the PASS_* thresholds), the sentence says so instead."""
    m = mechanism
    needed, width, n_letters, seq_len = m["needed_directions"], m["width"], m["n_letters"], m["seq_len"]
    size = f"{n_letters - 1} direction{'s' if n_letters > 2 else ''}"
    verdicts = {name: _layer_verdict(m, name) for name in LAYERS}
    lines = ["Mechanism (computed on this model; the numbers change with --seed and the settings):",
             f"  In short: {in_short(m)}"]

    k = min(needed, width)
    var = {name: m["pca_variance_explained"][name][k - 1] for name in LAYERS}
    var0 = {name: m["pca_variance_explained_untrained"][name][k - 1] for name in LAYERS}
    code = f"{needed} directions ({seq_len} positions x {n_letters - 1} letter contrasts)"
    if needed <= width:
        short = "" if min(var.values()) >= PASS_VARIANCE else f" (less than {PASS_VARIANCE:.0%}: not all additive)"
        lines.append(f"  Dimensions: an additive code needs {code}; the top {needed} principal components hold "
                     f"{var['hidden1']:.1%} of hidden1's variance and {var['hidden2']:.1%} of hidden2's{short}. "
                     f"Untrained: {var0['hidden1']:.1%} and {var0['hidden2']:.1%}. hidden1 before its ReLU is affine "
                     f"in the letters, so it spans at most {needed} directions for ANY weights (measured: "
                     f"{m['hidden1_preactivation_rank']} trained, {m['hidden1_preactivation_rank_untrained']} "
                     f"untrained): a low dimension comes with the architecture and is no evidence of learning by "
                     f"itself; the evidence that training routed the letters is the patching below.")
    else:
        lines.append(f"  Dimensions: an additive code needs {code}, more than the {width} neurons, so the top {width} "
                     f"principal components hold everything by construction: counting them cannot test the "
                     f"additive picture here.")

    for name in LAYERS:
        v = verdicts[name]
        lines.append(f"  {name}: patching input i's {size} (clean into a run with every letter changed) restores "
                     f"{_span(v['mirror'])} of the logit difference at its mirrored output and at most "
                     f"{_share(v['elsewhere'])} in magnitude elsewhere; a random subspace of the same size restores "
                     f"{_span(v['random_mirror'])} at the mirror.")
        if not v["restores"]:
            lines.append(f"    That misses the clean picture (at least {PASS_RESTORED:.0%} at the mirror, at most "
                         f"{PASS_ELSEWHERE:.0%} elsewhere): in {name}, an output's answer does not sit only in its "
                         f"mirrored position's directions.")
        if not v["control_separates"]:
            lines.append(f"    The random control restores nearly as much: {size} are a large share of {width} "
                         f"neurons, so the control cannot tell the subspaces apart here.")
        margins, _ = mirror_split(m["subspace_ablation_margin"][name])
        kept = "every other output keeps 100%" if v["kept"] == 1 else f"the other outputs keep at least {v['kept']:.1%}"
        lines.append(f"    Removing input i's directions drops its mirrored output to {_span(v['ablated'])} accuracy "
                     f"(chance {1 / n_letters:.0%}; the right letter's mean lead over the best wrong one: "
                     f"{_span(margins, '{:+.1f}')} logits, against {_span(m['baseline_margin'], '{:+.1f}')} "
                     f"unablated); {kept}.")
        if v["kept"] < 0.99:
            lines.append(f"    So removing one position's directions costs other outputs too: in {name} the positions' "
                         f"directions are not fully separate.")
        change = np.array(m["subspace_ablation_margin"][name]) - np.array(m["baseline_margin"])[None, :]  # (L, L)
        others = change[~mirror_mask(seq_len)]  # margin change at the outputs that do not copy the removed input
        if others.size:
            lines.append(f"    Meanwhile the other outputs' mean margins change by {others.min():+.1f} to "
                         f"{others.max():+.1f} logits.")
        negative, lowest = m["below_zero"][name]["patched"]
        removed_negative, removed_lowest = m["below_zero"][name]["removed"]
        if negative > 0 or removed_negative > 0:
            lines.append(f"    Caveat: {name} comes out of a ReLU, so no real input makes it negative, but these "
                         f"edits can: {negative:.0%} of the patched values (down to {lowest:.1f}) and "
                         f"{removed_negative:.0%} of the removed ones (down to {removed_lowest:.1f}) are below 0. "
                         f"Part of any overshoot above 100% may come from there.")
        lines.append(f"    Basis: each position's {size} spread over {_span(m['neurons_per_position'][name], '{}')} "
                     f"of the {width} neurons (90% of their weight); two positions' directions meet at a cosine of "
                     f"up to {m['subspace_overlap'][name]:.2f}, which is why all positions are solved for together.")

    dla = m["direct_logit_attribution"]
    mirror, others = mirror_split(dla["per_position"])
    lines.append(f"  Attribution: the readout from hidden2 is linear, so its logit difference (right letter minus the "
                 f"mean of the others, {_span(dla['logit_diff'], '{:.1f}')}) splits exactly: the mirrored position's "
                 f"directions give {_span(mirror, '{:.1f}')}, the other positions' at most "
                 f"{np.abs(others).max() if others.size else 0:.1f} in magnitude, the rest of the layer at most "
                 f"{np.abs(dla['remainder']).max():.2f}; split by neuron instead, the largest single part is "
                 f"{np.abs(dla['per_neuron']).max():.1f}.")

    heldout, n_heldout = m["heldout_accuracy"], m["heldout_sequences"]
    lines.append(f"  Additive surrogate: a bias plus one vector per (position, letter), with no term that sees two "
                 f"positions, fitted to the logits of the {m['train_sequences']} training sequences: R^2 = "
                 f"{m['additive_r2']:.3f} on the analysis sequences ({m['additive_r2_heldout']:.3f} on the held-out "
                 f"ones alone); it reverses {m['additive_heldout_accuracy']:.0%} of the {n_heldout} held-out "
                 f"sequences, the network {heldout:.0%}.")
    if heldout == 1 and m["additive_heldout_accuracy"] == 1:
        lines.append("    An additive function of (position, letter) pairs seen in training extends to unseen "
                     "combinations by construction, so a network this close to additive is expected to handle new "
                     "combinations, as this one does. Being close is not a guarantee: on some seeds (try --seed 6) "
                     "neither the network nor its additive fit gets every held-out sequence right.")
    else:
        lines.append("    Additive pieces extend to unseen combinations, but here not with margin enough to be right "
                     "on every held-out sequence: additivity alone does not guarantee generalization.")

    if needed <= width:
        lines.append(f"  Superposition: {needed} needed directions fit in {width} neurons, so nothing forces it. "
                     f"Neurons mix positions because the positions' directions are rotated against the neuron axes; "
                     f"the class-mean directions are the change of basis that separates them.")
    else:
        lines.append(f"  Superposition: {needed} needed directions exceed the {width} neurons, so it is possible in "
                     f"this setting (this run does not test for it); the split of an activation into positions is "
                     f"then the smallest of the many that fit.")
    return lines


def plot_dimensionality(mechanism, path):
    """Cumulative variance explained by the top k principal components, trained and untrained, per hidden layer,
    with a line at the L x (V-1) directions an additive code needs."""
    needed, width = mechanism["needed_directions"], mechanism["width"]
    k = np.arange(1, width + 1)
    fig = Figure(figsize=(10, 4.2))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.76, wspace=0.25)
    for ax, name in zip(fig.subplots(1, 2), LAYERS):
        marker = "o" if width <= 16 else None
        for key, label, style in (("pca_variance_explained", "trained", "-"),
                                  ("pca_variance_explained_untrained", "untrained (control)", "--")):
            values = mechanism[key][name]
            at = f": top {min(needed, width)} hold {values[min(needed, width) - 1]:.1%}"
            ax.plot(k, values, style, marker=marker, markersize=4, label=label + at)
        title = name
        if needed <= width:
            ax.axvline(needed, color="grey", linestyle=":", label=f"{needed} = L x (V-1), what an additive code needs")
        else:  # in the title, where no curve can run through it
            title += f"\n(an additive code needs {needed} directions; only {width} neurons)"
        ax.set_ylim(0, 1.05)
        ax.set_xlim(0.5, width + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # k counts components: no tick at 1.5
        ax.set_xlabel("k, the number of principal components")
        ax.set_ylabel("share of the layer's variance")
        ax.set_title(title, fontsize=10)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("How many directions do the hidden layers use? Variance held by the top k principal components\n"
                 "(hidden1 before its ReLU spans at most L x (V-1) directions for any weights: compare the control)",
                 fontsize=10)
    save_figure(fig, path)


def _annotate(ax, values, dark, below=None):
    """Write each cell's value (and a second number below it, if given); white text where `dark` says so."""
    for (row, col), value in np.ndenumerate(values):
        text = f"{value:.2f}".replace("-0.00", "0.00")  # a tiny negative share rounds to 0, not to "-0"
        if below is not None:
            text += f"\n{below[row, col]:+.1f}"
        ax.text(col, row, text, ha="center", va="center", fontsize=8 if len(values) <= 4 else 7,
                color="white" if dark[row, col] else "black")


def plot_subspace_interventions(mechanism, path):
    """Per hidden layer: share restored by patching each input position's letter subspace, the same for random
    subspaces, and accuracy after removing each subspace. Rows = input position i, columns = output position j."""
    seq_len, n_letters = mechanism["seq_len"], mechanism["n_letters"]
    shares = [np.array(mechanism[key][name]) for key in ("subspace_patching", "random_subspace_patching")
              for name in LAYERS]
    limit = max(1.0, max(np.abs(values).max() for values in shares))  # symmetric: 0 is white, both signs show
    annotate = seq_len <= 8
    fig = Figure(figsize=(14, 8.4))
    fig.subplots_adjust(left=0.07, right=0.96, bottom=0.09, top=0.84, wspace=0.35, hspace=0.6)
    axes = fig.subplots(2, 3)
    for row, name in zip(axes, LAYERS):
        panels = [("subspace_patching", f"{name}: patch input i's letter subspace",
                   "share restored (0 = corrupted, 1 = clean)"),
                  ("random_subspace_patching", f"{name}: patch a random subspace (control)", "share restored"),
                  ("subspace_ablation", f"{name}: remove input i's letter subspace",
                   f"accuracy (chance {1 / n_letters:.0%}); below: mean margin")]
        for ax, (key, title, label) in zip(row, panels):
            values = np.array(mechanism[key][name])
            if key == "subspace_ablation":  # accuracy, with the mean margin (a continuous measure) below it
                heatmap(fig, ax, values, "viridis", 0, 1, label)
                if annotate:
                    _annotate(ax, values, values < 0.5, np.array(mechanism["subspace_ablation_margin"][name]))
            else:
                heatmap(fig, ax, values, "RdBu_r", -limit, limit, label)
                if annotate:
                    _annotate(ax, values, np.abs(values) > 0.6 * limit)
            ax.set_xticks(range(seq_len), output_position_labels(seq_len), fontsize=8 if seq_len <= 6 else 6)
            ax.set_yticks(range(seq_len), [str(i + 1) for i in range(seq_len)])
            ax.set_xlabel("output position j (\u2190 the input it copies)")
            ax.set_ylabel("input position i")
            ax.set_title(title, fontsize=10)
    size = f"{n_letters - 1} letter direction{'s' if n_letters > 2 else ''}"
    fig.suptitle(f"The anti-diagonal inside the network: intervene on input position i's {size}, "
                 f"measure every output j\n(patching: clean into a run with every letter changed; "
                 f"values outside [0, 1] kept; removing: coefficients set to their training mean;\n"
                 f"margin = the right letter's logit minus the best wrong one's, averaged)", fontsize=11)
    save_figure(fig, path)
