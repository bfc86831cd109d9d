"""Superposition, measured: does the network carry more directions than it has neurons?

An additive code writes each input position's letter into its own directions: L x (V-1) of them (3 positions x 2
letter contrasts = 6 with the defaults). Superposition means more features than dimensions (Elhage et al. 2022), so
it can only be claimed where those needed directions outnumber the neurons, and only where the layer still carries
every letter. Four measures per hidden layer:

    effective dimension  how many directions the activations really use: the participation ratio of the PCA variances,
                         (sum of variances)^2 / (sum of squared variances), which is k for k equal variances, and the
                         count of principal components that hold 99% of the variance
    interference         the cosine similarity between the (position, letter) class-mean directions (mean activation
                         with letter x at position p, minus the overall mean); the largest |cos| between directions of
                         different positions is how much writing one position's letter moves another's reading
    carried              cross-validated linear probes (probes.py's) for each position's letter: a layer that packs
                         more letter directions than it has neurons, and still lets every letter be read at
                         >= 90%, carries them in superposition or in a code other than the additive one; the
                         verdict reads this, and beside it the model's held-out accuracy, whether it also reverses

With the defaults, 6 directions fit in 16 neurons: nothing forces them to share, and they overlap only as much as
training left them. With --seq-len 6 --vocab abcd, 18 directions must share 16 neurons, and they cannot all be
orthogonal.

The class means are taken over the analysis sequences (all distinct sequences where there are few), held-out ones
too: every letter then occurs equally often at every position, so no position's mean leaks into another's.
"""

import numpy as np
import torch
from matplotlib.figure import Figure

from ..core.common import layer_features
from ..core.directions import letter_directions
from ..core.pca import singular_values
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.plots import heatmap
from ..core.train import sequence_accuracy
from ..mlp.probes import N_FOLDS, cross_validated_accuracy, fold_masks
from ..report.wording import listing, percentages, precise

LAYERS = ("hidden1", "hidden2")
READ = 0.9  # a layer "carries" a position's letter when a probe names it for at least this share, held out
RANDOM_DRAWS = 100  # random direction sets for the interference control


def participation_ratio(activations):
    """(sum of the PCA variances)^2 / (sum of their squares): 1 for a line, k for k equal directions."""
    variances = singular_values(activations) ** 2
    return float(variances.sum() ** 2 / (variances ** 2).sum()) if variances.sum() > 0 else 0.0


def components_for(activations, share=0.99):
    """How many principal components hold `share` of the variance."""
    variances = singular_values(activations) ** 2
    cumulative = variances.cumsum(0) / variances.sum()
    return int((cumulative < share - 1e-12).sum()) + 1


def line_share(directions, seq_len, n_letters):
    """For each position, the share of its V class-mean directions' variance on their top direction: 1 means the
    letters of that position sit on a line, so one direction carries them instead of V-1. (L,)"""
    blocks = directions.view(seq_len, n_letters, -1)  # (L, V, H)
    values = torch.linalg.svdvals(blocks) ** 2  # (L, min(V, H))
    return (values[:, 0] / values.sum(1).clamp(min=1e-24)).tolist()


def cosine_matrix(directions):
    """(K, H) -> (K, K) cosine similarities; a direction of length 0 (a letter a layer ignores) gets 0 off the
    diagonal and 1 on it."""
    unit = directions / directions.norm(dim=1, keepdim=True).clamp(min=1e-12)
    cosines = unit @ unit.T
    cosines.fill_diagonal_(1.0)
    return cosines


def largest_cross_position(cosines, seq_len, n_letters):
    """The largest |cos| between directions of different positions, and the mean |cos| over those pairs."""
    position = torch.arange(seq_len).repeat_interleave(n_letters)
    across = position[:, None] != position[None, :]
    magnitudes = cosines.abs()[across]
    return float(magnitudes.max()), float(magnitudes.mean())


def random_interference(width, seq_len, n_letters, generator):
    """The control: the same count of random directions in the same width, each position's V centred as the class
    means are (they add up to 0); the median over RANDOM_DRAWS sets of the largest cross-position |cos|."""
    largest = []
    for _ in range(RANDOM_DRAWS):
        draws = torch.randn(seq_len, n_letters, width, generator=generator, dtype=torch.float64)
        draws = (draws - draws.mean(1, keepdim=True)).reshape(seq_len * n_letters, width)
        largest.append(largest_cross_position(cosine_matrix(draws), seq_len, n_letters)[0])
    return float(np.median(largest))


def verdict(needed, width, carried):
    """"packed" where the needed directions outnumber the neurons and a layer still carries every letter; "not
    carried" where they outnumber them and no layer does; "not forced" where they fit."""
    if needed <= width:
        return "not forced"
    return "packed" if carried else "not carried"


def probe_reads(features, sequences, n_letters, generator):
    """Cross-validated probe accuracy for each position's letter, per layer: {layer: [L numbers]}."""
    test = fold_masks(len(sequences), N_FOLDS, generator)
    stacked = torch.stack([features[layer].float() for layer in LAYERS])  # (2, N, H)
    accuracy = cross_validated_accuracy(stacked, sequences, test, n_letters)  # (2, L)
    return {layer: accuracy[i].tolist() for i, layer in enumerate(LAYERS)}


def superposition_report(run):
    """Needed directions against width, effective dimension, interference and success, for both hidden layers.
    Returns a Superposition; each layer's "cosines" is an (L*V, L*V) array, the rest numbers and short labels."""
    model, data, cfg, sequences = run.model, run.data, run.cfg, run.sequences
    n_letters, seq_len = len(cfg.vocab), cfg.seq_len
    needed, width = seq_len * (n_letters - 1), cfg.hidden
    heldout = sequence_accuracy(model, data.heldout_sequences, run.vocab.eos_id)
    features = layer_features(model, sequences, run.vocab, run.device, LAYERS)
    generator = torch.Generator().manual_seed(run.seed)
    reads = probe_reads(features, sequences, n_letters, generator)
    carried = [layer for layer in LAYERS if min(reads[layer]) >= READ]
    report = {"needed_directions": needed, "width": width, "heldout_accuracy": heldout, "probe_reads": reads,
              "carried_by": carried, "verdict": verdict(needed, width, bool(carried)), "seq_len": seq_len,
              "vocab": cfg.vocab, "samples": cfg.samples, "epochs": cfg.epochs, "analysis_sequences": len(sequences),
              "random_max_cross_cos": random_interference(width, seq_len, n_letters, generator)}
    for layer in LAYERS:
        acts = features[layer]  # (N, H)
        # every letter kept (unlike subspaces.letter_subspaces), so the cosine matrix shows them all
        directions = letter_directions(acts, sequences, n_letters).reshape(seq_len * n_letters, -1)  # (L*V, H)
        cosines = cosine_matrix(directions)
        largest, mean = largest_cross_position(cosines, seq_len, n_letters)
        report[layer] = {"participation_ratio": participation_ratio(acts), "components_99": components_for(acts),
                         "cosines": cosines.numpy(), "max_cross_cos": largest, "mean_cross_cos": mean,
                         "live_neurons": int((acts.max(0).values > 0).sum()),
                         "line_share": line_share(directions, seq_len, n_letters)}
    return Superposition(report)


class Superposition(Result):
    """What superposition_report measured; finding() says what it means, and gives the verdict."""

    def finding(self):
        r = self
        needed, width = r["needed_directions"], r["width"]
        overlap = max(r[layer]["max_cross_cos"] for layer in LAYERS)
        numbers = {"needed_directions": needed, "width": width, "heldout_accuracy": r["heldout_accuracy"],
                   "max_cross_cos": overlap, "random_max_cross_cos": r["random_max_cross_cos"]}
        reads = {layer: min(r["probe_reads"][layer]) for layer in LAYERS}  # each layer's worst position
        numbers["probe_worst_position"] = max(reads.values())
        read_text = ", ".join(f"{layer} {precise(value, [READ], 0)}" for layer, value in reads.items())
        task = f"the model reverses {r['heldout_accuracy']:.1%} of held-out sequences"
        if r["verdict"] == "not forced":
            headline = (f"{needed} needed directions fit in {width} neurons, so nothing forces superposition; "
                        f"different positions' letter directions overlap at |cos| up to {overlap:.2f}, random "
                        f"directions at {r['random_max_cross_cos']:.2f}.")
        elif r["verdict"] == "packed":
            headline = (f"{needed} needed directions exceed the {width} neurons, yet {listing(r['carried_by'])} "
                        f"still carr{'ies' if len(r['carried_by']) == 1 else 'y'} every letter (probes, worst "
                        f"position: {read_text}): superposition is possible; {task}. Positions' directions overlap "
                        f"at |cos| up to {overlap:.2f}, random ones {r['random_max_cross_cos']:.2f}.")
        else:
            headline = (f"{needed} needed directions exceed the {width} neurons, and no hidden layer lets every "
                        f"letter be read (probes, worst position: {read_text}): no complete packed code; {task}.")
        evidence = [f"  Superposition: an additive code needs L x (V-1) = {r['seq_len']} x {len(r['vocab']) - 1} = "
                    f"{needed} directions; each hidden layer has {width} neurons. Held-out accuracy "
                    f"{r['heldout_accuracy']:.1%}. Probes name each position's letter (cross-validated, "
                    f"{r['analysis_sequences']} sequences): " + "; ".join(
                        f"{layer} {percentages(r['probe_reads'][layer])}" for layer in LAYERS) + "."]
        for layer in LAYERS:
            m = r[layer]
            evidence.append(f"  {layer}: effective dimension {m['participation_ratio']:.1f} (participation ratio of "
                            f"the PCA variances), {m['components_99']} principal components hold 99% "
                            f"({m['live_neurons']} of {width} neurons ever fire); the (position, letter) class-mean "
                            f"directions of different positions have |cos| up to {m['max_cross_cos']:.2f} (mean "
                            f"{m['mean_cross_cos']:.2f}); random directions in {width} dimensions: up to "
                            f"{r['random_max_cross_cos']:.2f} (median of {RANDOM_DRAWS} draws).")
        caveats = []
        if r["verdict"] == "packed":
            caveats.append(f"  {needed} needed directions in {width} neurons, every letter still readable, and "
                           f"{task}: more needed directions than neurons, which superposition requires but does not "
                           f"prove. If the network kept all "
                           f"{needed} additive directions they could not all be orthogonal; the |cos| between "
                           f"positions above (against the random baseline) and the lines below say how much it "
                           f"overlaps them and how much it compresses its letters instead.")
            for layer in LAYERS:
                m = r[layer]
                if m["components_99"] < width:
                    caveats.append(f"    But {layer} holds 99% of its variance in {m['components_99']} principal "
                                   f"components, fewer than its {width} neurons and the {needed} needed directions: "
                                   f"it packs the letters into fewer directions than the additive count instead of "
                                   f"filling its width. A position's class means put {min(m['line_share']):.0%} to "
                                   f"{max(m['line_share']):.0%} of their variance on one direction (100% would be all "
                                   f"its letters on one line).")
        elif r["verdict"] == "not carried":
            caveats.append(f"  {needed} needed directions exceed the {width} neurons, and linear probes miss some "
                           f"letters after {r['samples']:,} samples and {r['epochs']} epochs. This run does not test "
                           f"whether more training would keep them, so it does not show a capacity limit either.")
        else:
            caveats.append(f"  {needed} needed directions fit in {width} neurons: nothing forces superposition; the "
                           f"overlap between positions above is what training left, not what the width demands.")
        return Finding(headline, numbers, evidence, caveats)


def plot_superposition(report, path):
    """The cosine matrix between every (position, letter) class-mean direction, one panel per hidden layer."""
    r = report
    labels = [f"{p + 1}{x}" for p in range(r["seq_len"]) for x in r["vocab"]]
    fig = Figure(figsize=(11, 5.2))
    fig.subplots_adjust(left=0.06, right=0.97, bottom=0.1, top=0.79, wspace=0.15)
    step = 1 if len(labels) <= 30 else 2
    for ax, layer in zip(fig.subplots(1, 2), LAYERS):
        m = r[layer]
        heatmap(fig, ax, m["cosines"], "RdBu_r", -1, 1, "cosine similarity")
        if len(labels) <= 12:  # small enough to write the numbers in; white only on the darkest cells
            for (row, col), value in np.ndenumerate(m["cosines"]):
                ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(value) > 0.6 else "black")
        for edge in np.arange(len(r["vocab"]), len(labels), len(r["vocab"])) - 0.5:  # the position blocks
            ax.axhline(edge, color="black", linewidth=0.8)
            ax.axvline(edge, color="black", linewidth=0.8)
        ticks = list(range(0, len(labels), step))
        ax.set_xticks(ticks, [labels[i] for i in ticks], fontsize=7, rotation=90)
        ax.set_yticks(ticks, [labels[i] for i in ticks], fontsize=7)
        ax.set_title(f"{layer}: effective dimension {m['participation_ratio']:.1f}; largest |cos| between positions "
                     f"{m['max_cross_cos']:.2f}", fontsize=9)
    words = {"packed": "more than the neurons, every letter still readable: superposition possible (see the printout)",
             "not carried": "more than the neurons, and the layers lose letters at this budget",
             "not forced": "they fit: nothing forces superposition"}
    fig.suptitle(f"Cosine similarity between the (position, letter) class-mean directions ('2b' = letter b at input 2)"
                 f"\nL x (V-1) = {r['needed_directions']} needed directions in {r['width']} neurons, held-out "
                 f"accuracy {r['heldout_accuracy']:.0%}: {words[r['verdict']]}.\nBlocks on the diagonal: one "
                 f"position's letters (they add up to 0, so they point apart); off the blocks: interference between "
                 f"positions",
                 fontsize=9)
    save_figure(fig, path)
