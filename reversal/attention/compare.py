"""The MLP and the transformer side by side: the same task, the same behaviour, the routing in different places.

    summary = model_summary(run, history, influence, routing)   # once per model
    both = comparison(mlp_summary, transformer_summary); print(both.finding()); plot_comparison(both, path)

"routing" is the (L, L) matrix, rows = output position j, columns = input position i, that says where each output
reads its letter from inside the model: for the MLP, the share of the answer that patching input i's letter
directions in hidden1 restores at output j (reversal/mlp/mechanism.py); for the transformer, the mean attention from
output j to input i (reversal/attention/patterns.py). Both should be the anti-diagonal.
"""

import numpy as np
from matplotlib.figure import Figure

from ..core.common import mirror_mask
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import span
from ..report.plots import heatmap, output_position_labels, positions
from ..core.train import sequence_accuracy

KINDS = {"mlp": "MLP", "transformer": "transformer"}


def model_summary(run, history, influence, routing):
    """What the comparison needs from one trained model, run.model trained with `history`. routing: (L outputs,
    L inputs), see the module docstring."""
    model, data = run.model, run.data
    return {"kind": run.kind, "parameters": model.parameter_count(), "train_seconds": history.seconds,
            "heldout_accuracy": sequence_accuracy(model, data.heldout_sequences, data.vocab.eos_id),
            "heldout_sequences": len(data.heldout_sequences),
            "influence": np.asarray(influence["argmax"]).tolist(), "routing": np.asarray(routing).tolist()}


def mlp_routing(mechanism):
    """The MLP's routing from find_mechanism: hidden1 subspace patching, turned to rows = outputs."""
    return np.asarray(mechanism["subspace_patching"]["hidden1"]).T  # (L inputs, L outputs) -> (L outputs, L inputs)


def transformer_routing(patterns, head=0):
    """The transformer's routing from attention_patterns: the mean pattern's letter rows and letter columns."""
    pattern = np.asarray(patterns["mean_pattern"])[head]  # (T query, T key)
    return pattern[:-1, :-1]  # drop <eos>'s row and column: (L outputs, L inputs)


class Comparison(Result):
    """Two models' summaries (model_summary), under "mlp" and "transformer"; finding() says what is the same and what
    differs."""

    def finding(self):
        mlp, transformer = self["mlp"], self["transformer"]
        same = np.allclose(mlp["influence"], transformer["influence"])
        mirror = mirror_mask(len(mlp["influence"]))
        gap = float(np.abs(np.subtract(mlp["influence"], transformer["influence"])).max())
        clean = []
        for summary in (mlp, transformer):
            routing = np.asarray(summary["routing"])
            clean.append(bool(routing[mirror].min() >= 0.9 and np.abs(routing[~mirror]).max() <= 0.1))
        messy = [KINDS[s["kind"]] for s, ok in zip((mlp, transformer), clean) if not ok]
        where = ("both route each output's letter from its mirrored input" if not messy else
                 f"the {' and '.join(messy)} routing {'maps are' if len(messy) > 1 else 'map is'} not a clean "
                 f"anti-diagonal")
        headline = (f"The MLP and the transformer reverse {mlp['heldout_accuracy']:.0%} and "
                    f"{transformer['heldout_accuracy']:.0%} of held-out sequences, with "
                    f"{'identical' if same else 'different'} influence maps; {where}.")
        numbers = {"mlp_heldout_accuracy": mlp["heldout_accuracy"],
                   "transformer_heldout_accuracy": transformer["heldout_accuracy"], "largest_influence_gap": gap,
                   "clean_routings": sum(clean)}
        lines = ["  MLP against transformer, trained on the same split:",
                 f"  {'':<28}{'MLP':>12}{'transformer':>14}",
                 f"  {'parameters':<28}{mlp['parameters']:>12,}{transformer['parameters']:>14,}",
                 f"  {'training seconds':<28}{mlp['train_seconds']:>12.2f}{transformer['train_seconds']:>14.2f}",
                 f"  {'held-out sequences right':<28}{mlp['heldout_accuracy']:>12.0%}"
                 f"{transformer['heldout_accuracy']:>14.0%}"]
        lines.append(f"  Behaviour: the two influence maps are {'identical' if same else 'different'} "
                     f"(largest gap {gap:.2f}).")
        for summary, how in ((mlp, "patching input i's letter directions in hidden1 restores at output j"),
                             (transformer, "output j's mean attention on input i")):
            routing = np.asarray(summary["routing"])  # (L outputs, L inputs): the mirror is the anti-diagonal, both
            lines.append(f"  {KINDS[summary['kind']]} routing ({how}): {span(routing[mirror], '.2f')} on the "
                         f"mirror, at most {np.abs(routing[~mirror]).max():.2f} elsewhere.")
        behaviour = "The same behaviour" if same else "Different behaviour (see the influence maps)"
        if all(clean):
            lines.append(f"  {behaviour}, routed in different places: in the MLP the routing is spread over rotated "
                         "directions of many neurons and had to be found with class means and patching; in the "
                         "transformer where each output reads is one matrix, the attention pattern, read straight from "
                         "a hook (what it copies is the OV circuit).")
            caveats = ["  The two routing maps measure different things, a patching share and an attention weight: "
                       "compare where the mass sits, not the values."]
        else:
            maps = ("routing maps are not clean anti-diagonals" if len(messy) > 1 else
                    "routing map is not a clean anti-diagonal")
            lines.append(f"  {behaviour}; and the {' and the '.join(messy)}'s {maps} (at least 0.9 on the mirror, at "
                         f"most 0.1 elsewhere), so {'their' if len(messy) > 1 else 'its'} routing is only partly this "
                         f"simple.")
            caveats = []
        return Finding(headline, numbers, lines, caveats)


def comparison(mlp, transformer):
    """The two summaries side by side, to be told (finding) and drawn (plot_comparison)."""
    return Comparison({"mlp": mlp, "transformer": transformer})


def plot_comparison(both, path):
    """Two rows, one per model: the behavioural influence map, and where the routing lives inside. both: a
    Comparison."""
    mlp, transformer = both["mlp"], both["transformer"]
    seq_len = len(mlp["influence"])
    fig = Figure(figsize=(9.5, 7.6))
    fig.subplots_adjust(left=0.1, right=0.93, bottom=0.1, top=0.86, wspace=0.45, hspace=0.6)
    axes = fig.subplots(2, 2)
    for row, (summary, title, label) in enumerate((
            (mlp, "MLP: patching input i's letter directions (hidden1)", "share restored at output j"),
            (transformer, "transformer: mean attention pattern", "attention from output j to input i"))):
        name = KINDS[summary["kind"]]
        heatmap(fig, axes[row, 0], np.asarray(summary["influence"]), "viridis", 0, 1,
                "fraction of changes that\nchange this output's letter", annotate=seq_len <= 6)
        axes[row, 0].set_title(f"{name}: behaviour (which output changes)", fontsize=9)
        axes[row, 0].set_xticks(range(seq_len), output_position_labels(seq_len), fontsize=7)
        axes[row, 0].set_yticks(range(seq_len), positions(seq_len))
        axes[row, 0].set_xlabel("output position", fontsize=8)
        axes[row, 0].set_ylabel("input position changed", fontsize=8)
        routing = np.asarray(summary["routing"]).T  # rows = input i, columns = output j, like the behaviour map
        top = max(1.0, np.abs(routing).max())
        heatmap(fig, axes[row, 1], routing, "RdBu_r", -top, top, label)
        if seq_len <= 6:
            for (i, j), value in np.ndenumerate(routing):  # dark text on the pale middle, white on the deep ends
                axes[row, 1].text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                                  color="white" if abs(value) > 0.6 * top else "black")
        axes[row, 1].set_title(title, fontsize=9)
        axes[row, 1].set_xticks(range(seq_len), output_position_labels(seq_len), fontsize=7)
        axes[row, 1].set_yticks(range(seq_len), positions(seq_len))
        axes[row, 1].set_xlabel("output position", fontsize=8)
        axes[row, 1].set_ylabel("input position", fontsize=8)
    fig.suptitle("The same task, two networks: the same behaviour (left), the routing in different places (right)\n"
                 f"MLP {mlp['parameters']:,} parameters, {mlp['heldout_accuracy']:.0%} held out; transformer "
                 f"{transformer['parameters']:,} parameters, {transformer['heldout_accuracy']:.0%} held out",
                 fontsize=10)
    save_figure(fig, path)
