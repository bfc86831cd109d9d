"""What the figures share: the training curve, a labelled heatmap, position tick labels, and drawing figures in the
background. Each experiment's own figure lives in its file (probes.py draws the probe figure).

matplotlib's object interface (Figure, not pyplot): no global state, no window, nothing to close, and it works the
same in a terminal, a test or a notebook.
"""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from .files import save_figure, start_worker


def plot_training(history, path, title="Training"):
    """Loss per epoch (log scale) and held-out accuracy per epoch, in one figure."""
    epochs = np.arange(1, len(history.loss) + 1)
    loss = np.array(history.loss)
    positive = loss[loss > 0]
    # log(0) is -inf: a loss of exactly 0 is drawn at a floor below the smallest positive loss, and labelled
    floor = positive.min() / 10 if len(positive) else 1e-12
    fig = Figure(figsize=(7, 4.4))
    # fixed margins (faster than a layout engine), with room at the bottom for the legend, clear of every curve
    fig.subplots_adjust(left=0.11, right=0.89, bottom=0.22, top=0.93)
    ax = fig.subplots()
    ax.semilogy(epochs, np.maximum(loss, floor), color="tab:blue", label="training loss")
    drawn = np.maximum(loss, floor)
    low, high = np.log10(drawn.min()), np.log10(drawn.max())
    if high - low < 1:
        # less than a decade: matplotlib would label the minor ticks (2e-1, 3e-1, ...), and their long labels push
        # the axis label off the figure. Label only powers of 10, and widen to those around the data, so that at
        # least two of them label the axis.
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(10 ** np.floor(low), 10 ** max(np.ceil(high), np.floor(low) + 1))
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
    fig.legend(lines[0] + acc_lines[0], lines[1] + acc_lines[1], loc="lower center", ncol=3, fontsize=9,
               frameon=False)  # below the axes: no placement inside can be sure to miss both curves
    ax.set_title(title)
    save_figure(fig, path)


def heatmap(fig, ax, values, cmap, vmin, vmax, label, annotate=False, fontsize=8):
    """imshow with a labelled colorbar; small grids get their numbers written in the cells, in `fontsize`."""
    values = np.asarray(values, dtype=float)
    image = ax.imshow(values, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, label=label)
    if annotate:
        middle = (vmin + vmax) / 2
        for (row, col), value in np.ndenumerate(values):
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=fontsize,
                    color="white" if value < middle else "black")
    return image


def positions(n):
    return [str(i + 1) for i in range(n)]


def output_position_labels(seq_len, short=False):
    """Tick labels for output positions that name the input each one copies: "1\\n(copies 3)" for L = 3, or, short,
    "1\\n\u2190 3" (for a narrow axis with many positions; its label should then say what the arrow means)."""
    if short:
        return [f"{j + 1}\n\u2190 {seq_len - j}" for j in range(seq_len)]
    return [f"{j + 1}\n(copies {seq_len - j})" for j in range(seq_len)]


def neuron_ticks(width, most=32):
    """Y tick positions and labels for one row per neuron: every neuron up to `most`, else every k-th."""
    step = -(-width // most)  # ceiling division: 64 neurons -> every 2nd
    ticks = list(range(0, width, step))
    return ticks, [str(n) for n in ticks]


def label_neuron_panels(axes, width, seq_len, xlabel, fontsize=7):
    """Ticks for a grid of (neuron x output position) panels: neuron rows on the shared y axis, output positions,
    named by the input each copies, under the bottom row. The tick labels take `fontsize`, the axis label one more."""
    axes[0, 0].set_yticks(*neuron_ticks(width))  # the axes are shared: this labels every panel
    for ax in axes.flat:
        ax.tick_params(axis="y", labelsize=fontsize)
    for ax in axes[-1]:
        ax.set_xticks(range(seq_len), output_position_labels(seq_len), fontsize=fontsize)
        ax.set_xlabel(xlabel, fontsize=fontsize + 1)


def panel_grid(rows, cols, panel, margins, gaps):
    """A Figure with a rows x cols grid of axes sharing both axes, laid out in inches, so that titles and labels
    keep their room whatever the number of neurons or positions.

    panel = (width, height) of one axes; margins = (left, right, top, bottom), right holding the colour bar;
    gaps = (between columns, between rows). Returns the figure, a (rows, cols) array of axes, and an axes for the
    colour bar, 0.3 inches into the right margin, as tall as the grid.
    """
    (width, height), (left, right, top, bottom), (wgap, hgap) = panel, margins, gaps
    fig_width = left + right + cols * width + (cols - 1) * wgap
    fig_height = top + bottom + rows * height + (rows - 1) * hgap
    fig = Figure(figsize=(fig_width, fig_height))
    fig.subplots_adjust(left=left / fig_width, right=1 - right / fig_width, top=1 - top / fig_height,
                        bottom=bottom / fig_height, wspace=wgap / width, hspace=hgap / height)
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
    colorbar_axes = fig.add_axes([1 - (right - 0.3) / fig_width, bottom / fig_height, 0.15 / fig_width,
                                  1 - (top + bottom) / fig_height])
    return fig, axes, colorbar_axes


class BackgroundFigures:
    """Draw figures in worker processes while the main process goes on computing.

    Drawing a figure is slow, single-threaded Python (0.1 to 0.4 s each); on a 2-core laptop, two workers finish the
    demo's eight figures in about half the time. The workers are forked, so they start with everything already
    imported. On a signal each removes the file it is writing and ends, and each ends with the main process, however
    that ends (files.start_worker). Where fork does not exist (Windows), drawing simply happens here.

        with BackgroundFigures() as figures:
            figures.draw(plot_training, history, "training_loss.png")
    """

    def __init__(self, workers=2):
        self.pool = None
        if "fork" in multiprocessing.get_all_start_methods():
            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                            initializer=start_worker, initargs=(os.getpid(),))
        self.pending = []

    def draw(self, plot, *args, **kwargs):
        if self.pool is None:
            plot(*args, **kwargs)
            return
        try:
            self.pending.append(self.pool.submit(plot, *args, **kwargs))
        except BrokenProcessPool:
            self.lost_a_worker()

    def __enter__(self):
        return self

    def __exit__(self, error_type, *_):
        if self.pool is None:
            return
        if error_type is not None:  # an error: drop the queued figures and let the error go on at once
            self.pool.shutdown(wait=False, cancel_futures=True)
            return
        try:
            for job in self.pending:
                job.result()  # waits, and raises here any error a worker hit
        except BrokenProcessPool:
            self.lost_a_worker()
        finally:
            self.pool.shutdown(cancel_futures=True)

    @staticmethod
    def lost_a_worker():
        """A worker was killed on its own (kill PID, or out of memory): its figure cannot be drawn, so stop here, in
        one line, with status 1. The pool has ended the other worker already."""
        raise SystemExit("a figure worker was stopped from outside (a signal, or out of memory): the run stopped "
                         "before finishing")
