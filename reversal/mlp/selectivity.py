"""Selectivity: how much of each neuron's variance does the letter at each input position explain (eta squared)?

Example, defaults: a hidden1 neuron's activation over the 27 sequences. Group the sequences by their first letter
(9 start with a, 9 with b, 9 with c). If the three group means differ a lot and the activations within a group
little, the first letter explains much of the neuron's variance: eta squared near 1. If the means are equal, 0.

How large must eta squared be to mean "depends on"? A permutation null answers it: shuffle which sequence has which
activation many (seeded) times and compute eta squared again. Shuffled, no neuron depends on anything, yet with only
27 sequences eta squared still reaches about 0.3 in 1% of cases: a letter splits 27 values into 3 groups of 9, and
three random groups of 9 rarely have equal means. So the cut-off is the null's 99th percentile, and never below a
10% floor (with 512 sequences the null allows 2%, too small a share to call a dependence).
"""

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from ..core.common import layer_features
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import listing
from ..report.plots import heatmap, neuron_ticks, positions

LAYERS = ("hidden1", "hidden2")
UNINFORMATIVE = 0.9  # a null whose cut-off is this high leaves nothing to call a dependence: chance reaches it too
SELECTIVE = 0.1  # the smallest share of variance we call "depends on", however small the null's cut-off
NULL_PERMUTATIONS = 200  # shuffles for the permutation null: 200 x neurons x positions values to take a quantile of
NULL_QUANTILE = 0.99  # the cut-off is the eta squared that shuffled data exceed only 1% of the time


def eta_squared(acts, sequences):
    """eta squared: the fraction of each neuron's variance explained by the letter at each input position.

    acts (N, H) over sequences (N, L), ideally all of them, so every letter is equally common at every position and
    the positions are independent; returns (H, L) in [0, 1], and 0 for a neuron whose activation never varies.
    sequences may also be (R, N, L), R relabellings of the same activations (the permutation null): then (R, H, L).
    """
    acts = torch.as_tensor(acts, dtype=torch.float64)
    centered = acts - acts.mean(0)  # (N, H)
    total = (centered ** 2).sum(0)  # (H,) total sum of squares
    one_hot = F.one_hot(sequences).double()  # (..., N, L, V)
    count = one_hot.sum(-3)  # (..., L, V) sequences with letter v at position l
    group_sums = torch.einsum("...nlv,nh->...hlv", one_hot, centered)  # n_v * (group mean - overall mean)
    between = (group_sums ** 2 / count.clamp_min(1)[..., None, :, :]).sum(-1)  # (..., H, L) between-letter SS
    eta = torch.where(total[:, None] > 1e-12, between / total.clamp_min(1e-12)[:, None], torch.zeros_like(between))
    return eta.clamp(0, 1).numpy()


def null_cutoff(acts, sequences, generator, permutations=NULL_PERMUTATIONS, quantile=NULL_QUANTILE):
    """The permutation null: eta squared of `acts` (N, H) after shuffling which sequence has which activation,
    `permutations` times; returns its `quantile` over every shuffle, live neuron and position."""
    orders = torch.stack([torch.randperm(len(sequences), generator=generator) for _ in range(permutations)])  # (R, N)
    null = eta_squared(acts, sequences[orders])  # (R, H, L)
    live = np.asarray(acts).std(0) > 0  # a neuron that never varies has eta squared 0 by definition: leave it out
    return float(np.quantile(null[:, live], quantile)) if live.any() else 1.0


def selectivity_counts(eta, acts, threshold):
    """How many neurons depend on one input position, several, or none (eta squared >= threshold), and how many
    are dead."""
    dead = np.asarray(acts).max(0) <= 0
    positions = (eta >= threshold).sum(1)
    return {"dead": int(dead.sum()), "one_position": int(((positions == 1) & ~dead).sum()),
            "several_positions": int(((positions > 1) & ~dead).sum()),
            "no_position": int(((positions == 0) & ~dead).sum())}


class Selectivity(Result):
    """What neuron_selectivity measured; finding() says what it means. The untrained network's numbers are under
    "untrained"."""

    def finding(self):
        null, threshold = self["null"], self["threshold"]
        informative = null["informative"]
        live = {name: sum(self[name]["counts"].values()) - self[name]["counts"]["dead"] for name in LAYERS}
        one = {name: self[name]["counts"]["one_position"] for name in LAYERS}
        untrained_one = {name: self["untrained"][name]["counts"]["one_position"] for name in LAYERS}
        numbers = {"threshold": threshold, "null_eta_squared": null["eta_squared"],
                   **{f"median_top_eta_{name}": self[name]["median_top_eta"] for name in LAYERS}}
        if informative:
            counted = listing(f"{one[name]} of {live[name]} {name}" for name in LAYERS)
            headline = (f"By eta squared (at least {threshold:.2f}, beyond chance), {counted} live neurons depend on "
                        f"the letter at one input position alone, against {listing(map(str, untrained_one.values()))} "
                        f"in the untrained network.")
            numbers.update({f"one_position_{name}": one[name] for name in LAYERS})
            numbers.update({f"untrained_one_position_{name}": untrained_one[name] for name in LAYERS})
        else:
            headline = (f"With only {self['sequences']} sequences, shuffled data reach eta squared "
                        f"{null['eta_squared']:.2f} too, so no neuron's dependence on an input position can be told "
                        f"from chance.")
        reason = (f"the null's {null['quantile']:.0%} point, above the {self['floor']:.0%} floor, which chance "
                  f"alone would pass" if null["eta_squared"] > self["floor"] else
                  f"the {self['floor']:.0%} floor; the null alone would allow {null['eta_squared']:.2f}")
        shuffled = f"  Permutation null: with the sequences shuffled {null['permutations']} times, eta squared"
        if informative:
            null_line = (f"{shuffled} exceeds {null['eta_squared']:.2f} in {1 - null['quantile']:.0%} of (neuron, "
                         f"position) pairs. So 'depends on' means >= {threshold:.2f} here ({reason}).")
        else:
            null_line = (f"{shuffled} still reaches {null['eta_squared']:.2f} in {1 - null['quantile']:.0%} of "
                         f"(neuron, position) pairs: with only {self['sequences']} sequences, chance alone explains "
                         f"nearly all of a neuron's variance, so no dependence can be told from chance, and the "
                         f"counts of selective neurons are left out.")
        evidence = ["  Selectivity (eta squared: the share of a neuron's variance explained by the letter at one input "
                    "position):", null_line]
        for name in LAYERS:
            layer, control = self[name], self["untrained"][name]
            counts, untrained = layer["counts"], control["counts"]
            if not informative:
                evidence.append(f"  {name}: median top eta squared {layer['median_top_eta']:.2f} trained, "
                                f"{control['median_top_eta']:.2f} untrained; dead: {counts['dead']} "
                                f"({untrained['dead']} untrained).")
                continue
            evidence.append(f"  {name}: median top eta squared {layer['median_top_eta']:.2f} trained, "
                            f"{control['median_top_eta']:.2f} untrained. Neurons depending on one position: "
                            f"{counts['one_position']} ({untrained['one_position']} untrained), on several: "
                            f"{counts['several_positions']} ({untrained['several_positions']}), on none alone: "
                            f"{counts['no_position']} ({untrained['no_position']}), dead: {counts['dead']} "
                            f"({untrained['dead']}).")
        top = max(self["hidden1"]["top_eta"])
        evidence.append(f"  The most selective hidden1 neuron takes {top:.2f} of its variance from one position (1 "
                        f"would be a pure one-position unit).")
        caveats = []
        counts, untrained = self["hidden1"]["counts"], self["untrained"]["hidden1"]["counts"]
        if informative and counts["several_positions"] > (sum(counts.values()) - counts["dead"]) / 2:
            evidence.append("  At this cut-off most live hidden1 neurons mix several positions: they are not "
                            "one-letter-slot units.")
            if untrained["several_positions"] > (sum(untrained.values()) - untrained["dead"]) / 2:
                caveats.append("  So do the untrained network's: a ReLU of a sum over all positions mixes them before "
                               "any training, so the mixing itself is not something the network learned.")
        return Finding(headline, numbers, evidence, caveats)


def neuron_selectivity(run):
    """eta squared per neuron and input position in each hidden layer of run.model and of run.untrained, on
    run.sequences, against a cut-off from a permutation null (seeded with run.seed).

    Returns a Selectivity: {"threshold": the cut-off used, max(SELECTIVE, the null's), "floor": SELECTIVE,
             "sequences": N,
             "null": {"permutations", "quantile", "eta_squared": the null's quantile, "informative": False where
                      that quantile reaches UNINFORMATIVE (a handful of sequences), and the counts mean nothing},
             "hidden1" and "hidden2": {"eta": (H, L), "counts": {"one_position", "several_positions",
                 "no_position", "dead"}, "top_eta": [each neuron's largest eta squared], "median_top_eta": over the
                 live neurons},
             "untrained": {"hidden1", "hidden2"}: the same for the untrained network}
    """
    sequences = run.sequences
    features = {network: layer_features(net, sequences, run.vocab, run.device, LAYERS)
                for network, net in (("trained", run.model), ("untrained", run.untrained))}
    every_neuron = torch.cat([acts for layers in features.values() for acts in layers.values()], 1)  # (N, 4H)
    cutoff = null_cutoff(every_neuron, sequences, torch.Generator().manual_seed(run.seed))
    threshold = max(SELECTIVE, cutoff)
    summary = {network: {name: _layer_selectivity(acts, sequences, threshold) for name, acts in layers.items()}
               for network, layers in features.items()}
    return Selectivity({"threshold": threshold, "floor": SELECTIVE, "sequences": len(sequences),
                        "null": {"permutations": NULL_PERMUTATIONS, "quantile": NULL_QUANTILE, "eta_squared": cutoff,
                                 "informative": cutoff < UNINFORMATIVE},
                        **summary["trained"], "untrained": summary["untrained"]})


def _layer_selectivity(acts, sequences, threshold):
    eta = eta_squared(acts, sequences)  # (H, L)
    top = eta.max(1)  # (H,) each neuron's most explanatory position
    live = acts.numpy().std(0) > 0
    return {"eta": eta.tolist(), "counts": selectivity_counts(eta, acts.numpy(), threshold), "top_eta": top.tolist(),
            "median_top_eta": float(np.median(top[live])) if live.any() else 0.0}


def neuron_figure(n_neurons, width, n_panels, title_lines=2):
    """A figure with one row per neuron in each of `n_panels` panels, tall enough for 4 neurons and no taller than
    the screen for 64; margins in inches, so the titles and labels fit at every height."""
    height = min(max(3.6, 1.9 + 0.17 * n_neurons), 9)
    fig = Figure(figsize=(width, height))
    top = 0.45 + 0.2 * title_lines  # inches for the suptitle and the panel titles
    fig.subplots_adjust(left=0.7 / width, right=0.99, bottom=0.6 / height, top=1 - top / height, wspace=0.5)
    return fig, fig.subplots(1, n_panels)


def neuron_axes(ax, n_neurons, seq_len, ylabel="neuron"):
    ax.set_xticks(range(seq_len), positions(seq_len), fontsize=8 if seq_len < 10 else 6)
    ax.set_yticks(*neuron_ticks(n_neurons), fontsize=7)
    ax.set_xlabel("input position", fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)


def plot_selectivity(selectivity, path):
    """eta squared per neuron and input position, one panel per hidden layer; and each neuron's top eta squared,
    trained against untrained, beside the cut-off and the null."""
    eta = {name: np.asarray(selectivity[name]["eta"]) for name in LAYERS}
    n_neurons, seq_len = eta["hidden1"].shape
    fig, axes = neuron_figure(n_neurons, 12, 3)
    threshold = selectivity["threshold"]
    for ax, name in zip(axes, LAYERS):
        heatmap(fig, ax, eta[name], "viridis", 0, 1, "eta squared")
        counts = selectivity[name]["counts"]
        ax.set_title(f"{name} (trained): {counts['one_position']} one-position,\n{counts['several_positions']} "
                     f"several, {counts['no_position']} none, {counts['dead']} dead (>= {threshold:.2f})", fontsize=9)
        neuron_axes(ax, n_neurons, seq_len)
    ax = axes[2]
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, n_neurons)  # fixed spread so dots do not hide each other
    for x, (network, name) in enumerate([(n, l) for l in LAYERS for n in ("trained", "untrained")]):
        layer = selectivity[name] if network == "trained" else selectivity["untrained"][name]
        top = np.array(layer["top_eta"])
        live = top > 0
        ax.scatter(x + jitter[live], top[live], s=12, alpha=0.7,
                   color="tab:blue" if network == "trained" else "tab:orange")
        ax.hlines(layer["median_top_eta"], x - 0.3, x + 0.3, color="black", linewidth=2)
    ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=1)
    ax.set_xticks(range(4), ["hidden1\ntrained", "hidden1\nuntrained", "hidden2\ntrained", "hidden2\nuntrained"],
                  fontsize=7)
    ax.set_xlim(-0.5, 3.5)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("largest eta squared over positions", fontsize=9)
    ax.set_title(f"each live neuron's top eta squared\n(bars: medians; dashes: the cut-off, {threshold:.2f})",
                 fontsize=9)
    fig.suptitle("Selectivity: how much of each neuron's variance does the letter at each position explain?")
    save_figure(fig, path)
