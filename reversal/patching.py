"""Activation patching: copy activations from a clean run into a corrupted one and measure how much of the clean
answer comes back."""

import numpy as np
import torch
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from .common import corruptions, percentages
from .data import add_eos
from .files import save_figure
from .model import run_with_cache, run_with_hooks
from .plots import positions


def _patching_setup(model, sequences, vocab, device, i):
    """Clean and corrupted runs for every (sequence, replacement letter at input i) pair, and the logit difference.

    LD = logit of the clean letter minus logit of the corrupted letter, at output L-1-i, the one that copies input i.
    Returns the corrupted tokens, the clean run's cache, LD on the corrupted run, LD_clean - LD_corrupt summed, and
    a function that gives LD for a (k * pairs, T, V) batch of patched logits.
    """
    seq_len, n_letters = sequences.shape[1], len(vocab.letters)
    j = seq_len - 1 - i
    clean = sequences.repeat(n_letters - 1, 1)  # (P, L): one row per (sequence, replacement letter) pair
    corrupted = corruptions(sequences, i, n_letters)
    good, bad = clean[:, i], corrupted[:, i]  # the clean letter, and the letter the corruption puts there

    def logit_diff(logits):
        logits = logits.cpu()[:, j]  # (k*P, V): k copies of the P pairs
        copies = len(logits) // len(good)
        rows = torch.arange(len(logits))
        return logits[rows, good.repeat(copies)] - logits[rows, bad.repeat(copies)]

    corrupt_tokens = add_eos(corrupted, vocab.eos_id).to(device)
    clean_logits, cache = run_with_cache(model, add_eos(clean, vocab.eos_id).to(device), ("hidden1", "hidden2"))
    with torch.no_grad():
        ld_corrupt = logit_diff(model(corrupt_tokens))
    return corrupt_tokens, cache, ld_corrupt, (logit_diff(clean_logits) - ld_corrupt).sum(), logit_diff


def activation_patching(model, sequences, vocab, device):
    """Patch clean activations into a corrupted run (the letter at input i changed) and measure how much of the
    clean answer at output L-1-i comes back.

    Restored share = sum(LD_patched - LD_corrupt) / sum(LD_clean - LD_corrupt), with LD as in _patching_setup:
    1 = all of it back, 0 = none. Returns, per layer: "whole_layer" (L,) and "neurons" (H, L).
    """
    result = {name: {"whole_layer": [], "neurons": []} for name in ("hidden1", "hidden2")}
    for i in range(sequences.shape[1]):
        corrupt_tokens, cache, ld_corrupt, total, logit_diff = _patching_setup(model, sequences, vocab, device, i)
        for name in ("hidden1", "hidden2"):
            patched = run_with_hooks(model, corrupt_tokens, {name: lambda out, name=name: cache[name]})
            result[name]["whole_layer"].append(((logit_diff(patched) - ld_corrupt).sum() / total).item())
            width = cache[name].shape[1]

            def patch_each(out, clean_acts=cache[name], width=width):
                out = out.clone().view(width, -1, width)  # (neuron patched, pair, neuron)
                index = torch.arange(width, device=out.device)
                out[index, :, index] = clean_acts.T  # block n: neuron n takes its clean value, the rest stay corrupted
                return out.view(-1, width)

            patched = run_with_hooks(model, corrupt_tokens.repeat(width, 1), {name: patch_each})
            gain = (logit_diff(patched).view(width, -1) - ld_corrupt).sum(1) / total  # (H,)
            result[name]["neurons"].append(gain.tolist())
    for name in ("hidden1", "hidden2"):
        result[name]["neurons"] = np.array(result[name]["neurons"]).T.tolist()  # (L, H) -> (H, L)
    return result


def patch_neurons(model, sequences, vocab, device, layer, neurons):
    """Share of the clean answer restored at each input position when `neurons` of `layer` are patched together."""
    shares = []
    for i in range(sequences.shape[1]):
        corrupt_tokens, cache, ld_corrupt, total, logit_diff = _patching_setup(model, sequences, vocab, device, i)

        def patch(out):
            out = out.clone()
            out[:, neurons] = cache[layer][:, neurons]
            return out

        patched = run_with_hooks(model, corrupt_tokens, {layer: patch})
        shares.append(((logit_diff(patched) - ld_corrupt).sum() / total).item())
    return shares


def explain_patching(patching):
    lines = ["Patching (clean activations copied into a run with one input letter changed; share of the clean "
             "answer's logit difference restored at the mirrored output):"]
    for name in ("hidden1", "hidden2"):
        neurons = np.array(patching[name]["neurons"])  # (H, L)
        best = neurons.max(0)
        lines.append(f"  whole {name}: {percentages(patching[name]['whole_layer'])} per input position; the best "
                     f"single neuron restores {percentages(best)}.")
    whole = min(min(patching[name]["whole_layer"]) for name in ("hidden1", "hidden2"))
    best = max(np.array(patching[name]["neurons"]).max() for name in ("hidden1", "hidden2"))
    if best > 1.01:
        lines.append("  A share above 100% means the patch overshoots: the patched run favours the clean letter more "
                     "than the clean run itself did.")
    if whole > 0.99 and best < 0.5:
        lines.append(f"  A whole layer carries the entire causal path; no single neuron carries more than {best:.0%} "
                     f"of it.")
    return lines


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
        ax.set_xticks(range(rows.shape[1]), positions(rows.shape[1]))
        ax.set_xlabel("input position corrupted")
        ax.set_title(f"{name}: patched from the clean run", fontsize=10)
    fig.suptitle("Activation patching: copy clean activations into a run with one letter changed;\n"
                 "how much of the clean answer (logit difference) at the mirrored output comes back?")
    save_figure(fig, path)
