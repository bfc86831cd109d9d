"""Steering: push a hidden layer along a direction and see whether the output changes its mind, and only where it
should. The direction is a difference of class means: mean-difference steering, as in contrastive activation
addition (CAA, Rimsky et al. 2024) and inference-time intervention (ITI, Li et al. 2023), not the single contrast pair
of Turner et al.'s activation addition (2023).

Example with the defaults. Take input position 1 and the letters a -> b. Average hidden1 over the training sequences
with `b` at position 1, and over those with `a` there; the difference v (16 numbers) is the steering vector. Add
alpha v to hidden1 for every sequence with `a` at position 1, run the rest of the network, and ask two questions:

    flip          does the mirrored output (output 3, the one that copies input 1) now say `b`?
    side effects  does any other output (the other letters, or <eos>) change its answer?

A direction is "clean" at alpha when it flips at least 90% of the sequences and changes another output in at most
5% of them. Two controls, each moved by the same norm as v: a random direction (seeded), and the one neuron whose
activation is most correlated with "`b` at position 1" (the neuron view of the same edit).

hidden1 and hidden2 come after a ReLU, so no real input makes them negative. h + alpha v can; the steered values are
clamped at 0, so that the next layer only sees values it could see from some input (the clamp is what a ReLU after
the addition would do). Pass clamp=False to see the difference.

The transformer (--model transformer) is steered the same way on its residual stream, one token position at a
time: at blocks.0.hook_resid_pre at the steered input position p, where v is exactly W_E[y] - W_E[x] (so alpha = 1
is the same as changing the input letter, and the head still has to move it; that position is also a key, a value
and a query, so other outputs can change too), and at blocks.0.hook_resid_post at the mirrored output position,
which only the unembedding reads. There is no clamp there (no ReLU makes the stream), and the neuron control becomes
the one residual-stream dimension most correlated with the letter: an arbitrary axis, since nothing in this model
gives the stream's basis a meaning.

Every (alpha, method, triple, sequence) is one row of one batch, so a whole layer's sweep is one forward pass.
"""

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..core.common import layer_features
from ..core.data import add_eos
from ..core.directions import class_mean
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import listing
from ..core.model import run_with_hooks

# where each model is steered: a hook point, and which token position of it (None: the whole layer, as in the MLP;
# "input": the steered input position p; "mirror": the output position that copies it, L-1-p)
SITES = {"mlp": {"hidden1": None, "hidden2": None},
         "transformer": {"blocks.0.hook_resid_pre": "input", "blocks.0.hook_resid_post": "mirror"}}
METHODS = ("class means", "random", "neuron")  # the steering vector, then its two controls
ALPHAS = np.round(np.arange(0, 3.0001, 0.05), 2)  # 0 to 3: alpha 1 moves the class mean of x onto that of y
CLEAN_FLIP = 0.9  # at least this share of the steered sequences say y at the mirrored output
CLEAN_SIDE_EFFECTS = 0.05  # and at most this share change any other output


def steering_triples(seq_len, n_letters):
    """Every (position, from-letter, to-letter) with from != to: L x V x (V-1) of them, 18 with the defaults."""
    return [(p, x, y) for p in range(seq_len) for x in range(n_letters) for y in range(n_letters) if x != y]


def class_mean_vector(activations, sequences, position, source, target):
    """Mean activation over the sequences with `target` at `position`, minus the mean over those with `source`: (H,).
    Two class means (core.directions) and not two letter directions: the overall mean would cancel anyway."""
    return class_mean(activations, sequences, position, target) - class_mean(activations, sequences, position, source)


def most_correlated_neuron(activations, sequences, position, letter):
    """(neuron, sign): the neuron whose activation correlates most, in magnitude, with "`letter` at `position`"."""
    indicator = (sequences[:, position] == letter).double()
    centred = activations.double() - activations.double().mean(0)  # (N, H)
    spread = centred.norm(dim=0) * (indicator - indicator.mean()).norm()
    correlation = torch.nan_to_num(centred.T @ (indicator - indicator.mean()) / spread)  # (H,) a dead neuron: 0
    neuron = int(correlation.abs().argmax())
    return neuron, 1.0 if correlation[neuron] >= 0 else -1.0


def site_slice(where, position, seq_len, width):
    """The part of a flattened activation (width numbers a sequence) that steering input `position` moves."""
    if where is None:
        return slice(0, width)
    d_model = width // (seq_len + 1)  # the residual stream, (T, d) flattened: position t is t*d .. t*d + d
    token = position if where == "input" else seq_len - 1 - position
    return slice(token * d_model, (token + 1) * d_model)


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


@torch.no_grad()
def steer_layer(model, layer, directions, triples, sequences, vocab, device, alphas, clamp=True):
    """Flip and side-effect rates for every method, alpha and triple at one layer, in one forward pass.

    directions: (M, T, H), one vector per method and triple (p, x, y); each is added to the sequences with x at p.
    Returns flip, side effects and logit difference, each (M, A, T): the first two the share of those sequences, the
    last the mirrored output's mean logit for y minus its logit for x (negative unsteered, positive once y wins).
    """
    rows = torch.cat([torch.nonzero(sequences[:, p] == x)[:, 0] for p, x, _ in triples])  # (R,) steered sequences
    triple_of_row = torch.cat([torch.full((int((sequences[:, p] == x).sum()),), t)
                               for t, (p, x, _) in enumerate(triples)])  # (R,) which triple steers each row
    tokens = add_eos(sequences, vocab.eos_id).to(device)  # (N, L+1)
    clean_logits, clean = run_with_hooks(model, tokens, {}), layer_features(model, sequences, vocab, device, (layer,))
    baseline = clean_logits.argmax(-1).cpu()[rows]  # (R, L+1) the unsteered answers
    hidden = clean[layer].double()[rows]  # (R, H)
    n_methods, n_triples, width = directions.shape
    seq_len = sequences.shape[1]
    alpha = torch.tensor(alphas, dtype=torch.float64)
    steered = hidden + alpha[None, :, None, None] * directions[:, None, triple_of_row]  # (M, A, R, H)
    if clamp:
        steered = steered.clamp(min=0)
    batch = steered.reshape(-1, width).float().to(device)  # (M*A*R, H)
    repeated = tokens[rows].repeat(n_methods * len(alphas), 1)  # (M*A*R, L+1): the batch size must match
    logits = run_with_hooks(model, repeated, {layer: lambda out: batch.view_as(out)}).cpu()
    logits = logits.view(n_methods, len(alphas), len(rows), seq_len + 1, -1)  # (M, A, R, L+1, vocab)
    answers = logits.argmax(-1)  # (M, A, R, L+1)

    positions, sources, targets = (torch.tensor(column) for column in zip(*triples))
    mirror = seq_len - 1 - positions[triple_of_row]  # (R,) the output that copies the steered position
    said = answers.gather(3, mirror[None, None, :, None].expand(n_methods, len(alphas), -1, 1))[..., 0]  # (M, A, R)
    flipped = (said == targets[triple_of_row]).double()
    at_mirror = logits[:, :, torch.arange(len(rows)), mirror].double()  # (M, A, R, vocab)
    row = torch.arange(len(rows))
    difference = at_mirror[:, :, row, targets[triple_of_row]] - at_mirror[:, :, row, sources[triple_of_row]]
    others = torch.ones(len(rows), seq_len + 1, dtype=torch.bool)  # every output, <eos> included ...
    others[torch.arange(len(rows)), mirror] = False  # ... but the mirror
    changed = ((answers != baseline) & others).any(-1).double()  # (M, A, R)
    counts = torch.bincount(triple_of_row, minlength=n_triples).double()  # (T,) steered sequences per triple

    def per_triple(values):  # (M, A, R) -> (M, A, T), the mean over each triple's sequences
        total = torch.zeros(n_methods, len(alphas), n_triples, dtype=torch.float64)
        return total.index_add_(2, triple_of_row, values) / counts

    return per_triple(flipped), per_triple(changed), per_triple(difference)


def steering_experiment(run, chosen=(0, 0, 1), alphas=ALPHAS, clamp=True):
    """Steer every (position, from, to) at both sites of run.kind's SITES with the class-mean vector and its two
    controls.

    The vectors and the neuron correlations come from the training sequences; they are applied to every sequence of
    run.sequences (all 27 with the defaults, held-out ones too) that has the from-letter at the position. `chosen`
    (position, from, to) picks the triple the figure shows: (0, 0, 1) is input position 1, a -> b. In the result
    positions count from 0, as in the code; the printed text and the figure count from 1, as the lesson does.
    Returns a Steering: metrics.json keeps its values (the windows, counts and controls, and each measure's mean
    over triples at alpha 0 and 1); its arrays hold the whole sweep, "alpha_grid" (A,) and "sweep": {site: {"flip",
    "side_effects", "logit_diff": each (methods, alphas, triples)}}.
    """
    model, data, cfg, vocab, sequences = run.model, run.data, run.cfg, run.vocab, run.sequences
    n_letters, seq_len = len(cfg.vocab), cfg.seq_len
    triples = steering_triples(seq_len, n_letters)
    generator = torch.Generator().manual_seed(run.seed)
    sites = SITES[run.kind]
    clamp = clamp and run.kind == "mlp"  # only the MLP's layers come out of a ReLU
    # where mean_over_triples reads the sweep: the alphas nearest 0 and 1
    at = {f"alpha_{alpha:g}": int(np.argmin(np.abs(np.asarray(alphas) - alpha))) for alpha in (0.0, 1.0)}
    values = {"model": run.kind, "alphas": {"first": float(alphas[0]), "last": float(alphas[-1]), "count": len(alphas)},
              "clamp": clamp, "methods": list(METHODS), "layers": list(sites), "sites": dict(sites),
              "triples": [[p, cfg.vocab[x], cfg.vocab[y]] for p, x, y in triples],
              "chosen": [chosen[0], cfg.vocab[chosen[1]], cfg.vocab[chosen[2]]],
              "steered_sequences": round(sum(int((sequences[:, p] == x).sum()) for p, x, _ in triples) / len(triples)),
              "analysis_sequences": len(sequences),
              "all_sequences": len(sequences) == n_letters ** seq_len,
              "seq_len": seq_len, "clean_flip": CLEAN_FLIP, "clean_side_effects": CLEAN_SIDE_EFFECTS}
    arrays = {"alpha_grid": [float(a) for a in alphas], "sweep": {}}
    train = data.train_sequences
    train_acts = layer_features(model, train, vocab, run.device, list(sites))
    for layer, where in sites.items():
        acts = train_acts[layer].double()  # (N_train, H); the transformer's (N_train, T*d), flattened
        parts = [site_slice(where, p, seq_len, acts.shape[1]) for p, _, _ in triples]  # what each triple moves
        vectors, random, single = (torch.zeros(len(triples), acts.shape[1], dtype=torch.float64) for _ in range(3))
        neurons = []
        for t, ((p, x, y), part) in enumerate(zip(triples, parts)):
            vectors[t, part] = class_mean_vector(acts[:, part], train, p, x, y)
            norm = vectors[t].norm()
            direction = torch.randn(part.stop - part.start, generator=generator, dtype=torch.float64)
            random[t, part] = direction / direction.norm() * norm  # same norm, random direction, same place
            neuron, sign = most_correlated_neuron(acts[:, part], train, p, y)
            neurons.append(part.start + neuron)
            single[t, part.start + neuron] = sign * norm  # the same norm, all on one neuron (or dimension)
        norms = vectors.norm(dim=1, keepdim=True)  # (T, 1)
        directions = torch.stack([vectors, random, single])  # (M, T, H)
        flip, side, logit_diff = steer_layer(model, layer, directions, triples, sequences, vocab, run.device, alphas,
                                             clamp)
        clean = (flip >= CLEAN_FLIP) & (side <= CLEAN_SIDE_EFFECTS)  # (M, A, T)
        index = triples.index(tuple(chosen))
        sweep = {"flip": flip.numpy(), "side_effects": side.numpy(), "logit_diff": logit_diff.numpy()}  # (M, A, T)
        arrays["sweep"][layer] = sweep
        found = values[layer] = {
            "vector_norm": norms[:, 0].tolist(), "neuron": neurons,
            # the alphas at which every triple is clean, for each method
            "clean_window": {m: clean_intervals(alphas, clean[i].all(-1).tolist()) for i, m in enumerate(METHODS)},
            "triples_ever_clean": {m: int(clean[i].any(0).sum()) for i, m in enumerate(METHODS)},
            "chosen_clean": {m: clean_intervals(alphas, clean[i, :, index].tolist()) for i, m in enumerate(METHODS)},
        }
        found["control_at_window"] = _controls_inside(clean[0].all(-1), flip, side)
        if where == "input":  # resid_pre = W_E[token] + W_pos: two class means differ by W_E[y] - W_E[x] alone
            W_E = model.embed.W_E.detach().cpu().double()  # (V, d)
            found["largest_gap_to_embedding_difference"] = max(
                (vectors[t, part] - (W_E[y] - W_E[x])).abs().max().item()
                for t, ((_, x, y), part) in enumerate(zip(triples, parts)))
            found["past_window"] = _past_window(found["clean_window"]["class means"], flip, side, alphas)
        found["mean_over_triples"] = {  # the sweep in two numbers a measure and method: at alpha 0 and at 1
            name: {method: {label: float(np.mean(sweep[name][m, i])) for label, i in at.items()}
                   for m, method in enumerate(METHODS)} for name in sweep}
    return Steering(values, arrays)


def _controls_inside(window, flip, side):
    """Within the class means' clean window: for each control, the most triples it makes clean at any one alpha,
    and its mean flip and side-effect rates there."""
    if not window.any():
        return None
    clean = (flip >= CLEAN_FLIP) & (side <= CLEAN_SIDE_EFFECTS)  # (M, A, T)
    return {m: {"most_triples_clean": int(clean[i][window].sum(-1).max()), "mean_flip": float(flip[i][window].mean()),
                "mean_side_effects": float(side[i][window].mean())}
            for i, m in enumerate(METHODS) if i > 0}


def _past_window(intervals, flip, side, alphas):
    """The class means just past their clean window (the first alpha after it, None where the window reaches the last
    alpha or there is none): how many triples miss the flip there and how many pass the side-effect limit; and the
    class means' largest side-effect rate at any alpha, and where."""
    largest = side[0].max(-1).values  # (A,) the worst triple at each alpha
    past = {"alpha": None, "triples_missing_flip": 0, "triples_with_side_effects": 0,
            "largest_side_effects": float(largest.max()), "largest_at_alpha": float(alphas[int(largest.argmax())])}
    if intervals and intervals[-1][1] < alphas[-1]:
        i = int(np.searchsorted(alphas, intervals[-1][1], side="right"))  # the first alpha after the window
        past.update(alpha=float(alphas[i]), triples_missing_flip=int((flip[0, i] < CLEAN_FLIP).sum()),
                    triples_with_side_effects=int((side[0, i] > CLEAN_SIDE_EFFECTS).sum()))
    return past


def _window(intervals):
    if not intervals:
        return "at no alpha"
    return " and ".join(f"for alpha {low:.2f} to {high:.2f}" if low != high else f"at alpha {low:.2f}"
                        for low, high in intervals)


def neuron_name(steering):
    """What the single-unit control moves: a neuron of the MLP, or one axis of the transformer's residual stream."""
    return "neuron" if steering["model"] == "mlp" else "dimension"


class Steering(Result):
    """What steering_experiment measured; finding() says what it means."""

    def finding(self):
        s, n, unit = self, len(self["triples"]), neuron_name(self)
        steered = [layer for layer in s["layers"] if s[layer]["clean_window"]["class means"]]
        missed = [layer for layer in s["layers"] if layer not in steered]
        numbers = {"triples": n}
        if steered:
            controls = [c["most_triples_clean"] for layer in steered for c in s[layer]["control_at_window"].values()]
            headline = (f"Steering {listing(steered)} along the class-mean direction (x to y at p) makes the output "
                        f"copying p say y, leaving the others alone, for all {n} triples at once"
                        + (f" (not in {listing(missed)})" if missed else "")
                        + ("; a same-norm control does too." if max(controls) == n else
                           f"; same-norm random or single-{unit} pushes do not."))
            for layer in steered:
                window = s[layer]["clean_window"]["class means"]
                numbers.update({f"{layer}_clean_from_alpha": window[0][0], f"{layer}_clean_to_alpha": window[-1][1]})
            numbers["control_most_triples_clean"] = max(controls)
        else:
            ever = max(s[layer]["triples_ever_clean"]["class means"] for layer in s["layers"])
            headline = (f"No alpha of the class-mean direction steers all {n} triples cleanly at once (the output "
                        f"copying p says y, the others stay) at any site; at most {ever} of {n} "
                        f"{'is' if ever == 1 else 'are'} clean at some alpha.")
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
                 f"at least {flip:.0%} of them and every other output is unchanged for all but at most {side:.0%}:"]
        caveats = []
        for layer in s["layers"]:
            found = s[layer]
            window = found["clean_window"]["class means"]
            if window:
                line = f"  {layer}: all {n} (p, x, y) triples are clean {_window(window)}"
                single = all(low == high for low, high in window)
                for method, name in (("random", f"at {'that alpha' if single else 'those alphas'} a random direction"),
                                     ("neuron", f"the most correlated {unit}")):
                    c = found["control_at_window"][method]
                    most = c["most_triples_clean"]
                    line += (f"; {name} of the same norm is clean for " + ("none of them" if most == 0 else
                             f"at most {most} of {n} at once") + f" (mean flip {c['mean_flip']:.0%}, mean side "
                             f"effects {c['mean_side_effects']:.0%})")
                lines.append(line + ".")
            else:
                ever = found["triples_ever_clean"]["class means"]
                lines.append(f"  {layer}: no alpha is clean for all {n} triples at once; {ever} of {n} "
                             f"{'is' if ever == 1 else 'are'} clean at some alpha.")
            lines.append(_logit_line(s, layer, unit))
            lines.append(f"    Triples clean at some alpha: class means {found['triples_ever_clean']['class means']}, "
                         f"random {found['triples_ever_clean']['random']}, {unit} "
                         f"{found['triples_ever_clean']['neuron']} of {n}.")
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
                                 f"random {_window(s[layer]['chosen_clean']['random'])}, {unit} "
                                 f"{_window(s[layer]['chosen_clean']['neuron'])}" for layer in s["layers"]) + ".")
        return lines, caveats


def _logit_line(s, layer, unit):
    """The continuous measure beside the flip rate: the mirror's logit for y minus x at alpha 1 (the class means'
    own step from x to y), for each method, against alpha 0."""
    one = int(np.argmin(np.abs(np.array(s["alpha_grid"]) - 1.0)))
    difference = s["sweep"][layer]["logit_diff"]  # (M, A, T)
    span = lambda values: f"{values.mean():+.1f} ({values.min():+.1f} to {values.max():+.1f})"
    names = {"class means": "class means", "random": "random", "neuron": unit}
    return (f"    The mirror's logit for y minus x, mean over triples (range): unsteered {span(difference[0, 0])}; at "
            f"alpha {s['alpha_grid'][one]:g}, " + ", ".join(f"{names[m]} {span(difference[i, one])}"
                                                       for i, m in enumerate(s["methods"])) + ".")


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
        largest = float(np.max(s["sweep"][layer]["side_effects"]))
        if largest == 0:
            caveats.append(f"  At {layer}, no other output changed at any alpha, for any method: after resid_post "
                           "only the unembedding reads each position, so an edit at the mirrored output's position "
                           "cannot reach another output. That is arithmetic, not evidence; the flip is the test here.")
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


def plot_steering(steering, path):
    """Flip rate and side-effect rate against alpha for the chosen triple, one line per method, per layer."""
    s = steering
    p, x, y = s["chosen"]
    index = s["triples"].index([p, x, y])
    alphas = np.array(s["alpha_grid"])
    colours = {"class means": "tab:blue", "random": "tab:grey", "neuron": "tab:orange"}
    fig = Figure(figsize=(10, 6.4))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.86, wspace=0.18, hspace=0.3)
    axes = fig.subplots(2, len(s["layers"]), sharex=True, sharey=True)
    for column, layer in enumerate(s["layers"]):
        found, sweep = s[layer], s["sweep"][layer]
        for row, (key, label, limit) in enumerate((("flip", f"flip: output {s['seq_len'] - p} says {y}",
                                                    s["clean_flip"]),
                                                   ("side_effects", "side effects: another output changed",
                                                    s["clean_side_effects"]))):
            ax = axes[row, column]
            for m, method in enumerate(s["methods"]):
                name = method if method != "neuron" else f"one {neuron_name(s)}"
                ax.plot(alphas, sweep[key][m, :, index], color=colours[method], label=name)
            ax.axhline(limit, color="black", linestyle=":", linewidth=1)
            if not np.any(sweep[key][:, :, index]):  # every line lies on 0, hidden under the last one drawn
                ax.text(0.5, 0.5, "0 for every method at every alpha", transform=ax.transAxes, ha="center",
                        fontsize=9, color="dimgrey")
            for low, high in found["chosen_clean"]["class means"]:
                ax.axvspan(low, high, color="tab:blue", alpha=0.12, linewidth=0)
            ax.set_ylim(-0.03, 1.03)
            ax.set_ylabel(f"{label}\n(share of sequences)" if column == 0 else "")
            if row == 0:
                where = s["sites"][layer]
                token = {"input": f", position {p + 1} (the input)",
                         "mirror": f", position {s['seq_len'] - p} (the mirrored output)"}.get(where, "")
                ax.set_title(layer + token, fontsize=10)
            else:
                ax.set_xlabel("alpha (h + alpha v)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles.append(Patch(color="tab:blue", alpha=0.12))
    labels.append(f"clean for class means (flip >= {s['clean_flip']:.0%}, side effects <= "
                  f"{s['clean_side_effects']:.0%}, dotted)")
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9, frameon=False)
    fig.suptitle(f"Steering input {p + 1} from {x} to {y}: the class-mean vector against a random direction and the "
                 f"most correlated {neuron_name(s)},\neach moved by the same norm; applied to the "
                 f"{s['steered_sequences']} sequences with {x} at input {p + 1}"
                 + (", clamped at 0" if s["clamp"] else ""), fontsize=10)
    save_figure(fig, path)
