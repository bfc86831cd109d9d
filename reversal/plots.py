"""Every figure the demo writes. Each function takes computed numbers and a path, and writes one PNG.

matplotlib's object interface (Figure, not pyplot): no global state, no window, nothing to close, and it works the
same in a terminal, a test or a notebook.
"""

import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .analysis import sweep_percent
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
    fig.subplots_adjust(left=0.1, right=0.96, bottom=0.6 / height, top=1 - 0.75 / height, wspace=0.25)
    axes = fig.subplots(1, len(layers), squeeze=False)[0]
    for ax, (name, acts) in zip(axes, layers.items()):
        image = ax.imshow(acts, aspect="auto", cmap=ACTIVATION_CMAP, vmin=0, interpolation="nearest")
        fig.colorbar(image, ax=ax, label="activation after ReLU (always >= 0)")
        dead = capture.layers[name].max(axis=0) == 0  # over every sequence, not only the rows shown
        step = max(1, acts.shape[1] // 32)  # a tick label per neuron while they fit
        ax.set_xticks(range(0, acts.shape[1], step), range(0, acts.shape[1], step), fontsize=7)
        for tick, is_dead in zip(ax.get_xticklabels(), dead[::step]):
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


def _heatmap(fig, ax, values, cmap, vmin, vmax, label, annotate=False):
    """imshow with a labelled colorbar; small grids get their numbers written in the cells."""
    values = np.asarray(values, dtype=float)
    image = ax.imshow(values, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, label=label)
    if annotate:
        middle = (vmin + vmax) / 2
        for (row, col), value in np.ndenumerate(values):
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if value < middle else "black")
    return image


def _positions(n):
    return [str(i + 1) for i in range(n)]


def plot_influence(influence, path):
    """The behavioural map: which output letters change when one input letter changes."""
    seq_len = len(influence)
    fig = Figure(figsize=(5.2, 4.2))
    fig.subplots_adjust(left=0.16, right=0.95, bottom=0.14, top=0.86)
    ax = fig.subplots()
    _heatmap(fig, ax, influence, "viridis", 0, 1, "fraction of changes that change this output",
             annotate=seq_len <= 8)
    ax.set_xticks(range(seq_len), _positions(seq_len))
    ax.set_yticks(range(seq_len), _positions(seq_len))
    ax.set_xlabel("output position")
    ax.set_ylabel("input position changed")
    ax.set_title("Behaviour: change one input letter,\nwhich output letters change? (reversal = anti-diagonal)")
    save_figure(fig, path)


def plot_probes(trained, control, path):
    """Held-out probe accuracy per layer and input position, for the trained model and an untrained control."""
    layers = list(trained)
    seq_len = len(trained[layers[0]])
    fig = Figure(figsize=(9, 3.8))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.8, wspace=0.12)
    axes = fig.subplots(1, 2, sharey=True)
    width = 0.8 / seq_len
    for ax, results, title in [(axes[0], trained, "trained model"), (axes[1], control, "untrained control (same shape)")]:
        for position in range(seq_len):
            ax.bar(np.arange(len(layers)) + (position - (seq_len - 1) / 2) * width,
                   [100 * results[name][position] for name in layers], width, label=f"letter at position {position + 1}")
        ax.set_xticks(range(len(layers)), layers)
        ax.set_ylim(0, 105)
        ax.set_title(title)
    axes[0].set_ylabel("probe accuracy on held-out sequences (%)")
    axes[1].legend(loc="lower right", fontsize=8)
    fig.suptitle("Probes: can a linear classifier read each input letter from a layer?\n"
                 "(information present is not information used)")
    save_figure(fig, path)


def plot_selectivity(selectivity, path):
    """eta squared per neuron and input position, one panel per hidden layer."""
    names = ["hidden1", "hidden2"]
    n_neurons = len(selectivity[names[0]]["eta"])
    fig = Figure(figsize=(8, 1.6 + 0.2 * n_neurons))
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.1, top=0.86, wspace=0.35)
    for ax, name in zip(fig.subplots(1, 2), names):
        eta = np.asarray(selectivity[name]["eta"])
        _heatmap(fig, ax, eta, "viridis", 0, 1, "variance explained (eta squared)")
        counts = selectivity[name]["counts"]
        ax.set_title(f"{name}: {counts['one_position']} one-position, {counts['several_positions']} several,\n"
                     f"{counts['no_position']} none, {counts['dead']} dead (threshold {selectivity['threshold']:.0%})",
                     fontsize=9)
        ax.set_xticks(range(eta.shape[1]), _positions(eta.shape[1]))
        ax.set_yticks(range(n_neurons), range(n_neurons), fontsize=7)
        ax.set_xlabel("input position")
        ax.set_ylabel("neuron")
    fig.suptitle("Selectivity: how much of each neuron's activity does the letter at each position explain?")
    save_figure(fig, path)


def plot_first_layer_weights(selectivity, path):
    """First-layer weight norm per input-position block, beside hidden1's measured selectivity."""
    norms, eta = np.asarray(selectivity["first_layer_weight_norms"]), np.asarray(selectivity["hidden1"]["eta"])
    n_neurons, seq_len = norms.shape
    fig = Figure(figsize=(8, 1.6 + 0.2 * n_neurons))
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.1, top=0.88, wspace=0.35)
    left, right = fig.subplots(1, 2)
    _heatmap(fig, left, norms, "cividis", 0, norms.max(), "weight norm of the position's block")
    left.set_title("first Linear: |W| per input position", fontsize=9)
    _heatmap(fig, right, eta, "viridis", 0, 1, "variance explained (eta squared)")
    right.set_title("hidden1 selectivity (measured)", fontsize=9)
    for ax in (left, right):
        ax.set_xticks(range(seq_len), _positions(seq_len))
        ax.set_yticks(range(n_neurons), range(n_neurons), fontsize=7)
        ax.set_xlabel("input position")
        ax.set_ylabel("hidden1 neuron")
    fig.suptitle("Weights vs behaviour: does a big weight block mean the neuron depends on that position?")
    save_figure(fig, path)


def plot_ablation(ablation, path):
    """Accuracy lost at each output position when one neuron is zeroed or held at its mean, both hidden layers."""
    baseline = 100 * np.asarray(ablation["baseline"])
    panels = [(name, kind) for name in ("hidden1", "hidden2") for kind in ("zero", "mean")]
    drops = {panel: baseline - 100 * np.asarray(ablation[panel[0]][panel[1]]["accuracy"]) for panel in panels}
    top = max(5.0, max(drop.max() for drop in drops.values()))  # at least 5 points, so no loss at all reads as pale
    n_neurons = drops[panels[0]].shape[0]
    fig = Figure(figsize=(10, 2.2 + 0.2 * n_neurons))
    fig.subplots_adjust(left=0.07, right=0.9, bottom=0.1, top=0.8, wspace=0.3)
    axes = fig.subplots(1, 4)
    for ax, panel in zip(axes, panels):
        image = ax.imshow(drops[panel], aspect="auto", cmap="Reds", vmin=0, vmax=top, interpolation="nearest")
        ax.set_title(f"{panel[0]}, {panel[1]}-ablated", fontsize=9)
        ax.set_xticks(range(drops[panel].shape[1]), _positions(drops[panel].shape[1]))
        ax.set_yticks(range(n_neurons), range(n_neurons), fontsize=7)
        ax.set_xlabel("output position")
    axes[0].set_ylabel("neuron ablated (alone)")
    fig.colorbar(image, ax=axes, label="accuracy lost (percentage points)", fraction=0.03)
    whole = ", ".join(f"{name} {ablation[name]['zero']['whole_layer_sequence_accuracy']:.1%}"
                      for name in ("hidden1", "hidden2"))
    fig.suptitle("Ablation: switch one neuron off (zero) or hold it at its training mean (mean): what breaks?\n"
                 f"Whole layer zeroed, sequence accuracy: {whole} (chance {ablation['chance_sequence_accuracy']:.1%})")
    save_figure(fig, path)


def plot_patching(patching, path):
    """Share of the clean answer restored by patching the whole layer (top row) or one neuron, per input position."""
    names = ["hidden1", "hidden2"]
    n_neurons = len(patching[names[0]]["neurons"])
    fig = Figure(figsize=(9, 2.2 + 0.2 * n_neurons))
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.1, top=0.82, wspace=0.45)
    for ax, name in zip(fig.subplots(1, 2), names):
        rows = np.vstack([patching[name]["whole_layer"], patching[name]["neurons"]])  # (1 + H, L)
        # a square-root colour scale: single neurons restore little, and on a linear scale they would all look black
        image = ax.imshow(rows.clip(0, 1), aspect="auto", cmap="viridis", norm=PowerNorm(0.5, vmin=0, vmax=1),
                          interpolation="nearest")
        fig.colorbar(image, ax=ax, label="share restored (square-root scale, capped at 1)")
        ax.axhline(0.5, color="white", linewidth=2)
        ax.set_yticks(range(len(rows)), ["whole layer"] + [f"neuron {i}" for i in range(n_neurons)], fontsize=7)
        ax.set_xticks(range(rows.shape[1]), _positions(rows.shape[1]))
        ax.set_xlabel("input position corrupted")
        ax.set_title(f"{name}: patched from the clean run", fontsize=10)
    fig.suptitle("Activation patching: copy clean activations into a run with one letter changed;\n"
                 "how much of the clean answer (logit difference) at the mirrored output comes back?")
    save_figure(fig, path)


def plot_sweep(grid, seq_lens, widths, path):
    """Held-out accuracy over sequence length x hidden width."""
    fig = Figure(figsize=(1.6 + 1.1 * len(widths), 1.4 + 0.45 * len(seq_lens)))
    fig.subplots_adjust(left=0.15, right=0.95, bottom=0.15, top=0.88)
    ax = fig.subplots()
    _heatmap(fig, ax, 100 * np.asarray(grid), "RdYlGn", 0, 100, "held-out accuracy (%)")
    for (row, col), value in np.ndenumerate(np.asarray(grid)):
        ax.text(col, row, sweep_percent(value), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(widths)), [str(w) for w in widths])
    ax.set_yticks(range(len(seq_lens)), [str(n) for n in seq_lens])
    ax.set_xlabel("hidden width (neurons per layer)")
    ax.set_ylabel("sequence length")
    ax.set_title("Capacity: where does a width stop being enough?")
    save_figure(fig, path)


class BackgroundFigures:
    """Draw figures in worker processes while the main process goes on computing.

    Drawing a figure is slow, single-threaded Python (0.1 to 0.4 s each); on a 2-core laptop, two workers finish the
    demo's eight figures in about half the time. The workers are forked, so they start with everything already
    imported; they ignore Ctrl-C, which the main process handles. Where fork does not exist (Windows), or for a
    single figure, drawing simply happens here.

        with BackgroundFigures() as figures:
            figures.draw(plot_training, history, "training_loss.png")
    """

    def __init__(self, workers=2):
        self.pool = None
        if "fork" in multiprocessing.get_all_start_methods():
            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                            initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))
        self.pending = []

    def draw(self, plot, *args):
        if self.pool is None:
            plot(*args)
        else:
            self.pending.append(self.pool.submit(plot, *args))

    def __enter__(self):
        return self

    def __exit__(self, error_type, *_):
        if self.pool is None:
            return
        if error_type is not None:  # Ctrl-C or an error: drop the queued figures and let the error go on at once
            self.pool.shutdown(wait=False, cancel_futures=True)
            return
        try:
            for job in self.pending:
                job.result()  # waits, and raises here any error a worker hit
        finally:
            self.pool.shutdown(cancel_futures=True)
