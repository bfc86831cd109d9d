"""What a steering sweep found: what "clean" means, the summaries of the sweep that steering_experiment keeps in
metrics.json (the controls inside the class means' window, what the readout predicts, what ends the window), and the
Steering result, whose finding() puts them in words. The experiment itself is in steering.py, its figure in
steering_plot.py."""

import numpy as np

from ..report.result import Finding, Result
from ..report.wording import listing

CLEAN_FLIP = 0.9  # at least this share of the steered sequences say y at the mirrored output
CLEAN_SIDE_EFFECTS = 0.05  # and at most this share change any other output


def clean_intervals(alphas, clean):
    """The runs of consecutive clean alphas, as [low, high] pairs: [[0.7, 1.85]], or [] where none is clean."""
    intervals, previous_ok = [], False
    for alpha, ok in zip(alphas, clean):
        if ok and previous_ok:  # the run goes on
            intervals[-1][1] = float(alpha)
        elif ok:  # a new run starts
            intervals.append([float(alpha), float(alpha)])
        previous_ok = ok
    return intervals


def is_clean(swept):
    """Where a sweep is clean: the flip at least CLEAN_FLIP and the side effects at most CLEAN_SIDE_EFFECTS."""
    return (swept["flip"] >= CLEAN_FLIP) & (swept["side_effects"] <= CLEAN_SIDE_EFFECTS)


def percentile_95(values):
    """The 95th percentile over the random draws (the first axis), as numpy computes it (linear interpolation)."""
    return np.percentile(np.asarray(values, dtype=float), 95, axis=0)


def beats_random_p95(control_at_window, n_triples):
    """Whether the class means, clean for all n_triples at once, beat the random draws' 95th percentile of the most
    triples one draw makes clean at once there. Unrounded: 17.95 of 18 is beaten, 18 is not. No window: False."""
    return control_at_window is not None and control_at_window["random"]["most_triples_clean_p95"] < n_triples


def readout_prediction(predicted, unclamped, alphas, one):
    """At a READOUT_SITES layer, for the class-mean vector: what the readout predicts with no intervention run (the
    flip and the logit difference at alpha 1, the clean window), the same measured without the clamp, and the largest
    gap between the predicted and the measured unclamped logit difference over every alpha and triple."""
    return {"readout_predicted_logit_diff_alpha_1": float(predicted["logit_diff"][0, one].mean()),
            "readout_predicted_flip_alpha_1": float(predicted["flip"][0, one].mean()),
            "readout_predicted_clean_window": clean_intervals(alphas, is_clean(predicted)[0].all(-1).tolist()),
            "unclamped_logit_diff_alpha_1": float(unclamped["logit_diff"][0, one].mean()),
            "unclamped_flip_alpha_1": float(unclamped["flip"][0, one].mean()),
            "readout_prediction_gap": float(np.abs(predicted["logit_diff"][0] - unclamped["logit_diff"][0]).max())}


def controls_inside(window, swept, drawn, random_alphas):
    """Within the class means' clean window: for each control, the most triples it makes clean at any one alpha,
    and its mean flip and side-effect rates there; for the random draws, the mean over draws with their 95th
    percentile beside it ("..._p95"), and how many draws are clean for every triple at one alpha there."""
    if not window.any():
        return None
    inside = window[random_alphas]  # (S,) which of the alphas the draws were read at lie in the window
    clean, random_clean = is_clean(swept)[1][window], is_clean(drawn)[:, inside]  # (W, T), (K, W, T)
    neuron = {"most_triples_clean": int(clean.sum(-1).max()), "mean_flip": float(swept["flip"][1][window].mean()),
              "mean_side_effects": float(swept["side_effects"][1][window].mean())}
    per_draw = {"most_triples_clean": random_clean.sum(-1).max(-1),  # (K,)
                "mean_flip": drawn["flip"][:, inside].mean((1, 2)),
                "mean_side_effects": drawn["side_effects"][:, inside].mean((1, 2))}
    random = {"draws_clean_for_every_triple": int(random_clean.all(-1).any(-1).sum())}
    for name, value in per_draw.items():
        random.update({name: float(value.mean()), f"{name}_p95": float(percentile_95(value))})
    return {"random": random, "neuron": neuron}


def past_window(intervals, flip, side, alphas):
    """The class means just past their clean window (the first alpha after it, None where the window reaches the last
    alpha or there is none): how many triples miss the flip there and how many pass the side-effect limit; and the
    class means' largest side-effect rate at any alpha, and where. flip, side: (A, T)."""
    largest = side.max(-1)  # (A,) the worst triple at each alpha
    past = {"alpha": None, "triples_missing_flip": 0, "triples_with_side_effects": 0,
            "largest_side_effects": float(largest.max()), "largest_at_alpha": float(alphas[int(largest.argmax())])}
    if intervals and intervals[-1][1] < alphas[-1]:
        i = int(np.searchsorted(alphas, intervals[-1][1], side="right"))  # the first alpha after the window
        past.update(alpha=float(alphas[i]), triples_missing_flip=int((flip[i] < CLEAN_FLIP).sum()),
                    triples_with_side_effects=int((side[i] > CLEAN_SIDE_EFFECTS).sum()))
    return past


def _window(intervals):
    if not intervals:
        return "at no alpha"
    return " and ".join(f"for alpha {low:.2f} to {high:.2f}" if low != high else f"at alpha {low:.2f}"
                        for low, high in intervals)


def _every_triple(intervals):
    """"every triple clean at once for alpha 0.65 to 1.20", or "no alpha clean for every triple at once"."""
    return f"every triple clean at once {_window(intervals)}" if intervals else "no alpha clean for every triple at once"


def _ever(ever, n, bound="at most "):
    """How many triples are clean at some alpha: "at most 3 of 18 are clean at some alpha", or none."""
    if ever == 0:
        return f"none of the {n} is clean at any alpha"
    return f"{bound}{ever} of {n} {'is' if ever == 1 else 'are'} clean at some alpha"


def neuron_name(steering):
    """What the single-unit control moves: a neuron of the MLP, or one axis of the transformer's residual stream."""
    return "neuron" if steering["model"] == "mlp" else "dimension"


class Steering(Result):
    """What steering_experiment measured; finding() says what it means."""

    def finding(self):
        s, n, unit = self, len(self["triples"]), neuron_name(self)
        steered = [layer for layer in s["layers"] if s[layer]["clean_window"]["class means"]]
        tested = [layer for layer in steered if layer in s["sites_testing_directions"]]
        arithmetic = [layer for layer in steered if layer in s["readout_sites"]]
        missed = [layer for layer in s["layers"] if layer not in steered]
        numbers = {"triples": n}
        for layer in steered:
            window = s[layer]["clean_window"]["class means"]
            numbers.update({f"{layer}_clean_from_alpha": window[0][0], f"{layer}_clean_to_alpha": window[-1][1]})
        if tested:
            controls = [s[layer]["control_at_window"] for layer in tested]
            beats_random = all(s[layer]["beats_random_p95"] for layer in tested)
            beats_neuron = all(c["neuron"]["most_triples_clean"] < n for c in controls)
            numbers["random_most_triples_clean_p95"] = max(c["random"]["most_triples_clean_p95"] for c in controls)
            numbers["neuron_most_triples_clean"] = max(c["neuron"]["most_triples_clean"] for c in controls)
            random = f"same-norm random directions (95th percentile of {s['random_draws']})"
            verdict = (f"{random} and one {unit} do not" if beats_random and beats_neuron else
                       f"{random} and one {unit} do too" if not (beats_random or beats_neuron) else
                       f"{random} do not, one {unit} does" if beats_random else f"one {unit} does not, {random} do")
            narrow = [layer for layer in tested  # alpha 1 (the class mean of x moved onto y's) outside the window
                      if not any(low <= 1 <= high for low, high in s[layer]["clean_window"]["class means"])]
            windows = "; ".join(f"{layer} {_window(s[layer]['clean_window']['class means'])}" for layer in narrow)
            headline = (f"Steering {listing(tested)} along the class-mean direction makes the output copying p say "
                        f"y, the others nearly unchanged, for all {n} triples at once"
                        + (f", but only in a narrow window ({windows}; not at alpha 1)" if narrow else "")
                        + (f" ({listing(arithmetic)} too: readout arithmetic)" if arithmetic else "")
                        + (f" (not {listing(missed)})" if missed else "") + f"; {verdict}.")
        elif arithmetic:
            ever = max(s[layer]["triples_ever_clean"]["class means"] for layer in missed)
            headline = (f"Only {listing(arithmetic)}, which the linear readout reads (arithmetic), steers all {n} "
                        f"(p, x, y) at once along the class-mean direction; at {listing(missed)}, which "
                        f"{'tests' if len(missed) == 1 else 'test'} the directions, {_ever(ever, n)}.")
            numbers["most_triples_ever_clean_at_testing_sites"] = ever
        else:
            ever = max(s[layer]["triples_ever_clean"]["class means"] for layer in s["layers"])
            headline = (f"No alpha of the class-mean direction steers all {n} triples cleanly at once (the output "
                        f"copying p says y, the others stay) at any site; {_ever(ever, n)}.")
            numbers["most_triples_ever_clean"] = ever
        return Finding(headline, numbers, *self._lines())

    def _lines(self):
        """The sweep in sentences, each computed from the numbers: (evidence, caveats)."""
        s, n = self, len(self["triples"])
        flip, side = s["clean_flip"], s["clean_side_effects"]
        alphas = s["alpha_grid"]
        mlp = s["model"] == "mlp"
        unit = neuron_name(s)
        where = ("one hidden layer" if mlp else "one position of the residual stream (at blocks.0.hook_resid_pre, the "
                 "steered input's position; at blocks.0.hook_resid_post, the mirrored output's)")
        clamp = ("clamped at 0 as after a ReLU" if s["clamp"] else
                 "not clamped" + ("" if mlp else ": no ReLU makes the residual stream"))
        lines = [f"  Steering (h + alpha v at {where}, v = mean over training sequences with letter y at position "
                 f"p minus the mean over those with x there; applied to the {s['steered_sequences']} sequences with x "
                 f"at p{'' if s['all_sequences'] else ' (on average, of a sample)'}, {clamp}; alpha {alphas[0]:g} to "
                 f"{alphas[-1]:g} in steps of {alphas[1] - alphas[0]:.2g}). Clean means the mirrored output says y for "
                 f"at least {flip:.0%} of them and every other output is unchanged for all but at most {side:.0%}. "
                 f"The random control is {s['random_draws']} directions a triple, each of v's norm, read at their mean "
                 f"and 95th percentile"
                 + (f" (on a seeded sample of {s['random_sequences']} of the {s['analysis_sequences']} sequences)"
                    if s["random_sequences"] < s["analysis_sequences"] else "") + ":"]
        caveats = []
        for layer in s["layers"]:
            found = s[layer]
            window = found["clean_window"]["class means"]
            if window:
                single = all(low == high for low, high in window)
                random, neuron = found["control_at_window"]["random"], found["control_at_window"]["neuron"]
                most = neuron["most_triples_clean"]
                lines.append(
                    f"  {layer}: all {n} (p, x, y) triples are clean {_window(window)}. At "
                    f"{'that alpha' if single else 'those alphas'} a random draw makes at most "
                    f"{random['most_triples_clean']:.2f} of {n} triples clean at once on average (95th percentile of "
                    f"the {s['random_draws']} draws: {random['most_triples_clean_p95']:.2f}; mean flip "
                    f"{random['mean_flip']:.0%}, 95th percentile {random['mean_flip_p95']:.0%}; mean side effects "
                    f"{random['mean_side_effects']:.0%}, 95th percentile {random['mean_side_effects_p95']:.0%}; "
                    f"{random['draws_clean_for_every_triple']} of {s['random_draws']} draws clean for every triple at "
                    f"one alpha), so the class-mean direction "
                    f"{'beats' if found['beats_random_p95'] else 'does not beat'} their 95th percentile; the most "
                    f"correlated {unit} of the same norm is clean for "
                    + ("none of them" if most == 0 else f"at most {most} of {n} at once")
                    + f" (mean flip {neuron['mean_flip']:.0%}, mean side effects {neuron['mean_side_effects']:.0%}).")
            else:
                ever = found["triples_ever_clean"]["class means"]
                lines.append(f"  {layer}: no alpha is clean for all {n} triples at once; {_ever(ever, n, '')}.")
            lines.append(_logit_line(s, layer, unit))
            if layer in s["readout_sites"]:
                lines += _readout_lines(s, layer)
            ever = found["triples_ever_clean"]
            lines.append(f"    Triples clean at some alpha from {alphas[0]:g} to {alphas[-1]:g}: class means "
                         f"{ever['class means']}, {unit} {ever['neuron']} of {n}.")
            notes, limits = _transformer_notes(s, layer)
            lines += notes
            caveats += limits
        if not mlp:
            caveats.append("  The residual stream has no privileged basis (no ReLU or MLP reads it in this model), so "
                           "the single-dimension control moves an arbitrary axis: unlike the MLP's neuron, it is not a "
                           "unit the model computes with.")
        p, x, y = s["chosen"]
        lines.append(f"  The figure's triple, input {p + 1}, {x} -> {y} (read at output {s['seq_len'] - p}): "
                     + "; ".join(f"{layer}: class means clean {_window(s[layer]['chosen_clean']['class means'])}, "
                                 f"random at some alpha in {s[layer]['chosen_clean']['random_draws_clean_somewhere']} "
                                 f"of {s['random_draws']} draws, {unit} "
                                 f"{_window(s[layer]['chosen_clean']['neuron'])}" for layer in s["layers"]) + ".")
        return lines, caveats


def _logit_line(s, layer, unit):
    """The continuous measure beside the flip rate: the mirror's logit for y minus x at alpha 1 (the class means'
    own step from x to y), for each method, against alpha 0."""
    one = int(np.argmin(np.abs(np.array(s["alpha_grid"]) - 1.0)))
    sweep = s["sweep"][layer]
    means, neuron = sweep["class means"]["logit_diff"], sweep["neuron"]["logit_diff"]  # (A, T)
    draws = sweep["random"]["logit_diff"][:, sweep["random_alphas"].index(one)].mean(-1)  # (K,) each draw's mean
    span = lambda values: f"{values.mean():+.1f} ({values.min():+.1f} to {values.max():+.1f})"
    return (f"    The mirror's logit for y minus x, mean over triples (range): unsteered {span(means[0])}; at "
            f"alpha {s['alpha_grid'][one]:g}, class means {span(means[one])}, random {draws.mean():+.1f} on "
            f"average over the draws ({percentile_95(draws):+.1f} at the 95th percentile of the draws' means), {unit} "
            f"{span(neuron[one])}.")


def _readout_lines(s, layer):
    """At a site the linear readout reads directly: the logits it predicts, with no intervention run, beside those
    measured, and what the clamp changes."""
    found, mlp = s[layer], s["model"] == "mlp"
    readout = "the linear readout (logits = W h + b)" if mlp else "the unembedding alone (logits = resid_post W_U)"
    weights = "W v" if mlp else "W_U v"
    testing = listing(s["sites_testing_directions"])
    gap, predicted = found["readout_prediction_gap"], found["readout_predicted_logit_diff_alpha_1"]
    window = _every_triple(found["readout_predicted_clean_window"])
    line = (f"    {layer} feeds {readout}" + (", so steering it is arithmetic" if gap < 1e-3 else "")
            + f": with no intervention run, the unsteered "
            f"logits plus alpha {weights} predict a mirror logit difference of {predicted:+.3f} at alpha 1 (flip "
            f"{found['readout_predicted_flip_alpha_1']:.0%}), {window}; measured"
            + (" without the clamp" if s["clamp"] else "")
            + f", {found['unclamped_logit_diff_alpha_1']:+.3f} (flip {found['unclamped_flip_alpha_1']:.0%}; the "
              f"largest gap over every alpha and triple is {gap:.1e}).")
    if gap < 1e-3:
        line += (f" Agreement here tests {'the readout' if mlp else 'the unembedding'}'s weights, not the "
                 f"directions: " + (f"{testing} is the site that tests them." if mlp else
                 f"the test is at {testing}, where the head must carry the push to the mirror."))
    else:
        line += f" They differ: something besides the readout lies between {layer} and the logits."
    lines = [line]
    if s["clamp"]:
        measured = found["mean_over_triples"]["logit_diff"]["class means"]["alpha_1"]
        clamped = _every_triple(found["clean_window"]["class means"])
        same = abs(measured - found["unclamped_logit_diff_alpha_1"]) < 1e-6 and clamped == window
        lead = "The clamp at 0 is all that the prediction leaves out" if gap < 1e-3 else "The clamp at 0"
        lines.append(f"    {lead}: "
                     + ("here it changes neither the logit difference nor the window." if same else
                        f"with it the measured difference at alpha 1 is {measured:+.3f}, {clamped}."))
    return lines


def _transformer_notes(s, layer):
    """What the transformer's two sites mean, each said only where the numbers show it: (evidence, caveats)."""
    where, found = s["sites"][layer], s[layer]
    notes, caveats = [], []
    if where == "input":
        gap = found["largest_gap_to_embedding_difference"]
        if gap < 1e-4:
            notes.append(f"    Here v is W_E[y] - W_E[x] (largest difference {gap:.1e}): the residual stream at the "
                         f"input's position is its token's embedding plus its position's, so alpha = 1 is the same as "
                         f"typing y instead of x. What this tests is the head: it must carry the new letter to the "
                         f"mirrored output, and the head also reads the steered position as a key and a value for "
                         f"every output (and as a query for the output at that position), so other outputs can change "
                         f"too.")
        notes += _past_window_note(s, found["past_window"])
    if where == "mirror":
        sweep = s["sweep"][layer]
        largest = max(float(np.max(sweep[method]["side_effects"])) for method in ("class means", "neuron", "random",
                                                                                  "random_chosen"))
        if largest == 0:
            caveats.append(f"  At {layer}, no other output changed at any alpha, for any method: after resid_post "
                           "only the unembedding reads each position, so an edit at the mirrored output's position "
                           "cannot reach another output. That is arithmetic, not evidence"
                           + (", and so is the flip there (the readout predicts it, above)."
                              if found.get("readout_prediction_gap", 1) < 1e-3 else "."))
    return notes, caveats


def _past_window_note(s, past):
    """What ends the class means' window at the input's position, and how large their side effects get."""
    n, notes = len(s["triples"]), []
    if past["alpha"] is not None:
        causes, side, short = [], past["triples_with_side_effects"], past["triples_missing_flip"]
        if side:
            causes.append(f"{side} of {n} triples {'changes' if side == 1 else 'change'} another output in more than "
                          f"{s['clean_side_effects']:.0%} of {'its' if side == 1 else 'their'} sequences")
        if short:
            causes.append(f"{short} of {n} triples {'flips' if short == 1 else 'flip'} fewer than "
                          f"{s['clean_flip']:.0%} of {'its' if short == 1 else 'their'} sequences")
        notes.append(f"    The window ends because at alpha {past['alpha']:.2f}, " + " and ".join(causes) + ".")
    if past["largest_side_effects"] > 0:
        notes.append(f"    Side effects are real at this site: the class-mean vector changes another output in up to "
                     f"{past['largest_side_effects']:.0%} of a triple's sequences (at alpha "
                     f"{past['largest_at_alpha']:.2f}).")
    return notes
