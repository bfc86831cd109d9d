"""The mechanism: each input letter lives in its own few directions of the hidden layers, and each output position
reads the directions of its mirrored input. Stated from measurements on the model at hand, with the settings where
it does not hold.

The evidence, in the order the lesson gives it:
    dimensionality   how many principal components the hidden layers need, against the L x (V-1) directions an
                     additive code needs (3 positions x 2 letter contrasts = 6 with the defaults), beside the
                     untrained network, which shows what the architecture gives for free
    subspaces        patching and removing each input position's letter directions (reversal/mlp/subspaces.py),
                     measured at every output position, beside random subspaces of the same size
    attribution      the readout from hidden2 is linear, so the logit difference splits exactly into parts
    surrogate        a model of the logits with no interaction between positions, and how well it fits
"""

import re

import numpy as np
import torch

from .additive import fit_additive, r_squared
from ..core.common import MAX_ANALYSIS_SEQUENCES, layer_features, mirror_mask, mirror_split, sample_rows
from ..core.data import add_eos, make_targets
from .dimensionality import numerical_rank, variance_explained
from ..report.result import Finding, Result
from ..report.wording import listing, plural
from ..core.model import run_with_cache
from .subspaces import (LAYERS, Corruption, accuracy_and_margin, direct_logit_attribution, intervene,
                        largest_principal_cosine, letter_subspaces, output_margin, position_bases, random_control,
                        random_subspaces, share_restored, shifted, spread_over_neurons)

PASS_RESTORED = 0.9  # "restores the answer" means at least this share at the mirrored output ...
PASS_ELSEWHERE = 0.1  # ... and at most this share, in magnitude, at every other output
PASS_VARIANCE = 0.99  # "lives in L x (V-1) directions" means they hold at least this much of the variance
PASS_KEPT = 0.01  # "the positions are separate": removing one costs every other output at most this much accuracy
RANDOM_DRAWS = 20  # random subspaces per input position in the patching control: enough for a 95th percentile
GEOMETRY_DRAWS = 200  # random subspaces for the overlap and spread baselines: no forward pass, so many are cheap


def find_mechanism(run):
    """Every number the mechanism statement rests on, in one Mechanism (the `mechanism` key of metrics.json).

    The class means the interventions use, and the surrogate, are fit on training sequences only; everything is
    measured on run.sequences (all 27 with the defaults), held-out ones included. The geometry (how far each
    position's directions spread over the neurons, and how much two positions' subspaces overlap) uses class means
    over run.sequences instead: there every letter is (about) equally often at every position, so one position's
    class means do not pick up another's letters, as they do on an unbalanced training set.
    """
    model, data, cfg, vocab = run.model, run.data, run.cfg, run.vocab
    seq_len, n_letters, width = cfg.seq_len, len(vocab.letters), cfg.hidden
    generator = torch.Generator().manual_seed(run.seed)
    fit = sample_rows(data.train_sequences, MAX_ANALYSIS_SEQUENCES, generator)  # (F, L) training sequences
    heldout = sample_rows(data.heldout_sequences, MAX_ANALYSIS_SEQUENCES, generator)  # (K, L)
    sequences = run.sequences  # (N, L)
    corrupted = shifted(sequences, n_letters)  # (P, L), P = (V-1) N: every letter changed
    clean = sequences.repeat(n_letters - 1, 1)  # (P, L): row r of `clean` is the clean twin of row r of `corrupted`

    # one forward pass for everything the trained model must run unchanged; "linear1" is hidden1 before its ReLU
    batch = torch.cat([fit, heldout, sequences, corrupted])
    logits, cache = run_with_cache(model, add_eos(batch, vocab.eos_id).to(run.device), ("linear1",) + LAYERS)
    sizes = [len(fit), len(heldout), len(sequences), len(corrupted)]
    fit_logits, heldout_logits, logits, corrupt_logits = logits.cpu().split(sizes)
    acts = {name: dict(zip(("fit", "heldout", "all", "corrupted"), cache[name].cpu().split(sizes))) for name in cache}
    untrained_acts = layer_features(run.untrained, sequences, vocab, run.device, ("linear1",) + LAYERS)
    clean_logits = logits.repeat(n_letters - 1, 1, 1)  # (P, T, V+1)
    corruption = Corruption(sequences, clean, corrupted, {name: acts[name]["all"] for name in LAYERS})

    # the yardstick for the geometry: L random subspaces of V-1 directions each in the same width, many times over
    random_bases = random_subspaces(width, n_letters - 1, GEOMETRY_DRAWS * seq_len, generator)  # (G L, H, V-1)
    random_overlap = np.array(largest_principal_cosine(random_bases.view(GEOMETRY_DRAWS, seq_len, width, -1)))
    random_spread = np.array(spread_over_neurons(random_bases[:GEOMETRY_DRAWS]))  # (G,) one subspace per draw
    mechanism = {
        "needed_directions": seq_len * (n_letters - 1), "width": width, "seq_len": seq_len, "n_letters": n_letters,
        "pca_variance_explained": {name: variance_explained(acts[name]["all"]) for name in LAYERS},
        "pca_variance_explained_untrained": {name: variance_explained(untrained_acts[name]) for name in LAYERS},
        "hidden1_preactivation_rank": numerical_rank(acts["linear1"]["all"]),
        "hidden1_preactivation_rank_untrained": numerical_rank(untrained_acts["linear1"]),
        "baseline_accuracy": (output_margin(logits, sequences) > 0).double().mean(0).tolist(),
        "baseline_margin": output_margin(logits, sequences).mean(0).tolist(),
        "random_draws": RANDOM_DRAWS, "geometry_draws": GEOMETRY_DRAWS,
        "sequences_total": n_letters ** seq_len,
    }
    for key in ("subspace_patching", "random_subspace_patching", "random_subspace_patching_p95",
                "subspace_ablation", "subspace_ablation_margin", "random_subspace_ablation", "neurons_per_position",
                "neurons_per_position_random", "subspace_overlap", "subspace_overlap_random", "below_zero"):
        mechanism[key] = {}
    for name in LAYERS:
        # geometry on balanced class means, over every analysed sequence, beside its random yardstick
        balanced = position_bases(letter_subspaces(acts[name]["all"], sequences, n_letters))  # (L, H, V-1)
        mechanism["neurons_per_position"][name] = spread_over_neurons(balanced)
        mechanism["neurons_per_position_random"][name] = {
            "median": float(np.median(random_spread)), "min": int(random_spread.min()),
            "max": int(random_spread.max())}
        mechanism["subspace_overlap"][name] = largest_principal_cosine(balanced)
        mechanism["subspace_overlap_random"][name] = {
            key: float(np.quantile(random_overlap, q)) for key, q in (("median", 0.5), ("p5", 0.05), ("p95", 0.95))}

        subspaces = letter_subspaces(acts[name]["fit"], fit, n_letters)  # the interventions' directions
        runs = intervene(run, name, subspaces, corruption)
        # how often the interventions push this post-ReLU layer below 0, where no input takes it
        mechanism["below_zero"][name] = runs.below_zero
        mechanism["subspace_patching"][name] = share_restored(runs.patched, clean_logits, corrupt_logits, clean,
                                                              corrupted).tolist()
        accuracy, margins = accuracy_and_margin(runs.ablated, sequences)
        mechanism["subspace_ablation"][name] = accuracy.tolist()
        mechanism["subspace_ablation_margin"][name] = margins.tolist()
        bases = random_subspaces(width, n_letters - 1, RANDOM_DRAWS * seq_len, generator)  # (D L, H, V-1)
        shares, random_accuracy = random_control(run, name, subspaces, bases.view(RANDOM_DRAWS, seq_len, width, -1),
                                                 corruption, clean_logits, corrupt_logits)  # each (D, L, L)
        mechanism["random_subspace_patching"][name] = shares.mean(0).tolist()  # the mean over the draws
        mechanism["random_subspace_patching_p95"][name] = torch.quantile(shares, 0.95, dim=0).tolist()
        mechanism["random_subspace_ablation"][name] = random_accuracy.mean(0).tolist()
        if name == "hidden2":
            mechanism["direct_logit_attribution"] = direct_logit_attribution(model, logits, acts[name]["all"],
                                                                             sequences, subspaces)

    surrogate = fit_additive(fit, fit_logits, n_letters)
    targets = make_targets(heldout, vocab.eos_id)
    mechanism.update({
        "additive_r2": r_squared(surrogate(sequences), logits),
        "additive_r2_train": r_squared(surrogate(fit), fit_logits),  # on the sequences it was fitted to
        "additive_r2_heldout": r_squared(surrogate(heldout), heldout_logits),
        "additive_heldout_accuracy": (surrogate(heldout).argmax(-1) == targets).all(1).double().mean().item(),
        "heldout_accuracy": (heldout_logits.argmax(-1) == targets).all(1).double().mean().item(),
        "heldout_sequences": len(heldout), "train_sequences": len(fit), "analysis_sequences": len(sequences),
        "heldout_sequences_total": len(data.heldout_sequences), "train_sequences_total": len(data.train_sequences),
    })
    return Mechanism(mechanism)


def _precise(value, cutoffs, digits, kind="%"):
    """value with `digits` decimals, or more where that many would print it the same as a cut-off it is compared
    with: 10.5% for 0.1048 against 10%, not 10%. kind is the format type: "%" or "f"."""
    while digits < 4 and any(value != cutoff and f"{value:.{digits}{kind}}" == f"{cutoff:.{digits}{kind}}"
                             for cutoff in cutoffs):
        digits += 1
    return f"{value:.{digits}{kind}}"


def _share(value, cutoff=None):
    """A share as a percentage, with a decimal where it is small: 3%, but 0.4% rather than 0%, and "under 0.1%"
    for a share that is not 0 but would still print as 0.0%. Given the cut-off a verdict compares it with, enough
    digits to show the side it falls on (_precise)."""
    if 0 < abs(value) < 0.0005:
        return "under 0.1%"
    text = _precise(value, [] if cutoff is None else [cutoff], 0 if abs(value) >= 0.095 else 1)
    return text.replace("-0.0%", "0.0%")


def _tidy(text):
    """"-0.0", "+0.0" and "-0%" are 0 written with a sign that means nothing: write them as 0."""
    return re.sub(r"^[+-](0(\.0+)?%?)$", r"\1", text)


def _span(values, fmt="{:.0%}"):
    """"low to high", or one number where both read the same."""
    low, high = (_tidy(fmt.format(value)) for value in (min(values), max(values)))
    return low if low == high else f"{low} to {high}"


def _share_span(values, cutoff):
    """_span of shares, each end written precisely enough to be seen against `cutoff` (see _share)."""
    low, high = (_share(value, cutoff) for value in (min(values), max(values)))
    return low if low == high else f"{low} to {high}"


def _between(values):
    """"100%", or "between 11% and 26%": a range that can follow "from" or "to" without a second "to"."""
    low, high = (_tidy(f"{value:.0%}") for value in (min(values), max(values)))
    return low if low == high else f"between {low} and {high}"


def _points(fraction, cutoff=None):
    """Percentage points: 3.7 points, 11 points; against a cut-off, precise enough to show the side (1.04, not 1.0)."""
    return _precise(100 * fraction, [] if cutoff is None else [100 * cutoff], 1 if fraction < 0.095 else 0, "f")


def _below_pass(share):
    """A share of variance written precisely enough to be seen below PASS_VARIANCE: 98.9%, but 98.95% not 99.0%."""
    text = f"{share:.1%}"
    return f"{share:.2%}" if text == f"{PASS_VARIANCE:.1%}" else text


def _layer_verdict(mechanism, name):
    """The numbers one layer's sentences rest on, and whether they match the per-position picture.

    Accuracy after removing a subspace is compared with the model's own accuracy at that output, unablated, not
    with 100%: with --seed 6 the unablated model gets 89% at outputs 1 and 3, and a removal that leaves them at 89%
    costs them nothing. The random control separates the letter directions where, at every input's mirrored output,
    they restore more than the 95th percentile of the random draws.
    """
    mirror, others = mirror_split(mechanism["subspace_patching"][name])
    random_mirror, _ = mirror_split(mechanism["random_subspace_patching"][name])  # the mean over the draws
    random_p95, _ = mirror_split(mechanism["random_subspace_patching_p95"][name])
    ablated = np.array(mechanism["subspace_ablation"][name])  # (L inputs, L outputs)
    baseline = np.array(mechanism["baseline_accuracy"])  # (L,) one per output, unablated
    ablated_mirror, _ = mirror_split(ablated)
    _, change = mirror_split(ablated - baseline[None, :])  # accuracy change at the outputs that do not copy input i
    elsewhere = np.abs(others).max() if others.size else 0.0
    lost = max(-change.min(), 0.0) if change.size else 0.0  # the most accuracy any other output loses
    closest = int(np.argmin(mirror - random_p95))  # the input where the control comes nearest the letter directions
    return {"mirror": mirror, "elsewhere": elsewhere, "random_mirror": random_mirror, "random_p95": random_p95,
            "closest": closest, "ablated": ablated_mirror,
            "baseline_mirror": baseline[::-1],  # unablated accuracy at input i's mirrored output, in input order
            "lost_elsewhere": lost, "gained_elsewhere": max(change.max(), 0.0) if change.size else 0.0,
            "restores": mirror.min() >= PASS_RESTORED and elsewhere <= PASS_ELSEWHERE,
            "separate": lost <= PASS_KEPT,
            "control_separates": bool((mirror > random_p95).all())}


def _control_miss(mechanism, name):
    """The random control as a phrase where it restores as much as the letter directions at some mirror; else None."""
    v = _layer_verdict(mechanism, name)
    if v["control_separates"]:
        return None
    i = v["closest"]
    real, control = v["mirror"][i], v["random_p95"][i]
    return (f"random subspaces of the same size restore as much at input {i + 1}'s mirror ({_share(control, real)} at "
            f"the 95th percentile of {mechanism['random_draws']} draws, against the letter directions' "
            f"{_share(real, control)})")


def _variance_check(mechanism):
    """What counting principal components can test here: (k, {layer: share in the top k}, status), status one of
    "too wide" (L x (V-1) exceeds the width), "too few" (the sequences span no more than the needed directions),
    "weak" (they span fewer than twice as many: little room to miss) or "testable"."""
    m = mechanism
    needed, width, n = m["needed_directions"], m["width"], m["analysis_sequences"]
    k = min(needed, width)
    shares = {name: m["pca_variance_explained"][name][k - 1] for name in LAYERS}
    if needed >= width:
        return k, shares, "too wide"
    if n - 1 <= needed:  # N centred points span at most N - 1 directions
        return k, shares, "too few"
    return k, shares, "weak" if n - 1 < 2 * needed else "testable"


def _variance_miss(mechanism, name):
    """The principal-component check, as a phrase where `name` misses it on this run; None where it passes or
    cannot test anything."""
    k, shares, status = _variance_check(mechanism)
    if status in ("testable", "weak") and shares[name] < PASS_VARIANCE:
        return (f"{name}'s top {k} principal components hold {_below_pass(shares[name])} of its variance, short of "
                f"{PASS_VARIANCE:.0%}")
    return None


def _misses(mechanism, name):
    """Short phrases, one per intervention check of the per-position picture that `name` misses on this run (the
    patching and removal thresholds, and the random control); [] if none."""
    v = _layer_verdict(mechanism, name)
    misses = []
    if v["mirror"].min() < PASS_RESTORED:
        misses.append(f"patching restores as little as {_share(v['mirror'].min(), PASS_RESTORED)} at the mirrored "
                      f"output")
    if v["elsewhere"] > PASS_ELSEWHERE:
        misses.append(f"patching moves another output by up to {_share(v['elsewhere'], PASS_ELSEWHERE)}")
    control = _control_miss(mechanism, name)
    if control:
        misses.append(control)
    if not v["separate"]:
        misses.append(f"removing a position's directions costs another output up to "
                      f"{_points(v['lost_elsewhere'], PASS_KEPT)} points of accuracy")
    return misses


def in_short(mechanism):
    """The mechanism in one sentence, computed: where each letter lives and what reads it, or which checks miss on
    this run. The checks are the ones Mechanism.finding prints (the PASS_* thresholds), so the two agree."""
    m = mechanism
    needed, width, n_letters, seq_len = m["needed_directions"], m["width"], m["n_letters"], m["seq_len"]
    size = plural(n_letters - 1, "direction")
    misses = {name: _misses(m, name) for name in LAYERS}
    variance = [miss for miss in (_variance_miss(m, name) for name in LAYERS) if miss]
    first = _layer_verdict(m, "hidden1")
    if misses["hidden1"]:
        where = "; and ".join(f"in {name}, " + ", ".join(misses[name]) for name in LAYERS if misses[name])
        where += "".join(f"; and {miss}" for miss in variance)
        return f"on this run the per-position picture holds only in part: {where} (details below)."
    also = (" The same holds in hidden2." if not misses["hidden2"] else
            f" In hidden2 it holds only in part: {', '.join(misses['hidden2'])} (below).")
    also += "".join(f" One check misses: {miss} (below)." for miss in variance)
    kept = ("leaves the other outputs' accuracy as it was" if first["lost_elsewhere"] == 0 else
            f"costs the other outputs at most {_points(first['lost_elsewhere'], PASS_KEPT)} points of accuracy")
    shared = "" if needed <= width else (f"; {needed} needed directions in {width} neurons cannot all be "
                                         f"independent, so the positions share some")
    random_spread = m["neurons_per_position_random"]["hidden1"]["median"]
    return (f"each input letter lives in its own {size} of hidden1, spread over "
            f"{_span(m['neurons_per_position']['hidden1'], '{}')} of its {width} neurons (random subspaces of that "
            f"size: median {random_spread:g}{shared}), and output j reads only the directions of its mirrored input "
            f"{seq_len + 1}-j: patching them restores {_share_span(first['mirror'], PASS_RESTORED)} of the answer "
            f"there (random subspaces of the same size: at most {_share(first['random_p95'].max())}, the 95th "
            f"percentile of {m['random_draws']} draws) and at most {_share(first['elsewhere'], PASS_ELSEWHERE)} in "
            f"magnitude anywhere else, and removing them {kept}.{also}")


def _dimensions_line(mechanism):
    """The principal-component count, and what it can and cannot test on this run."""
    m = mechanism
    needed, width, n_letters, seq_len, n = (m["needed_directions"], m["width"], m["n_letters"], m["seq_len"],
                                            m["analysis_sequences"])
    k, var, status = _variance_check(m)
    var0 = {name: m["pca_variance_explained_untrained"][name][k - 1] for name in LAYERS}
    code = (f"{plural(needed, 'direction')} ({plural(seq_len, 'position')} x "
            f"{plural(n_letters - 1, 'letter contrast')})")
    if status == "too wide":
        return (f"  Dimensions: an additive code needs {code}, {'more than' if needed > width else 'as many as'} the "
                f"{width} neurons, so the top {width} "
                f"principal components hold everything by construction: counting them cannot test the additive "
                f"picture here.")
    if status == "too few":
        return (f"  Dimensions: an additive code needs {code}, but {n} sequences, centred, span at most {n - 1} "
                f"directions, so the top {k} principal components hold everything by construction: counting them "
                f"cannot test the additive picture here.")
    misses = [name for name in LAYERS if var[name] < PASS_VARIANCE]
    short = "".join(f" {name} falls short of {PASS_VARIANCE:.0%}: {1 - var[name]:.1%} of its variance lies outside "
                    f"the top {k}, so it is not all additive." for name in misses)
    weak = ("" if status == "testable" else
            f" With only {n} sequences the centred activations span at most {n - 1} directions, just "
            f"{n - 1 - needed} beyond the {needed}: the count tests little here.")
    return (f"  Dimensions: an additive code needs {code}; the top {needed} principal components hold "
            f"{_below_pass(var['hidden1'])} of hidden1's variance and {_below_pass(var['hidden2'])} of "
            f"hidden2's.{short}{weak} Untrained: {var0['hidden1']:.1%} and {var0['hidden2']:.1%}. hidden1 before its "
            f"ReLU is affine in the letters, so it spans at most {needed} directions for ANY weights (measured: "
            f"{m['hidden1_preactivation_rank']} trained, {m['hidden1_preactivation_rank_untrained']} untrained): a "
            f"low dimension comes with the architecture and is no evidence of learning by itself; whether training "
            f"routed the letters is what the patching below tests.")


def _sequences_phrase(used, total, kind):
    """"the 22 training sequences", or "a sample of 512 of the 3,277 training sequences" where not all were used."""
    if used == total:
        return f"the {used} {kind} sequence" + ("" if used == 1 else "s")
    return f"a sample of {used:,} of the {total:,} {kind} sequences"


def _headline(mechanism):
    """One sentence: where hidden1 keeps each letter and who reads it, or how many checks miss on this run."""
    m = mechanism
    misses = {name: _misses(m, name) for name in LAYERS}
    if misses["hidden1"]:
        failing = [name for name in LAYERS if misses[name]]
        count = sum(len(misses[name]) for name in failing)
        return (f"On this run the per-position letter directions explain the outputs only in part: {listing(failing)} "
                f"miss{'es' if len(failing) == 1 else ''} {plural(count, 'check')} of patching, its random control "
                f"and removal (below).")
    first = _layer_verdict(m, "hidden1")
    rest = "the same holds in hidden2" if not misses["hidden2"] else "in hidden2 only in part"
    return (f"Each input letter lives in its own {plural(m['n_letters'] - 1, 'direction')} of hidden1, read only by "
            f"the output that copies it: patching them restores {_share_span(first['mirror'], PASS_RESTORED)} of its "
            f"answer and at most {_share(first['elsewhere'], PASS_ELSEWHERE)} elsewhere; {rest}.")


class Mechanism(Result):
    """What find_mechanism measured; finding() states the mechanism, each sentence computed from the numbers; where
    a number misses what the mechanism predicts (the PASS_* thresholds), the sentence says so instead."""

    def finding(self):
        first = _layer_verdict(self, "hidden1")
        numbers = {"hidden1_restored_at_mirror": float(first["mirror"].min()),
                   "hidden1_moved_elsewhere": float(first["elsewhere"]),
                   "hidden1_random_restored_at_mirror": float(first["random_mirror"].max()),  # mean over draws
                   "hidden1_random_restored_at_mirror_p95": float(first["random_p95"].max()),
                   "hidden1_accuracy_lost_elsewhere": float(first["lost_elsewhere"]) + 0.0}  # + 0.0: no -0.0
        evidence, caveats = _evidence(self)
        return Finding(_headline(self), numbers, evidence, caveats)


def _basis_line(mechanism, name):
    """How far each position's directions spread over the neurons, and how much two positions' subspaces overlap,
    each beside what random subspaces of the same size give; from class means over every analysed sequence."""
    m = mechanism
    size, width, n = plural(m["n_letters"] - 1, "direction"), m["width"], m["analysis_sequences"]
    total = m["sequences_total"]
    sequences = (f"all {n:,} sequences, where every letter is equally often at every position" if n == total else
                 f"a sample of {n:,} of the {total:,} sequences, where every letter is about equally often at every "
                 f"position")
    spread, overlap = m["neurons_per_position_random"][name], m["subspace_overlap"][name]
    chance, draws = m["subspace_overlap_random"][name], m["geometry_draws"]
    # the verdict compares the overlap with both edges: print each precisely enough to see the side
    cosine = _precise(overlap, [chance["p5"], chance["p95"]], 2, "f")
    p5, p95 = (_precise(chance[edge], [overlap], 2, "f") for edge in ("p5", "p95"))
    if overlap > chance["p95"]:
        verdict = (f"more than random subspaces of the same size share (median {chance['median']:.2f}, 95th "
                   f"percentile {p95}), which is why all positions are solved for together")
    elif overlap < chance["p5"]:
        verdict = (f"less than random subspaces of the same size share (median {chance['median']:.2f}, 5th "
                   f"percentile {p5}): the positions' subspaces are nearer orthogonal than chance")
    else:
        verdict = (f"what random subspaces of the same size give (median {chance['median']:.2f}, 5th to 95th "
                   f"percentile {p5} to {p95}): no more overlap than chance")
    return (f"    Basis, from class means over {sequences} (the interventions above use the training sequences' "
            f"class means): "
            f"each position's {size} spread over {_span(m['neurons_per_position'][name], '{}')} of the {width} "
            f"neurons (90% of their weight; random subspaces of that size: median {spread['median']:g}, range "
            f"{spread['min']} to {spread['max']}, over {draws} draws); the largest principal cosine between two "
            f"positions' subspaces is {cosine}, {verdict}.")


def _evidence(mechanism):
    """The measurements, layer by layer, then the attribution and the surrogate; and the caveats."""
    m = mechanism
    needed, width, n_letters, seq_len = m["needed_directions"], m["width"], m["n_letters"], m["seq_len"]
    size = plural(n_letters - 1, "direction")
    verdicts = {name: _layer_verdict(m, name) for name in LAYERS}
    lines = [f"  In short: {in_short(m)}", _dimensions_line(m)]

    for name in LAYERS:
        v = verdicts[name]
        lines.append(f"  {name}: patching input i's {size} (clean into a run with every letter changed) restores "
                     f"{_share_span(v['mirror'], PASS_RESTORED)} of the logit difference at its mirrored output and "
                     f"at most {_share(v['elsewhere'], PASS_ELSEWHERE)} in magnitude elsewhere; random subspaces of "
                     f"the same size ({m['random_draws']} draws per input) restore {_span(v['random_mirror'])} at the "
                     f"mirror on average, {_span(v['random_p95'])} at the 95th percentile.")
        if not v["restores"]:
            lines.append(f"    That misses the clean picture (at least {PASS_RESTORED:.0%} at the mirror, at most "
                         f"{PASS_ELSEWHERE:.0%} elsewhere): in {name}, an output's answer does not sit only in its "
                         f"mirrored position's directions.")
        if not v["control_separates"]:
            lines.append(f"    The random control does not separate them: {_control_miss(m, name)}. Patching cannot "
                         f"single out these directions from any others of their size here.")
        margins, _ = mirror_split(m["subspace_ablation_margin"][name])
        if v["lost_elsewhere"] > 0:
            kept = (f"the other outputs lose up to {_points(v['lost_elsewhere'], PASS_KEPT)} points of their unablated "
                    f"accuracy "
                    f"({_span(m['baseline_accuracy'])})")
        else:
            gain = ", and some gain" if v["gained_elsewhere"] > 0 else ""
            kept = (f"the other outputs lose nothing against their unablated accuracy "
                    f"({_span(m['baseline_accuracy'])}){gain}")
        lines.append(f"    Removing input i's directions drops its mirrored output's accuracy from "
                     f"{_between(v['baseline_mirror'])} (unablated) to {_between(v['ablated'])} (chance "
                     f"{1 / n_letters:.0%}; the right letter's mean lead over the best wrong one: "
                     f"{_span(margins, '{:+.1f}')} logits, against {_span(m['baseline_margin'], '{:+.1f}')} "
                     f"unablated); {kept}.")
        if not v["separate"]:
            lines.append(f"    So removing one position's directions costs other outputs too: in {name} the positions' "
                         f"directions are not fully separate.")
        change = np.array(m["subspace_ablation_margin"][name]) - np.array(m["baseline_margin"])[None, :]  # (L, L)
        others = change[~mirror_mask(seq_len)]  # margin change at the outputs that do not copy the removed input
        if others.size:
            lines.append(f"    Meanwhile the other outputs' mean margins change by "
                         f"{_span(others, '{:+.1f}')} logits.")
        negative, lowest = m["below_zero"][name]["patched"]
        removed_negative, removed_lowest = m["below_zero"][name]["removed"]
        if negative > 0 or removed_negative > 0:
            lines.append(f"    Caveat: {name} comes out of a ReLU, so no real input makes it negative, but these "
                         f"edits can: {_share(negative)} of the patched values (down to {lowest:.1f}) and "
                         f"{_share(removed_negative)} of the removed ones (down to {removed_lowest:.1f}) are below 0. "
                         f"Part of any overshoot above 100% may come from there.")
        lines.append(_basis_line(m, name))

    dla = m["direct_logit_attribution"]
    mirror, others = mirror_split(dla["per_position"])
    lines.append(f"  Attribution: the readout from hidden2 is linear, so its logit difference (right letter minus the "
                 f"mean of the others, {_span(dla['logit_diff'], '{:.1f}')}) splits exactly: the mirrored position's "
                 f"directions give {_span(mirror, '{:.1f}')}, the other positions' at most "
                 f"{np.abs(others).max() if others.size else 0:.1f} in magnitude, the rest of the layer at most "
                 f"{np.abs(dla['remainder']).max():.2f}; split by neuron instead, the largest single part is "
                 f"{np.abs(dla['per_neuron']).max():.1f}.")

    heldout, n_heldout = m["heldout_accuracy"], m["heldout_sequences"]
    # a bias and one vector per (position, letter): 1 + L x (V-1) free numbers per logit, as many as the sequences
    # it is fitted to or more, and it fits them exactly whatever the network does
    exact = m["train_sequences"] <= 1 + m["seq_len"] * (m["n_letters"] - 1)
    fitted = (f"{m['additive_r2_train']:.3f} on the training sequences it was fitted to"
              + (" (exact by construction: it has as many free numbers per logit as there are such sequences)"
                 if exact else "") + f", {m['additive_r2']:.3f} over the analysis sequences")
    r2_heldout = ("R^2 n/a on the held-out one: a single sequence has no variance to explain"
                  if m["additive_r2_heldout"] is None else
                  f"R^2 = {m['additive_r2_heldout']:.3f} on the held-out sequences, which it never saw")
    lines.append(f"  Additive surrogate: a bias plus one vector per (position, letter), with no term that sees two "
                 f"positions, fitted to the logits of "
                 f"{_sequences_phrase(m['train_sequences'], m['train_sequences_total'], 'training')}: {r2_heldout} "
                 f"({fitted}); it reverses {m['additive_heldout_accuracy']:.0%} of "
                 f"{_sequences_phrase(n_heldout, m['heldout_sequences_total'], 'held-out')}, the network "
                 f"{heldout:.0%}.")
    caveats = []
    if heldout == 1 and m["additive_heldout_accuracy"] == 1:
        caveats.append("    An additive function of (position, letter) pairs seen in training extends to unseen "
                     "combinations by construction, so a network this close to additive is expected to handle new "
                     "combinations, as this one does. Being close is not a guarantee: on some seeds (try --seed 6) "
                     "neither the network nor its additive fit gets every held-out sequence right.")
    elif m["additive_heldout_accuracy"] > heldout:
        caveats.append("    The additive fit reverses more held-out sequences than the network does: where the network "
                       "errs, it departs from its own additive fit, so the shortfall is the network's, not "
                       "additivity's.")
    else:
        caveats.append("    Additive pieces extend to unseen combinations, but here not with margin enough to be right "
                     "on every held-out sequence: additivity alone does not guarantee generalization.")

    holds = not _misses(m, "hidden1")  # patching, its control and removal all pass in hidden1
    spread = m["neurons_per_position"]["hidden1"]
    # L positions each on more than width / L neurons cannot all have neurons of their own
    shared = (f" Each position's directions spread over {_span(spread, '{}')} of hidden1's {width} neurons, and "
              f"{seq_len} x {min(spread)} > {width}, so some neurons carry several positions;"
              if seq_len * min(spread) > width else "")
    if needed <= width and holds:
        caveats.append(f"  Superposition: {needed} needed directions fit in {width} neurons, so nothing forces it."
                       f"{shared} {'t' if shared else 'T'}he class-mean directions are the change of basis that "
                       f"separates the positions, as the patching and removal above show.")
    elif needed <= width:
        caveats.append(f"  Superposition: {needed} needed directions fit in {width} neurons, so nothing forces it. "
                       f"But on this run the checks above miss in hidden1, so the class-mean directions are not "
                       f"shown to be a change of basis that separates the positions.")
    else:
        caveats.append(f"  Superposition: {needed} needed directions exceed the {width} neurons, so it is possible in "
                       f"this setting (the superposition measures below test it); the split of an activation into "
                       f"positions is then the smallest of the many that fit.")
    caveats.append("  All of this is computed on this model; the numbers change with --seed and the settings.")
    return lines, caveats
