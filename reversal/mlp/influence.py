"""Behaviour: change one input letter, and see what changes at each output. A reversal is the anti-diagonal.

Two views of the same experiment. Example, defaults: change input 1 of "abc" to get "bbc".
    argmax view  which predicted letters change? "cba" -> "cbb": output 3 changed, outputs 1 and 2 did not.
    logit view   how far does each output's logit for its original answer move? Output 3's logit for "a" falls a
                 lot; outputs 1 and 2 still answer "c" and "b", but their logits for them move a little too.
The argmax view says what the network decides; the logit view says what its numbers depend on.

Convention in every figure of this lesson: rows are input positions, columns output positions, and each output's
tick names the input it copies, "3 (copies input 1)".
"""

import numpy as np
import torch
from matplotlib.figure import Figure

from ..core.common import corruptions, mirror_mask
from ..core.data import add_eos
from ..core.model import device_of
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import precise, span
from ..report.plots import heatmap, output_position_labels, positions


CLEAN_ON = 0.99  # a clean reversal: changing input i changes output L+1-i in at least this share of cases ...
CLEAN_OFF = 0.01  # ... and any other output in at most this share


class Influence(Result):
    """What position_influence measured; finding() says what it means."""

    def finding(self):
        """Both views, from the numbers: the argmax map, then how far the logits move on and off the anti-diagonal."""
        changes, shifts = np.array(self["argmax"]), np.array(self["logit"])
        seq_len = len(changes)
        mirror = mirror_mask(seq_len)
        on, off = changes[mirror], changes[~mirror]
        on_shift, off_shift = shifts[mirror], shifts[~mirror]
        largest_off = off.max() if off.size else 0.0
        # against the clean map's cut-offs (99% on the mirror, 1% elsewhere): 99.6%, not "100%"
        low, high = (precise(value, [CLEAN_ON, 1.0], 0) for value in (on.min(), on.max()))
        others = "never any other output letter" if largest_off == 0 else \
            f"any other output letter in at most {precise(largest_off, [CLEAN_OFF, 0.0], 0)}"
        headline = (f"Behaviour: changing one input letter changes the mirrored output letter (input i -> output "
                    f"{seq_len + 1}-i) in {low if low == high else f'{low} to {high}'} of cases, the anti-diagonal, "
                    f"and {others}.")
        numbers = {"mirrored_lowest": float(on.min()), "others_highest": float(largest_off),
                   "mirrored_logit_lowest": float(on_shift.min()),
                   "others_logit_highest": float(off_shift.max()) if off.size else 0.0}
        evidence = [f"  In logits: the predicted letter's logit moves by {span(on_shift, '.1f')} on average at the "
                    f"mirrored output" + (f", by {span(off_shift, '.1f')} at the others." if off.size else ".")]
        if on.min() >= CLEAN_ON and largest_off <= CLEAN_OFF:
            if off.size and off_shift.max() > 0.01 * on_shift.min():
                evidence.append(f"  Each output's predicted letter depends only on the mirrored input; its logits "
                                f"also move, by much less ({off_shift.max() / on_shift.min():.0%} of the smallest "
                                f"mirrored move at most), with the other inputs.")
            else:
                evidence.append("  Each output depends only on the mirrored input, in its predicted letter and its "
                                "logits.")
        else:
            why = []
            if on.min() < CLEAN_ON:
                i = int(np.argmin(np.where(mirror, changes, np.inf)).item()) // seq_len
                why.append(f"changing input {i + 1} changes its mirrored output in only "
                           f"{precise(on.min(), [CLEAN_ON], 0)} of cases")
            if largest_off > CLEAN_OFF:
                i, j = divmod(int(np.argmax(np.where(mirror, -np.inf, changes))), seq_len)
                why.append(f"changing input {i + 1} changes output {j + 1}, which copies another input, in "
                           f"{precise(largest_off, [CLEAN_OFF], 0)} of cases")
            evidence.append(f"  The map is not a clean reversal: {' and '.join(why)}.")
        return Finding(headline, numbers, evidence)


def position_influence(run):
    """Change the letter at each input position i of run.sequences to every other letter, in one batched forward
    pass of run.model.

    Returns an Influence: {"argmax": (L, L), "logit": (L, L)} as lists, row i = input position changed, column j =
    output:
        argmax[i][j]  fraction of the changes that change the predicted letter at output j
        logit[i][j]   mean |change| of output j's logit for the letter it originally predicted
    Works for the MLP and the transformer alike: it reads only the logits.
    """
    sequences, vocab, model = run.sequences, run.vocab, run.model
    seq_len, n_letters, n = sequences.shape[1], len(vocab.letters), len(sequences)
    changed = torch.cat([corruptions(sequences, i, n_letters) for i in range(seq_len)])  # (L*(V-1)*N, L)
    device = device_of(model)
    with torch.no_grad():
        logits = model(add_eos(torch.cat([sequences, changed]), vocab.eos_id).to(device))[:, :seq_len].cpu()
    clean, changed = logits[:n], logits[n:].view(seq_len, n_letters - 1, n, seq_len, -1)  # (N, L, V), (L, V-1, N, L, V)
    answer = clean.argmax(-1)  # (N, L) the letter each output predicted before the change
    moved = changed.argmax(-1) != answer  # (L, V-1, N, L)
    answer_logit = changed.gather(-1, answer.expand(changed.shape[:-1])[..., None])[..., 0]  # (L, V-1, N, L)
    shift = (answer_logit - clean.gather(-1, answer[..., None])[..., 0]).abs()  # (L, V-1, N, L)
    return Influence({"argmax": moved.float().mean((1, 2)).tolist(), "logit": shift.mean((1, 2)).tolist()})


def plot_influence(influence, path):
    """The behavioural map in both views: which predicted letters change, and how far the logits move."""
    changes, shifts = np.array(influence["argmax"]), np.array(influence["logit"])
    seq_len = len(changes)
    fig = Figure(figsize=(max(10, 3 + 1.3 * seq_len), 4.6))  # wider for long sequences: the ticks need the room
    fig.subplots_adjust(left=0.08, right=0.93, bottom=0.2, top=0.8, wspace=0.45)
    panels = [(changes, "viridis", 1, "fraction of changes that\nchange this output's letter",
               "argmax: does the predicted letter change?"),
              (shifts, "magma", shifts.max(), "mean |change| of the logit\nof the originally predicted letter",
               "logits: how far does its logit move?")]
    for ax, (values, cmap, top, label, title) in zip(fig.subplots(1, 2), panels):
        heatmap(fig, ax, values, cmap, 0, top, label, annotate=seq_len <= 8)
        ax.set_xticks(range(seq_len), output_position_labels(seq_len), fontsize=7)
        ax.set_yticks(range(seq_len), positions(seq_len))
        ax.set_xlabel("output position (and the input it copies)")
        ax.set_ylabel("input position changed")
        ax.set_title(title, fontsize=10)
    fig.suptitle("Behaviour: change one input letter; what changes at each output? (reversal = anti-diagonal)")
    save_figure(fig, path)
