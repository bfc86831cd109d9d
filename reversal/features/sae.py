"""A sparse autoencoder (SAE) on hidden1, scored against the ground truth that this toy has and real models lack.

The features the network must carry are known exactly: "the letter at input position p is x", L x V indicators
(9 with the defaults: a@1, b@1, c@1, a@2, ...). An SAE rewrites each activation as a sparse, non-negative mix of
dictionary directions:

    f = ReLU(W_e (x - b_d) + b_e)        (F,)  feature activations, most of them 0
    x_hat = W_d f + b_d                  (H,)  the reconstruction; W_d's columns have unit length

trained to reconstruct x while keeping sum(f) small (an L1 penalty). Each SAE feature is then scored by how well
its activation over all sequences correlates (Pearson r, signed) with each indicator, and matched one to one: the
pair with the highest r is matched first, then the best pair left, and so on, so that no SAE feature counts for two
ground-truth features (with two letters, a@1 and b@1 are exact opposites, and one feature would otherwise "find"
both). A ground-truth feature is found when its match has r >= 0.9. Beside the SAE, the same matching for the
neurons, for the principal components, and for one linear+ReLU readout fitted to each indicator (a supervised
reference, not a ceiling: least squares does not maximize the correlation after the ReLU; an SAE can beat it).
The control: the SAE's features mixed by random rotations, which reconstruct the layer just as well.

    results = sae_experiment(run)  # an SaeScores, see its docstring
    print(results.finding())
    plot_sae(results, "sae.png")
"""

import itertools
import time

import numpy as np
import torch
import torch.nn as nn
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from tqdm import tqdm

from ..core.common import layer_features
from ..core.data import add_eos, make_targets
from ..core.directions import class_means
from ..core.pca import principal_axes
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import precise, span
from ..core.model import run_with_hooks
from .steering import class_mean_vector
from .steering_result import clean_intervals
from ..core.progress import watching

LAYER = "hidden1"
L1 = 3e-3  # sparsity penalty per unit of feature activation (inputs scaled to mean squared norm 1)
LR = 3e-3  # full-batch Adam
# Measured, SAE seeds 0-2 on the seed-42 model: the defaults find 8, 8, 7 of 9 after 5,000 steps (and 7, 6, 6 after
# 20,000 with unfused Adam: longer is not better here); --seq-len 5 finds 10, 10, 10 of 15. About 2 s a seed.
STEPS = 5000
FOUND = 0.9  # a ground-truth feature is "found" by a method when the unit matched to it correlates with it at >= 0.9
ROTATIONS = 20  # random rotations of the SAE's features in the control: enough for a mean and a 95th percentile
ON_A_LINE = 0.9  # a position's letters "lie on a line": one direction holds this share of their class means' variance
SEEDS = (0, 1, 2)  # SAE seeds sae_experiment trains; the model's seed is cfg.seed, apart
TOWARD_MIDDLE_ALPHAS = np.round(np.arange(0, 4.0001, 0.25), 2)  # steering toward a line's middle letter


class SparseAutoencoder(nn.Module):
    """ReLU encoder, unit-norm decoder columns. Works in scaled units: x / scale, scale = sqrt(mean ||x||^2)."""

    def __init__(self, width, n_features, scale, mean, generator):
        super().__init__()
        decoder = torch.randn(width, n_features, generator=generator)  # (H, F)
        decoder /= decoder.norm(dim=0)
        self.W_d = nn.Parameter(decoder)
        self.W_e = nn.Parameter(decoder.T.clone())  # (F, H): start as the decoder's transpose, a common choice
        self.b_e = nn.Parameter(torch.zeros(n_features))
        self.b_d = nn.Parameter(mean / scale)  # (H,) the data mean: features then only explain the deviations
        self.register_buffer("scale", torch.tensor(float(scale)))

    def encode(self, x):
        """(N, H) activations in the layer's own units -> (N, F) features, >= 0."""
        return torch.relu((x / self.scale - self.b_d) @ self.W_e.T + self.b_e)

    def decode(self, f):
        """(N, F) features -> (N, H) reconstruction in the layer's own units."""
        return (f @ self.W_d.T + self.b_d) * self.scale

    def forward(self, x):
        return self.decode(self.encode(x))

    @torch.no_grad()
    def normalize_decoder(self):
        self.W_d /= self.W_d.norm(dim=0).clamp_min(1e-12)  # unit columns: the L1 penalty cannot be dodged by
        # shrinking f and growing W_d


def train_sae(acts, n_features, seed, l1=L1, lr=LR, steps=STEPS, progress=True):
    """Train an SAE on activations (N, H), full batch. Returns (sae, final loss)."""
    acts = acts.detach().float().cpu()
    scale = acts.pow(2).sum(1).mean().sqrt().item() or 1.0  # a layer of zeros stays zeros; avoid dividing by 0
    generator = torch.Generator().manual_seed(seed)
    sae = SparseAutoencoder(acts.shape[1], n_features, scale, acts.mean(0), generator)
    optimizer = torch.optim.Adam(sae.parameters(), lr=lr, fused=True)  # fused: one kernel for all parameters
    x = acts / scale  # (N, H), mean squared norm 1
    for _ in tqdm(range(steps), desc="SAE", unit="step", disable=not (progress and watching()), mininterval=0.5):
        f = torch.relu((x - sae.b_d) @ sae.W_e.T + sae.b_e)  # (N, F)
        x_hat = f @ sae.W_d.T + sae.b_d  # (N, H)
        loss = (x - x_hat).pow(2).sum(1).mean() + l1 * f.sum(1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sae.normalize_decoder()
    return sae, loss.item()


def ground_truth(sequences, n_letters):
    """(N, L) letters -> (N, L*V) indicators, column p*V + x = 1 where the letter at position p is x."""
    return nn.functional.one_hot(sequences, n_letters).flatten(1).double()


def feature_names(seq_len, vocab_letters):
    return [f"{letter}@{p + 1}" for p in range(seq_len) for letter in vocab_letters]


def correlations(truth, features):
    """Pearson r between each ground-truth column (N, G) and each feature column (N, F): (G, F), signed.
    A feature that never changes (dead, or always on at one value) correlates with nothing: 0."""
    a = truth.double() - truth.double().mean(0)
    b = features.double() - features.double().mean(0)
    norms = a.norm(dim=0)[:, None] * b.norm(dim=0)[None, :]  # (G, F)
    r = (a.T @ b) / norms.clamp_min(1e-12)
    return r.where(norms > 1e-9, torch.zeros(()))


def match(r, units=None):
    """Match ground-truth features (rows of r, (G, F)) to units (columns) one to one, by positive correlation:
    take the pair with the highest r, then the highest pair whose row and unit are both still free, and so on.
    units: for each column, the unit it belongs to; a principal component, whose sign is arbitrary, enters as two
    columns, +pc and -pc, and is still used once. Returns {row: (column, r)}, only pairs with r > 0.

    Greedy is the best matching for counting "found": two indicators never both correlate at >= 0.9 with one unit
    (that would need them to correlate with each other, and indicators are uncorrelated or opposed), so the pairs
    at >= 0.9 form separate stars around the indicators, and greedy takes one pair from each."""
    units = list(range(r.shape[1])) if units is None else list(units)
    matched, used = {}, set()
    for flat in torch.argsort(r.flatten(), descending=True).tolist():
        row, column = divmod(flat, r.shape[1])
        if r[row, column] <= 0:
            break
        if row not in matched and units[column] not in used:
            matched[row] = (column, r[row, column].item())
            used.add(units[column])
    return matched


def matched_r(truth, features, either_sign=False):
    """For each ground-truth feature, the r of the unit matched to it (0 where none is left): a list of G numbers.
    either_sign: each unit may match as itself or negated (a principal component, a rotated feature), once."""
    width = features.shape[1]
    if either_sign:
        features = torch.cat([features, -features], 1)  # (N, 2F): columns k and k + F are one unit
    matched = match(correlations(truth, features), units=[k % width for k in range(features.shape[1])])
    return [matched[g][1] if g in matched else 0.0 for g in range(truth.shape[1])]


def n_found(values):
    return sum(v >= FOUND for v in values)


def pca_projections(acts):
    """(N, H) -> (N, H') coordinates along every principal component (H' = min(N, H))."""
    centred, _, axes = principal_axes(acts)
    return centred @ axes.T


def readout_fit(acts, truth, ridge=1e-6):
    """For each indicator, least squares of it on the activations (with a bias), then a ReLU: (N, G), column g
    fitted to indicator g on the very sequences it is scored on. A supervised reference, not a ceiling: least squares
    minimizes the error before the ReLU, not the correlation after it."""
    design = torch.cat([acts.double(), torch.ones(len(acts), 1, dtype=torch.float64)], 1)  # (N, H+1)
    gram = design.T @ design + ridge * torch.eye(design.shape[1], dtype=torch.float64)
    weights = torch.linalg.solve(gram, design.T @ truth.double())  # (H+1, G)
    return torch.relu(design @ weights)


def fve(acts, reconstruction):
    """Fraction of variance explained: 1 - sum ||x - x_hat||^2 / sum ||x - mean||^2."""
    acts = acts.double()
    return 1 - ((acts - reconstruction.double()) ** 2).sum().item() / ((acts - acts.mean(0)) ** 2).sum().item()


def accuracy_with(model, sequences, vocab, device, replace):
    """Exact-match accuracy with hidden1 replaced by replace(hidden1)."""
    tokens = add_eos(sequences, vocab.eos_id).to(device)
    logits = run_with_hooks(model, tokens, {LAYER: lambda out: replace(out.cpu()).to(out.device, out.dtype)})
    return (logits.argmax(-1).cpu() == make_targets(sequences, vocab.eos_id)).all(1).double().mean().item()


def random_rotation(n, generator):
    """A random orthogonal (n, n) matrix."""
    q, r = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))  # the sign fix makes it uniformly random


def unmatched(truth, features, matched, names):
    """For each SAE feature that is no ground-truth feature's match: its best r with one indicator, with a product
    of two (a conjunction: "x at p and y at q") and with a sum of two (a mixture: "x at p or y at q")."""
    pairs = list(itertools.combinations(range(truth.shape[1]), 2))
    products = torch.stack([truth[:, i] * truth[:, j] for i, j in pairs], 1)  # (N, pairs)
    sums = torch.stack([truth[:, i] + truth[:, j] for i, j in pairs], 1)
    single, conj, mix = (correlations(t, features) for t in (truth, products, sums))  # each (., F)
    described = []
    for k in range(features.shape[1]):
        if k in matched:
            continue
        if features[:, k].std() == 0:
            described.append({"feature": k, "kind": "dead", "best": 0.0, "match": ""})
            continue
        options = [("single indicator", single[:, k], lambda i: names[i]),
                   ("conjunction", conj[:, k], lambda i: f"{names[pairs[i][0]]} and {names[pairs[i][1]]}"),
                   ("mixture", mix[:, k], lambda i: f"{names[pairs[i][0]]} or {names[pairs[i][1]]}")]
        kind, values, name = max(options, key=lambda option: option[1].max().item())
        described.append({"feature": k, "kind": kind, "best": values.max().item(),
                          "match": name(values.argmax().item()), "best_single": single[:, k].max().item()})
    return described


def letters_on_a_line(acts, sequences, n_letters, letters):
    """Per position: the share of its letters' class-mean variance along one direction, and which letter's mean
    lies between the others on that direction (the middle one)."""
    lines = []
    for p, means in enumerate(class_means(acts, sequences, n_letters)):  # means: (V, H), one row a letter
        centred, s, vh = principal_axes(means)
        along = (centred @ vh[0]).tolist()  # (V,) where each letter's mean sits on the main direction
        order = np.argsort(along)
        lines.append({"position": p + 1, "share": (s[0] ** 2 / (s ** 2).sum()).item(),
                      "order": [letters[i] for i in order], "middle": [letters[i] for i in order[1:-1]]})
    return lines


class TowardMiddle(Result):
    """What steer_toward_middle measured; finding() says where the push writes the middle letter, and where it
    overshoots to the far end."""

    def finding(self):
        alphas, middle, far = self["alphas"], self["middle"], self["far"]
        hit = [a for a, share in zip(alphas, self["says_middle"]) if share >= 0.9]
        past = next((a for a, share in zip(alphas, self["says_far"]) if share >= 0.5), None)
        written = " and ".join(f"from alpha {low:g} to {high:g}" if low != high else f"at alpha {low:g}"
                               for low, high in clean_intervals(alphas, [a in hit for a in alphas]))
        headline = (f"Steering input {self['position']} from {self['start']} toward the middle letter {middle} along "
                    f"the class-mean vector (hidden1, {self['steered']} sequences): output {self['output']} says "
                    f"{middle} for at least 90% of them " + (f"{written}." if hit else "at no alpha."))
        numbers = {"steered": self["steered"], "says_middle_most": max(self["says_middle"]),
                   "says_far_most": max(self["says_far"])}
        if past is None:
            return Finding(headline, numbers, [f"  Up to alpha {alphas[-1]:g} it never says {far} for half of them."])
        stays = all(share >= 0.5 for a, share in zip(alphas, self["says_far"]) if a >= past)
        numbers["alpha_says_far"] = past
        when = f"{'From' if stays else 'At'} alpha {past:g}{' on' if stays else ''}, half or more say {far}"
        if hit and min(hit) < past:  # the middle letter first, then the far one: an overshoot, measured
            return Finding(headline, numbers, [f"  {when}: pushed along the line, past {middle} lies {far}, the "
                                               f"overshoot of the line code."])
        return Finding(headline, numbers, [  # the far letter, with no middle letter written before it: no overshoot
            f"  {when}, though no smaller alpha wrote {middle} for 90% of them (at most "
            f"{max(self['says_middle']):.1%}, at alpha {alphas[int(np.argmax(self['says_middle']))]:g}): the push "
            f"reaches {far} without writing {middle} first, so this is no overshoot past it."])


@torch.no_grad()
def steer_toward_middle(run, line):
    """Steer hidden1 from the letter at one end of a position's line toward the middle letter, along the class-mean
    vector (steering.py's, from the training sequences, clamped at 0), and read the mirrored output on
    run.sequences: for each alpha, the share of the steered sequences that says the middle letter, and the share
    that says the letter at the other end. Returns a TowardMiddle."""
    data, vocab, device, p = run.data, run.vocab, run.device, line["position"] - 1
    train_acts = layer_features(run.model, data.train_sequences, vocab, device, (LAYER,))[LAYER].double()  # (N, H)
    start, middle, far = (vocab.index[letter] for letter in (line["order"][0], line["middle"][0], line["order"][-1]))
    vector = class_mean_vector(train_acts, data.train_sequences, p, start, middle).float().to(device)  # (H,)
    sequences = run.sequences
    tokens = add_eos(sequences[sequences[:, p] == start], vocab.eos_id).to(device)  # the sequences to steer
    mirror = run.cfg.seq_len - 1 - p
    says = {"says_middle": [], "says_far": []}
    for alpha in TOWARD_MIDDLE_ALPHAS:
        push = lambda out: (out + float(alpha) * vector).clamp(min=0)
        answer = run_with_hooks(run.model, tokens, {LAYER: push}).argmax(-1)[:, mirror].cpu()  # (n,)
        says["says_middle"].append((answer == middle).double().mean().item())
        says["says_far"].append((answer == far).double().mean().item())
    return TowardMiddle({"position": line["position"], "start": line["order"][0], "middle": line["middle"][0],
                         "far": line["order"][-1], "output": mirror + 1, "alphas": TOWARD_MIDDLE_ALPHAS.tolist(),
                         "steered": len(tokens), **says})


def score(model, acts, features, reconstruction, truth, sequences, vocab, device, replace):
    return {"fve": fve(acts, reconstruction), "l0": (features > 0).double().sum(1).mean().item(),
            "accuracy_with_reconstruction": accuracy_with(model, sequences, vocab, device, replace)}


def rotated_control(sae, acts, features, truth, seed):
    """The control: mix the SAE's features by ROTATIONS random rotations, undoing each in the decoder, so that the
    reconstruction is the same. A rotated feature is no longer >= 0 and its sign is arbitrary, so it may match with
    either sign (matched_r). Returns {fve (the largest gap from the SAE's own shows in the last digit only), found
    (per rotation), found_mean, found_p95}."""
    generator = torch.Generator().manual_seed(seed)
    decoder, bias, scale = sae.W_d.double(), sae.b_d.double(), sae.scale.double()
    found, worst_fve = [], 1.0
    for _ in range(ROTATIONS):
        rotation = random_rotation(features.shape[1], generator)  # (F, F)
        mixed = features @ rotation  # (N, F)
        worst_fve = min(worst_fve, fve(acts, (mixed @ rotation.T @ decoder.T + bias) * scale))
        found.append(n_found(matched_r(truth, mixed, either_sign=True)))
    return {"fve": worst_fve, "found": found, "found_mean": float(np.mean(found)),
            "found_p95": float(np.percentile(found, 95))}  # interpolated, as the other controls' 95th percentiles


def sae_experiment(run, seeds=SEEDS, steps=STEPS, progress=True):
    """Train one SAE per seed on hidden1 over run.sequences, and score it against the ground truth.

    Returns an SaeScores, whose values are:
      settings: layer, n_features (L x V), l1, lr, steps, seeds, sequences, found_at, rotations
      names: the ground-truth features, "a@1" ...
      per_seed: for each SAE seed: fve, l0, accuracy_with_reconstruction, matched_r (list of G: the r of the SAE
                feature matched to each ground-truth feature, 0 where none), found, seconds,
                unmatched (what the SAE features that match no ground-truth feature are),
                rotated: rotated_control (the same SAE with its features mixed by random rotations)
      fve, l0, accuracy_with_reconstruction: the first seed's (as in per_seed[0])
      matches: the first seed's one-to-one matches, [{feature: "a@1", sae_feature: k, r}], r > 0
      matched_r: {sae (first seed), neurons, pca, readout}: each a list of G numbers (see match)
      found: {sae (first seed), neurons, pca, readout}: how many of the G have a match with r >= FOUND
      found_by_seed: the SAE's found count per seed
      baseline_accuracy: the model's own accuracy on the sequences
      lines: letters_on_a_line per position
      toward_middle: for each position whose letters lie on a line, steer_toward_middle
    and its one array, "correlation": (G, F) signed r of ground truth with the first seed's features, for plot_sae.
    """
    model, vocab, device = run.model, run.vocab, run.device
    sequences = run.sequences  # (N, L): all 27 with the defaults
    acts = layer_features(model, sequences, vocab, device, (LAYER,))[LAYER].double()  # (N, H)
    n_letters = len(vocab.letters)
    truth = ground_truth(sequences, n_letters)  # (N, G)
    names = feature_names(run.cfg.seq_len, vocab.letters)
    n_features = truth.shape[1]
    per_seed, correlation, matches = [], None, None
    for seed in seeds:
        start = time.perf_counter()
        sae, _ = train_sae(acts, n_features, seed, steps=steps, progress=progress)
        with torch.no_grad():
            features = sae.encode(acts.float()).double()  # (N, F)
            reconstruction = sae.decode(features.float()).double()
            result = score(model, acts, features, reconstruction, truth, sequences, vocab, device,
                           lambda out: sae(out.float()))
            r = correlations(truth, features)  # (G, F)
            matched = match(r)  # {ground-truth feature: (SAE feature, r)}
            result["matched_r"] = [matched[g][1] if g in matched else 0.0 for g in range(len(names))]
            result["found"] = n_found(result["matched_r"])
            result["seconds"] = time.perf_counter() - start
            found_units = {k for k, value in matched.values() if value >= FOUND}
            result["unmatched"] = unmatched(truth, features, found_units, names)
            result["rotated"] = rotated_control(sae, acts, features, truth, seed)
        if correlation is None:  # the first seed's, for the figure and the list of matches
            correlation = r.tolist()
            matches = [{"feature": names[g], "sae_feature": k, "r": value} for g, (k, value) in sorted(matched.items())]
        per_seed.append(result)
    lines = letters_on_a_line(acts, sequences, n_letters, vocab.letters)
    readout = correlations(truth, readout_fit(acts, truth)).diagonal().tolist()  # column g is fitted to indicator g
    first = per_seed[0]
    best = {"sae": first["matched_r"], "neurons": matched_r(truth, acts),
            "pca": matched_r(truth, pca_projections(acts), either_sign=True), "readout": readout}
    return SaeScores({
        "settings": {"layer": LAYER, "n_features": n_features, "l1": L1, "lr": LR, "steps": steps,
                     "seeds": list(seeds), "sequences": len(sequences), "found_at": FOUND, "rotations": ROTATIONS},
        "names": names, "per_seed": per_seed,
        "fve": first["fve"], "l0": first["l0"], "accuracy_with_reconstruction": first["accuracy_with_reconstruction"],
        "matches": matches, "matched_r": best,
        "found": {method: n_found(values) for method, values in best.items()},
        "found_by_seed": [result["found"] for result in per_seed],
        "baseline_accuracy": accuracy_with(model, sequences, vocab, device, lambda out: out),
        "lines": lines,
        "toward_middle": [steer_toward_middle(run, line) for line in lines
                          if line["share"] >= ON_A_LINE and line["middle"]],
    }, {"correlation": correlation})


def _r(value):
    """r against the FOUND cut-off, with the digits that show its side: 0.897, not 0.90."""
    return precise(value, [FOUND], 2, "f")


def rotation_lesson(sae_found, rotated, g):
    """What the rotated control says: a lesson only where the SAE finds more than its 95th percentile."""
    control = (f"the same SAE with its features mixed by {len(rotated['found'])} random rotations reconstructs just "
               f"as well (FVE {rotated['fve']:.4f} at worst) and finds {rotated['found_mean']:.1f} of {g} on average "
               f"(95th percentile {rotated['found_p95']:.1f})")
    if sae_found > rotated["found_p95"]:
        return (f"  Lesson: {control}, the SAE {sae_found}: a near-perfect reconstruction is not the same as having "
                f"found the features.")
    return (f"  Control: {control}, and the SAE finds {sae_found}: no more than random mixes of its own features, so "
            f"at this setting the count does not show the SAE found the features.")


class SaeScores(Result):
    """What sae_experiment measured; finding() says what the SAE found, beside neurons and a fitted readout."""

    def finding(self):
        s, names, found = self["settings"], self["names"], self["found"]
        g, rotated = len(names), self["per_seed"][0]["rotated"]
        by_seed = self["found_by_seed"]
        counts = (f"{found['sae']} of {g} ground-truth features (matched one to one at r >= {s['found_at']})"
                  if len(by_seed) == 1 else f"{span(by_seed, 'd')} of {g} ground-truth features over "
                  f"{len(by_seed)} SAE seeds (seed {s['seeds'][0]}: {found['sae']})")
        headline = (f"A sparse autoencoder on {s['layer']} finds {counts}; single neurons {found['neurons']}, a "
                    f"fitted readout {found['readout']}; its features randomly rotated {rotated['found_mean']:.1f} "
                    f"(95th percentile {rotated['found_p95']:.1f}).")
        numbers = {"sae_found": found["sae"], "neurons_found": found["neurons"], "readout_found": found["readout"],
                   "rotated_found_p95": rotated["found_p95"], "ground_truth_features": g, "fve": self["fve"]}
        return Finding(headline, numbers, *self._lines())

    def _lines(self):
        """The findings as printed lines, every number computed from the values: (evidence, caveats)."""
        s, names = self["settings"], self["names"]
        g = len(names)
        seeds = self["per_seed"]
        lines = [f"  SAE on {s['layer']}: {s['n_features']} features (L x V, chosen with the ground truth in hand), "
                 f"L1 {s['l1']:g}, Adam lr {s['lr']:g}, {s['steps']:,} full-batch steps on {s['sequences']} "
                 f"sequences"]
        for seed, r in zip(s["seeds"], seeds):
            lines.append(f"  SAE seed {seed}: FVE {r['fve']:.4f}, L0 {r['l0']:.2f} active features a sequence, "
                         f"accuracy with hidden1 replaced by the reconstruction "
                         f"{r['accuracy_with_reconstruction']:.0%} (model alone {self['baseline_accuracy']:.0%}), "
                         f"ground-truth features found {r['found']} of {g} ({r['seconds']:.1f} s)")
        found = self["found"]
        lines.append(f"  Ground-truth features found, each matched one to one to a unit correlating at r >= "
                     f"{s['found_at']} (SAE seed {s['seeds'][0]}): SAE {found['sae']} of {g}, single neurons "
                     f"{found['neurons']}, principal components (either sign) {found['pca']}, a linear+ReLU readout "
                     f"fitted to each feature {found['readout']}")
        best = self["matched_r"]
        missed = [i for i, v in enumerate(best["sae"]) if v < s["found_at"]]
        if missed:
            partnered = {m["feature"] for m in self["matches"]}
            said = {i: f"its match r {_r(best['sae'][i])}" if names[i] in partnered else "no SAE feature left for it"
                    for i in missed}
            lines.append("  the SAE missed " + ", ".join(
                f"{names[i]} ({said[i]}, readout {_r(best['readout'][i])})" for i in missed))
        beaten = [i for i in range(g) if best["sae"][i] > best["readout"][i] >= 0]
        if beaten:
            lines.append(f"  the SAE correlates better than the fitted readout on {len(beaten)} of {g} (least squares "
                         f"does not maximize the correlation after the ReLU, so the readout is a reference, not a "
                         f"ceiling)")
        for u in seeds[0]["unmatched"]:
            if u["kind"] == "dead":
                lines.append(f"  SAE feature {u['feature']} matches no ground-truth feature: it is dead (never active)")
            elif u["best_single"] >= s["found_at"]:
                lines.append(f"  SAE feature {u['feature']} is a second, weaker copy of {u['match']} (r "
                             f"{_r(u['best'])})")
            else:
                fits = "fits" if u["best"] >= s["found_at"] else "comes closest, but no simple description fits"
                lines.append(f"  SAE feature {u['feature']} matches no ground-truth feature (best single indicator "
                             f"r {_r(u['best_single'])}); a {u['kind']}, {u['match']}, {fits} (r {_r(u['best'])})")
        for line in self["lines"]:
            lines.append(self._line_text(line, best))
        for steer in self["toward_middle"]:
            told = steer.finding()
            lines += ["  " + told.headline] + ["  " + line for line in told.evidence]
        caveats = [rotation_lesson(found["sae"], seeds[0]["rotated"], g)]
        found = [r["found"] for r in seeds]
        if len(seeds) > 1 and min(found) < max(found):  # with one seed, or all alike, there is nothing to tell apart
            caveats.append(f"  Lesson: over SAE seeds, FVE {min(r['fve'] for r in seeds):.4f} to "
                           f"{max(r['fve'] for r in seeds):.4f} while found ranges {min(found)} to {max(found)} of "
                           f"{g}: reconstruction scores cannot tell these SAEs apart by what they found.")
        caveats.append(f"  Lesson: the dictionary size, {s['n_features']}, was set from the ground truth; real SAE "
                       f"work has no such number to choose it by.")
        return lines, caveats

    def _line_text(self, line, best):
        """One position's letters: on a line with a middle letter, on a line by construction (two letters), or not."""
        position = line["position"]
        if len(line["order"]) == 2:  # two class means are two points: one direction always holds all their variance
            return (f"  position {position}: with two letters, their two class means lie on one line by construction"
                    f"; there is no middle letter")
        text = (f"  position {position}: one direction holds {precise(line['share'], [ON_A_LINE], 0)} of the variance "
                f"of its letters' class means")
        if line["share"] < ON_A_LINE:
            return text + f" (below {ON_A_LINE:.0%}: not on a line)"
        middle = line["middle"][0]
        index = self["names"].index(f"{middle}@{position}")
        text += (f": they lie on a line, {' - '.join(line['order'])}, so '{middle}' is 'neither {line['order'][0]} "
                 f"nor {line['order'][-1]}' along it, and no single ReLU of that direction fires for {middle} alone")
        verdict = ("; yet the SAE found a feature for it, reading other directions of the layer"
                   if best["sae"][index] >= FOUND else ": the SAE found no feature of its own for it")
        return text + (f"{verdict} (the SAE's match for {middle}@{position}: r {_r(best['sae'][index])}; the fitted "
                       f"readout, free to use every direction of the layer: {_r(best['readout'][index])})")


def plot_sae(results, path):
    """Signed r of each ground-truth feature (rows) with each SAE feature (columns). Columns are sorted by the
    ground-truth feature each is matched to (one to one, see match), unmatched ones last, so that the matches make a
    diagonal; the matched cells carry their r, boxed where the match counts as found."""
    r = np.array(results["correlation"])  # (G, F)
    names, found_at = results["names"], results["settings"]["found_at"]
    partner = {m["sae_feature"]: results["names"].index(m["feature"]) for m in results["matches"]}  # SAE -> truth
    order = sorted(range(r.shape[1]), key=lambda k: (partner.get(k, len(names)), -r[:, k].max()))
    fig = Figure(figsize=(7.5, 6))
    fig.subplots_adjust(left=0.12, right=0.95, bottom=0.13, top=0.88)
    ax = fig.subplots()
    image = ax.imshow(r[:, order], cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="correlation r over the analysed sequences")
    size = min(7, 170 / len(order))  # points: the labels of two neighbouring cells must not run into each other
    for col, k in enumerate(order):
        if k in partner:
            row, value = partner[k], r[partner[k], k]
            ax.text(col, row, f"{value:.2f}".replace("0.", ".", 1), ha="center", va="center", fontsize=size,
                    color="white" if abs(value) > 0.6 else "black")
            if value >= found_at:
                ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=1.5))
    ax.set_yticks(range(len(names)), names)
    ax.set_xticks(range(len(order)), [str(k) for k in order], fontsize=8)
    ax.set_xlabel("SAE feature (sorted by the ground-truth feature matched to it; unmatched last)")
    ax.set_ylabel("ground-truth feature: letter@position")
    found, g = results["found"], len(names)
    ax.set_title(f"SAE features against the ground truth (SAE seed {results['settings']['seeds'][0]}); matched one "
                 f"to one, boxed: found\nFVE {results['fve']:.4f}, found {found['sae']} of {g} at r >= {found_at} "
                 f"(neurons {found['neurons']}, fitted readout {found['readout']})", fontsize=10)
    save_figure(fig, path)
