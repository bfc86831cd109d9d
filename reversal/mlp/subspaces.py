"""Letter subspaces: where in a hidden layer each input position's letter lives, and interventions on exactly those
directions (patching, ablation, direct logit attribution), and their figure, subspace_interventions.png.

Example with the defaults (3 letters, length 3, 16 neurons). Average hidden1 over the training sequences with `a` at
position 1, subtract the average over all training sequences: that difference is the direction along which "`a` at
position 1" moves hidden1. Do the same for `b`; `c` is not needed, because the three letters' differences, weighted
by how often each letter occurs, add up to 0. Two letters x three positions = 6 directions, the columns of D (16, 6).

An activation is then the mean, plus D times 6 coefficients, plus whatever D cannot express (the remainder):

    activation = mean + D_1 c_1 + D_2 c_2 + D_3 c_3 + remainder        (each D_p is 16 x 2, each c_p has 2 numbers)

The coefficients come from least squares on all six directions together. The positions' directions are not
orthogonal to each other, so projecting onto one position's directions alone would also pick up parts of the
others; solving for all of them at once (an oblique projection) does not. Where the needed directions outnumber the
neurons (L x (V-1) > H), D cannot have independent columns; the pseudo-inverse then gives the smallest coefficients
that fit, and position p's part D_p c_p is one choice among many.

The control is the same patching and removal on random subspaces of the same size (random_control), many draws per
position: one draw can restore anything from nothing to a lot, so a verdict reads their spread.
"""

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from ..core.common import margin
from ..core.data import add_eos
from ..core.directions import letter_directions
from ..core.model import run_with_hooks
from ..report.files import save_figure
from ..report.plots import heatmap, output_position_labels

LAYERS = ("hidden1", "hidden2")


@dataclass
class LetterSubspaces:
    mean: torch.Tensor  # (H,) mean activation over the training sequences
    directions: torch.Tensor  # (H, L*(V-1)) class-mean differences; position p owns columns p*(V-1) .. (p+1)*(V-1)-1
    solve: torch.Tensor  # (L*(V-1), H) pseudo-inverse of `directions`: coefficients = solve @ (activation - mean)
    seq_len: int

    def coefficients(self, activations):
        """(N, H) -> (N, L, V-1): each position's coordinates along its own directions, all solved together."""
        centred = activations.double() - self.mean  # (N, H)
        return (centred @ self.solve.T).view(len(activations), self.seq_len, -1)  # (N, L, V-1)

    def components(self, activations):
        """(N, H) -> (N, L, H): position p's part of each activation, D_p c_p."""
        coefficients = self.coefficients(activations)  # (N, L, V-1)
        blocks = self.directions.T.view(self.seq_len, -1, self.directions.shape[0])  # (L, V-1, H)
        return torch.einsum("nlk,lkh->nlh", coefficients, blocks)


def letter_subspaces(activations, sequences, n_letters):
    """Class-mean directions of one layer (core.directions), from the activations (N, H) of the training sequences
    (N, L).

    Uses V-1 of the V letters (the last one is left out: its direction is minus a weighted sum of the others).
    """
    mean = activations.double().mean(0)  # (H,)
    kept = letter_directions(activations, sequences, n_letters)[:, :-1]  # (L, V-1, H)
    directions = kept.reshape(-1, len(mean)).T.contiguous()  # (H, L*(V-1)), position-major columns
    return LetterSubspaces(mean, directions, torch.linalg.pinv(directions), sequences.shape[1])


def random_subspaces(width, size, count, generator):
    """`count` random orthonormal bases of `size` directions in a `width`-dimensional layer: (count, H, size)."""
    size = min(size, width)
    gaussian = torch.randn(count, width, size, generator=generator, dtype=torch.float64)
    return torch.linalg.qr(gaussian).Q  # (count, H, size): orthonormal columns


def _output_letters(sequences):
    """The correct letter at each output position j: the input letter at L-1-j. (N, L)"""
    return sequences.flip(dims=[1])


def logit_difference(logits, good, bad):
    """logit of `good` minus logit of `bad` at each output position: logits (..., N, T, V), good/bad (N, L) ->
    (..., N, L). Leading dimensions (runs, draws) are kept, so many runs are measured in one go."""
    letter_logits = logits[..., : good.shape[1], :].cpu()  # (..., N, L, V): the letter outputs, <eos> left out
    pick = lambda letters: letter_logits.gather(-1, letters.expand(letter_logits.shape[:-1])[..., None])[..., 0]
    return pick(good) - pick(bad)


def output_margin(logits, sequences):
    """common.margin at each output letter position: (..., N, T, V) logits -> (..., N, L). Below 0 = wrong."""
    letter_logits = logits[..., : sequences.shape[1], :].cpu()  # (..., N, L, V)
    return margin(letter_logits, _output_letters(sequences).expand(letter_logits.shape[:-1]))


def shifted(sequences, n_letters):
    """Every input letter changed at once, by each shift s = 1 .. V-1: ((V-1)*N, L), block s-1 shifted by s.

    Changing every letter (not just one) gives every output position a clean answer to restore.
    """
    return torch.cat([(sequences + shift) % n_letters for shift in range(1, n_letters)])


@dataclass(frozen=True)
class Corruption:
    """What the interventions compare: the clean sequences, and the same sequences with every letter changed."""
    sequences: torch.Tensor  # (N, L) the clean sequences
    clean: torch.Tensor  # (P, L), P = (V-1) N: row r is the clean twin of row r of `corrupted`
    corrupted: torch.Tensor  # (P, L): shifted(sequences), block s-1 shifted by s
    activations: dict  # {layer: (N, H)} the clean sequences' activations, as the unhooked model makes them

    def clean_activations(self, layer):
        """(P, H): the clean twin's activation for every corrupted row."""
        return self.activations[layer].repeat(len(self.clean) // len(self.sequences), 1)


@dataclass(frozen=True)
class Interventions:
    """The logits of intervene's two kinds of run, block i of each acting on input position i."""
    patched: torch.Tensor  # (L, P, T, V): corrupted runs, position i's component replaced by the clean run's
    ablated: torch.Tensor  # (L, N, T, V): clean runs, position i's component removed
    below_zero: dict  # {"patched": (fraction of values below 0, the lowest value), "removed": (...)}


def intervene(run, layer, subspaces, corruption):
    """Patching and ablation on each input position's subspace of `layer` in run.model. Returns the Interventions.

    One batched forward pass. The batch holds, in blocks of rows:
      - L blocks of the corrupted run, block i with position i's component replaced by the clean run's;
      - L blocks of the clean sequences, block i with position i's component removed (coefficients set to their
        mean over the training sequences, which is 0, since the directions are measured from that mean).

    The layer comes out of a ReLU, so a real input never makes it negative; adding and subtracting components can.
    below_zero says how often that happened.
    """
    sequences, vocab = corruption.sequences, run.vocab
    seq_len, pairs, n = sequences.shape[1], len(corruption.clean), len(sequences)
    clean_parts = subspaces.components(corruption.clean_activations(layer))  # (P, L, H)
    below_zero = {}

    def replace(out):
        device_out, out = out.device, out.double().cpu()  # the subspaces live on the CPU, in double precision
        patch, ablate = out.split([seq_len * pairs, seq_len * n])
        patch = patch.view(seq_len, pairs, -1)  # (L, P, H): every block starts as the corrupted activation
        corrupt_parts = subspaces.components(patch[0])  # (P, L, H)
        patch = patch + (clean_parts - corrupt_parts).transpose(0, 1)  # block i: position i clean
        ablate = ablate.view(seq_len, n, -1)  # (L, N, H)
        ablate = ablate - subspaces.components(ablate[0]).transpose(0, 1)  # block i: position i's part removed
        for key, values in (("patched", patch), ("removed", ablate)):
            below_zero[key] = ((values < 0).double().mean().item(), min(values.min().item(), 0.0))
        return torch.cat([patch.reshape(-1, out.shape[1]), ablate.reshape(-1, out.shape[1])]).float().to(device_out)

    tokens = torch.cat([add_eos(corruption.corrupted, vocab.eos_id).repeat(seq_len, 1),
                        add_eos(sequences, vocab.eos_id).repeat(seq_len, 1)]).to(run.device)
    logits = run_with_hooks(run.model, tokens, {layer: replace}).cpu()  # (L(P+N), T, V)
    patched, ablated = logits.split([seq_len * pairs, seq_len * n])
    return Interventions(patched.view(seq_len, pairs, *logits.shape[1:]),
                         ablated.view(seq_len, n, *logits.shape[1:]), below_zero)


ROWS_PER_PASS = 1 << 16  # the control's draws share a forward pass up to about this many rows, so memory stays bounded


def random_control(run, layer, subspaces, bases, corruption, clean_logits, corrupt_logits):
    """intervene's control: the same patching and removal on random subspaces of the same size, many draws of them.

    bases (D, L, H, V-1): draw d's orthonormal basis for input position i (random_subspaces). In draw d, block i
    patches random subspace i from the clean run into the corrupted run, or holds it at the training mean in the
    clean run. One random draw can land anywhere between "nothing" and "a lot", so the verdict reads the spread over
    D draws, not one. The draws go through the model in batched passes of up to ROWS_PER_PASS rows (one with the
    defaults). Returns (shares (D, L, L), as share_restored; accuracy (D, L, L), as accuracy_and_margin).
    """
    sequences, vocab = corruption.sequences, run.vocab
    draws, seq_len, width = bases.shape[:3]
    pairs, n = len(corruption.clean), len(sequences)
    # float32 on the model's device: an orthonormal projection needs none of the pseudo-inverse's double precision
    clean_acts = corruption.clean_activations(layer).float().to(run.device)  # (P, H)
    mean = subspaces.mean.float().to(run.device)  # (H,)
    rows = seq_len * (pairs + n)  # one draw's batch: L blocks of corrupted runs, then L of clean ones
    tokens = torch.cat([add_eos(corruption.corrupted, vocab.eos_id).repeat(seq_len, 1),
                        add_eos(sequences, vocab.eos_id).repeat(seq_len, 1)])  # (rows, T)
    step = max(1, ROWS_PER_PASS // rows)  # draws per forward pass
    shares, accuracy = [], []
    for start in range(0, draws, step):
        chunk = bases[start:start + step]  # (d, L, H, V-1)
        projectors = (chunk @ chunk.transpose(-1, -2)).float().to(run.device)  # (d, L, H, H): onto each subspace

        def replace(out):
            patch, hold = out.view(len(chunk), rows, width).split([seq_len * pairs, seq_len * n], dim=1)
            patch = patch.reshape(len(chunk), seq_len, pairs, width)  # (d, L, P, H) corrupted activations
            patch = patch + (clean_acts - patch) @ projectors  # random subspace i takes the clean run's values
            hold = hold.reshape(len(chunk), seq_len, n, width)  # (d, L, N, H) clean activations
            hold = hold - (hold - mean) @ projectors  # random subspace i held at the training mean
            return torch.cat([patch.flatten(1, 2), hold.flatten(1, 2)], 1).view(-1, width)

        logits = run_with_hooks(run.model, tokens.repeat(len(chunk), 1).to(run.device), {layer: replace}).cpu()
        patched, held = logits.view(len(chunk), rows, *logits.shape[1:]).split([seq_len * pairs, seq_len * n], 1)
        shares.append(share_restored(patched.unflatten(1, (seq_len, pairs)), clean_logits, corrupt_logits,
                                     corruption.clean, corruption.corrupted))  # (d, L, L)
        accuracy.append(accuracy_and_margin(held.unflatten(1, (seq_len, n)), sequences)[0])  # (d, L, L)
    return torch.cat(shares), torch.cat(accuracy)


def share_restored(patched, clean_logits, corrupt_logits, clean, corrupted):
    """[i][j] = sum(LD_patched - LD_corrupt) / sum(LD_clean - LD_corrupt) at output j, with position i patched.

    LD = logit of the clean letter minus logit of the corrupted letter at output j. 0 = corrupted, 1 = clean;
    values outside [0, 1] are kept: below 0 the patch pushes further toward the corrupted letter, above 1 it
    overshoots the clean run. patched (..., L, P, T, V) -> (..., L, L): leading dimensions (draws) are kept.
    """
    good, bad = _output_letters(clean), _output_letters(corrupted)  # (P, L)
    ld_corrupt = logit_difference(corrupt_logits, good, bad)  # (P, L)
    total = (logit_difference(clean_logits, good, bad) - ld_corrupt).sum(0)  # (L,) one per output position
    gained = (logit_difference(patched, good, bad) - ld_corrupt).sum(-2)  # (..., L patched, L outputs)
    return gained / total


def accuracy_and_margin(runs, sequences):
    """Per run: accuracy and mean margin (correct minus best wrong logit) at each output position. (..., L, N, T, V)
    -> two (..., L, L) tensors, [i][j] = output j with input position i's subspace removed."""
    margins = output_margin(runs, sequences)  # (..., L, N, L)
    return (margins > 0).double().mean(-2), margins.mean(-2)


def direct_logit_attribution(model, logits, hidden2, sequences, subspaces):
    """Split the mean logit difference at each output position exactly into parts of hidden2.

    The readout is linear, logits = W @ hidden2 + b, so any logit difference is a sum of one term per neuron plus a
    bias term, with nothing left over. LD here = the correct letter's logit minus the mean of the other letters'.
    Writing hidden2 = mean + sum_p D_p c_p + remainder splits the same LD into one term per input position's
    subspace, a constant (the mean activation and the bias) and the remainder; that sum is exact too.
    Returns a dict of lists, means over `sequences`: "logit_diff" (L,) as measured on `logits` (N, T, V+1),
    "per_neuron" (H, L), "bias" (L,), "per_position" (L input positions, L output positions), "constant" (L,),
    "remainder" (L,). per_neuron summed over neurons plus bias, and per_position summed over positions plus
    constant plus remainder, each equal logit_diff.
    """
    seq_len, n_letters = sequences.shape[1], model.n_tokens - 1
    weight = model.unembed.weight.detach().cpu().double().view(model.n_positions, model.n_tokens, -1)  # (T, V+1, H)
    bias = model.unembed.bias.detach().cpu().double().view(model.n_positions, model.n_tokens)  # (T, V+1)
    # one readout vector per (sequence, output j): correct letter's row minus the mean of the other letters' rows
    correct = _output_letters(sequences)  # (N, L)
    one_hot = torch.nn.functional.one_hot(correct, n_letters).double()  # (N, L, V)
    weights = one_hot - (1 - one_hot) / (n_letters - 1)  # (N, L, V): +1 for the correct letter, -1/(V-1) the others
    readout = torch.einsum("nlv,lvh->nlh", weights, weight[:seq_len, :n_letters])  # (N, L, H)
    bias_term = torch.einsum("nlv,lv->nl", weights, bias[:seq_len, :n_letters])  # (N, L)
    acts = hidden2.double()  # (N, H)
    per_neuron = acts[:, None, :] * readout  # (N, L, H)
    parts = subspaces.components(acts)  # (N, L input positions, H)
    per_position = torch.einsum("nih,njh->nij", parts, readout)  # (N, L in, L out)
    constant = readout @ subspaces.mean + bias_term  # (N, L)
    remainder = torch.einsum("nh,njh->nj", acts - subspaces.mean - parts.sum(1), readout)  # (N, L)
    measured = torch.einsum("nlv,nlv->nl", weights, logits[:, :seq_len, :n_letters].cpu().double())  # (N, L)
    return {"logit_diff": measured.mean(0).tolist(),
            "per_neuron": per_neuron.mean(0).T.tolist(), "bias": bias_term.mean(0).tolist(),
            "per_position": per_position.mean(0).tolist(), "constant": constant.mean(0).tolist(),
            "remainder": remainder.mean(0).tolist()}


def position_bases(subspaces):
    """(L, H, V-1): an orthonormal basis of each input position's directions (QR of its columns of D)."""
    blocks = subspaces.directions.T.reshape(subspaces.seq_len, -1, len(subspaces.mean))  # (L, V-1, H)
    return torch.linalg.qr(blocks.transpose(1, 2)).Q  # (L, H, V-1)


def spread_over_neurons(bases, share=0.9):
    """How many neurons it takes to hold `share` of each subspace's weight: (..., H, K) orthonormal bases -> (...,).

    Each neuron's weight is the squared length of its row of the basis; the K rows' weights sum to K. A subspace
    living on its own K neurons needs about K; a rotated one needs many more, and so does a random one.
    """
    weight = (bases ** 2).sum(-1).sort(dim=-1, descending=True).values  # (..., H)
    return ((weight.cumsum(-1) < share * weight.sum(-1, keepdim=True)).sum(-1) + 1).tolist()


def largest_principal_cosine(bases):
    """The largest cosine of a principal angle between any two positions' subspaces: (..., L, H, K) orthonormal
    bases -> (...,). 1 = two positions share a direction, 0 = orthogonal subspaces. For K = 1 it is |cos| of two
    vectors. The principal cosines of subspaces A and B are the singular values of A^T B."""
    overlaps = torch.einsum("...ihk,...jhl->...ijkl", bases, bases)  # (..., L, L, K, K)
    cosines = torch.linalg.svdvals(overlaps).amax(-1)  # (..., L, L): the largest principal cosine of each pair
    first, second = torch.triu_indices(bases.shape[-3], bases.shape[-3], offset=1)
    return cosines[..., first, second].amax(-1).tolist()


def _annotate(ax, values, dark, below=None, below_format="{:+.1f}", fontsize=8):
    """Write each cell's value (and a second number below it, if given); white text where `dark` says so."""
    for (row, col), value in np.ndenumerate(values):
        text = f"{value:.2f}".replace("-0.00", "0.00")  # a tiny negative share rounds to 0, not to "-0"
        if below is not None:
            text += "\n" + below_format.format(below[row, col])
        ax.text(col, row, text, ha="center", va="center", fontsize=fontsize,
                color="white" if dark[row, col] else "black")


def plot_subspace_interventions(mechanism, path, detail=False):
    """Share restored by patching each input position's letter subspace, the same for random subspaces, and
    accuracy after removing each subspace. Rows = input position i, columns = output position j. By default
    hidden1 alone, in type large enough to project; with detail, a row per hidden layer and the method in the
    title."""
    seq_len, n_letters = mechanism["seq_len"], mechanism["n_letters"]
    layers = LAYERS if detail else ("hidden1",)
    shares = [np.array(mechanism[key][name]) for key in ("subspace_patching", "random_subspace_patching")
              for name in layers]
    limit = max(1.0, max(np.abs(values).max() for values in shares))  # symmetric: 0 is white, both signs show
    annotate = seq_len <= 8
    if detail:
        fig = Figure(figsize=(14, 8.4))
        fig.subplots_adjust(left=0.07, right=0.96, bottom=0.09, top=0.84, wspace=0.35, hspace=0.6)
        fontsize = {"cell": 8 if seq_len <= 4 else 7, "tick": 8 if seq_len <= 6 else 6, "title": 10}
    else:
        fig = Figure(figsize=(13, 4.9))
        fig.subplots_adjust(left=0.06, right=0.95, bottom=0.2, top=0.75, wspace=0.45)
        fontsize = {"cell": 10 if seq_len <= 4 else 8, "tick": 9 if seq_len <= 6 else 7, "title": 11}
    axes = fig.subplots(len(layers), 3, squeeze=False)
    baseline = mechanism["baseline_accuracy"]  # (L,) the model's own accuracy per output: what a removal starts from
    unablated = ("unablated: " + (f"{baseline[0]:.2f} at every output" if len(set(baseline)) == 1 else
                                  " ".join(f"{value:.2f}" for value in baseline) + " by output"))
    draws = mechanism["random_draws"]
    short = seq_len >= 5  # "(copies 5)" under each of 5 or more columns would overlap its neighbours
    for row, name in zip(axes, layers):
        if detail:
            panels = [("subspace_patching", f"{name}: patch input i's letter subspace",
                       "share restored (0 = corrupted, 1 = clean)"),
                      ("random_subspace_patching", f"{name}: patch a random subspace (control)\nmean of {draws} "
                       "draws; below: their 95th percentile", "share restored (mean)"),
                      ("subspace_ablation", f"{name}: remove input i's letter subspace\n{unablated}",
                       f"accuracy (chance {1 / n_letters:.0%}); below: mean margin")]
        else:
            panels = [("subspace_patching", "patch input i's letter subspace\n(clean into every letter changed)",
                       "share restored (0 = corrupted, 1 = clean)"),
                      ("random_subspace_patching", f"patch a random subspace (control)\nmean of {draws} draws; "
                       "p95 below", "share restored"),
                      ("subspace_ablation", f"remove input i's letter subspace\ntop: accuracy; below: mean margin\n"
                       f"({unablated})", f"accuracy (chance {1 / n_letters:.0%})")]
        for ax, (key, title, label) in zip(row, panels):
            values = np.array(mechanism[key][name])
            if key == "subspace_ablation":  # accuracy, with the mean margin (a continuous measure) below it
                heatmap(fig, ax, values, "viridis", 0, 1, label)
                if annotate:
                    _annotate(ax, values, values < 0.5, np.array(mechanism["subspace_ablation_margin"][name]),
                              fontsize=fontsize["cell"])
            else:
                heatmap(fig, ax, values, "RdBu_r", -limit, limit, label)
                p95 = np.array(mechanism["random_subspace_patching_p95"][name]) if key.startswith("random") else None
                if annotate:
                    _annotate(ax, values, np.abs(values) > 0.6 * limit, p95, "p95 {:.2f}", fontsize["cell"])
            ax.set_xticks(range(seq_len), output_position_labels(seq_len, short), fontsize=fontsize["tick"])
            ax.set_yticks(range(seq_len), [str(i + 1) for i in range(seq_len)])
            ax.set_xlabel("output position j (\u2190 the input it copies)")
            ax.set_ylabel("input position i")
            ax.set_title(title, fontsize=fontsize["title"])
    size = f"{n_letters - 1} letter direction{'s' if n_letters > 2 else ''}"
    if detail:
        fig.suptitle(f"The anti-diagonal inside the network: intervene on input position i's {size}, "
                     f"measure every output j\n(patching: clean into a run with every letter changed; "
                     f"values outside [0, 1] kept; removing: coefficients set to their training mean;\n"
                     f"margin = the right letter's logit minus the best wrong one's, averaged)", fontsize=11)
    else:
        fig.suptitle(f"hidden1: intervene on input position i's {size}, measure every output j", fontsize=13)
    save_figure(fig, path)
