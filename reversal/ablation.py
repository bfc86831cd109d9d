"""Ablation: switch neurons off, or a whole layer, and measure what the output loses."""

import numpy as np
import torch
from matplotlib.figure import Figure

from .common import layer_features, per_position_accuracy, percentages
from .data import add_eos, make_targets
from .files import save_figure
from .model import run_with_hooks
from .plots import positions
from .train import predict


def neuron_ablation(model, sequences, vocab, device, mean_over):
    """Per layer: output-position accuracy with each neuron zeroed, or set to its mean over `mean_over` sequences,
    and with the whole layer ablated. One batched forward pass per layer and kind: row block n ablates neuron n."""
    seq_len, n = sequences.shape[1], len(sequences)
    tokens = add_eos(sequences, vocab.eos_id).to(device)  # (N, T)
    targets = make_targets(sequences, vocab.eos_id)
    means = {name: acts.mean(0) for name, acts in
             layer_features(model, mean_over, vocab, device, ("hidden1", "hidden2")).items()}
    baseline = predict(model, sequences, vocab.eos_id)
    result = {"baseline": per_position_accuracy(baseline, targets, seq_len).tolist(),
              "baseline_sequence_accuracy": (baseline == targets).all(1).float().mean().item()}
    for name in ("hidden1", "hidden2"):
        width = len(means[name])
        result[name] = {}
        for kind in ("zero", "mean"):
            value = torch.zeros(width) if kind == "zero" else means[name]

            def ablate_each(out, value=value.to(device)):
                out = out.clone().view(width, n, width)  # (neuron ablated, sequence, neuron)
                index = torch.arange(width, device=out.device)
                out[index, :, index] = value[:, None]
                return out.view(width * n, width)

            logits = run_with_hooks(model, tokens.repeat(width, 1), {name: ablate_each})  # (H*N, T, V)
            predicted = logits.argmax(-1).cpu().view(width, n, -1)
            accuracy = torch.stack([per_position_accuracy(p, targets, seq_len) for p in predicted])  # (H, L)
            whole = run_with_hooks(model, tokens, {name: lambda out, value=value.to(device): value.expand_as(out)})
            whole_predicted = whole.argmax(-1).cpu()
            result[name][kind] = {
                "accuracy": accuracy.tolist(),
                "whole_layer_position_accuracy": per_position_accuracy(whole_predicted, targets, seq_len).tolist(),
                "whole_layer_sequence_accuracy": (whole_predicted == targets).all(1).float().mean().item(),
            }
    worst = max(((np.array(result["baseline"]) - np.array(result[name][kind]["accuracy"])).max(), name, kind)
                for name in ("hidden1", "hidden2") for kind in ("zero", "mean"))
    result["worst_single_neuron_drop"] = {"drop": float(worst[0]), "layer": worst[1], "kind": worst[2]}
    result["chance_sequence_accuracy"] = 1 / len(vocab.letters) ** seq_len
    return result


def explain_ablation(ablation, n_letters):
    worst = ablation["worst_single_neuron_drop"]
    lines = [f"Ablation: switching off any single neuron costs at most {100 * worst['drop']:.0f} percentage points of "
             f"accuracy on one output position ({worst['kind']}-ablation in {worst['layer']})."]
    for name in ("hidden1", "hidden2"):
        zero = ablation[name]["zero"]
        lines.append(f"  whole {name} zeroed: sequence accuracy {zero['whole_layer_sequence_accuracy']:.1%} "
                     f"(chance {ablation['chance_sequence_accuracy']:.1%}), per position "
                     f"{percentages(zero['whole_layer_position_accuracy'])} (chance {1 / n_letters:.0%}).")
    baseline = ablation["baseline_sequence_accuracy"]
    if baseline < 0.9:
        lines.append(f"  (No verdict: the model itself gets only {baseline:.0%} of these sequences right, so there is "
                     f"little for an ablation to break.)")
        return lines
    whole = max(ablation[name]["zero"]["whole_layer_sequence_accuracy"] for name in ("hidden1", "hidden2"))
    if whole <= 2 * ablation["chance_sequence_accuracy"]:
        if worst["drop"] < 0.2:
            lines.append("  Each whole layer is needed, but no single neuron is: the computation is spread over many "
                         "neurons.")
        else:
            lines.append(f"  Each whole layer is needed; single neurons matter unequally, the worst costing "
                         f"{100 * worst['drop']:.0f} points on one output position.")
    return lines


def plot_ablation(ablation, path):
    """Accuracy lost at each output position when one neuron is zeroed or held at its mean, both hidden layers."""
    baseline = 100 * np.asarray(ablation["baseline"])
    panels = [(name, kind) for name in ("hidden1", "hidden2") for kind in ("zero", "mean")]
    drops = {panel: baseline - 100 * np.asarray(ablation[panel[0]][panel[1]]["accuracy"]) for panel in panels}
    top = max(5.0, max(drop.max() for drop in drops.values()))  # at least 5 points, so no loss at all reads as pale
    n_neurons = drops[panels[0]].shape[0]
    fig = Figure(figsize=(10, 2.2 + 0.2 * n_neurons))
    fig.subplots_adjust(left=0.07, right=0.9, bottom=0.1, top=0.8, wspace=0.3)
    axes = fig.subplots(1, 4)
    for ax, panel in zip(axes, panels):
        image = ax.imshow(drops[panel], aspect="auto", cmap="Reds", vmin=0, vmax=top, interpolation="nearest")
        ax.set_title(f"{panel[0]}, {panel[1]}-ablated", fontsize=9)
        ax.set_xticks(range(drops[panel].shape[1]), positions(drops[panel].shape[1]))
        ax.set_yticks(range(n_neurons), range(n_neurons), fontsize=7)
        ax.set_xlabel("output position")
    axes[0].set_ylabel("neuron ablated (alone)")
    fig.colorbar(image, ax=axes, label="accuracy lost (percentage points)", fraction=0.03)
    whole = ", ".join(f"{name} {ablation[name]['zero']['whole_layer_sequence_accuracy']:.1%}"
                      for name in ("hidden1", "hidden2"))
    fig.suptitle("Ablation: switch one neuron off (zero) or hold it at its training mean (mean): what breaks?\n"
                 f"Whole layer zeroed, sequence accuracy: {whole} (chance {ablation['chance_sequence_accuracy']:.1%})")
    save_figure(fig, path)
