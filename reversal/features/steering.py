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
5% of them. Two controls, each moved by the same norm as v: 20 random directions (seeded), read at their mean and
their 95th percentile, so that the class-mean direction is called specific only where it beats most of them, not one
lucky or unlucky draw; and the one neuron whose activation is most correlated with "`b` at position 1" (the neuron
view of the same edit).

hidden2 feeds the linear readout directly (logits = W hidden2 + b), so steering it is arithmetic: the steered logits
are the unsteered ones plus alpha W v, before any clamp, and the readout predicts them with no intervention run. The
experiment prints that prediction beside what it measures. hidden1 is the site that tests the directions: linear2 and
its ReLU lie between it and the readout, and must carry the push.

hidden1 and hidden2 come after a ReLU, so no real input makes them negative. h + alpha v can; the steered values are
clamped at 0, so that the next layer only sees values it could see from some input (the clamp is what a ReLU after
the addition would do). Pass clamp=False to see the difference.

The transformer (--model transformer) is steered the same way on its residual stream, one token position at a
time: at blocks.0.hook_resid_pre at the steered input position p, where v is exactly W_E[y] - W_E[x] (so alpha = 1
is the same as changing the input letter, and the head still has to move it; that position is also a key, a value
and a query, so other outputs can change too), and at blocks.0.hook_resid_post at the mirrored output position,
which only the unembedding reads: arithmetic again, as at hidden2 (logits = resid_post W_U). There is no clamp
there (no ReLU makes the stream), and the neuron control becomes the one residual-stream dimension most correlated
with the letter: an arbitrary axis, since nothing in this model gives the stream's basis a meaning.

Every (alpha, method, triple, sequence) is one row of a batch, so a whole layer's sweep is a few forward passes.
"""

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..core.common import layer_features, sample_rows
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
READOUT_SITES = ("hidden2", "blocks.0.hook_resid_post")  # the linear readout reads these directly: arithmetic there
METHODS = ("class means", "random", "neuron")  # the steering vector, then its two controls
RANDOM_DRAWS = 20  # random directions per triple: one draw is an anecdote, 20 give a mean and a 95th percentile
RANDOM_SEQUENCES = 200  # the draws are read on at most this many sequences (seeded): at --seq-len 6, 200 of 512
BATCH_ROWS = 1 << 16  # sequences per forward pass, at most: the random draws go through in a few passes
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


def is_clean(swept):
    """Where a sweep is clean: the flip at least CLEAN_FLIP and the side effects at most CLEAN_SIDE_EFFECTS."""
    return (swept["flip"] >= CLEAN_FLIP) & (swept["side_effects"] <= CLEAN_SIDE_EFFECTS)


def readout_logits(model, activations, seq_len):
    """The logits the readout makes of activations at a READOUT_SITES layer, (B, L+1, V): all the network does after
    that layer. The MLP's is Linear (logits = W hidden2 + b), the transformer's resid_post @ W_U, position by
    position."""
    if isinstance(model.unembed, torch.nn.Linear):
        return model.unembed(activations).view(len(activations), seq_len + 1, -1)
    return model.unembed(activations.view(len(activations), seq_len + 1, -1))


def readout_change(model, directions, seq_len):
    """What the readout adds to the logits for one unit of each direction (M, T, H), the bias left out:
    (M, T, L+1, V). At a READOUT_SITES layer the steered logits are the unsteered ones plus alpha times this."""
    flat = directions.reshape(-1, directions.shape[-1]).float()
    change = readout_logits(model, flat, seq_len) - readout_logits(model, torch.zeros_like(flat[:1]), seq_len)
    return change.double().view(*directions.shape[:2], seq_len + 1, -1)


@torch.no_grad()
def steer_layer(model, layer, directions, triples, sequences, vocab, device, alphas, clamp=True, predict=False,
                through_readout=False):
    """Flip and side-effect rates for every method, alpha and triple at one layer, in a few forward passes.

    directions: (M, T, H), one vector per method and triple (p, x, y); each is added to the sequences with x at p.
    Returns {"flip", "side_effects", "logit_diff"}, each (M, A, T): the first two the share of those sequences, the
    last the mirrored output's mean logit for y minus its logit for x (negative unsteered, positive once y wins).
    With predict=True (a READOUT_SITES layer), also "predicted": the same three for the first method (the class means)
    alone, computed with no intervention run from the unsteered logits plus alpha times readout_change, as if there
    were no clamp. through_readout=True (a READOUT_SITES layer only) computes the steered logits as readout_logits of
    the steered activations instead of a hooked forward pass: the same numbers, without running the layers before.
    """
    rows = torch.cat([torch.nonzero(sequences[:, p] == x)[:, 0] for p, x, _ in triples])  # (R,) steered sequences
    triple_of_row = torch.cat([torch.full((int((sequences[:, p] == x).sum()),), t)
                               for t, (p, x, _) in enumerate(triples)])  # (R,) which triple steers each row
    tokens = add_eos(sequences, vocab.eos_id).to(device)  # (N, L+1)
    clean_logits = run_with_hooks(model, tokens, {}).cpu()[rows]  # (R, L+1, V) the unsteered logits
    hidden = layer_features(model, sequences, vocab, device, (layer,))[layer][rows].float()  # (R, H)
    seq_len = sequences.shape[1]
    score = _scorer(triples, triple_of_row, clean_logits.argmax(-1), seq_len)
    alpha = torch.tensor(np.asarray(alphas), dtype=torch.float64)
    directions = directions.float()  # the model computes in float32, so the push is made in float32 too
    per_pass = max(1, BATCH_ROWS // (len(alpha) * len(rows)))  # methods a forward pass
    measured = []
    for chunk in torch.split(directions, per_pass):  # (m, T, H)
        steered = hidden + alpha.float()[None, :, None, None] * chunk[:, None, triple_of_row]  # (m, A, R, H)
        if clamp:
            steered = steered.clamp_(min=0)
        batch = steered.view(-1, steered.shape[-1]).to(device)  # (m*A*R, H)
        if through_readout:
            logits = readout_logits(model, batch, seq_len).cpu()
        else:
            repeated = tokens[rows].repeat(len(chunk) * len(alpha), 1)  # (m*A*R, L+1): the batch size must match
            logits = run_with_hooks(model, repeated, {layer: lambda out: batch.view_as(out)}).cpu()
        measured.append(score(logits.view(len(chunk), len(alpha), len(rows), *clean_logits.shape[1:])))
    result = {name: torch.cat([part[name] for part in measured]).numpy() for name in measured[0]}
    if predict:  # the readout's arithmetic, no forward pass: (1, A, R, L+1, V)
        change = readout_change(model, directions[:1], seq_len)[:, None, triple_of_row]  # (1, 1, R, L+1, V)
        predicted = score(clean_logits.double() + alpha[None, :, None, None, None] * change)
        result["predicted"] = {name: value.numpy() for name, value in predicted.items()}
    return result


def _scorer(triples, triple_of_row, baseline, seq_len):
    """score(logits (m, A, R, L+1, V)) -> flip, side effects and logit difference, each (m, A, T): the mean over each
    triple's sequences."""
    positions, sources, targets = (torch.tensor(column) for column in zip(*triples))
    mirror = seq_len - 1 - positions[triple_of_row]  # (R,) the output that copies the steered position
    row = torch.arange(len(triple_of_row))
    others = torch.ones(len(row), seq_len + 1, dtype=torch.bool)  # every output, <eos> included ...
    others[row, mirror] = False  # ... but the mirror
    counts = torch.bincount(triple_of_row, minlength=len(triples)).double()  # (T,) steered sequences per triple

    def per_triple(values):  # (m, A, R) -> (m, A, T)
        total = torch.zeros(*values.shape[:2], len(triples), dtype=torch.float64)
        return total.index_add_(2, triple_of_row, values) / counts

    def score(logits):
        answers = logits.argmax(-1)  # (m, A, R, L+1)
        at_mirror = logits[:, :, row, mirror].double()  # (m, A, R, V)
        return {"flip": per_triple((answers[:, :, row, mirror] == targets[triple_of_row]).double()),
                "side_effects": per_triple(((answers != baseline) & others).any(-1).double()),
                "logit_diff": per_triple(at_mirror[:, :, row, targets[triple_of_row]]
                                         - at_mirror[:, :, row, sources[triple_of_row]])}
    return score


def percentile_95(values):
    """The 95th percentile over the random draws (the first axis), as numpy computes it (linear interpolation)."""
    return np.percentile(np.asarray(values, dtype=float), 95, axis=0)


def steering_experiment(run, chosen=(0, 0, 1), alphas=ALPHAS, clamp=True):
    """Steer every (position, from, to) at both sites of run.kind's SITES with the class-mean vector and its two
    controls: RANDOM_DRAWS random directions a triple, and one neuron.

    The vectors and the neuron correlations come from the training sequences; they are applied to every sequence of
    run.sequences (all 27 with the defaults, held-out ones too) that has the from-letter at the position. `chosen`
    (position, from, to) picks the triple the figure shows: (0, 0, 1) is input position 1, a -> b. In the result
    positions count from 0, as in the code; the printed text and the figure count from 1, as the lesson does.

    The class means and the neuron are swept over every alpha. The random draws are read on at most RANDOM_SEQUENCES
    of the sequences (all 27 with the defaults), where their numbers are used: at the class means' clean window (the control the verdict reads), at alpha 0 and 1, and, for the figure, at
    every alpha for the chosen triple. At a READOUT_SITES layer the draws' logits are readout_logits of the steered
    activations, which is what the hooked forward pass computes there (the class means' readout_prediction_gap shows
    it), without running the layers before.

    Returns a Steering: metrics.json keeps its values (the windows, counts and controls, the random draws' mean with
    its 95th percentile beside it as "random_p95" or "..._p95", each measure's mean over triples at alpha 0 and 1,
    and at READOUT_SITES what the readout predicts); its arrays hold the sweep, "alpha_grid" (A,) and "sweep":
    {site: {"class means", "neuron": {"flip", "side_effects", "logit_diff": each (A, T)}; "random": the same three,
    (draws, len(random_alphas), T), read at alpha_grid[random_alphas] ("random_alphas": the indices);
    "random_chosen": the same, (draws, A), for the chosen triple; at READOUT_SITES "readout_predicted", the class
    means as the readout predicts them, (A, T)}}.
    """
    model, data, cfg, vocab, sequences = run.model, run.data, run.cfg, run.vocab, run.sequences
    n_letters, seq_len = len(cfg.vocab), cfg.seq_len
    alphas = np.asarray(alphas)
    triples = steering_triples(seq_len, n_letters)
    generator = torch.Generator().manual_seed(run.seed)
    sites = SITES[run.kind]
    clamp = clamp and run.kind == "mlp"  # only the MLP's layers come out of a ReLU
    # where mean_over_triples reads the sweep: the alphas nearest 0 and 1
    at = {f"alpha_{alpha:g}": int(np.argmin(np.abs(alphas - alpha))) for alpha in (0.0, 1.0)}
    values = {"model": run.kind, "alphas": {"first": float(alphas[0]), "last": float(alphas[-1]), "count": len(alphas)},
              "clamp": clamp, "methods": list(METHODS), "random_draws": RANDOM_DRAWS,
              "layers": list(sites), "sites": dict(sites),
              "readout_sites": [layer for layer in sites if layer in READOUT_SITES],
              "sites_testing_directions": [layer for layer in sites if layer not in READOUT_SITES],
              "triples": [[p, cfg.vocab[x], cfg.vocab[y]] for p, x, y in triples],
              "chosen": [chosen[0], cfg.vocab[chosen[1]], cfg.vocab[chosen[2]]],
              "steered_sequences": round(sum(int((sequences[:, p] == x).sum()) for p, x, _ in triples) / len(triples)),
              "analysis_sequences": len(sequences),
              "all_sequences": len(sequences) == n_letters ** seq_len,
              "seq_len": seq_len, "clean_flip": CLEAN_FLIP, "clean_side_effects": CLEAN_SIDE_EFFECTS}
    arrays = {"alpha_grid": [float(a) for a in alphas], "sweep": {}}
    train = data.train_sequences
    train_acts = layer_features(model, train, vocab, run.device, list(sites))
    index = triples.index(tuple(chosen))
    # the draws' sequences: all of them with the defaults; a seeded sample where there are many, to keep 20 draws fast
    drawn_on = sample_rows(sequences, RANDOM_SEQUENCES, torch.Generator().manual_seed(run.seed))
    values["random_sequences"] = len(drawn_on)
    for layer, where in sites.items():
        acts = train_acts[layer].double()  # (N_train, H); the transformer's (N_train, T*d), flattened
        parts = [site_slice(where, p, seq_len, acts.shape[1]) for p, _, _ in triples]  # what each triple moves
        vectors, single = (torch.zeros(len(triples), acts.shape[1], dtype=torch.float64) for _ in range(2))
        random = torch.zeros(RANDOM_DRAWS, len(triples), acts.shape[1], dtype=torch.float64)  # (K, T, H)
        draws = torch.randn(RANDOM_DRAWS, len(triples), parts[0].stop - parts[0].start, generator=generator,
                            dtype=torch.float64)  # (K, T, the part's width)
        draws = draws / draws.norm(dim=-1, keepdim=True)  # unit length: only the direction is random
        neurons = []
        for t, ((p, x, y), part) in enumerate(zip(triples, parts)):
            vectors[t, part] = class_mean_vector(acts[:, part], train, p, x, y)
            norm = vectors[t].norm()
            random[:, t, part] = draws[:, t] * norm  # same norm, random direction, same place
            neuron, sign = most_correlated_neuron(acts[:, part], train, p, y)
            neurons.append(part.start + neuron)
            single[t, part.start + neuron] = sign * norm  # the same norm, all on one neuron (or dimension)
        readout = layer in READOUT_SITES
        steer = lambda directions, chosen_only=False, at_alphas=alphas, on=sequences, **how: steer_layer(
            model, layer, directions, [triples[index]] if chosen_only else triples, on, vocab, run.device,
            at_alphas, **{"clamp": clamp, **how})
        swept = steer(torch.stack([vectors, single]), predict=readout)  # (2, A, T): the class means, the neuron
        clean = is_clean(swept)
        window = clean[0].all(-1)  # (A,) the alphas at which the class means are clean for every triple
        random_alphas = sorted({*np.flatnonzero(window).tolist(), *at.values()})  # where the draws are read
        drawn = steer(random, at_alphas=alphas[random_alphas], on=drawn_on, through_readout=readout)  # (K, S, T)
        drawn_chosen = steer(random[:, index:index + 1], chosen_only=True, on=drawn_on,
                             through_readout=readout)  # (K, A, 1)
        method = lambda m: {name: swept[name][m] for name in ("flip", "side_effects", "logit_diff")}
        arrays["sweep"][layer] = {"class means": method(0), "neuron": method(1), "random": drawn,
                                  "random_alphas": random_alphas,
                                  "random_chosen": {name: value[..., 0] for name, value in drawn_chosen.items()}}
        found = values[layer] = {
            "vector_norm": vectors.norm(dim=1).tolist(), "neuron": neurons,
            # the alphas at which every triple is clean
            "clean_window": {"class means": clean_intervals(alphas, window.tolist()),
                             "neuron": clean_intervals(alphas, clean[1].all(-1).tolist())},
            "triples_ever_clean": {"class means": int(clean[0].any(0).sum()), "neuron": int(clean[1].any(0).sum())},
            "chosen_clean": {"class means": clean_intervals(alphas, clean[0, :, index].tolist()),
                             "neuron": clean_intervals(alphas, clean[1, :, index].tolist()),
                             "random_draws_clean_somewhere": int(is_clean(drawn_chosen)[..., 0].any(-1).sum())},
            "control_at_window": _controls_inside(window, swept, drawn, random_alphas),
        }
        found["beats_random_p95"] = beats_random_p95(found["control_at_window"], len(triples))
        if where == "input":  # resid_pre = W_E[token] + W_pos: two class means differ by W_E[y] - W_E[x] alone
            W_E = model.embed.W_E.detach().cpu().double()  # (V, d)
            found["largest_gap_to_embedding_difference"] = max(
                (vectors[t, part] - (W_E[y] - W_E[x])).abs().max().item()
                for t, ((_, x, y), part) in enumerate(zip(triples, parts)))
            found["past_window"] = _past_window(found["clean_window"]["class means"], swept["flip"][0],
                                                swept["side_effects"][0], alphas)
        found["mean_over_triples"] = {  # the sweep in two numbers a measure and method: at alpha 0 and at 1
            name: {"class means": {label: float(swept[name][0, i].mean()) for label, i in at.items()},
                   "random": {label: float(drawn[name][:, random_alphas.index(i)].mean()) for label, i in at.items()},
                   "random_p95": {label: float(percentile_95(drawn[name][:, random_alphas.index(i)].mean(-1)))
                                  for label, i in at.items()},
                   "neuron": {label: float(swept[name][1, i].mean()) for label, i in at.items()}}
            for name in ("flip", "side_effects", "logit_diff")}
        if readout:
            unclamped = swept if not clamp else steer(vectors[None], clamp=False)  # (1, A, T)
            arrays["sweep"][layer]["readout_predicted"] = {name: value[0] for name, value in swept["predicted"].items()}
            found.update(_readout_prediction(swept["predicted"], unclamped, alphas, at["alpha_1"]))
    return Steering(values, arrays)


def beats_random_p95(control_at_window, n_triples):
    """Whether the class means, clean for all n_triples at once, beat the random draws' 95th percentile of the most
    triples one draw makes clean at once there. Unrounded: 17.95 of 18 is beaten, 18 is not. No window: False."""
    return control_at_window is not None and control_at_window["random"]["most_triples_clean_p95"] < n_triples


def _readout_prediction(predicted, unclamped, alphas, one):
    """At a READOUT_SITES layer, for the class-mean vector: what the readout predicts with no intervention run (the
    flip and the logit difference at alpha 1, the clean window), the same measured without the clamp, and the largest
    gap between the predicted and the measured unclamped logit difference over every alpha and triple."""
    return {"readout_predicted_logit_diff_alpha_1": float(predicted["logit_diff"][0, one].mean()),
            "readout_predicted_flip_alpha_1": float(predicted["flip"][0, one].mean()),
            "readout_predicted_clean_window": clean_intervals(alphas, is_clean(predicted)[0].all(-1).tolist()),
            "unclamped_logit_diff_alpha_1": float(unclamped["logit_diff"][0, one].mean()),
            "unclamped_flip_alpha_1": float(unclamped["flip"][0, one].mean()),
            "readout_prediction_gap": float(np.abs(predicted["logit_diff"][0] - unclamped["logit_diff"][0]).max())}


def _controls_inside(window, swept, drawn, random_alphas):
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


def _past_window(intervals, flip, side, alphas):
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
            headline = (f"Steering {listing(tested)} along the class-mean direction makes the output copying p say "
                        f"y, the others nearly unchanged, for all {n} triples at once"
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
