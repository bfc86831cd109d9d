"""Weights: does the first Linear layer's weight block for a position say which positions a hidden1 neuron depends on?"""

import numpy as np
from matplotlib.figure import Figure

from .files import save_figure
from .plots import heatmap, positions


def first_layer_weight_norms(model, seq_len):
    """Each hidden1 neuron's weight norm per input position: the first Linear's weights, split into per-token blocks."""
    weight = model.linear1.weight.detach().cpu()  # (H, T*E)
    blocks = weight.view(weight.shape[0], seq_len + 1, -1)  # (H, T, E): one block of E weights per input token
    return blocks.norm(dim=2)[:, :seq_len].numpy()  # (H, L); the <eos> block is the same for every input


def weights_vs_selectivity(norms, eta, acts):
    """Do the weights agree with the measured selectivity? Correlation over neurons x positions, and how often a
    live neuron's largest weight block is at its most selective position."""
    alive = np.asarray(acts).max(0) > 0
    correlation = float(np.corrcoef(norms[alive].ravel(), eta[alive].ravel())[0, 1]) if alive.sum() > 1 else float("nan")
    agree = int((norms[alive].argmax(1) == eta[alive].argmax(1)).sum())
    return {"correlation": correlation, "top_position_agrees": agree, "alive_neurons": int(alive.sum())}


def explain_weights(selectivity):
    trained, control = selectivity["weights_vs_selectivity"], selectivity["control"]["weights_vs_selectivity"]
    return [f"First-layer weights: per-position weight norms and hidden1 selectivity correlate at "
            f"r = {trained['correlation']:.2f} (untrained control: {control['correlation']:.2f}); the largest weight "
            f"block is the most selective position for {trained['top_position_agrees']} of {trained['alive_neurons']} "
            f"live neurons (control: {control['top_position_agrees']} of {control['alive_neurons']})."]


def plot_first_layer_weights(selectivity, path):
    """First-layer weight norm per input-position block, beside hidden1's measured selectivity."""
    norms, eta = np.asarray(selectivity["first_layer_weight_norms"]), np.asarray(selectivity["hidden1"]["eta"])
    n_neurons, seq_len = norms.shape
    fig = Figure(figsize=(8, 1.6 + 0.2 * n_neurons))
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.1, top=0.88, wspace=0.35)
    left, right = fig.subplots(1, 2)
    heatmap(fig, left, norms, "cividis", 0, norms.max(), "weight norm of the position's block")
    left.set_title("first Linear: |W| per input position", fontsize=9)
    heatmap(fig, right, eta, "viridis", 0, 1, "variance explained (eta squared)")
    right.set_title("hidden1 selectivity (measured)", fontsize=9)
    for ax in (left, right):
        ax.set_xticks(range(seq_len), positions(seq_len))
        ax.set_yticks(range(n_neurons), range(n_neurons), fontsize=7)
        ax.set_xlabel("input position")
        ax.set_ylabel("hidden1 neuron")
    fig.suptitle("Weights vs behaviour: does a big weight block mean the neuron depends on that position?")
    save_figure(fig, path)
