"""Experiments on the trained model. Each one returns plain numbers; `explain_*` turns them into sentences.

Nothing here is a canned claim: every sentence is built from numbers measured on the model at hand, and says so where
the answer (which neuron does what) depends on the seed.
"""

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .data import add_eos, all_sequences, make_targets
from .model import HOOK_POINTS, run_with_cache, run_with_hooks
from .train import make_data, make_model, predict, sequence_accuracy, train
from .tutorial import watching

SEED_NOTE = "neuron numbers change with --seed; the counts and the pattern are what to compare"


def letters(sequence, vocab):
    return "".join(vocab.decode(sequence.tolist()))


@dataclass
class Capture:
    """Hidden activations for every distinct sequence, in lexicographic order (aaa, aab, ...)."""
    labels: list  # each sequence's letters, e.g. "abc"
    heldout: np.ndarray  # (N,) True where the sequence was held out of training
    test_row: int  # the row of the test input (--input)
    layers: dict  # {"hidden1": (N, H) array, "hidden2": (N, H) array}


def capture_all(model, data, cfg, names=("hidden1", "hidden2")):
    """Run every distinct sequence through the model with capture hooks on `names`."""
    sequences = all_sequences(len(cfg.vocab), cfg.seq_len)  # (N, L)
    layers = layer_features(model, sequences, data.vocab, cfg.device, names)
    labels = [letters(s, data.vocab) for s in sequences]
    heldout = {letters(s, data.vocab) for s in data.heldout_sequences}
    return Capture(labels=labels, heldout=np.array([label in heldout for label in labels]),
                   test_row=labels.index(cfg.input), layers={name: acts.numpy() for name, acts in layers.items()})


def activation_stats(acts):
    """Per layer: which neurons never fire, which always fire, which fire for some inputs only."""
    fires = acts > 0  # (N, H) post-ReLU, so "fires" means "is above zero"
    return {"dead": np.flatnonzero(~fires.any(0)).tolist(),
            "always": np.flatnonzero(fires.all(0)).tolist(),
            "sometimes": np.flatnonzero(fires.any(0) & ~fires.all(0)).tolist(),
            "mean_active_fraction": float(fires.mean())}


def explain_activations(capture, top=3):
    """Sentences about the captured hidden layers, and the neurons that fire most for the test input."""
    lines = []
    row, input_letters = capture.test_row, capture.labels[capture.test_row]
    for name, acts in capture.layers.items():
        stats = activation_stats(acts)
        n, h = acts.shape
        listed = f" {stats['dead'][:10]}" if 0 < len(stats["dead"]) <= 10 else ""  # a long list helps nobody
        lines.append(f"{name}: {len(stats['dead'])} of {h} neurons are dead (0 for all {n} inputs){listed}, "
                     f"{len(stats['always'])} fire for every "
                     f"input, {len(stats['sometimes'])} fire for some inputs and not others; on average "
                     f"{stats['mean_active_fraction']:.0%} of the neurons are above 0 for an input.")
        strongest = np.argsort(-acts[row], kind="stable")[:top]
        values = ", ".join(f"neuron {i} ({acts[row, i]:.2f})" for i in strongest if acts[row, i] > 0)
        lines.append(f"  strongest for {input_letters!r}: {values or 'none: every neuron is 0 for it'}")
    lines.append(f"  ({SEED_NOTE}; every value is >= 0 because it is taken after a ReLU.)")
    return lines


def missing_pairs(sequence, train_sequences):
    """Pairs of positions (i, j) whose letters in `sequence` never occur together in any training sequence.

    A network that sees every position at once can fail on such a combination: nothing in training showed it.
    """
    missing = []
    for i, j in itertools.combinations(range(len(sequence)), 2):
        together = (train_sequences[:, i] == sequence[i]) & (train_sequences[:, j] == sequence[j])
        if not together.any():
            missing.append((i, j))
    return missing


def explain_accuracy(model, data, train_accuracy, heldout_accuracy):
    """Whether the model learned the rule (held-out 100%), and if not, what is missing."""
    n_train, n_heldout = len(data.train_sequences), len(data.heldout_sequences)
    lines = [f"Sequences: there are {n_train + n_heldout} distinct ones; {n_heldout} held out, never trained on; the "
             f"{len(data.samples)} training samples are drawn, with repeats, from the other {n_train}.",
             f"Exact-match accuracy: training sequences {train_accuracy:.1%}, held-out sequences {heldout_accuracy:.1%}."]
    if heldout_accuracy == 1.0:
        lines.append("It reverses every sequence it never saw, so it learned the rule, not a lookup table of its "
                     "training data.")
        return lines
    if train_accuracy < 1.0:
        lines.append("It has not even learned its training sequences, so it has NOT learned the rule: train it "
                     "longer (--epochs, --samples) or wider (--hidden).")
        return lines
    wrong = data.heldout_sequences[(predict(model, data.heldout_sequences, data.vocab.eos_id)
                                    != make_targets(data.heldout_sequences, data.vocab.eos_id)).any(1)]
    lines.append(f"It fits every training sequence but gets {len(wrong)} held-out one(s) wrong, so it has NOT fully "
                 f"learned the rule: it fit its training data without generalizing. Try another --seed, or a longer "
                 f"--seq-len (more distinct sequences to learn from).")
    vocab = data.vocab
    for sequence in wrong[:5]:
        gaps = missing_pairs(sequence, data.train_sequences)
        if gaps:
            gap_text = "; ".join(f"{vocab.tokens[sequence[i]]!r} at position {i + 1} with {vocab.tokens[sequence[j]]!r} "
                                 f"at position {j + 1}" for i, j in gaps)
            lines.append(f"  {letters(sequence, vocab)!r}: no training sequence had {gap_text}.")
        else:
            lines.append(f"  {letters(sequence, vocab)!r}: every pair of its letters occurs together in training, "
                         f"yet it fails.")
    return lines


# ---------------------------------------------------------------------------------------------------------------------
# The interpretability experiments. Each takes the model and the sequences to test on, and returns plain numbers.
# ---------------------------------------------------------------------------------------------------------------------

MAX_ANALYSIS_SEQUENCES = 512  # longer sequences have too many to test all; a seeded sample of this many stands in
MAX_PROBE_SEQUENCES = 1000  # probes fit on at most this many training sequences, scored on as many held-out ones
SELECTIVE = 0.1  # a neuron "depends on" an input position when that letter explains >= 10% of its variance


def analysis_sequences(cfg):
    """Every distinct sequence when there are few; else a seeded sample. (N, L), lexicographic order."""
    generator = torch.Generator().manual_seed(cfg.seed)
    return _sample(all_sequences(len(cfg.vocab), cfg.seq_len), MAX_ANALYSIS_SEQUENCES, generator)


def corruptions(sequences, position, n_letters):
    """Each sequence with the letter at `position` replaced by every other letter: ((V-1)*N, L), block k shifted by k."""
    copies = []
    for shift in range(1, n_letters):
        corrupted = sequences.clone()
        corrupted[:, position] = (sequences[:, position] + shift) % n_letters
        copies.append(corrupted)
    return torch.cat(copies)


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


def layer_features(model, sequences, vocab, device, names=HOOK_POINTS):
    """{hook point: (N, D) activations} for the sequences."""
    _, cache = run_with_cache(model, add_eos(sequences, vocab.eos_id).to(device), names)
    return {name: cache[name].cpu() for name in names}


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
    train = _sample(data.train_sequences, MAX_PROBE_SEQUENCES, generator)
    heldout = _sample(data.heldout_sequences, MAX_PROBE_SEQUENCES, generator)
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


def _sample(sequences, limit, generator):
    """All the sequences if there are at most `limit`, else a seeded sample of `limit`, in their original order."""
    if len(sequences) <= limit:
        return sequences
    return sequences[torch.randperm(len(sequences), generator=generator)[:limit].sort().values]


def explain_probes(trained, control, data):
    n_train = min(len(data.train_sequences), MAX_PROBE_SEQUENCES)
    n_heldout = min(len(data.heldout_sequences), MAX_PROBE_SEQUENCES)
    coarse = f"; with so few the score moves in steps of {1 / n_heldout:.0%}" if n_heldout < 20 else ""
    lines = [f"Probes (logistic regression, L2 penalty, fit on {n_train} training sequences, scored on "
             f"{n_heldout} held-out ones{coarse}):"]
    for name in HOOK_POINTS:
        lines.append(f"  {name:<9} trained model: {_percentages(trained[name])}   untrained control: "
                     f"{_percentages(control[name])}  (per input position)")
    decodable = [name for name in HOOK_POINTS if min(control[name]) >= 0.99]
    if decodable:
        lines.append(f"  The untrained control reads every letter at >= 99% from {', '.join(decodable)}: random weights "
                     f"keep the input's information too.")
    lines.append("  So a probe shows the information is present, not that the model uses it; that takes ablation and "
                 "patching.")
    return lines


def _percentages(values):
    return " ".join(f"{v:4.0%}" for v in values)


def eta_squared(acts, sequences):
    """eta squared: the fraction of each neuron's variance explained by the letter at each input position.

    acts (N, H) over sequences (N, L), ideally all of them, so every letter is equally common at every position and
    the positions are independent; returns (H, L) in [0, 1], and 0 for a neuron whose activation never varies.
    """
    acts = torch.as_tensor(acts, dtype=torch.float64)
    mean = acts.mean(0)  # (H,)
    total = ((acts - mean) ** 2).sum(0)  # (H,) total sum of squares
    eta = torch.zeros(acts.shape[1], sequences.shape[1], dtype=torch.float64)
    for position in range(sequences.shape[1]):
        for letter in sequences[:, position].unique():
            group = acts[sequences[:, position] == letter]  # (n_letter, H)
            eta[:, position] += len(group) * (group.mean(0) - mean) ** 2  # between-letter sum of squares
    eta = torch.where(total[:, None] > 1e-12, eta / total.clamp_min(1e-12)[:, None], torch.zeros_like(eta))
    return eta.clamp(0, 1).numpy()


def selectivity_counts(eta, acts):
    """How many neurons depend on one input position, several, or none, and how many are dead."""
    dead = np.asarray(acts).max(0) <= 0
    positions = (eta >= SELECTIVE).sum(1)
    return {"dead": int(dead.sum()), "one_position": int(((positions == 1) & ~dead).sum()),
            "several_positions": int(((positions > 1) & ~dead).sum()), "no_position": int(((positions == 0) & ~dead).sum())}


def first_layer_weight_norms(model, seq_len):
    """Each hidden1 neuron's weight norm per input position: the first Linear's weights, split into per-token blocks."""
    weight = model.linear1.weight.detach().cpu()  # (H, T*E)
    blocks = weight.view(weight.shape[0], seq_len + 1, -1)  # (H, T, E): one block of E weights per input token
    return blocks.norm(dim=2)[:, :seq_len].numpy()  # (H, L); the <eos> block is the same for every input


def weights_vs_selectivity(norms, eta, acts):
    """Do the weights agree with the measured selectivity? Correlation over neurons x positions, and how often a
    live neuron's largest weight block is at its most selective position."""
    alive = np.asarray(acts).max(0) > 0
    correlation = float(np.corrcoef(norms[alive].ravel(), eta[alive].ravel())[0, 1]) if alive.sum() > 1 else float("nan")
    agree = int((norms[alive].argmax(1) == eta[alive].argmax(1)).sum())
    return {"correlation": correlation, "top_position_agrees": agree, "alive_neurons": int(alive.sum())}


def neuron_selectivity(model, sequences, vocab, device, control):
    """Per hidden layer: eta squared (H, L) and the neuron counts; the first layer's weight norms per position and
    how well they agree with hidden1's measured selectivity; and the same counts and agreement for `control`, the
    untrained network, to show what training changed."""
    result = {"threshold": SELECTIVE, **_selectivity(model, sequences, vocab, device)}
    untrained = _selectivity(control, sequences, vocab, device)
    result["control"] = {"hidden1": untrained["hidden1"]["counts"], "hidden2": untrained["hidden2"]["counts"],
                         "weights_vs_selectivity": untrained["weights_vs_selectivity"]}
    return result


def _selectivity(model, sequences, vocab, device):
    features = layer_features(model, sequences, vocab, device, ("hidden1", "hidden2"))
    result = {}
    for name, acts in features.items():
        eta = eta_squared(acts, sequences)
        result[name] = {"eta": eta.tolist(), "counts": selectivity_counts(eta, acts.numpy())}
    norms = first_layer_weight_norms(model, sequences.shape[1])
    result["first_layer_weight_norms"] = norms.tolist()
    result["weights_vs_selectivity"] = weights_vs_selectivity(norms, np.array(result["hidden1"]["eta"]),
                                                              features["hidden1"].numpy())
    return result


def explain_selectivity(selectivity):
    lines = [f"Selectivity (eta squared: share of a neuron's variance explained by the letter at one input position; "
             f"'depends on' means >= {SELECTIVE:.0%}; the untrained control in brackets):"]
    for name in ("hidden1", "hidden2"):
        counts, control = selectivity[name]["counts"], selectivity["control"][name]
        lines.append(f"  {name}: {counts['one_position']} ({control['one_position']}) neurons depend on one position, "
                     f"{counts['several_positions']} ({control['several_positions']}) on several, "
                     f"{counts['no_position']} ({control['no_position']}) on none alone, "
                     f"{counts['dead']} ({control['dead']}) dead.")
    counts, control = selectivity["hidden1"]["counts"], selectivity["control"]["hidden1"]
    if counts["several_positions"] > (sum(counts.values()) - counts["dead"]) / 2:
        lines.append("  At this cutoff most live hidden1 neurons mix several positions: they are not one-letter-slot "
                     "units.")
        if control["several_positions"] > (sum(control.values()) - control["dead"]) / 2:
            lines.append("  So do the untrained network's: a ReLU of a sum over all positions mixes them before any "
                         "training, so the mixing itself is not something the network learned.")
    return lines


def explain_weights(selectivity):
    trained, control = selectivity["weights_vs_selectivity"], selectivity["control"]["weights_vs_selectivity"]
    return [f"First-layer weights: per-position weight norms and hidden1 selectivity correlate at "
            f"r = {trained['correlation']:.2f} (untrained control: {control['correlation']:.2f}); the largest weight "
            f"block is the most selective position for {trained['top_position_agrees']} of {trained['alive_neurons']} "
            f"live neurons (control: {control['top_position_agrees']} of {control['alive_neurons']})."]


def _per_position_accuracy(predicted, targets, seq_len):
    return (predicted[:, :seq_len] == targets[:, :seq_len]).float().mean(0)  # (L,)


def neuron_ablation(model, sequences, vocab, device, mean_over):
    """Per layer: output-position accuracy with each neuron zeroed, or set to its mean over `mean_over` sequences,
    and with the whole layer ablated. One batched forward pass per layer and kind: row block n ablates neuron n."""
    seq_len, n = sequences.shape[1], len(sequences)
    tokens = add_eos(sequences, vocab.eos_id).to(device)  # (N, T)
    targets = make_targets(sequences, vocab.eos_id)
    means = {name: acts.mean(0) for name, acts in
             layer_features(model, mean_over, vocab, device, ("hidden1", "hidden2")).items()}
    baseline = predict(model, sequences, vocab.eos_id)
    result = {"baseline": _per_position_accuracy(baseline, targets, seq_len).tolist(),
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
            accuracy = torch.stack([_per_position_accuracy(p, targets, seq_len) for p in predicted])  # (H, L)
            whole = run_with_hooks(model, tokens, {name: lambda out, value=value.to(device): value.expand_as(out)})
            whole_predicted = whole.argmax(-1).cpu()
            result[name][kind] = {
                "accuracy": accuracy.tolist(),
                "whole_layer_position_accuracy": _per_position_accuracy(whole_predicted, targets, seq_len).tolist(),
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
                     f"{_percentages(zero['whole_layer_position_accuracy'])} (chance {1 / n_letters:.0%}).")
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
        lines.append(f"  whole {name}: {_percentages(patching[name]['whole_layer'])} per input position; the best "
                     f"single neuron restores {_percentages(best)}.")
    whole = min(min(patching[name]["whole_layer"]) for name in ("hidden1", "hidden2"))
    best = max(np.array(patching[name]["neurons"]).max() for name in ("hidden1", "hidden2"))
    if best > 1.01:
        lines.append("  A share above 100% means the patch overshoots: the patched run favours the clean letter more "
                     "than the clean run itself did.")
    if whole > 0.99 and best < 0.5:
        lines.append(f"  A whole layer carries the entire causal path; no single neuron carries more than {best:.0%} "
                     f"of it.")
    return lines


def capacity_sweep(cfg, seq_lens, widths, progress=True):
    """Held-out accuracy for each (seq_len, hidden width), every other setting as in cfg: (len(seq_lens), len(widths))."""
    grid = np.zeros((len(seq_lens), len(widths)))
    cells = [(a, b) for a in range(len(seq_lens)) for b in range(len(widths))]
    for a, b in tqdm(cells, desc="sweep", unit="model", disable=not (progress and watching())):
        cell = replace(cfg, seq_len=seq_lens[a], hidden=widths[b], input="")
        data = make_data(cell)
        model = make_model(cell, data.vocab)
        train(model, data, cell, progress=False)
        grid[a, b] = sequence_accuracy(model, data.heldout_sequences, data.vocab.eos_id)
    return grid


def sweep_percent(value):
    """'100%' only when exactly 1; otherwise rounded down to 0.1%, so that 99.96% never reads as 100."""
    return "100%" if value == 1 else f"{math.floor(value * 1000) / 10:.1f}%"


def explain_sweep(grid, seq_lens, widths):
    header = "seq-len " + "".join(f"{f'hidden {w}':>11}" for w in widths)
    rows = [f"{length:>7} " + "".join(f"{sweep_percent(value):>11}" for value in grid[a]) for a, length in enumerate(seq_lens)]
    lines = ["Held-out accuracy by sequence length and hidden width:", header] + rows
    for b, width in enumerate(widths):
        perfect = [str(length) for a, length in enumerate(seq_lens) if grid[a, b] == 1.0]
        short = [str(length) for a, length in enumerate(seq_lens) if grid[a, b] < 1.0]
        lines.append(f"  hidden {width}: 100% at length {', '.join(perfect) or 'none'}; "
                     f"below 100% at {', '.join(short) or 'none'}.")
    lines.append("  (one model per cell, one seed: a single cell can differ with --seed)")
    return lines
