"""Behaviour: change one input letter, and see which output letters change. A reversal is the anti-diagonal."""

import numpy as np
from matplotlib.figure import Figure

from .common import corruptions
from .files import save_figure
from .plots import heatmap, positions
from .train import predict


def position_influence(model, sequences, vocab):
    """[i][j] = fraction of single-letter changes at input position i that change the predicted letter at output j."""
    seq_len, n_letters = sequences.shape[1], len(vocab.letters)
    clean = predict(model, sequences, vocab.eos_id)[:, :seq_len]  # (N, L) predicted letters
    influence = np.zeros((seq_len, seq_len))
    for i in range(seq_len):
        changed = predict(model, corruptions(sequences, i, n_letters), vocab.eos_id)[:, :seq_len]
        influence[i] = (changed != clean.repeat(n_letters - 1, 1)).float().mean(0).numpy()
    return influence


def explain_influence(influence):
    seq_len = len(influence)
    diagonal = np.array([influence[i, seq_len - 1 - i] for i in range(seq_len)])
    off = influence[~np.eye(seq_len, dtype=bool)[::-1]]
    spread = f"{diagonal.min():.0%}" if diagonal.min() == diagonal.max() else f"{diagonal.min():.0%} to {diagonal.max():.0%}"
    largest_off = off.max() if off.size else 0.0
    others = "never any other output letter" if largest_off == 0 else f"any other output letter in at most {largest_off:.0%}"
    lines = [f"Behaviour: changing one input letter changes the mirrored output letter (input i -> output "
             f"{seq_len + 1}-i) in {spread} of cases, the anti-diagonal, and {others}."]
    if diagonal.min() >= 0.99 and (off.size == 0 or off.max() <= 0.01):
        lines.append("  Each output depends on exactly one input, the mirrored one: a clean reversal.")
    else:
        lines.append("  The map is not a clean reversal: some outputs depend on the wrong inputs, or not enough on "
                     "the right one.")
    return lines


def plot_influence(influence, path):
    """The behavioural map: which output letters change when one input letter changes."""
    seq_len = len(influence)
    fig = Figure(figsize=(5.2, 4.2))
    fig.subplots_adjust(left=0.16, right=0.95, bottom=0.14, top=0.86)
    ax = fig.subplots()
    heatmap(fig, ax, influence, "viridis", 0, 1, "fraction of changes that change this output",
             annotate=seq_len <= 8)
    ax.set_xticks(range(seq_len), positions(seq_len))
    ax.set_yticks(range(seq_len), positions(seq_len))
    ax.set_xlabel("output position")
    ax.set_ylabel("input position changed")
    ax.set_title("Behaviour: change one input letter,\nwhich output letters change? (reversal = anti-diagonal)")
    save_figure(fig, path)
