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
from tqdm import tqdm

from ..core.common import layer_features, sample_rows
from ..core.data import add_eos
from ..core.directions import class_mean
from ..core.model import run_with_hooks
from ..core.progress import watching
from .steering_plot import plot_steering
from .steering_result import (CLEAN_FLIP, CLEAN_SIDE_EFFECTS, Steering, beats_random_p95, clean_intervals,
                              controls_inside, is_clean, neuron_name, past_window, percentile_95, readout_prediction)

# what a sweep found (clean, the controls, the wording) lives in steering_result.py and the figure in steering_plot.py;
# their names are importable from here too
__all__ = ["SITES", "READOUT_SITES", "METHODS", "RANDOM_DRAWS", "RANDOM_SEQUENCES", "BATCH_ROWS", "ALPHAS",
           "CLEAN_FLIP", "CLEAN_SIDE_EFFECTS", "steering_triples", "class_mean_vector", "most_correlated_neurons",
           "site_slice", "clean_intervals", "is_clean", "readout_logits", "readout_change", "steer_layer",
           "percentile_95", "steering_experiment", "beats_random_p95", "neuron_name", "Steering", "plot_steering"]

# where each model is steered: a hook point, and which token position of it (None: the whole layer, as in the MLP;
# "input": the steered input position p; "mirror": the output position that copies it, L-1-p)
SITES = {"mlp": {"hidden1": None, "hidden2": None},
         "transformer": {"blocks.0.hook_resid_pre": "input", "blocks.0.hook_resid_post": "mirror"}}
READOUT_SITES = ("hidden2", "blocks.0.hook_resid_post")  # the linear readout reads these directly: arithmetic there
METHODS = ("class means", "random", "neuron")  # the steering vector, then its two controls
RANDOM_DRAWS = 20  # random directions per triple: one draw is an anecdote, 20 give a mean and a 95th percentile
RANDOM_SEQUENCES = 200  # the draws are read on at most this many sequences (seeded): at --seq-len 6, 200 of 512
BATCH_ROWS = 1 << 16  # sequences per forward pass, at most: the random draws go through in a few passes
PROGRESS_PASSES = 20  # a steer_layer call of this many passes or more takes seconds: it shows a progress bar
ALPHAS = np.round(np.arange(0, 3.0001, 0.05), 2)  # 0 to 3: alpha 1 moves the class mean of x onto that of y


def steering_triples(seq_len, n_letters):
    """Every (position, from-letter, to-letter) with from != to: L x V x (V-1) of them, 18 with the defaults."""
    return [(p, x, y) for p in range(seq_len) for x in range(n_letters) for y in range(n_letters) if x != y]


def class_mean_vector(activations, sequences, position, source, target):
    """Mean activation over the sequences with `target` at `position`, minus the mean over those with `source`: (H,).
    Two class means (core.directions) and not two letter directions: the overall mean would cancel anyway."""
    return class_mean(activations, sequences, position, target) - class_mean(activations, sequences, position, source)


def most_correlated_neurons(activations, sequences, position, n_letters):
    """[(neuron, sign)] for each letter x: the neuron whose activation correlates most, in magnitude, with "x at
    `position`". Every letter in one product: a big vocab's training sequences are hundreds of thousands of rows."""
    indicators = torch.nn.functional.one_hot(sequences[:, position], n_letters).double()  # (N, V)
    indicators -= indicators.mean(0)
    centred = activations.double() - activations.double().mean(0)  # (N, H)
    spread = centred.norm(dim=0)[:, None] * indicators.norm(dim=0)[None, :]  # (H, V)
    correlation = torch.nan_to_num(centred.T @ indicators / spread)  # (H, V) a dead neuron, or an absent letter: 0
    neurons = correlation.abs().argmax(0)  # (V,)
    return [(int(neuron), 1.0 if correlation[neuron, x] >= 0 else -1.0) for x, neuron in enumerate(neurons)]


def site_slice(where, position, seq_len, width):
    """The part of a flattened activation (width numbers a sequence) that steering input `position` moves."""
    if where is None:
        return slice(0, width)
    d_model = width // (seq_len + 1)  # the residual stream, (T, d) flattened: position t is t*d .. t*d + d
    token = position if where == "input" else seq_len - 1 - position
    return slice(token * d_model, (token + 1) * d_model)


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
    alphas_per_pass = max(1, BATCH_ROWS // len(rows))  # all of them, unless many rows (a big vocab) need splitting
    passes = [(chunk, k, alpha_chunk) for chunk in torch.split(directions, per_pass)  # (m, T, H)
              for k, alpha_chunk in enumerate(torch.split(alpha, alphas_per_pass))]  # (a,), the k-th of them
    measured = []  # per method chunk, its alpha chunks' scores
    # a big vocab makes hundreds of passes (minutes): show them, for a person watching
    for chunk, k, alpha_chunk in tqdm(passes, desc=f"steering {layer}", unit="pass", leave=False, mininterval=1,
                                      disable=len(passes) < PROGRESS_PASSES or not watching()):
        steered = hidden + alpha_chunk.float()[None, :, None, None] * chunk[:, None, triple_of_row]  # (m, a, R, H)
        if clamp:
            steered = steered.clamp_(min=0)
        batch = steered.view(-1, steered.shape[-1]).to(device)  # (m*a*R, H)
        if through_readout:
            logits = readout_logits(model, batch, seq_len).cpu()
        else:
            repeated = tokens[rows].repeat(len(chunk) * len(alpha_chunk), 1)  # (m*a*R, L+1): the batch size must match
            logits = run_with_hooks(model, repeated, {layer: lambda out: batch.view_as(out)}).cpu()
        scores = score(logits.view(len(chunk), len(alpha_chunk), len(rows), *clean_logits.shape[1:]))
        if k == 0:  # a new method chunk starts with its first alphas
            measured.append([])
        measured[-1].append(scores)
    # each (M, A, T): the alpha chunks side by side, then the method chunks one after another
    result = {name: torch.cat([torch.cat([part[name] for part in parts], dim=1) for parts in measured]).numpy()
              for name in measured[0][0]}
    if predict:  # the readout's arithmetic, no forward pass: (1, A, R, L+1, V)
        change = readout_change(model, directions[:1], seq_len)[:, None, triple_of_row]  # (1, 1, R, L+1, V)
        predicted = [score(clean_logits.double() + alpha_chunk[None, :, None, None, None] * change)
                     for alpha_chunk in torch.split(alpha, alphas_per_pass)]  # in pieces, as above: memory
        result["predicted"] = {name: torch.cat([part[name] for part in predicted], dim=1).numpy()
                               for name in predicted[0]}
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
        means, correlated = {}, {}  # by (part, p, letter) and by (part, p): a letter is in many triples
        for t, ((p, x, y), part) in enumerate(tqdm(list(zip(triples, parts)), desc=f"steering vectors, {layer}",
                                                    unit="triple", disable=len(triples) < 200 or not watching())):
            for letter in (x, y):
                if (part.start, p, letter) not in means:
                    means[part.start, p, letter] = class_mean(acts[:, part], train, p, letter)
            if (part.start, p) not in correlated:
                correlated[part.start, p] = most_correlated_neurons(acts[:, part], train, p, n_letters)
            vectors[t, part] = means[part.start, p, y] - means[part.start, p, x]  # class_mean_vector
            norm = vectors[t].norm()
            random[:, t, part] = draws[:, t] * norm  # same norm, random direction, same place
            neuron, sign = correlated[part.start, p][y]
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
            "control_at_window": controls_inside(window, swept, drawn, random_alphas),
        }
        found["beats_random_p95"] = beats_random_p95(found["control_at_window"], len(triples))
        if where == "input":  # resid_pre = W_E[token] + W_pos: two class means differ by W_E[y] - W_E[x] alone
            W_E = model.embed.W_E.detach().cpu().double()  # (V, d)
            found["largest_gap_to_embedding_difference"] = max(
                (vectors[t, part] - (W_E[y] - W_E[x])).abs().max().item()
                for t, ((_, x, y), part) in enumerate(zip(triples, parts)))
            found["past_window"] = past_window(found["clean_window"]["class means"], swept["flip"][0],
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
            found.update(readout_prediction(swept["predicted"], unclamped, alphas, at["alpha_1"]))
    return Steering(values, arrays)
