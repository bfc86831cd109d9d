"""Every figure the demo writes. Each function takes computed numbers and a path, and writes one PNG.

matplotlib's object interface (Figure, not pyplot): no global state, no window, nothing to close, and it works the
same in a terminal, a test or a notebook.
"""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .files import save_figure

ACTIVATION_CMAP = "magma"  # dark = 0 (silent), bright = firing strongly; a one-sided scale for values that are >= 0


def plot_training(history, path, title="Training"):
    """Loss per epoch (log scale) and held-out accuracy per epoch, in one figure."""
    epochs = np.arange(1, len(history.loss) + 1)
    loss = np.array(history.loss)
    positive = loss[loss > 0]
    # log(0) is -inf: a loss of exactly 0 is drawn at a floor below the smallest positive loss, and labelled
    floor = positive.min() / 10 if len(positive) else 1e-12
    fig = Figure(figsize=(7, 4))
    fig.subplots_adjust(left=0.11, right=0.89, bottom=0.12, top=0.92)  # fixed margins: faster than a layout engine
    ax = fig.subplots()
    ax.semilogy(epochs, np.maximum(loss, floor), color="tab:blue", label="training loss")
    if (loss == 0).any():
        ax.scatter(epochs[loss == 0], np.full((loss == 0).sum(), floor), color="tab:blue", marker="v", zorder=3,
                   label=f"loss exactly 0 (drawn at {floor:.0e})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (cross-entropy, log scale)", color="tab:blue")
    acc_ax = ax.twinx()
    heldout = 100 * np.array(history.heldout_accuracy)
    acc_ax.plot(epochs, heldout, color="tab:orange", label="held-out accuracy")
    acc_ax.set_ylim(-3, 103)
    acc_ax.set_ylabel("held-out sequence accuracy (%)", color="tab:orange")
    if (heldout == 100).any():
        # the first epoch from which held-out accuracy stays at 100%: when the model "got it"
        first = len(heldout) - np.argmax(heldout[::-1] < 100) + 1 if (heldout < 100).any() else 1
        if first <= len(heldout):
            ax.axvline(first, color="grey", linestyle=":", label=f"held-out 100% from epoch {first} on")
    lines = ax.get_legend_handles_labels()
    acc_lines = acc_ax.get_legend_handles_labels()
    ax.legend(lines[0] + acc_lines[0], lines[1] + acc_lines[1], loc="center right")
    ax.set_title(title)
    save_figure(fig, path)


def heatmap_rows(capture, max_rows, seed):
    """All rows when they fit; else a seeded sample of max_rows that keeps the test input, in lexicographic order."""
    n = len(capture.labels)
    if n <= max_rows:
        return np.arange(n)
    others = np.delete(np.arange(n), capture.test_row)
    picked = np.random.default_rng(seed).choice(others, size=max_rows - 1, replace=False)
    return np.sort(np.append(picked, capture.test_row))


def plot_activations(capture, path, max_rows=64, seed=0):
    """One heatmap per hidden layer: rows are input sequences, columns are neurons, colour is the activation."""
    rows = heatmap_rows(capture, max_rows, seed)
    layers = {name: acts[rows] for name, acts in capture.layers.items()}
    row_labels = [capture.labels[i] for i in rows]
    highlight = int(np.flatnonzero(rows == capture.test_row)[0])
    heldout_rows = np.flatnonzero(capture.heldout[rows])
    subtitle = "" if len(rows) == len(capture.labels) else f"a sample of {len(rows)} of the {len(capture.labels)} sequences"
    n_rows = len(row_labels)
    height = 1.6 + 0.16 * n_rows
    fig = Figure(figsize=(4.6 * len(layers) + 0.6, height))
    fig.subplots_adjust(left=0.6 / fig.get_figwidth() + 0.05, right=0.97, bottom=0.7 / height, top=1 - 0.75 / height,
                        wspace=0.35)
    axes = fig.subplots(1, len(layers), squeeze=False)[0]
    for ax, (name, acts) in zip(axes, layers.items()):
        image = ax.imshow(acts, aspect="auto", cmap=ACTIVATION_CMAP, vmin=0, interpolation="nearest")
        fig.colorbar(image, ax=ax, label="activation after ReLU (always >= 0)")
        dead = acts.max(axis=0) == 0
        ax.set_xticks(range(acts.shape[1]))
        ax.set_xticklabels(range(acts.shape[1]), fontsize=7)
        for tick, is_dead in zip(ax.get_xticklabels(), dead):
            if is_dead:
                tick.set_color("red")
        ax.set_xlabel(f"neuron ({dead.sum()} dead, in red: 0 for every input)")
        ax.set_yticks(range(n_rows))
        ax.set_yticklabels(row_labels, fontsize=7, family="monospace")
        for row in heldout_rows:
            ax.get_yticklabels()[row].set_color("tab:orange")
        ax.get_yticklabels()[highlight].set_fontweight("bold")
        ax.add_patch(Rectangle((-0.5, highlight - 0.5), acts.shape[1], 1, fill=False, edgecolor="cyan", linewidth=1.5))
        ax.set_title(name)
    axes[0].set_ylabel("input sequence (orange: held out; boxed: the test input)")
    fig.suptitle("Hidden activations, captured by forward hooks" + (f"\n{subtitle}" if subtitle else ""))
    save_figure(fig, path)
