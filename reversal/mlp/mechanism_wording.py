"""The mechanism in words: the Mechanism result, whose finding() states it, each sentence computed from what
find_mechanism (mechanism.py) measured and from the checks in mechanism_checks.py, where a sentence says the picture
misses; in_short, the same in one sentence; and the helpers that print a number precisely enough to be seen against
the threshold it is checked with."""

import re

import numpy as np

from ..core.common import mirror_mask, mirror_split
from ..report.result import Finding, Result
from ..report.wording import listing, plural, precise
from .mechanism_checks import PASS_ELSEWHERE, PASS_KEPT, PASS_RESTORED, PASS_VARIANCE, layer_verdict, variance_check
from .subspaces import LAYERS


def _share(value, cutoff=None):
    """A share as a percentage, with a decimal where it is small: 3%, but 0.4% rather than 0%, and "under 0.1%"
    for a share that is not 0 but would still print as 0.0%. Given the cut-off a verdict compares it with, enough
    digits to show the side it falls on (wording.precise)."""
    if 0 < abs(value) < 0.0005:
        return "under 0.1%"
    text = precise(value, [] if cutoff is None else [cutoff], 0 if abs(value) >= 0.095 else 1)
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
    return precise(100 * fraction, [] if cutoff is None else [100 * cutoff], 1 if fraction < 0.095 else 0, "f")


def _below_pass(share):
    """A share of variance written precisely enough to be seen below PASS_VARIANCE: 98.9%, but 98.95% not 99.0%."""
    text = f"{share:.1%}"
    return f"{share:.2%}" if text == f"{PASS_VARIANCE:.1%}" else text


def _control_miss(mechanism, name):
    """The random control as a phrase where it restores as much as the letter directions at some mirror; else None."""
    v = layer_verdict(mechanism, name)
    if v["control_separates"]:
        return None
    i = v["closest"]
    real, control = v["mirror"][i], v["random_p95"][i]
    return (f"random subspaces of the same size restore as much at input {i + 1}'s mirror ({_share(control, real)} at "
            f"the 95th percentile of {mechanism['random_draws']} draws, against the letter directions' "
            f"{_share(real, control)})")


def _variance_miss(mechanism, name):
    """The principal-component check, as a phrase where `name` misses it on this run; None where it passes or
    cannot test anything."""
    k, shares, status = variance_check(mechanism)
    if status in ("testable", "weak") and shares[name] < PASS_VARIANCE:
        return (f"{name}'s top {k} principal components hold {_below_pass(shares[name])} of its variance, short of "
                f"{PASS_VARIANCE:.0%}")
    return None


def _misses(mechanism, name):
    """Short phrases, one per intervention check of the per-position picture that `name` misses on this run (the
    patching and removal thresholds, and the random control); [] if none."""
    v = layer_verdict(mechanism, name)
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


def in_short(mechanism, details="below"):
    """The mechanism in one sentence, computed: where each letter lives and what reads it, or which checks miss on
    this run. The checks are the ones Mechanism.finding prints (the PASS_* thresholds), so the two agree. details:
    where the reader finds the checks' numbers ("below" in the full finding; "in step 13" in the notebook's step 14)."""
    m = mechanism
    needed, width, n_letters, seq_len = m["needed_directions"], m["width"], m["n_letters"], m["seq_len"]
    size = plural(n_letters - 1, "direction")
    misses = {name: _misses(m, name) for name in LAYERS}
    variance = [miss for miss in (_variance_miss(m, name) for name in LAYERS) if miss]
    first = layer_verdict(m, "hidden1")
    if misses["hidden1"]:
        where = "; and ".join(f"in {name}, " + ", ".join(misses[name]) for name in LAYERS if misses[name])
        where += "".join(f"; and {miss}" for miss in variance)
        return f"on this run the per-position picture holds only in part: {where} (details {details})."
    also = (" The same holds in hidden2." if not misses["hidden2"] else
            f" In hidden2 it holds only in part: {', '.join(misses['hidden2'])} ({details}).")
    also += "".join(f" One check misses: {miss} ({details})." for miss in variance)
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
    k, var, status = variance_check(m)
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
        verdicts = [layer_verdict(m, name) for name in failing]
        kinds = [kind for kind, missed in (
            ("patching", any(v["mirror"].min() < PASS_RESTORED or v["elsewhere"] > PASS_ELSEWHERE for v in verdicts)),
            ("the random control", any(not v["control_separates"] for v in verdicts)),
            ("removal", any(not v["separate"] for v in verdicts))) if missed]
        return (f"On this run the per-position letter directions explain the outputs only in part: {listing(failing)} "
                f"miss{'es' if len(failing) == 1 else ''} {plural(count, 'check')} of {listing(kinds)} (below).")
    first = layer_verdict(m, "hidden1")
    rest = "the same holds in hidden2" if not misses["hidden2"] else "in hidden2 only in part"
    return (f"Each input letter lives in its own {plural(m['n_letters'] - 1, 'direction')} of hidden1, read only by "
            f"the output that copies it: patching them restores {_share_span(first['mirror'], PASS_RESTORED)} of its "
            f"answer and at most {_share(first['elsewhere'], PASS_ELSEWHERE)} elsewhere; {rest}.")


class Mechanism(Result):
    """What find_mechanism measured; finding() states the mechanism, each sentence computed from the numbers; where
    a number misses what the mechanism predicts (the PASS_* thresholds), the sentence says so instead."""

    def finding(self):
        first = layer_verdict(self, "hidden1")
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
    cosine = precise(overlap, [chance["p5"], chance["p95"]], 2, "f")
    p5, p95 = (precise(chance[edge], [overlap], 2, "f") for edge in ("p5", "p95"))
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
    verdicts = {name: layer_verdict(m, name) for name in LAYERS}
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
                     "combinations, as this one does. Being close is not a guarantee: `python demo.py --seeds 10` shows "
                     "how many seeds reverse every held-out sequence.")
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
