"""Probes: can a linear classifier read each input letter from a layer's activations?"""

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from .common import layer_features, percentages, sample_rows
from .files import save_figure
from .model import HOOK_POINTS

MAX_PROBE_SEQUENCES = 1000  # probes fit on at most this many training sequences, scored on as many held-out ones


def fit_probe(features, labels, n_classes, weight_decay=1e-2, steps=100):
    """Multinomial logistic regression with an L2 penalty, fit by L-BFGS on standardized features.

    features (N, D), labels (N,). With ~20 training points and 16-32 features an unpenalized probe can fit the
    training set in many ways, some of which generalize badly; the penalty picks the smallest weights that fit.
    Returns a function that predicts labels for new features.
    """
    mean, std = features.mean(0), features.std(0) + 1e-6  # dead neurons have std 0: avoid dividing by it
    x = (features - mean) / std
    weight = torch.zeros(x.shape[1], n_classes, requires_grad=True)
    bias = torch.zeros(n_classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def loss_fn():
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight + bias, labels) + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(loss_fn)
    return lambda new: (((new - mean) / std) @ weight.detach() + bias.detach()).argmax(1)


def probe_accuracy(model, data, cfg):
    """{layer: [held-out accuracy of a probe for the letter at each input position]}; probes train on the
    distinct training sequences and are scored on the held-out ones, which the model never saw either.
    Long sequences have hundreds of thousands of those: a seeded sample of MAX_PROBE_SEQUENCES of each is plenty."""
    generator = torch.Generator().manual_seed(cfg.seed)
    train = sample_rows(data.train_sequences, MAX_PROBE_SEQUENCES, generator)
    heldout = sample_rows(data.heldout_sequences, MAX_PROBE_SEQUENCES, generator)
    train_features = layer_features(model, train, data.vocab, cfg.device)
    heldout_features = layer_features(model, heldout, data.vocab, cfg.device)
    result = {}
    for name in HOOK_POINTS:
        result[name] = []
        for position in range(cfg.seq_len):
            probe = fit_probe(train_features[name], train[:, position], len(cfg.vocab))
            correct = probe(heldout_features[name]) == heldout[:, position]
            result[name].append(correct.float().mean().item())
    return result


def explain_probes(trained, control, data):
    n_train = min(len(data.train_sequences), MAX_PROBE_SEQUENCES)
    n_heldout = min(len(data.heldout_sequences), MAX_PROBE_SEQUENCES)
    coarse = f"; with so few the score moves in steps of {1 / n_heldout:.0%}" if n_heldout < 20 else ""
    lines = [f"Probes (logistic regression, L2 penalty, fit on {n_train} training sequences, scored on "
             f"{n_heldout} held-out ones{coarse}):"]
    for name in HOOK_POINTS:
        lines.append(f"  {name:<9} trained model: {percentages(trained[name])}   untrained control: "
                     f"{percentages(control[name])}  (per input position)")
    decodable = [name for name in HOOK_POINTS if min(control[name]) >= 0.99]
    if decodable:
        lines.append(f"  The untrained control reads every letter at >= 99% from {', '.join(decodable)}: random weights "
                     f"keep the input's information too.")
    lines.append("  So a probe shows the information is present, not that the model uses it; that takes ablation and "
                 "patching.")
    return lines


def plot_probes(trained, control, path):
    """Held-out probe accuracy per layer and input position, for the trained model and an untrained control."""
    layers = list(trained)
    seq_len = len(trained[layers[0]])
    fig = Figure(figsize=(9, 3.8))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.8, wspace=0.12)
    axes = fig.subplots(1, 2, sharey=True)
    width = 0.8 / seq_len
    for ax, results, title in [(axes[0], trained, "trained model"), (axes[1], control, "untrained control (same shape)")]:
        for position in range(seq_len):
            ax.bar(np.arange(len(layers)) + (position - (seq_len - 1) / 2) * width,
                   [100 * results[name][position] for name in layers], width, label=f"letter at position {position + 1}")
        ax.set_xticks(range(len(layers)), layers)
        ax.set_ylim(0, 105)
        ax.set_title(title)
    axes[0].set_ylabel("probe accuracy on held-out sequences (%)")
    axes[1].legend(loc="lower right", fontsize=8)
    fig.suptitle("Probes: can a linear classifier read each input letter from a layer?\n"
                 "(information present is not information used)")
    save_figure(fig, path)
