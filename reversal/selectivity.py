"""Selectivity: how much of each neuron's variance does the letter at each input position explain (eta squared)?"""

import numpy as np
import torch
from matplotlib.figure import Figure

from .common import layer_features
from .files import save_figure
from .plots import heatmap, positions
from .weights import first_layer_weight_norms, weights_vs_selectivity

SELECTIVE = 0.1  # a neuron "depends on" an input position when that letter explains >= 10% of its variance


def eta_squared(acts, sequences):
    """eta squared: the fraction of each neuron's variance explained by the letter at each input position.

    acts (N, H) over sequences (N, L), ideally all of them, so every letter is equally common at every position and
    the positions are independent; returns (H, L) in [0, 1], and 0 for a neuron whose activation never varies.
    """
    acts = torch.as_tensor(acts, dtype=torch.float64)
    mean = acts.mean(0)  # (H,)
    total = ((acts - mean) ** 2).sum(0)  # (H,) total sum of squares
    eta = torch.zeros(acts.shape[1], sequences.shape[1], dtype=torch.float64)
    for position in range(sequences.shape[1]):
        for letter in sequences[:, position].unique():
            group = acts[sequences[:, position] == letter]  # (n_letter, H)
            eta[:, position] += len(group) * (group.mean(0) - mean) ** 2  # between-letter sum of squares
    eta = torch.where(total[:, None] > 1e-12, eta / total.clamp_min(1e-12)[:, None], torch.zeros_like(eta))
    return eta.clamp(0, 1).numpy()


def selectivity_counts(eta, acts):
    """How many neurons depend on one input position, several, or none, and how many are dead."""
    dead = np.asarray(acts).max(0) <= 0
    positions = (eta >= SELECTIVE).sum(1)
    return {"dead": int(dead.sum()), "one_position": int(((positions == 1) & ~dead).sum()),
            "several_positions": int(((positions > 1) & ~dead).sum()), "no_position": int(((positions == 0) & ~dead).sum())}


def neuron_selectivity(model, sequences, vocab, device, control):
    """Per hidden layer: eta squared (H, L) and the neuron counts; the first layer's weight norms per position and
    how well they agree with hidden1's measured selectivity; and the same counts and agreement for `control`, the
    untrained network, to show what training changed."""
    result = {"threshold": SELECTIVE, **_selectivity(model, sequences, vocab, device)}
    untrained = _selectivity(control, sequences, vocab, device)
    result["control"] = {"hidden1": untrained["hidden1"]["counts"], "hidden2": untrained["hidden2"]["counts"],
                         "weights_vs_selectivity": untrained["weights_vs_selectivity"]}
    return result


def _selectivity(model, sequences, vocab, device):
    features = layer_features(model, sequences, vocab, device, ("hidden1", "hidden2"))
    result = {}
    for name, acts in features.items():
        eta = eta_squared(acts, sequences)
        result[name] = {"eta": eta.tolist(), "counts": selectivity_counts(eta, acts.numpy())}
    norms = first_layer_weight_norms(model, sequences.shape[1])
    result["first_layer_weight_norms"] = norms.tolist()
    result["weights_vs_selectivity"] = weights_vs_selectivity(norms, np.array(result["hidden1"]["eta"]),
                                                              features["hidden1"].numpy())
    return result


def explain_selectivity(selectivity):
    lines = [f"Selectivity (eta squared: share of a neuron's variance explained by the letter at one input position; "
             f"'depends on' means >= {SELECTIVE:.0%}; the untrained control in brackets):"]
    for name in ("hidden1", "hidden2"):
        counts, control = selectivity[name]["counts"], selectivity["control"][name]
        lines.append(f"  {name}: {counts['one_position']} ({control['one_position']}) neurons depend on one position, "
                     f"{counts['several_positions']} ({control['several_positions']}) on several, "
                     f"{counts['no_position']} ({control['no_position']}) on none alone, "
                     f"{counts['dead']} ({control['dead']}) dead.")
    counts, control = selectivity["hidden1"]["counts"], selectivity["control"]["hidden1"]
    if counts["several_positions"] > (sum(counts.values()) - counts["dead"]) / 2:
        lines.append("  At this cutoff most live hidden1 neurons mix several positions: they are not one-letter-slot "
                     "units.")
        if control["several_positions"] > (sum(control.values()) - control["dead"]) / 2:
            lines.append("  So do the untrained network's: a ReLU of a sum over all positions mixes them before any "
                         "training, so the mixing itself is not something the network learned.")
    return lines


def plot_selectivity(selectivity, path):
    """eta squared per neuron and input position, one panel per hidden layer."""
    names = ["hidden1", "hidden2"]
    n_neurons = len(selectivity[names[0]]["eta"])
    fig = Figure(figsize=(8, 1.6 + 0.2 * n_neurons))
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.1, top=0.86, wspace=0.35)
    for ax, name in zip(fig.subplots(1, 2), names):
        eta = np.asarray(selectivity[name]["eta"])
        heatmap(fig, ax, eta, "viridis", 0, 1, "variance explained (eta squared)")
        counts = selectivity[name]["counts"]
        ax.set_title(f"{name}: {counts['one_position']} one-position, {counts['several_positions']} several,\n"
                     f"{counts['no_position']} none, {counts['dead']} dead (threshold {selectivity['threshold']:.0%})",
                     fontsize=9)
        ax.set_xticks(range(eta.shape[1]), positions(eta.shape[1]))
        ax.set_yticks(range(n_neurons), range(n_neurons), fontsize=7)
        ax.set_xlabel("input position")
        ax.set_ylabel("neuron")
    fig.suptitle("Selectivity: how much of each neuron's activity does the letter at each position explain?")
    save_figure(fig, path)
