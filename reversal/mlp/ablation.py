"""Ablation: switch one neuron off, or a whole layer, and measure what the output loses.

Three ways to switch a neuron off, from crude to standard:
    zero      set it to 0. This takes it off its usual range: a neuron that always fires was never 0 in training.
    mean      hold it at its mean over the reference (training) sequences: the information goes, the level stays.
    resample  give it the value it has on another sequence, drawn at random from the reference sequences, and
              average over RESAMPLES draws. The neuron still looks like itself but tells the wrong story. This is
              the field's standard, and the one the verdicts use.

Example, defaults: for "abc" (target "cba"), resample-ablating hidden1 neuron 5 runs the model with neuron 5 set to
its value on, say, "bca", and every other neuron at its value on "abc". If output 1 still says "c" with the same
confidence, neuron 5 was not needed there.

Accuracy saturates (the model wins by a wide margin, so a neuron can cost a lot of margin and no accuracy at all),
so beside it we measure, at each output position: the cross-entropy loss, and the mean logit difference (the correct
letter's logit minus the best wrong one's; above 0 means right). The verdicts read these continuous measures.
"""

import numpy as np
import torch
from matplotlib.colors import TwoSlopeNorm

from ..core.common import layer_features, margin, replace_each
from ..core.data import add_eos, make_targets
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import chance, span
from ..core.model import run_with_hooks
from ..report.plots import label_neuron_panels, panel_grid

LAYERS = ("hidden1", "hidden2")
KINDS = ("zero", "mean", "resample")
# donor draws per sequence for resample ablation. At the defaults the worst neuron's lost margin moves between 0.28
# and 0.35 over five donor seeds (0.30 to 0.33 with 32 draws), and which neuron is worst can change with them
RESAMPLES = 8


def output_metrics(logits, targets, seq_len):
    """Per output letter position: accuracy, cross-entropy loss and mean logit difference, averaged over rows.

    logits (..., N, T, V), targets (N, T). Returns three tensors of shape (..., L); the <eos> output is left out.
    The logit difference is the correct letter's logit minus the largest wrong logit: 0 is the decision boundary.
    """
    logits = logits[..., :seq_len, :].cpu()  # (..., N, L, V)
    targets = targets[:, :seq_len].expand(logits.shape[:-1])  # (..., N, L)
    correct = logits.gather(-1, targets[..., None])[..., 0]  # (..., N, L)
    loss = torch.logsumexp(logits, -1) - correct  # cross-entropy = -log softmax of the correct letter
    accuracy = (logits.argmax(-1) == targets).float()
    return accuracy.mean(-2), loss.mean(-2), margin(logits, targets).mean(-2)


class Ablation(Result):
    """What neuron_ablation measured; finding() says what it means, from the continuous measures first, accuracy
    beside them."""

    def finding(self):
        base = self["baseline"]
        seq_len = len(base["loss"])
        verdict = self["verdict"]
        worst = verdict["worst"]
        median, most = verdict["median_concentration"], verdict["max_concentration"]
        if self["baseline_sequence_accuracy"] < 0.9:
            meaning = (f"no verdict, as the model itself reverses only {self['baseline_sequence_accuracy']:.0%} of "
                       f"the sequences")
        elif worst["margin_lost"] < 0.5:
            meaning = "no single neuron is needed for most sequences"
        elif worst["margin_lost"] < 1:
            meaning = "single neurons matter unequally, though the mean margin stays above 0"
        else:
            meaning = "at least one neuron is necessary"
        headline = (f"Switching neurons off one by one (each resampled from another sequence), the worst, "
                    f"{worst['layer']} neuron {worst['neuron']}, takes {worst['margin_lost']:.0%} of output "
                    f"{worst['output'] + 1}'s margin (correct minus best wrong logit): {meaning}.")
        numbers = {"worst_margin_lost": worst["margin_lost"], "worst_accuracy_lost": worst["accuracy_lost"],
                   "baseline_sequence_accuracy": self["baseline_sequence_accuracy"],
                   **{f"median_concentration_{layer}": median[layer] for layer in LAYERS if median[layer] is not None}}
        evidence = [f"  Ablation (resample: a neuron takes its value on another training sequence, {self['resamples']} "
                    f"draws each; zero and mean beside it). Unablated: cross-entropy {_mean(base['loss']):.1e} "
                    f"(averaged over the output letters), mean logit difference (correct minus best wrong) "
                    f"{span(base['logit_diff'])}."]
        for layer in LAYERS:
            losses = {kind: np.array(self[layer][kind]["loss"]).mean(1).max() for kind in KINDS}
            evidence.append(f"  One {layer} neuron at a time: the cross-entropy rises to at most "
                            + ", ".join(f"{losses[kind]:.1e} ({kind})" for kind in KINDS) + ".")
        evidence.append(f"  Worst single neuron (which one depends on the seed and on the donors drawn): "
                        f"{worst['layer']} neuron {worst['neuron']} costs {worst['margin_lost']:.0%} of the mean "
                        f"logit difference at output {worst['output'] + 1} ({base['logit_diff'][worst['output']]:.1f} "
                        f"-> {worst['logit_diff']:.1f}) and {100 * worst['accuracy_lost']:.0f} points of accuracy "
                        f"there.")
        if self["baseline_sequence_accuracy"] < 0.9:
            caveats = [f"  (No verdict: the verdicts read a neuron's effect against a model that is right on nearly "
                       f"every sequence, and this one reverses only {self['baseline_sequence_accuracy']:.0%} of "
                       f"these sequences (held-out ones included), so a neuron's effect would mix with the model's "
                       f"own errors. The numbers above still hold; the training step says what to try for a model that "
                       f"is right throughout.)"]
            return Finding(headline, numbers, evidence, caveats)
        wrong = f"makes output {worst['output'] + 1} wrong on {worst['accuracy_lost']:.0%} of the sequences"
        if worst["margin_lost"] < 0.5:
            evidence.append(f"  So no single neuron is needed for most sequences: the worst takes away less than half "
                            f"of one output's margin, though it {wrong}; the remaining neurons carry the rest.")
        elif worst["margin_lost"] < 1:
            evidence.append(f"  So single neurons matter unequally: one takes away {worst['margin_lost']:.0%} of the "
                            f"margin at one output and {wrong}, though the mean logit difference stays above 0.")
        else:
            evidence.append(f"  So at least one neuron is necessary: without it, output {worst['output'] + 1} is wrong "
                            f"on average.")
        if median["hidden1"] is not None and median["hidden2"] is not None:
            evidence.append(f"  Where a neuron's damage lands: its worst output takes a median {median['hidden1']:.0%} "
                            f"(hidden1) and {median['hidden2']:.0%} (hidden2) of its lost margin, at most "
                            f"{most['hidden1']:.0%} and {most['hidden2']:.0%}; a one-position unit would put 100% "
                            f"there, an even spread {1 / seq_len:.0%}, a random split "
                            f"{verdict['random_split_concentration']:.0%} on average.")
            units = verdict["one_position_units"]
            typical = " and ".join(f"{_against_random(median[layer], verdict['random_split_concentration'])} in "
                                   f"{layer}" for layer in LAYERS)
            if not units:
                evidence.append(f"  No neuron puts 90% or more of its damage on one output (the most is "
                                f"{max(most.values()):.0%}), so none acts as a one-position unit; the typical "
                                f"neuron's split is {typical}.")
            else:
                evidence.append(f"  {len(units)} neuron(s) put 90% or more of their damage on one output, close to "
                                f"one-position units, but do only {verdict['unit_damage_share']:.0%} of all "
                                f"single-neuron damage; the rest spread theirs over several outputs.")
        whole = {layer: self[layer]["resample"]["whole_layer"] for layer in LAYERS}
        caveats = [f"  Sanity check, a whole layer resampled (every neuron from one donor sequence): "
                   f"{_pair(whole, 'sequence_accuracy')} of sequences right (hidden1, hidden2; chance "
                   f"{chance(self['chance_sequence_accuracy'])}); the output is the donor's reversal in "
                   f"{_pair(whole, 'donor_sequence_accuracy')} of runs. In a chain with no residual path everything "
                   f"passes through each layer, so this shows only that the hooks work."]
        return Finding(headline, numbers, evidence, caveats)


def neuron_ablation(run, resamples=RESAMPLES):
    """Ablate each hidden neuron of run.model alone, and each whole layer, three ways; measure every output letter
    position on run.sequences.

    The reference sequences, whose mean (mean ablation) and whose activations (resample ablation) stand in, are the
    training sequences; run.seed draws the resample donors. Returns an Ablation:
        "baseline": {"accuracy", "loss", "logit_diff"}: (L,) each, the unablated model at each output letter
        "baseline_sequence_accuracy", "chance_sequence_accuracy" (1 / V**L), "resamples": floats and an int
        [layer][kind], kind "zero", "mean" or "resample": {"accuracy", "loss", "logit_diff"}: (H, L) each, row n =
                       neuron n ablated alone; and "whole_layer": {"accuracy", "loss", "logit_diff"}: (L,) each,
                       "sequence_accuracy", and for resample "donor_sequence_accuracy" (outputs that are the donor
                       sequence reversed)
        "verdict": what its finding reads, see summarize_ablation
    All lists, so the result goes into metrics.json as it is.
    """
    model, sequences, vocab, device = run.model, run.sequences, run.vocab, run.device
    reference = run.data.train_sequences
    seq_len, n = sequences.shape[1], len(sequences)
    tokens = add_eos(sequences, vocab.eos_id).to(device)  # (N, T)
    targets = make_targets(sequences, vocab.eos_id)  # (N, T)
    reference_acts = layer_features(model, reference, vocab, device, LAYERS)  # {layer: (R_ref, H)}
    generator = torch.Generator().manual_seed(run.seed)
    donors = torch.randint(len(reference), (resamples * n,), generator=generator)  # draw r of sequence s: row r*N+s
    with torch.no_grad():
        clean_logits = model(tokens)  # (N, T, V)
    result = {"baseline": _named(output_metrics(clean_logits, targets, seq_len)), "resamples": resamples,
              "baseline_sequence_accuracy": _sequence_accuracy(clean_logits, targets)}
    for layer in LAYERS:
        acts = reference_acts[layer]
        width = acts.shape[1]
        stand_ins = {"zero": torch.zeros(n, width),  # (M, H): the value each row's neuron takes when ablated
                     "mean": acts.mean(0).expand(n, width),
                     "resample": acts[donors]}  # (resamples*N, H)
        result[layer] = {}
        for kind, values in stand_ins.items():
            copies = len(values) // n  # 1, or `resamples` for resample ablation
            rows = tokens.repeat(copies, 1)  # (M, T) with M = copies * N
            logits = run_with_hooks(model, rows.repeat(width + 1, 1),
                                    {layer: lambda out, values=values.to(device): replace_each(out, values)})
            logits = logits.view(width + 1, copies * n, *logits.shape[1:])  # (H+1, M, T, V)
            metrics = output_metrics(logits, targets.repeat(copies, 1), seq_len)  # three (H+1, L)
            result[layer][kind] = _named(metric[:width] for metric in metrics)
            result[layer][kind]["whole_layer"] = _named(metric[width] for metric in metrics)
            whole = result[layer][kind]["whole_layer"]
            whole["sequence_accuracy"] = _sequence_accuracy(logits[width], targets.repeat(copies, 1))
            if kind == "resample":  # a chain passes everything through each layer: it should answer for the donor
                whole["donor_sequence_accuracy"] = _sequence_accuracy(
                    logits[width], make_targets(reference[donors], vocab.eos_id))
    result["chance_sequence_accuracy"] = 1 / len(vocab.letters) ** seq_len
    result["verdict"] = summarize_ablation(result)
    return Ablation(result)


def _named(metrics):
    accuracy, loss, logit_diff = metrics
    return {"accuracy": accuracy.tolist(), "loss": loss.tolist(), "logit_diff": logit_diff.tolist()}


def _sequence_accuracy(logits, targets):
    return (logits.argmax(-1).cpu() == targets).all(1).float().mean().item()


def summarize_ablation(ablation):
    """The numbers the verdicts rest on, all from resample ablation of single neurons:

        "worst": {"layer", "neuron", "output", "loss", "logit_diff", "margin_lost", "accuracy_lost"}: the neuron
                 whose ablation costs the largest share of the mean logit difference (the margin) at one output
        "concentration": {layer: (H,)} the share of each neuron's margin lost (summed over outputs, losses only)
                 that falls on its worst output; None for a neuron whose ablation changes nothing.
                 1 = all on one output, as a one-position unit would do; 1/L = spread evenly.
        "median_concentration", "max_concentration": {layer: float}, over the neurons that do damage
        "one_position_units": [[layer, neuron], ...] the neurons that put 90% or more of their damage on one output,
        "unit_damage_share": the share of all single-neuron damage (both layers) that those neurons do
        "random_split_concentration": what a neuron whose damage split at random (uniformly) over the L outputs
                 would put on its worst one, on average: (1 + 1/2 + ... + 1/L) / L
    The margin is used, not the loss: the loss is convex in the margin, so it would exaggerate whichever output
    lost most (hidden1 neuron 9 at the defaults loses margin 2.2, 1.4 and 0.8, but loss 0.16, 0.009 and 0.002).
    """
    margin = np.array(ablation["baseline"]["logit_diff"])  # (L,)
    worst = None
    concentration, median, most, totals = {}, {}, {}, {}
    for layer in LAYERS:
        ablated = ablation[layer]["resample"]
        lost = margin - np.array(ablated["logit_diff"])  # (H, L) margin lost at each output
        share = lost / margin
        neuron, output = np.unravel_index(share.argmax(), share.shape)
        if worst is None or share[neuron, output] > worst["margin_lost"]:
            worst = {"layer": layer, "neuron": int(neuron), "output": int(output),
                     "loss": ablated["loss"][neuron][output], "logit_diff": ablated["logit_diff"][neuron][output],
                     "margin_lost": float(share[neuron, output]),
                     "accuracy_lost": ablation["baseline"]["accuracy"][output] - ablated["accuracy"][neuron][output]}
        damage = np.clip(lost, 0, None)  # (H, L): only losses count as damage
        total = totals[layer] = damage.sum(1)  # (H,)
        doing_damage = total > 1e-3 * max(total.max(), 1e-12)  # a neuron that never fires does none (up to rounding)
        concentration[layer] = [float(d.max() / t) if live else None for d, t, live in zip(damage, total, doing_damage)]
        live = [c for c in concentration[layer] if c is not None]
        median[layer] = float(np.median(live)) if live else None
        most[layer] = float(max(live)) if live else None
    units = [[layer, n] for layer in LAYERS for n, c in enumerate(concentration[layer]) if c is not None and c >= 0.9]
    all_damage = sum(total.sum() for total in totals.values())
    seq_len = len(margin)
    return {"worst": worst, "concentration": concentration, "median_concentration": median,
            "max_concentration": most, "one_position_units": units,
            "unit_damage_share": float(sum(totals[layer][n] for layer, n in units) / max(all_damage, 1e-12)),
            "random_split_concentration": sum(1 / k for k in range(1, seq_len + 1)) / seq_len}


def _against_random(share, random_split):
    """How a typical neuron's share on its worst output compares with a random split of its damage."""
    if abs(share - random_split) <= 0.05:
        return "about a random split"
    return "more spread than a random split" if share < random_split else "more concentrated than a random split"


def _pair(whole, key):
    return " and ".join(f"{whole[layer][key]:.0%}" for layer in LAYERS)


def _mean(values):
    return float(np.mean(values))


def plot_ablation(ablation, path, detail=False):
    """The margin lost at each output position when one neuron is ablated. By default one panel per layer, resample
    ablation (the standard, the one the verdicts read); with detail, a row of panels per layer, one panel per way of
    ablating, and the whole layer's sanity check in the title. Diverging colours: red = margin lost, blue = the
    ablation made the model surer, white = none."""
    margin = np.array(ablation["baseline"]["logit_diff"])  # (L,)
    width, seq_len = np.array(ablation["hidden1"]["resample"]["logit_diff"]).shape
    if detail:  # a row per layer, a panel per way of ablating
        grid = [[(layer, kind) for kind in KINDS] for layer in LAYERS]
        panel = (0.4 + 0.55 * seq_len, 0.8 + 0.1 * min(width, 32))  # inches: room for each output, each neuron
        margins, gaps, fontsize = (1.0, 1.5, 1.05, 0.75), (0.25, 0.45), 7
    else:  # one row: the standard ablation of each layer, in type large enough to project
        grid = [[(layer, "resample") for layer in LAYERS]]
        panel = (0.6 + 0.7 * seq_len, 0.8 + 0.13 * min(width, 32))
        margins, gaps, fontsize = (1.1, 1.7, 0.55, 0.9), (0.3, 0), 9
    lost = {cell: margin - np.array(ablation[cell[0]][cell[1]]["logit_diff"]) for row in grid for cell in row}
    top = max(0.1, max(np.abs(value).max() for value in lost.values()))  # symmetric scale: nothing is clipped
    norm = TwoSlopeNorm(0, -top, top)
    fig, axes, colorbar_axes = panel_grid(len(grid), len(grid[0]), panel, margins, gaps)
    for axes_row, cells in zip(axes, grid):
        for ax, (layer, kind) in zip(axes_row, cells):
            image = ax.imshow(lost[layer, kind], aspect="auto", cmap="RdBu_r", norm=norm, interpolation="nearest")
            ax.set_title(f"{layer}, {kind}" + (" (standard)" if kind == "resample" else "") if detail else layer,
                         fontsize=fontsize + 2)
        axes_row[0].set_ylabel(f"{layer} neuron\nablated alone" if detail else "neuron resampled alone",
                               fontsize=fontsize + 2)
    label_neuron_panels(axes, width, seq_len, "output position", fontsize)
    fig.colorbar(image, cax=colorbar_axes, label=f"mean logit difference lost\n(unablated: {span(list(margin))})")
    if detail:
        whole = ", ".join(f"{layer} {ablation[layer]['resample']['whole_layer']['sequence_accuracy']:.0%}"
                          for layer in LAYERS)
        fig.suptitle("Ablation: one neuron switched off; how much margin\n(correct logit minus best wrong) does each "
                     f"output lose?\nWhole layer resampled (sanity check): {whole} right", fontsize=9)
    else:
        fig.suptitle("One neuron resampled at a time: the margin each output loses", fontsize=12)
    save_figure(fig, path)
