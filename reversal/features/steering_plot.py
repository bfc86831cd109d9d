"""The steering figure: flip and side-effect rates against alpha for one triple, the class-mean vector beside its
controls, with the clean window the text states (steering_experiment in steering.py computes what it shows)."""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..report.files import save_figure
from .steering_result import neuron_name, percentile_95


def plot_steering(steering, path):
    """Flip rate and side-effect rate against alpha for the chosen triple, one line per method, per layer: the random
    directions as their mean with a band from the 5th to the 95th percentile of the draws; at a readout site, dashed,
    what the readout predicts for the class means. Shaded: the window the text states (every triple clean at once),
    and, lighter, this triple's own."""
    s = steering
    p, x, y = s["chosen"]
    index = s["triples"].index([p, x, y])
    alphas = np.array(s["alpha_grid"])
    colours = {"class means": "tab:blue", "random": "tab:grey", "neuron": "tab:orange"}
    fig = Figure(figsize=(10, 6.8))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.19, top=0.86, wspace=0.18, hspace=0.3)
    axes = fig.subplots(2, len(s["layers"]), sharex=True, sharey=True)
    for column, layer in enumerate(s["layers"]):
        found, sweep = s[layer], s["sweep"][layer]
        for row, (key, label, limit) in enumerate((("flip", f"flip: output {s['seq_len'] - p} says {y}",
                                                    s["clean_flip"]),
                                                   ("side_effects", "side effects: another output changed",
                                                    s["clean_side_effects"]))):
            ax = axes[row, column]
            for low, high in found["chosen_clean"]["class means"]:
                ax.axvspan(low, high, color="tab:blue", alpha=0.07, linewidth=0)
            for low, high in found["clean_window"]["class means"]:
                ax.axvspan(low, high, color="tab:blue", alpha=0.2, linewidth=0)
                if low == high:  # a window one alpha wide has no width: mark that alpha
                    ax.axvline(low, color="tab:blue", alpha=0.5, linewidth=2)
            draws = sweep["random_chosen"][key]  # (K, A)
            ax.fill_between(alphas, np.percentile(draws, 5, axis=0), percentile_95(draws), color=colours["random"],
                            alpha=0.25, linewidth=0)
            lines = {"class means": sweep["class means"][key][:, index], "random": draws.mean(0),
                     "neuron": sweep["neuron"][key][:, index]}
            for method in s["methods"]:
                name = {"random": f"random (mean of {s['random_draws']}; band: 5th to 95th percentile)",
                        "neuron": f"one {neuron_name(s)}"}.get(method, method)
                ax.plot(alphas, lines[method], color=colours[method], label=name)
            if "readout_predicted" in sweep:
                ax.plot(alphas, sweep["readout_predicted"][key][:, index], color="black", linestyle="--",
                        linewidth=1, label="class means as the readout predicts them" + (", no clamp" if s["clamp"]
                                                                                          else ""))
            ax.axhline(limit, color="black", linestyle=":", linewidth=1)
            if not any(np.any(line) for line in lines.values()):  # every line on 0, hidden under the last
                ax.text(0.5, 0.5, "0 for every method at every alpha", transform=ax.transAxes, ha="center",
                        fontsize=9, color="dimgrey")
            ax.set_ylim(-0.03, 1.03)
            ax.set_ylabel(f"{label}\n(share of sequences)" if column == 0 else "")
            if row == 0:
                where = s["sites"][layer]
                token = {"input": f", position {p + 1} (the input)",
                         "mirror": f", position {s['seq_len'] - p} (the mirror)"}.get(where, "")
                tests = "the directions" if s["model"] == "mlp" else "the head"
                ax.set_title(layer + token + ("\nread by the linear readout: arithmetic" if layer in s["readout_sites"]
                                              else f"\nthe site that tests {tests}"), fontsize=10)
            else:
                ax.set_xlabel("alpha (h + alpha v)")
    handles, labels = [], []
    for ax in axes[0]:  # the readout's dashed line is drawn in one column only
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    n = len(s["triples"])
    handles += [Patch(color="tab:blue", alpha=0.2), Patch(color="tab:blue", alpha=0.07)]
    labels += [f"class means clean for all {n} triples at once: the window the text states",
               f"class means clean for this triple (flip >= {s['clean_flip']:.0%}, side effects <= "
               f"{s['clean_side_effects']:.0%}, dotted)"]
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=9, frameon=False)
    fig.suptitle(f"Steering input {p + 1} from {x} to {y}: the class-mean vector against {s['random_draws']} random "
                 f"directions and the most correlated {neuron_name(s)},\neach moved by the same norm; applied to the "
                 f"{s['steered_sequences']} sequences with {x} at input {p + 1}"
                 + (", clamped at 0" if s["clamp"] else ""), fontsize=10)
    save_figure(fig, path)
