"""The capacity sweep: train a model for each sequence length and hidden width, at two training budgets, and compare
held-out accuracy.

Why two budgets. A cell below 100% can mean that the width is too small, or only that training stopped too soon.
With the defaults (seed 42, 2,000 samples, 100 epochs), width 8 at length 8 reaches 46% held-out; with 10 times the
samples it reaches 100%. So the sweep trains every cell at the first budget (the --samples, --epochs and
--batch-size you set), then retrains, at a larger budget, only the cells that missed 100%. A cell the larger budget
fixes was limited by training, not by width. A cell that stays below 100% may still need a wider layer, or yet more
training, or another seed: the sweep cannot tell which, and the text says so.

Needed directions. An additive code for L positions of V letters needs L x (V-1) directions
(reversal/mlp/mechanism.py). Where a cell has more of them than neurons and still reaches 100%, superposition is
possible there (necessary, not proof: reversal/features/superposition.py measures it on one model). Where such a cell
stays below 100% even at the larger budget, the sweep cannot say whether width or training is short; where the larger
budget fixes it, it was training.

Each cell trains in its own process (two at a time), because the cells do not depend on each other.
"""

import math
import multiprocessing
import os
import time
from dataclasses import replace

import matplotlib
import matplotlib.patches
import numpy as np
import torch
from matplotlib.figure import Figure
from tqdm import tqdm

from ..report import files
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..core.train import make_data, make_model, optimizer_steps, sequence_accuracy, train
from ..core.progress import watching

LARGER_BUDGET = 10  # the second budget trains on this many times the samples, so takes this many times the steps
MAX_SAMPLES = 1_000_000  # the --samples limit of config.py: the larger budget never asks for more


def training_budget(cfg):
    """What one model's training costs: {"samples", "epochs", "batch_size", "optimizer_steps"}.

    The defaults: 2,000 samples in batches of 100 is 20 steps an epoch, 2,000 steps in 100 epochs. The last batch of
    an epoch may be short, hence the ceiling.
    """
    return {"samples": cfg.samples, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
            "optimizer_steps": optimizer_steps(cfg)}


def default_budgets(cfg):
    """The settings as given, then LARGER_BUDGET times the samples (same epochs, so that many times the steps)."""
    return [{}, {"samples": min(MAX_SAMPLES, LARGER_BUDGET * cfg.samples)}]


def train_cell(cell):
    """Train one model with the Config `cell` and return its held-out accuracy. Runs in a worker process."""
    data = make_data(cell)
    model = make_model(cell, data.vocab)
    train(model, data, cell, progress=False)
    return sequence_accuracy(model, data.heldout_sequences, data.vocab.eos_id)


def start_worker(parent):
    """In each forked worker: a signal ends it, as it does the main process, and so does the end of the main process
    (files.start_worker); and one thread a model, since the workers share the cores (a fork inherits the caller's
    thread count, which the scripts set to 1; this holds for any caller)."""
    files.start_worker(parent)
    torch.set_num_threads(1)


def train_cells(cells, workers, desc, progress):
    """{key: held-out accuracy} for {key: Config}, `workers` models at a time.

    Workers are forked: they start with everything imported, in milliseconds. Not on the GPU (CUDA cannot be forked)
    nor where fork does not exist (Windows): there the cells train one after another. Leaving the `with` block
    terminates the workers, and Ctrl-C ends them at once (files.stop_cleanly_on_signals).
    """
    bar = tqdm(total=len(cells), desc=desc, unit="model", disable=not (progress and watching()))
    # the longest sequences first: the slowest models start early and the two workers finish together
    order = sorted(cells, key=lambda key: -cells[key].seq_len * cells[key].samples)
    results = {}
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for key in order:
            results[key] = train_cell(cells[key])
            bar.update()
    else:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=start_worker, initargs=(os.getpid(),)) as pool:
            for key, accuracy in zip(order, pool.imap(train_cell, [cells[key] for key in order])):
                results[key] = accuracy
                bar.update()
    bar.close()
    return results


def capacity_sweep(cfg, seq_lens, widths, budgets=None, progress=True, workers=2):
    """Held-out accuracy for each (seq_len, hidden width) at each training budget, every other setting as in cfg.

    budgets: a list of Config overrides, one per budget, e.g. [{}, {"samples": 20000}] (the default: default_budgets).
    Every cell trains at the first budget; at each later budget only the cells still below 100% are retrained.

    Returns a CapacitySweep, numbers and lists all through (json can write its values as they are):
        "seed": the seed every cell trained with;
        "seq_lens", "widths": the grid's rows and columns;
        "budgets": per budget, training_budget() of its settings: samples, epochs, batch_size, optimizer_steps;
        "heldout_accuracy": per budget, a len(seq_lens) x len(widths) list of lists; None where a cell was not
            retrained at that budget because it had already reached 100%;
        "seconds": the sweep's wall time;
        "needed_directions": per length, L x (V-1), the directions an additive code needs, to set against the widths.
    """
    budgets = default_budgets(cfg) if budgets is None else budgets
    if cfg.device != "cpu":
        workers = 1  # a forked process cannot use the parent's CUDA context
    start = time.perf_counter()
    grids, todo = [], [(a, b) for a in range(len(seq_lens)) for b in range(len(widths))]
    for number, overrides in enumerate(budgets, start=1):
        cells = {(a, b): replace(cfg, seq_len=seq_lens[a], hidden=widths[b], input="", **overrides) for a, b in todo}
        accuracy = train_cells(cells, min(workers, os.cpu_count() or 1), f"sweep, budget {number}", progress)
        grids.append([[accuracy.get((a, b)) for b in range(len(widths))] for a in range(len(seq_lens))])
        todo = [cell for cell in todo if accuracy[cell] < 1.0]
    return CapacitySweep({"seed": cfg.seed, "seq_lens": list(seq_lens), "widths": list(widths),
                          "budgets": [training_budget(replace(cfg, **overrides)) for overrides in budgets],
                          "heldout_accuracy": grids, "seconds": time.perf_counter() - start,
                          "needed_directions": [length * (len(cfg.vocab) - 1) for length in seq_lens]})


def accuracy_grids(sweep):
    """(budgets, seq_lens, widths) array of held-out accuracy; NaN where a cell was not trained at that budget."""
    return np.array([[[np.nan if value is None else value for value in row] for row in grid]
                     for grid in sweep["heldout_accuracy"]], dtype=float)


def sweep_percent(value):
    """'100%' only when exactly 1; otherwise rounded down to 0.1%, so that 99.96% never reads as 100."""
    return "100%" if value == 1 else f"{math.floor(value * 1000) / 10:.1f}%"


def budget_text(budget):
    return (f"{budget['samples']:,} samples x {budget['epochs']} epochs in batches of {budget['batch_size']} = "
            f"{budget['optimizer_steps']:,} optimizer steps")


def lengths_text(lengths):
    return ", ".join(map(str, lengths)) or "none"


class CapacitySweep(Result):
    """What capacity_sweep measured; finding() gives the grid at each budget, and for each width which lengths more
    training fixed and which it did not."""

    def finding(self):
        grids, seq_lens, widths, budgets = accuracy_grids(self), self["seq_lens"], self["widths"], self["budgets"]
        final = grids[0].copy()  # (seq_lens, widths) each cell's accuracy at the last budget it was trained at
        for grid in grids[1:]:
            final = np.where(np.isnan(grid), final, grid)
        first_steps, last_steps = budgets[0]["optimizer_steps"], budgets[-1]["optimizer_steps"]
        at_first, still = int((grids[0] == 1).sum()), int((final < 1).sum())
        fixed = int(((grids[0] < 1) & (final == 1)).sum())
        headline = (f"Of {final.size} cells (sequence length x hidden width), {at_first} reach 100% held-out with "
                    f"{first_steps:,} optimizer steps" + (f", {fixed} more with {last_steps:,}, and {still} at neither."
                                                         if len(budgets) > 1 else f" and {still} stay below."))
        carried = {"cells": final.size, "at_100_first_budget": at_first, "fixed_by_more_training": fixed,
                   "still_below_100": still, "crowded_at_100": int((crowded(self) & (final == 1)).sum())}
        lines = [f"  Capacity sweep: held-out accuracy by sequence length and hidden width, one model per cell, "
                 f"{len(seq_lens) * len(widths)} cells; {self['seconds']:.0f} s.",
                 f"  budget 1: {budget_text(budgets[0])}, every cell."]
        lines += [f"  budget {k + 1}: {budget_text(budgets[k])}, only the cells below 100% at budget {k}."
                  for k in range(1, len(budgets))]
        # each cell reads "46.4% -> 100%": its accuracy at each budget it was trained at, in order
        cell_text = [[" -> ".join(sweep_percent(v) for v in grids[:, a, b] if not np.isnan(v))
                      for b in range(len(widths))] for a in range(len(seq_lens))]
        column = max(11, max(len(text) for row in cell_text for text in row) + 2)
        lines.append("seq-len " + "".join(f"{f'hidden {w}':>{column}}" for w in widths))
        lines += [f"{length:>7} " + "".join(f"{text:>{column}}" for text in row)
                  for length, row in zip(seq_lens, cell_text)]
        for b, width in enumerate(widths):
            missed = [length for a, length in enumerate(seq_lens) if grids[0, a, b] < 1]
            fixed_here = [length for a, length in enumerate(seq_lens) if grids[0, a, b] < 1 and final[a, b] == 1]
            still_here = [length for a, length in enumerate(seq_lens) if final[a, b] < 1]
            if not missed:
                lines.append(f"  hidden {width}: 100% at every length at budget 1.")
                continue
            text = f"  hidden {width}: below 100% at length {lengths_text(missed)} with {first_steps:,} steps"
            if len(budgets) > 1:
                text += (f"; {last_steps:,} steps brought {lengths_text(fixed_here)} to 100%"
                         + (" (so that was the training budget, not the width)" if fixed_here else "")
                         + f"; still below at {lengths_text(still_here)}")
            lines.append(text + ".")
        lines += self.crowded_cells(grids[0], final)
        caveats = []
        if (final < 1).any():
            caveats.append("  A cell still below 100% at this training budget may need a wider layer, or yet more "
                           "training, or another seed: this sweep cannot tell which.")
        caveats.append("  (one model per cell, one seed: a single cell can differ with --seed)")
        return Finding(headline, carried, lines, caveats)

    def crowded_cells(self, first, final):
        """The cells with more needed directions than neurons, by what training made of them: lines. first, final:
        (seq_lens, widths) accuracy at the first budget and at the last budget each cell was trained at."""
        def cells(mask):
            return ", ".join(f"length {length} x width {width}" for a, length in enumerate(self["seq_lens"])
                             for b, width in enumerate(self["widths"]) if mask[a, b]) or "none"

        more = crowded(self)
        needed = ", ".join(f"{length}: {n}" for length, n in zip(self["seq_lens"], self["needed_directions"]))
        lines = [f"  Needed directions L x (V-1) per length: {needed}. {int(more.sum())} of {more.size} cells have "
                 "more needed directions than neurons (outlined in the figure)."]
        if more.any():
            text = (f"    Of those, at 100% held-out (superposition possible there: necessary, not proof): "
                    f"{cells(more & (final == 1))}")
            if (more & (first < 1) & (final == 1)).any():
                text += f"; of these, only after more training: {cells(more & (first < 1) & (final == 1))}"
            lines.append(text + f". Still below 100%: {cells(more & (final < 1))}.")
        return lines


def crowded(sweep):
    """(seq_lens, widths) bool: the cells with more needed directions, L x (V-1), than neurons."""
    return np.array(sweep["needed_directions"])[:, None] > np.array(sweep["widths"])[None, :]


def plot_sweep(sweep, path):
    """Held-out accuracy over sequence length x hidden width, one panel per training budget."""
    grids, seq_lens, widths, budgets = accuracy_grids(sweep), sweep["seq_lens"], sweep["widths"], sweep["budgets"]
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="0.92")  # light grey: not retrained at this budget
    # the layout in inches, so that it holds for any number of lengths and widths
    panel_w, panel_h = max(2.8, 0.75 * len(widths) + 0.3), max(1.6, 0.4 * len(seq_lens) + 0.3)  # room for titles
    left, gap, right, bottom, top = 0.8, 0.45, 1.2, 0.7, 1.5
    width = left + len(budgets) * panel_w + (len(budgets) - 1) * gap + right
    height = bottom + panel_h + top
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                        wspace=gap / panel_w)
    axes = fig.subplots(1, len(budgets), squeeze=False)[0]
    for k, (ax, grid, budget) in enumerate(zip(axes, grids, budgets)):
        image = ax.imshow(100 * grid, aspect="auto", cmap=cmap, vmin=0, vmax=100, interpolation="nearest")
        for (row, col), value in np.ndenumerate(grid):
            if not np.isnan(value):  # white on the dark ends of the colour scale, black on the light middle
                ax.text(col, row, sweep_percent(value), ha="center", va="center", fontsize=8,
                        color="white" if value < 0.2 or value > 0.9 else "black")
        for row, col in np.argwhere(crowded(sweep)):  # more needed directions than neurons
            ax.add_patch(matplotlib.patches.Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="black",
                                                      linewidth=1.2, linestyle="--"))
        ax.set_xticks(range(len(widths)), [str(w) for w in widths])
        ax.set_yticks(range(len(seq_lens)), [str(n) for n in seq_lens] if k == 0 else [])
        ax.set_xlabel("hidden width")
        cells = "every cell" if k == 0 else f"the cells below 100% at budget {k}"
        grey = "" if k == 0 else "\n(grey: 100% already, not retrained)"
        ax.set_title(f"budget {k + 1}, {cells}:\n{budget['samples']:,} samples x {budget['epochs']} epochs = "
                     f"{budget['optimizer_steps']:,} steps{grey}", fontsize=8.5, loc="left")
    axes[0].set_ylabel("sequence length")
    colorbar_ax = axes[-1].inset_axes([1 + 0.12 / panel_w, 0, 0.15 / panel_w, 1])  # 0.15 inch wide at any size
    fig.colorbar(image, cax=colorbar_ax, label="held-out accuracy (%)")
    title = "Held-out accuracy at this training budget" + (" and a larger one" if len(budgets) > 1 else "")
    question = ": does more training move the boundary?" if len(budgets) > 1 else ""
    fig.suptitle(f"{title}\n(seed {sweep['seed']}, one model a cell){question}\ndashed outline: more needed "
                 f"directions, L x (V-1), than neurons", y=1 - 0.08 / height, va="top")
    save_figure(fig, path)
