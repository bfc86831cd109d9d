"""The capacity sweep: train a model for each sequence length and hidden width, and compare held-out accuracy."""

import math
from dataclasses import replace

import numpy as np
from matplotlib.figure import Figure
from tqdm import tqdm

from .files import save_figure
from .plots import heatmap
from .train import make_data, make_model, sequence_accuracy, train
from .tutorial import watching


def capacity_sweep(cfg, seq_lens, widths, progress=True):
    """Held-out accuracy for each (seq_len, hidden width), every other setting as in cfg: (len(seq_lens), len(widths))."""
    grid = np.zeros((len(seq_lens), len(widths)))
    cells = [(a, b) for a in range(len(seq_lens)) for b in range(len(widths))]
    for a, b in tqdm(cells, desc="sweep", unit="model", disable=not (progress and watching())):
        cell = replace(cfg, seq_len=seq_lens[a], hidden=widths[b], input="")
        data = make_data(cell)
        model = make_model(cell, data.vocab)
        train(model, data, cell, progress=False)
        grid[a, b] = sequence_accuracy(model, data.heldout_sequences, data.vocab.eos_id)
    return grid


def sweep_percent(value):
    """'100%' only when exactly 1; otherwise rounded down to 0.1%, so that 99.96% never reads as 100."""
    return "100%" if value == 1 else f"{math.floor(value * 1000) / 10:.1f}%"


def explain_sweep(grid, seq_lens, widths):
    header = "seq-len " + "".join(f"{f'hidden {w}':>11}" for w in widths)
    rows = [f"{length:>7} " + "".join(f"{sweep_percent(value):>11}" for value in grid[a]) for a, length in enumerate(seq_lens)]
    lines = ["Held-out accuracy by sequence length and hidden width:", header] + rows
    for b, width in enumerate(widths):
        perfect = [str(length) for a, length in enumerate(seq_lens) if grid[a, b] == 1.0]
        short = [str(length) for a, length in enumerate(seq_lens) if grid[a, b] < 1.0]
        lines.append(f"  hidden {width}: 100% at length {', '.join(perfect) or 'none'}; "
                     f"below 100% at {', '.join(short) or 'none'}.")
    lines.append("  (one model per cell, one seed: a single cell can differ with --seed)")
    return lines


def plot_sweep(grid, seq_lens, widths, path):
    """Held-out accuracy over sequence length x hidden width."""
    fig = Figure(figsize=(1.6 + 1.1 * len(widths), 1.4 + 0.45 * len(seq_lens)))
    fig.subplots_adjust(left=0.15, right=0.95, bottom=0.15, top=0.88)
    ax = fig.subplots()
    heatmap(fig, ax, 100 * np.asarray(grid), "RdYlGn", 0, 100, "held-out accuracy (%)")
    for (row, col), value in np.ndenumerate(np.asarray(grid)):
        ax.text(col, row, sweep_percent(value), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(widths)), [str(w) for w in widths])
    ax.set_yticks(range(len(seq_lens)), [str(n) for n in seq_lens])
    ax.set_xlabel("hidden width (neurons per layer)")
    ax.set_ylabel("sequence length")
    ax.set_title("Capacity: where does a width stop being enough?")
    save_figure(fig, path)
