"""Reading the hidden layers with forward hooks: every distinct sequence's activations, which neurons fire, and the
heatmap of them all."""

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..core.common import SEED_NOTE, layer_features, letters
from ..core.data import all_sequences
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import listing

TOP = 3  # the strongest neurons named for the test input
ACTIVATION_CMAP = "magma"  # dark = 0 (silent), bright = firing strongly; a one-sided scale for values that are >= 0


def activation_stats(acts):
    """Per layer: which neurons never fire, which always fire, which fire for some inputs only."""
    fires = acts > 0  # (N, H) post-ReLU, so "fires" means "is above zero"
    return {"dead": np.flatnonzero(~fires.any(0)).tolist(),
            "always": np.flatnonzero(fires.all(0)).tolist(),
            "sometimes": np.flatnonzero(fires.any(0) & ~fires.all(0)).tolist(),
            "mean_active_fraction": float(fires.mean())}


class Capture(Result):
    """Hidden activations for every distinct sequence, in lexicographic order (aaa, aab, ...).

    values: {layer: activation_stats}, what metrics.json keeps. arrays, for the heatmap and the sentences:
    "labels" (each sequence's letters, e.g. "abc"), "heldout" ((N,) True where the sequence was held out of
    training), "test_row" (the row of the test input, --input), "layers" ({"hidden1": (N, H), "hidden2": (N, H)}).
    """

    def __init__(self, labels, heldout, test_row, layers):
        super().__init__({name: activation_stats(acts) for name, acts in layers.items()},
                         {"labels": labels, "heldout": heldout, "test_row": test_row, "layers": layers})

    def finding(self):
        """Sentences about the captured hidden layers, and the neurons that fire most for the test input."""
        row = self["test_row"]
        input_letters = self["labels"][row]
        evidence, dead_counts, active = [], [], []
        for name, acts in self["layers"].items():
            stats = self[name]
            n, h = acts.shape
            listed = f" {stats['dead'][:10]}" if 0 < len(stats["dead"]) <= 10 else ""  # a long list helps nobody
            dead, always, sometimes = (len(stats[key]) for key in ("dead", "always", "sometimes"))
            dead_counts.append(f"{dead} of {h} {name} neurons")
            active.append(f"{stats['mean_active_fraction']:.0%} ({name})")
            evidence.append(f"  {name}: {dead} of {h} neurons {_verb(dead, 'is', 'are')} dead (0 for all {n} inputs)"
                            f"{listed}, {always} {_verb(always, 'fires', 'fire')} for every input, {sometimes} "
                            f"{_verb(sometimes, 'fires', 'fire')} for some inputs and not others; on average "
                            f"{stats['mean_active_fraction']:.0%} of the neurons are above 0 for an input.")
            strongest = np.argsort(-acts[row], kind="stable")[:TOP]
            values = ", ".join(f"neuron {i} ({acts[row, i]:.2f})" for i in strongest if acts[row, i] > 0)
            evidence.append(f"    strongest for {input_letters!r}: {values or 'none: every neuron is 0 for it'}")
        headline = (f"Forward hooks on all {len(self['labels'])} sequences find {listing(dead_counts)} dead (0 for "
                    f"every input); an input makes on average {listing(active)} of the neurons fire.")
        numbers = {f"{key}_{name}": len(self[name][key]) for key in ("dead", "always") for name in self["layers"]}
        numbers.update({f"active_fraction_{name}": self[name]["mean_active_fraction"] for name in self["layers"]})
        caveats = [f"  ({SEED_NOTE}; every value is >= 0 because it is taken after a ReLU.)"]
        return Finding(headline, numbers, evidence, caveats)


def capture_all(run, names=("hidden1", "hidden2")):
    """Run every distinct sequence through run.model with capture hooks on `names`: a Capture."""
    vocab, cfg = run.vocab, run.cfg
    sequences = all_sequences(len(cfg.vocab), cfg.seq_len)  # (N, L)
    layers = layer_features(run.model, sequences, vocab, run.device, names)
    labels = [letters(s, vocab) for s in sequences]
    heldout = {letters(s, vocab) for s in run.data.heldout_sequences}
    return Capture(labels=labels, heldout=np.array([label in heldout for label in labels]),
                   test_row=labels.index(cfg.input), layers={name: acts.numpy() for name, acts in layers.items()})


def _verb(count, one, many):
    """The verb that agrees with a count: "1 of 4 neurons is dead", "2 of 4 neurons are dead"."""
    return one if count == 1 else many


def heatmap_rows(capture, max_rows, seed):
    """All rows when they fit; else a seeded sample of max_rows that keeps the test input, in lexicographic order."""
    n = len(capture["labels"])
    if n <= max_rows:
        return np.arange(n)
    others = np.delete(np.arange(n), capture["test_row"])
    picked = np.random.default_rng(seed).choice(others, size=max_rows - 1, replace=False)
    return np.sort(np.append(picked, capture["test_row"]))


def plot_activations(capture, path, max_rows=64, seed=0):
    """Draw activation_figure and save it to path."""
    save_figure(activation_figure(capture, max_rows, seed), path)


def activation_figure(capture, max_rows=64, seed=0):
    """One heatmap per hidden layer: rows are input sequences, columns are neurons, colour is the activation.

    The layout is set in inches, not in fractions of the figure, so that every label keeps its room whether there
    are 9 rows or 64, 4 neurons or 256, 'abc' or 'abcdabcdab' as row labels.
    """
    rows = heatmap_rows(capture, max_rows, seed)
    layers = {name: acts[rows] for name, acts in capture["layers"].items()}
    row_labels = [capture["labels"][i] for i in rows]
    highlight = int(np.flatnonzero(rows == capture["test_row"])[0])
    heldout_rows = np.flatnonzero(capture["heldout"][rows])
    sampled = len(rows) < len(capture["labels"])
    n_rows, n_layers = len(row_labels), len(layers)

    row_label_width = 0.15 + 0.06 * max(map(len, row_labels))  # monospace at fontsize 7: about 0.06 inch a letter
    panel_w, panel_h = 3.2, max(2.6, 0.16 * n_rows)  # at least tall enough for the colour bar's label
    colorbar_w = 1.0  # the colour bar, its ticks and its label
    left, bottom, top = 0.35 + row_label_width, 1.05, 0.95 if sampled else 0.75
    gap = colorbar_w + row_label_width + 0.1  # between panels: one colour bar and the next panel's row labels
    width = left + n_layers * panel_w + (n_layers - 1) * gap + colorbar_w
    height = bottom + panel_h + top
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=left / width, right=1 - colorbar_w / width, bottom=bottom / height,
                        top=1 - top / height, wspace=gap / panel_w)
    axes = fig.subplots(1, n_layers, squeeze=False)[0]
    for ax, (name, acts) in zip(axes, layers.items()):
        image = ax.imshow(acts, aspect="auto", cmap=ACTIVATION_CMAP, vmin=0, interpolation="nearest")
        # a colour bar 0.15 inch wide whatever the figure's height (matplotlib's default grows with the height)
        colorbar_ax = ax.inset_axes([1 + 0.1 / panel_w, 0, 0.15 / panel_w, 1])
        fig.colorbar(image, cax=colorbar_ax, label="activation after ReLU (>= 0)")
        n_neurons = acts.shape[1]
        step = math.ceil(n_neurons / 16)  # at most 16 tick labels fit under 3.2 inches
        ax.set_xticks(range(0, n_neurons, step), range(0, n_neurons, step), fontsize=7)
        dead = np.flatnonzero(capture["layers"][name].max(axis=0) == 0)  # every sequence, not the rows shown
        for neuron in dead:  # a red outline round each dead column: visible at any width, labelled or not
            ax.add_patch(Rectangle((neuron - 0.5, -0.5), 1, n_rows, fill=False, edgecolor="red", linewidth=1.2))
        ax.set_xlabel(f"neuron ({len(dead)} of {n_neurons} dead)")
        ax.set_yticks(range(n_rows))
        ax.set_yticklabels(row_labels, fontsize=7, family="monospace")
        for row in heldout_rows:
            ax.get_yticklabels()[row].set_color("tab:orange")
        ax.get_yticklabels()[highlight].set_fontweight("bold")
        ax.add_patch(Rectangle((-0.5, highlight - 0.5), n_neurons, 1, fill=False, edgecolor="cyan", linewidth=1.5))
        ax.set_title(name)
    axes[0].set_ylabel("input sequence")
    subtitle = f"\na sample of {n_rows} of the {len(capture['labels']):,} sequences" if sampled else ""
    fig.suptitle("Hidden activations, captured by forward hooks" + subtitle, y=1 - 0.1 / height, va="top")
    fig.text(0.5, 0.12 / height, f"Rows: input sequences; orange labels: held out of training; cyan box: the test "
             f"input {row_labels[highlight]!r}.\nColumns: neurons; red outline: a dead neuron, 0 for every input. "
             f"Colour: the activation, never below 0 after the ReLU.", ha="center", va="bottom", fontsize=8.5)
    return fig
