"""Probes: can a linear classifier read each input letter from a layer's activations?

Where: the MLP's three layers; the transformer's residual stream before and after its attention layer, each
position's d_model features side by side (PROBE_POINTS). Any hook points can be named instead.

Example, defaults: 27 sequences, 5 folds. To score the hidden1 probe for the letter at position 1, split the 27
sequences into 5 seeded folds of 5 or 6. For each fold, fit a probe on the other ~22 sequences' hidden1 activations
and their first letters, and let it name the first letter of the ~5 sequences it never saw. Every sequence is named
exactly once, by a probe that was not fitted on it; the score is the fraction named right.

A control and a check:
    untrained network  the same probes on the same network before training: what random weights keep readable
    shuffled labels    a leakage check, not a control task: the same probes on the trained network, but each
                       sequence's label is another sequence's letter (a seeded shuffle). No probe is scored on a
                       sequence it was fitted on, so it scores chance, 1/V, by construction; well above chance would
                       mean the folds leak. (Hewitt and Liang's control task gives each word *type* a random label
                       that test items share with training ones, so a probe can memorize it; here no test sequence is
                       ever trained on, so that control cannot be built, and no "selectivity" is computed.)

Every probe here (layers x networks x folds x tasks) is fitted in one optimisation of the sum of their losses. The
losses share no parameters and each is strictly convex (the L2 penalty), so the minimum of the sum is every probe's
own minimum at once, and one batched L-BFGS run replaces hundreds of small ones.
"""

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from ..core.data import add_eos
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import chance, listing, percentages
from ..core.model import HOOK_POINTS, run_with_cache
from ..report.plots import positions

N_FOLDS = 5  # k-fold cross-validation: each probe is fitted on 4/5 of the sequences and scores the other 1/5
WEIGHT_DECAY = 1e-2  # L2 penalty: with ~22 points and 16 to 128 features, the smallest weights that fit

# The hook points probed by default. The MLP: each layer. The transformer: the residual stream before and after the
# head; its hook_embed and hook_pos_embed are not two places in the model but the two terms that sum to resid_pre.
PROBE_POINTS = {"mlp": HOOK_POINTS, "transformer": ("blocks.0.hook_resid_pre", "blocks.0.hook_resid_post")}
# The hook points the logits are a linear function of, and how. A letter the model names right is then linearly
# decodable from that point by construction, so a probe there scoring high says the model works, nothing more.
LINEAR_READOUT = {"hidden2": "the output layer is a linear map of hidden2",
                  "blocks.0.hook_resid_post": "the unembedding W_U is a linear map of resid_post at each position, "
                                              "so also of its flattened features"}


def fold_masks(n_sequences, n_folds, generator):
    """Seeded k-fold split: (K, N) bool, row k marks the sequences fold k's probe is scored on (and not fitted on).

    Each column has exactly one True: every sequence is scored once. With 27 sequences and 5 folds the folds hold
    6, 6, 5, 5 and 5 sequences.
    """
    n_folds = min(n_folds, n_sequences)
    fold = torch.empty(n_sequences, dtype=torch.long)
    fold[torch.randperm(n_sequences, generator=generator)] = torch.arange(n_sequences) % n_folds  # shuffled, balanced
    return fold[None, :] == torch.arange(n_folds)[:, None]  # (K, N)


def random_labels(sequences, generator):
    """The control task: each position's letters shuffled across sequences, (N, L). Each letter stays as common as in
    the real task, but which sequence carries it is random."""
    return torch.stack([column[torch.randperm(len(column), generator=generator)] for column in sequences.T], 1)


def cross_validated_accuracy(features, labels, test, n_classes, weight_decay=WEIGHT_DECAY, steps=100):
    """Fit a penalised multinomial logistic regression for every (feature set, fold, task) at once; score each
    sequence with the probe of the fold that held it out.

    features (G, N, D): G feature sets for the same N sequences, zero-padded to one width D (a zero column stays 0
    after standardizing, and a weight on it feels only the penalty, so it stays 0: padding changes nothing)
    labels (N, P): P labellings (tasks) to probe for
    test (K, N) bool: the folds, from fold_masks
    Returns (G, P): the fraction of the N sequences named right.
    """
    (n_sets, n, width), n_tasks, n_folds = features.shape, labels.shape[1], len(test)
    train = (~test).float()[None, :, :, None]  # (1, K, N, 1): the sequences each fold's probe is fitted on
    n_train = train.sum(2, keepdim=True)
    # standardize with the training sequences' mean and std only: the scored ones must not shape the probe
    mean = (features[:, None] * train).sum(2, keepdim=True) / n_train  # (G, K, 1, D)
    std = (((features[:, None] - mean) ** 2 * train).sum(2, keepdim=True) / n_train).sqrt() + 1e-6  # dead: std 0
    x = (features[:, None] - mean) / std  # (G, K, N, D)
    if width > n:  # more features than sequences: at the defaults, 27 sequences and 32 (MLP) or 128 (transformer)
        # Every gradient of a probe's loss is a combination of its training rows, so L-BFGS, started at zero, only
        # ever moves the weights within their span. Fitting on x's coordinates in an orthonormal basis of that span
        # is the same fit (the same steps, rotated) with N weights per class instead of D: 0.13 s -> 0.08 s for
        # the default transformer.
        basis = torch.linalg.svd(x * train, full_matrices=False).Vh  # (G, K, N, D): its rows span the training rows
        x, width = x @ basis.mT, n  # (G, K, N, N)
    weight = torch.zeros(n_sets, n_folds, width, n_tasks * n_classes, requires_grad=True)  # all tasks side by side
    bias = torch.zeros(n_sets, n_folds, 1, n_tasks, n_classes, requires_grad=True)
    # each probe's loss is the mean cross-entropy over its own training sequences: one-hot targets, weighted by
    # 1/n_train where the sequence is in the fold's training part and 0 where it is scored
    targets = F.one_hot(labels, n_classes).float() * (train / n_train)[0, :, :, :, None]  # (K, N, P, V)
    # a short memory (history_size) makes each step cheaper; it does not change the minimum it finds
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, history_size=10, line_search_fn="strong_wolfe")

    def logits():
        return (x @ weight).view(n_sets, n_folds, n, n_tasks, n_classes) + bias  # (G, K, N, P, V)

    def loss_fn():
        optimizer.zero_grad()
        loss = -(targets * logits().log_softmax(-1)).sum() + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(loss_fn)
    with torch.no_grad():
        correct = logits().argmax(-1) == labels  # (G, K, N, P)
        scored = correct & test[None, :, :, None]  # count each sequence only in the fold that held it out
        return scored.sum((1, 2)).float() / n  # (G, P)


class ProbeAccuracy(Result):
    """What probe_accuracy measured; finding() says what it means."""

    def finding(self):
        trained, untrained = self["trained"], self["untrained"]
        names = list(trained["letters"])  # the hook points probed, in order
        lowest = {network: [min(self[network]["letters"][name]) for name in names]
                  for network in ("trained", "untrained")}
        control = np.array([trained["random_labels"][name] for name in names])
        worst = {network: ", ".join(f"{value:.0%}" for value in values) for network, values in lowest.items()}
        verb = "read every input letter" if min(lowest["trained"]) >= 0.99 else "name the input letters"
        headline = (f"Linear probes {verb} from the trained {listing(names)} (worst position per "
                    f"layer: {worst['trained']}) and from the untrained network's ({worst['untrained']}); chance is "
                    f"{chance(self['chance'])}. Present does not mean used.")
        numbers = {"trained_lowest": min(lowest["trained"]), "untrained_lowest": min(lowest["untrained"]),
                   "random_labels_mean": float(control.mean()), "chance": self["chance"]}
        column = max(len(name) for name in names)
        evidence = [f"  Probes: logistic regression with an L2 penalty, {self['folds']}-fold cross-validated over "
                    f"{self['sequences']} sequences (each is scored by a probe that never saw it); accuracy per "
                    f"input position:"]
        for name in names:
            evidence.append(f"  {name:<{column}} trained {percentages(trained['letters'][name])}   untrained network "
                            f"{percentages(untrained['letters'][name])}   shuffled labels "
                            f"{percentages(trained['random_labels'][name])}")
        caveats = []
        spread = (f"{control.min():.0%} everywhere" if f"{control.min():.0%}" == f"{control.max():.0%}" else
                  f"{control.mean():.0%} on average, from {control.min():.0%} to {control.max():.0%}")
        copies, seq_len = self.get("control_copies_a_position", 0), control.shape[1]
        if copies:
            caveats.append(f"  Leakage check, shuffled labels ({spread}): not possible with {self['sequences']} "
                           f"sequences. Shuffling so few labels can only reorder them, and here {copies} of the {seq_len} "
                           f"shuffled columns group the sequences exactly as a real position's letters do, so the "
                           f"probes rightly read them; the check says nothing about leakage here.")
        else:
            near = abs(control.mean() - self["chance"]) <= 0.1
            evidence.append(f"  Leakage check, labels shuffled across sequences ({spread}): " + (
                f"near chance ({chance(self['chance'])}) on average, as it must be when no probe is scored on a "
                f"sequence it was fitted on; single positions vary by chance with {self['sequences']} sequences."
                if near else f"not near chance {self['chance']:.0%}: the folds leak, check them."))
        decodable = [name for name in names if min(untrained["letters"][name]) >= 0.99]
        if decodable:
            verb = "gives" if len(decodable) == 1 else "give"
            caveats.append(f"  In the untrained network, the {' and '.join(decodable)} also {verb} every letter at "
                           f">= 99%: random weights keep the input's information too.")
        readout = self["readout"]
        where = ("for every sequence" if min(readout) == 1 else
                 f"for {percentages(readout).strip()} of the sequences (per input position; the model misreads "
                 f"the rest)")
        for name in [name for name in names if name in LINEAR_READOUT]:
            below = [i for i, (probe, own) in enumerate(zip(trained["letters"][name], readout)) if probe < own]
            scores = percentages([trained["letters"][name][i] for i in below]).strip()
            short = ("" if not below else f" The cross-validated probe scores less at input "
                     f"{listing(str(i + 1) for i in below)} ({scores}): fitted without the sequences it names, it "
                     f"can miss what the model's own readout gets.")
            caveats.append(f"  {name} is decodable by construction: {LINEAR_READOUT[name]}, and read at output "
                           f"{len(readout) + 1}-i it names input i's letter {where}. So wherever the model reverses "
                           f"correctly a linear probe exists; a high {name} score says the model works, nothing "
                           f"more.{short}")
        caveats.append("  A probe shows the information is present, not that the model uses it; that takes ablation "
                       "and patching.")
        return Finding(headline, numbers, evidence, caveats)


def probe_accuracy(run, names=None, sequences=None):
    """Cross-validated probe accuracy for the letter at each input position, at each hook point of run.model and of
    run.untrained, on the real letters and on shuffled labels (a leakage check); and the model's own readout.

    sequences: None means run.sequences (all of them, or a seeded sample of 512 for long sequences).
    names: the hook points to probe, in order; None means PROBE_POINTS for the model's kind. Activations with
    positions, (N, T, d), are probed flattened to (N, T*d) (common.layer_features).
    Returns a ProbeAccuracy: {"trained": {"letters": {layer: [accuracy per input position]}, "random_labels":
    {layer: [...]}}, "untrained": the same for run.untrained, "readout": [per input position i, the fraction of
    sequences for which the model's output layer, read at output L+1-i, names input i's letter], "folds": K,
    "sequences": N, "chance": 1/V, "control_copies_a_position": int}
    """
    sequences = run.sequences if sequences is None else sequences
    names = PROBE_POINTS[run.kind] if names is None else tuple(names)
    vocab = run.vocab
    generator = torch.Generator().manual_seed(run.seed)
    n_letters, seq_len = len(vocab.letters), sequences.shape[1]
    test = fold_masks(len(sequences), N_FOLDS, generator)
    labels = torch.cat([sequences, random_labels(sequences, generator)], 1)  # (N, 2L): real tasks, then controls
    tokens = add_eos(sequences, vocab.eos_id).to(run.device)
    logits, cache = run_with_cache(run.model, tokens, names)  # one forward pass gives every layer and the logits
    _, untrained_cache = run_with_cache(run.untrained, tokens, names)
    # (N, ...) -> (N, D): the transformer's (N, T, d) residual stream becomes (N, T*d), as in common.layer_features
    feature_sets = [layers[name].cpu().float().flatten(1) for layers in (cache, untrained_cache) for name in names]
    # the model's own readout as a probe: output L+1-i, letters only (not <eos>), flipped so column i = input i
    named = logits[:, :seq_len, :n_letters].argmax(-1).cpu().flip(1)  # (N, L)
    readout = (named == sequences).float().mean(0).tolist()
    width = max(f.shape[1] for f in feature_sets)
    features = torch.stack([F.pad(f, (0, width - f.shape[1])) for f in feature_sets])  # (2 * layers, N, D)
    accuracy = cross_validated_accuracy(features, labels, test, n_letters).view(2, len(names), 2, seq_len)
    result = {network: {task: {name: accuracy[i, j, k].tolist() for j, name in enumerate(names)}
                        for k, task in enumerate(("letters", "random_labels"))}
              for i, network in enumerate(("trained", "untrained"))}
    return ProbeAccuracy({**result, "readout": readout, "folds": len(test), "sequences": len(sequences),
                          "chance": 1 / n_letters,
                          "control_copies_a_position": copies_a_position(labels[:, seq_len:], sequences)})


def copies_a_position(shuffled, sequences):
    """How many shuffled label columns group the sequences exactly as some real position does: (N, L) x (N, L) ->
    int. Then the "random" labels are real letters under other names, and a probe rightly reads them.

    With many sequences a shuffle almost never does this. With 4 (--seq-len 2 --vocab ab: aa, ab, ba, bb) there are
    only 6 orders of the first column's a, a, b, b, and 4 of them group the sequences as position 1 or position 2
    does: a control task cannot be built from so few sequences.
    """
    def grouping(column):  # which sequences share a label, whatever the labels are called
        return tuple(column.tolist().index(value) for value in column.tolist())

    real = {grouping(column) for column in sequences.T}
    return sum(grouping(column) in real for column in shuffled.T)


def plot_probes(probes, path):
    """Cross-validated accuracy per probed hook point and input position: trained model, untrained network, random
    labels. One panel per hook point, in the order probed."""
    bars = [(probes["trained"]["letters"], "trained model", "tab:blue", None),
            (probes["untrained"]["letters"], "untrained network (control)", "tab:orange", None),
            (probes["trained"]["random_labels"], "trained model, shuffled labels (leakage check)", "0.6", "//")]
    seq_len, names = len(probes["readout"]), list(probes["trained"]["letters"])
    fig = Figure(figsize=(max(9, min(14, 3 + 0.55 * len(names) * seq_len)), 4.4))
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.25, top=0.8, wspace=0.08)
    axes = fig.subplots(1, len(names), sharey=True, squeeze=False)[0]  # an array even for one hook point
    width = 0.8 / len(bars)
    for ax, name in zip(axes, names):
        for k, (results, label, color, hatch) in enumerate(bars):
            ax.bar(np.arange(seq_len) + (k - 1) * width, [100 * v for v in results[name]], width, color=color,
                   hatch=hatch, edgecolor="white", label=label)
        ax.axhline(100 * probes["chance"], color="black", linestyle="--", linewidth=1,
                   label=f"chance (1 in {round(1 / probes['chance'])})")
        ax.set_xticks(range(seq_len), positions(seq_len))
        ax.set_xlabel("input position of the letter")
        ax.set_ylim(0, 105)
        ax.set_title(name)
    axes[0].set_ylabel(f"accuracy, {probes['folds']}-fold cross-validated (%)")
    handles, labels = axes[0].get_legend_handles_labels()  # chance first (a line), then the bars
    fig.legend(handles[1:] + handles[:1], labels[1:] + labels[:1], loc="lower center", ncol=2, fontsize=8,
               frameon=False)  # below the panels, clear of the bars
    fig.suptitle("Probes: can a linear classifier read each input letter from a layer?\n"
                 "(information present is not information used)")
    save_figure(fig, path)
