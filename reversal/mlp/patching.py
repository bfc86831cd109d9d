"""Activation patching: run a clean and a corrupted input, copy activations from one run into the other, and measure
how much of the clean answer the copied part carries.

Example, defaults: clean "abc" (answer "cba"), corrupted "bbc": input 1 changed, so output 3 should say "b", not "a".
LD = the logit of the clean letter "a" minus the logit of the corrupted letter "b", at output 3, the one that copies
input 1. Two directions, named as in Heimersheim and Nanda (2024):
    denoising  run "bbc", copy in the clean activations of a part. Does the part *suffice* to bring "a" back?
               share = (LD_patched - LD_corrupted) / (LD_clean - LD_corrupted): 1 = all back, 0 = nothing back
    noising    run "abc", copy in the corrupted activations of a part. Is the part *necessary* for "a"?
               share = (LD_clean - LD_patched) / (LD_clean - LD_corrupted): 1 = all of it lost, 0 = nothing lost
So in both, 1 means the part carries the whole difference. The sums run over every (sequence, changed letter)
pair before dividing. Shares below 0 or above 1 mean something: the patch pushed the other way, or overshot.

The readout from hidden2 is linear, so patching one hidden2 neuron n changes LD by exactly
W_out[n] . (h_clean[n] - h_corrupted[n]): its direct logit attribution, the same in both directions. These shares
add up to the whole layer's, 1, so when several neurons contribute, each one's share must be small.
"""

import numpy as np
import torch
from matplotlib.colors import TwoSlopeNorm

from ..core.common import corruptions, patch_gain, patch_share, replace_each
from ..core.data import add_eos
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import numbers, span
from ..core.model import run_with_cache, run_with_hooks
from ..report.plots import label_neuron_panels, panel_grid

LAYERS = ("hidden1", "hidden2")
DIRECTIONS = ("denoising", "noising")


def _patching_setup(model, sequences, vocab, device, j):
    """Clean and corrupted runs for output j: every (sequence, other letter at input L-1-j) pair.

    Returns {"clean", "corrupted"}: tokens, caches, LD on each run, and a function giving LD for a batch of k
    copies of the pairs' logits, (k*P, T, V) -> (k, P).
    """
    seq_len, n_letters = sequences.shape[1], len(vocab.letters)
    i = seq_len - 1 - j  # the input output j copies
    clean = sequences.repeat(n_letters - 1, 1)  # (P, L): one row per (sequence, replacement letter) pair
    corrupted = corruptions(sequences, i, n_letters)  # (P, L)
    good, bad = clean[:, i], corrupted[:, i]  # the clean letter, and the one the corruption puts there

    def logit_diff(logits):
        logits = logits.cpu()[:, j].view(-1, len(good), logits.shape[-1])  # (k, P, V)
        return logits[:, torch.arange(len(good)), good] - logits[:, torch.arange(len(good)), bad]  # (k, P)

    runs = {}
    for name, rows in (("clean", clean), ("corrupted", corrupted)):
        tokens = add_eos(rows, vocab.eos_id).to(device)
        logits, cache = run_with_cache(model, tokens, LAYERS)
        runs[name] = {"tokens": tokens, "cache": cache, "ld": logit_diff(logits)[0]}
    return runs, logit_diff


class Patching(Result):
    """What activation_patching measured; finding() says what it means: both directions, the sums that make single
    shares small, and where noising and denoising agree."""

    def finding(self):
        hidden2 = np.array(self["denoising"]["hidden2"]["neurons"])  # (H, L)
        ranked = -np.sort(-hidden2, axis=0)  # (H, L) each output's shares, largest first
        needed = (ranked.cumsum(0) < 0.5).sum(0) + 1  # (L,) neurons, largest first, to reach half the answer
        width = len(hidden2)
        wholes = np.array([self[d][l]["whole_layer"] for d in DIRECTIONS for l in LAYERS])  # (2 * layers, L)
        whole = ("all of it" if np.abs(wholes - 1).max() < 0.005 else
                 f"{span(wholes.ravel(), '.2f')} of it, not the 1 it must: check the hooks")
        if needed.min() >= 2:
            alone = (f"a hidden2 neuron carries at most {hidden2.max():.2f} of the answer from a clean run into a "
                     f"corrupted one; it takes {_count_range(needed)} of the {width} to carry half")
        else:
            alone = (f"one hidden2 neuron carries half of the answer or more at {(needed == 1).sum()} of "
                     f"{len(needed)} outputs, from a clean run into a corrupted one")
        headline = f"Patched alone, {alone}, and a whole layer carries {whole}."
        key_numbers = {"hidden2_largest_share": float(hidden2.max()), "neurons_for_half": int(needed.min()),
                       "whole_layer_lowest": float(wholes.min()),
                       "largest_pair_gap_hidden1": self["largest_pair_gap"]["hidden1"]}
        evidence = ["  Patching (corrupt the input an output copies; LD = the clean letter's logit minus the corrupted "
                    "letter's, at that output; a share of 1 = the part carries all of LD_clean - LD_corrupted; a "
                    "whole layer must give 1, since in a chain everything passes through it: a sanity check):"]
        for direction, meaning in (("denoising", "clean part into the corrupted run, share restored: sufficiency"),
                                   ("noising", "corrupted part into the clean run, share lost: necessity")):
            evidence.append(f"  {direction} ({meaning}):")
            for layer in LAYERS:
                entry = self[direction][layer]
                neurons = np.array(entry["neurons"])  # (H, L)
                evidence.append(f"    {layer}: whole layer {numbers(entry['whole_layer'])} per output; single "
                                f"neurons {_signed(neurons.min())} to {_signed(neurons.max())}, summing to "
                                f"{numbers(entry['neuron_sum'], 3)}.")
        sums = np.array(self["denoising"]["hidden2"]["neuron_sum"])
        evidence.append(f"  hidden2 feeds a linear readout, so a neuron's share there is exactly its direct logit "
                        f"attribution, and the shares add up to the whole layer's: {numbers(sums, 3)}.")
        if needed.min() >= 2:
            # "many" only where it is a large part of the layer: 3 of 16 neurons carrying half is a small group
            spread = ("the answer is spread over many of the layer's neurons" if needed.min() > width / 3 else
                      f"no single neuron carries it, but a small part of the layer (at most {needed.max() / width:.0%} "
                      f"of its neurons) carries half")
            evidence.append(f"  In hidden2 the largest single share is {hidden2.max():.2f}, and it takes "
                            f"{_count_range(needed)} of the {width} neurons at an output (the largest, ranked for that "
                            f"output) to reach half of its answer: {spread}. That the shares add up to 1 is "
                            f"arithmetic; how evenly they split is the finding.")
        else:
            evidence.append(f"  In hidden2 one neuron alone carries half of the answer or more at "
                            f"{(needed == 1).sum()} of {len(needed)} outputs: with this few neurons sharing it, a "
                            f"single share can be large.")
        lowest = min(np.array(self[d][l]["neurons"]).min() for d in DIRECTIONS for l in LAYERS)
        if lowest <= -0.005:
            evidence.append(f"  A negative share (down to {lowest:.2f}) means that neuron alone pushes toward the "
                            f"corrupted letter.")
        pair_gap = self["largest_pair_gap"]
        gaps = f"{pair_gap['hidden1']:.2f} in hidden1 ({pair_gap['hidden2']:.2f} in hidden2, whose readout is linear)"
        gap = max(np.abs(np.array(self["denoising"][layer]["neurons"])
                         - np.array(self["noising"][layer]["neurons"])).max() for layer in LAYERS)
        if self["pairs_both_ways"]:
            caveats = [f"  Noising and denoising give the same shares here (to {gap:.0e}), by construction: every "
                       f"corrupted sequence is also a clean one, so the noising run of the pair (clean x, corrupted "
                       f"y) is the denoising run of the pair (clean y, corrupted x), with LD's sign flipped. Pair by "
                       f"pair they differ: for one pair and one neuron, the two gains in LD differ by up to {gaps}. "
                       f"They part ways when the clean and corrupted inputs come from different sets, as they often "
                       f"do in language models."]
        else:
            caveats = [f"  Noising and denoising differ by at most {gap:.3f} in share, though for one pair and one "
                       f"neuron the two gains in LD differ by up to {gaps}. The sequences here are a sample, so not "
                       f"every pair is also run the other way round; but a pair drawn at random is as likely to come "
                       f"either way round, so the two directions agree on average."]
        return Finding(headline, key_numbers, evidence, caveats)


def activation_patching(run):
    """Denoising and noising in run.model, for each whole hidden layer and each single neuron, at every output
    position j (corrupting the input it copies, L-1-j), on run.sequences.

    Returns a Patching: [direction][layer] = {"whole_layer": (L,), "neurons": (H, L), "neuron_sum": (L,)}, with
    direction "denoising" or "noising" and every value a share as in the module docstring; "neuron_sum" adds up the
    single neurons' shares (1 in hidden2, exactly, up to rounding). And "largest_pair_gap": {layer: the largest
    difference, in logits, between one pair's noising and denoising gain for one neuron}, and "pairs_both_ways": True
    when every corrupted sequence is also a clean one. Then every pair is run both ways round and the two directions
    agree when summed over the pairs (see Patching.finding); pair by pair they need not.
    """
    model, sequences, vocab, device = run.model, run.sequences, run.vocab, run.device
    seq_len = sequences.shape[1]
    result = {direction: {layer: {"whole_layer": [], "neurons": []} for layer in LAYERS} for direction in DIRECTIONS}
    result["largest_pair_gap"] = {layer: 0.0 for layer in LAYERS}
    # every pair is also run the other way round when each corrupted sequence is also one of the clean ones
    known = {tuple(row) for row in sequences.tolist()}
    result["pairs_both_ways"] = all(tuple(row) in known for i in range(seq_len)
                                    for row in corruptions(sequences, i, len(vocab.letters)).tolist())
    for j in range(seq_len):
        runs, logit_diff = _patching_setup(model, sequences, vocab, device, j)
        for layer in LAYERS:
            gains = {}
            for direction in DIRECTIONS:
                # denoising runs the corrupted input with clean parts; noising the reverse
                target, source = ("corrupted", "clean") if direction == "denoising" else ("clean", "corrupted")
                donor = runs[source]["cache"][layer]  # (P, H)
                width = donor.shape[1]
                tokens = runs[target]["tokens"].repeat(width + 1, 1)  # block n patches neuron n; the last, all
                logits = run_with_hooks(model, tokens, {layer: lambda out, donor=donor: replace_each(out, donor)})
                gains[direction] = patch_gain(direction, logit_diff(logits), runs)  # (H+1, P)
                shares = patch_share(gains[direction], runs)  # (H+1,)
                result[direction][layer]["neurons"].append(shares[:width].tolist())
                result[direction][layer]["whole_layer"].append(shares[width].item())
            gap = (gains["denoising"] - gains["noising"]).abs().max().item()
            result["largest_pair_gap"][layer] = max(result["largest_pair_gap"][layer], gap)
    for direction in DIRECTIONS:
        for layer in LAYERS:
            entry = result[direction][layer]
            entry["neurons"] = np.array(entry["neurons"]).T.tolist()  # (L, H) -> (H, L)
            entry["neuron_sum"] = np.array(entry["neurons"]).sum(0).tolist()
    return Patching(result)


def patch_neurons(model, sequences, vocab, device, layer, neurons, direction="denoising"):
    """The share at each output position when `neurons` of `layer` are patched together: (L,) list."""
    shares = []
    for j in range(sequences.shape[1]):
        runs, logit_diff = _patching_setup(model, sequences, vocab, device, j)
        target, source = ("corrupted", "clean") if direction == "denoising" else ("clean", "corrupted")

        def patch(out, donor=runs[source]["cache"][layer]):
            out = out.clone()
            out[:, neurons] = donor[:, neurons]
            return out

        logits = run_with_hooks(model, runs[target]["tokens"], {layer: patch})
        shares.append(patch_share(patch_gain(direction, logit_diff(logits), runs), runs).item())
    return shares


def _signed(value):
    return "0.00" if abs(value) < 0.005 else f"{value:+.2f}"


def _count_range(counts):
    return f"{counts.min()}" if counts.min() == counts.max() else f"{counts.min()} to {counts.max()}"


def noising_equals_denoising(patching, tolerance=1e-6):
    """True where every share, single neuron, whole layer and neuron sum, is the same in both directions: then the
    noising column of the figure repeats the denoising one."""
    return all(np.allclose(patching["denoising"][layer][key], patching["noising"][layer][key], rtol=0, atol=tolerance)
               for layer in LAYERS for key in ("neurons", "whole_layer", "neuron_sum"))


def plot_patching(patching, path, detail=False):
    """Single-neuron shares on one diverging scale centred on 0 and wide enough that no share is clipped, with the
    whole layer's shares in each panel's title. With detail, a row of panels per layer, denoising and noising side
    by side. By default the same, in larger type; except where noising gives the same values as denoising, and then
    one panel per layer, denoising, side by side as in ablation.png."""
    directions = DIRECTIONS if detail or not noising_equals_denoising(patching) else ("denoising",)
    if len(directions) == 2:  # a row per layer, a column per direction
        grid = [[(layer, direction) for direction in directions] for layer in LAYERS]
    else:  # one row: the layers side by side
        grid = [[(layer, "denoising") for layer in LAYERS]]
    neurons = {cell: np.array(patching[cell[1]][cell[0]]["neurons"]) for row in grid for cell in row}  # (H, L) each
    top = max(0.05, max(np.abs(values).max() for values in neurons.values()))
    width, seq_len = neurons["hidden1", "denoising"].shape
    if detail:
        panel = (0.8 + 0.55 * seq_len, 0.8 + 0.1 * min(width, 32))  # inches: room for each output, each neuron
        margins, gaps, fontsize = (1.0, 1.9, 1.25, 0.85), (0.3, 0.75), 7
    else:
        panel = (1.0 + 0.7 * seq_len, 0.8 + 0.13 * min(width, 32))
        margins, gaps, fontsize = (1.2, 2.0, 1.45, 1.0), (0.4, 1.0), 9
    fig, axes, colorbar_axes = panel_grid(len(grid), len(grid[0]), panel, margins, gaps)
    norm = TwoSlopeNorm(0, -top, top)
    for axes_row, cells in zip(axes, grid):
        for ax, (layer, direction) in zip(axes_row, cells):
            entry = patching[direction][layer]
            image = ax.imshow(neurons[layer, direction], aspect="auto", cmap="RdBu_r", norm=norm,
                              interpolation="nearest")
            ax.set_title(f"{layer}" + (f", {direction}" if len(directions) == 2 else "")
                         + f"\nwhole layer: {numbers(entry['whole_layer'])}\n"
                         f"neurons add up to: {numbers(entry['neuron_sum'])}", fontsize=fontsize + 1)
        axes_row[0].set_ylabel(f"{layer} neuron\npatched alone" if len(directions) == 2 else "neuron patched alone",
                               fontsize=fontsize + 2)
    label_neuron_panels(axes, width, seq_len, "output measured\n(the input it copies is corrupted)", fontsize)
    fig.colorbar(image, cax=colorbar_axes, label="share of the clean answer\n(denoising: restored"
                 + (", noising: lost)" if len(directions) == 2 else ")"))
    if detail:
        fig.suptitle("Activation patching, one neuron at a time. Denoising: clean into\ncorrupted (sufficiency); "
                     "noising: corrupted into clean (necessity).\nRed: the neuron carries part of the answer; blue: "
                     "it works against it", fontsize=9)
    elif len(directions) == 1:
        fig.suptitle("One neuron patched, clean into corrupted: the share of the answer it restores\n"
                     "(noising gives the same values here)", fontsize=12)
    else:
        fig.suptitle("One neuron patched at a time. Denoising: clean into corrupted;\nnoising: corrupted into "
                     "clean. Red: the neuron carries part of the answer", fontsize=12)
    save_figure(fig, path)
