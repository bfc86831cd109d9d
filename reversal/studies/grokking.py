"""Grokking, honestly: does this task show "sudden generalization after overfitting"? Measured, with progress measures.

    python demo.py --grokking    # both models, three seeds, two training fractions: grokking.png and a verdict

    result = grokking_study(cfg)          # cfg gives the first seed and the device; about 40 s on 2 cores
    print(result.finding())
    plot_grokking(result, "grokking.png")

Grokking (Power et al. 2022) is held-out accuracy that sits near chance long after training accuracy reached 100%,
and then jumps. The standard recipe gives it on modular arithmetic: full-batch training, AdamW with a large weight
decay, a small share of the data to train on, and many steps. Nanda et al. (2023) explained it with progress
measures: a memorizing circuit forms first, a generalizing one grows underneath it, and weight decay then removes
the memorizing one. This study runs the same recipe on both of the lesson's models, at L = 5 over "abcd" (1,024
sequences), and measures the same kind of progress measures, built for this task.

Every accuracy and loss here is over the L letter outputs only: the <eos> output is always <eos> and is learned in a
few steps, so it would only dilute the measures. Accuracy is the share of letter outputs right (chance: 1/4), loss
the mean cross-entropy over them (chance, a uniform guess among the letters: ln 4 = 1.39). Training still minimizes
the usual loss over every output, with the whole training set as one batch.

The progress measures, at every LOG_EVERY steps. An additive surrogate (reversal/mlp/additive.py) is fitted by least
squares to the model's logits on the *training sequences only*: logit(j) = bias(j) + sum over positions i of
term(i, letter at i, j). Reversal needs only the mirrored terms, i = L-1-j.
    off-mirror share   of the surrogate's letter-output logit variance over all sequences, the share that comes from
                       non-mirrored positions i != L-1-j. The positions are independent, so the variance is the sum
                       of each term's variance over its letter; logits are centred over the vocabulary first (a shift
                       shared by every token changes no probability). 0 for a model that only copies mirrors.
    surrogate held-out the surrogate's accuracy on the held-out sequences, beside the model's: where they agree, what
                       generalizes in the model is its additive part.
    restricted loss    the loss, on every sequence (training and held-out), of the logits bias(j) + the mirrored term
                       alone: how well the generalizing part on its own does the task (Nanda et al. keep only the key
                       Fourier frequencies).
    excluded loss      the loss, on the training sequences, of the model's own logits with the mirrored term taken
                       away: how well whatever else the model computes fits the training set. Below chance means
                       something beside the mirror copy fits it.
    mirrored attention the transformer's mean attention of each letter query on its mirrored key, over every sequence.
A model that memorized its training sequences would look, on those sequences alone, just like one that reverses: its
surrogate would be the mirror terms, and its excluded loss at chance. Only the surrogate's held-out accuracy beside
the model's tells the two apart, so "no memorizing circuit" is said only where both agree.

The verdict (verdict()) reads the accuracy curves with named thresholds: FIT is the accuracy counted as reached.
"grokking" only where held-out accuracy reaches FIT at least LAG_FACTOR times later than training does, and then by
a jump: a rise of at least MIN_JUMP after the fit, most of it (10% to 90%) within JUMP_SHARE of the time it took.
"""

import math
import multiprocessing
import os
import textwrap
import time
from dataclasses import replace

import matplotlib.ticker
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from tqdm import tqdm

from ..core.data import Vocab, add_eos, all_sequences, make_targets
from ..core.progress import watching
from ..core.train import make_model
from ..core.model import run_with_cache
from ..mlp.additive import additive_weights
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import span
from .sweep import start_worker

VOCAB, SEQ_LEN = "abcd", 5  # 4**5 = 1,024 sequences: a 5% training set is still 51 of them
TRAIN_FRACTIONS = (0.05, 0.25)  # a small training set (the grokking regime) and one large enough to generalize
STEPS = {"mlp": 6000, "transformer": 1500}  # full-batch steps: each fits well before its end (measured)
LOG_EVERY = {"mlp": 50, "transformer": 10}  # steps between two probes: the transformer fits within ~100 steps
WEIGHT_DECAY = 1.0  # AdamW's, as in Nanda et al. (2023): the pressure that makes grokking happen where it does
BETAS = (0.9, 0.98)  # theirs too
FIT = 0.99  # an accuracy counted as reached: training "fits", held-out "generalizes"
LAG_FACTOR = 5  # grokking: held-out reaches FIT at least this many times later than training does
MIN_JUMP = 0.3  # ... rising by at least this much after training fits
JUMP_SHARE = 0.25  # ... with 10% to 90% of that rise inside this share of the steps it took: a jump, not a creep
CREEP_MIN = 0.05  # a held-out rise after the fit smaller than this is no rise at all


def split(fraction, seed):
    """Every sequence of SEQ_LEN letters over VOCAB, split by a seeded shuffle: the first round(fraction * N) to
    train on, the rest held out. Returns (train (N_train, L), heldout (N - N_train, L))."""
    sequences = all_sequences(len(VOCAB), SEQ_LEN)  # (1024, 5)
    order = torch.randperm(len(sequences), generator=torch.Generator().manual_seed(seed))
    n_train = round(fraction * len(sequences))
    return sequences[order[:n_train].sort().values], sequences[order[n_train:].sort().values]


def additive_parts(sequences, logits, n_letters):
    """The additive surrogate fitted to logits (N, T, V), split into its parts: bias (T, V) and terms
    (L, n_letters, T, V), term[i, x] being what letter x at position i adds to every output's logits.

    Each position's terms are centred over its letters (their mean moved into the bias), so that taking a term away
    takes away what that position's letter changes, and nothing else; the surrogate's logits stay the same."""
    weights = additive_weights(sequences, logits, n_letters)  # (1 + L*(n_letters-1), T*V)
    seq_len, (n_outputs, n_tokens) = sequences.shape[1], logits.shape[1:]
    terms = torch.zeros(seq_len, n_letters, n_outputs, n_tokens, dtype=weights.dtype)
    terms[:, :-1] = weights[1:].view(seq_len, n_letters - 1, n_outputs, n_tokens)  # the last letter's is 0
    means = terms.mean(1, keepdim=True)  # (L, 1, T, V)
    return weights[0].view(n_outputs, n_tokens) + means.sum(0)[0], terms - means


def additive_logits(bias, terms, sequences):
    """The surrogate's logits (N, T, V): the bias plus every position's term for its letter."""
    return bias + terms[torch.arange(sequences.shape[1]), sequences].sum(1)


def off_mirror_share(terms):
    """The share of the letter outputs' logit variance that comes from non-mirrored positions; terms from
    additive_parts. Over all sequences the positions are independent, so the variance of a sum of terms is the sum of
    their variances: var[i, j] = mean over letters x of |term(i, x, j) - its mean over x|^2."""
    seq_len = terms.shape[0]
    letter_outputs = terms[:, :, :seq_len]  # (L, n_letters, L, V): <eos>'s output has no mirror
    centred = letter_outputs - letter_outputs.mean(-1, keepdim=True)  # a shift shared by every token is no change
    variance = ((centred - centred.mean(1, keepdim=True)) ** 2).sum(-1).mean(1)  # (L positions, L outputs)
    mirror = torch.eye(seq_len, dtype=torch.bool).flip(1)  # [i, j] True where i = L-1-j
    return (variance[~mirror].sum() / variance.sum()).item()


def mirrored_term(terms, sequences):
    """(N, L, V): at each letter output j, what the letter at its mirror L-1-j adds, term(L-1-j, x_{L-1-j}, j)."""
    seq_len = sequences.shape[1]
    outputs = torch.arange(seq_len)
    mirrors = seq_len - 1 - outputs  # (L,)
    return terms[mirrors, sequences[:, mirrors], outputs]  # (N, L, V)


def letter_loss(logits, sequences):
    """Mean cross-entropy over the letter outputs: logits (N, >=L, V), targets the sequences reversed."""
    return F.cross_entropy(logits[:, : sequences.shape[1]].flatten(0, 1).float(), sequences.flip(1).flatten()).item()


def letter_accuracy(logits, sequences):
    """The share of letter outputs right: logits (N, >=L, V)."""
    return (logits[:, : sequences.shape[1]].argmax(-1) == sequences.flip(1)).float().mean().item()


@torch.no_grad()
def measure(model, train, heldout, eos_id, transformer):
    """Every logged number at one step: accuracy and loss on both sets, the weight norm, the progress measures."""
    device = next(model.parameters()).device
    n_letters, seq_len = eos_id, train.shape[1]
    sequences = torch.cat([train, heldout])  # (N, L)
    names = ("blocks.0.attn.hook_pattern",) if transformer else ()
    logits, cache = run_with_cache(model, add_eos(sequences, eos_id).to(device), names)
    logits = logits.cpu().double()  # (N, T, V)
    train_logits, heldout_logits = logits[: len(train)], logits[len(train):]
    bias, terms = additive_parts(train, train_logits, n_letters)  # fitted on the training sequences only
    surrogate = additive_logits(bias, terms, heldout)  # (N_heldout, T, V)
    restricted = bias[None, :seq_len] + mirrored_term(terms, sequences)  # (N, L, V)
    excluded = train_logits[:, :seq_len] - mirrored_term(terms, train)  # (N_train, L, V)
    row = {"train_accuracy": letter_accuracy(train_logits, train),
           "heldout_accuracy": letter_accuracy(heldout_logits, heldout),
           "train_loss": letter_loss(train_logits, train), "heldout_loss": letter_loss(heldout_logits, heldout),
           "weight_norm": math.sqrt(sum((p.double() ** 2).sum().item() for p in model.parameters())),
           "off_mirror_share": off_mirror_share(terms),
           "surrogate_heldout_accuracy": letter_accuracy(surrogate, heldout),
           "restricted_loss": letter_loss(restricted, sequences), "excluded_loss": letter_loss(excluded, train)}
    if transformer:
        pattern = cache[names[0]][:, 0].cpu()  # (N, T query, T key), head 0
        outputs = torch.arange(seq_len)
        row["mirrored_attention"] = pattern[:, outputs, seq_len - 1 - outputs].mean().item()
    return row


def train_logged(cfg, fraction, steps, log_every):
    """Full-batch AdamW on the training share `fraction` of the sequences, logging measure() at step 0 and every
    log_every steps. cfg gives the model, its width, its learning rate, the seed and the device.

    Returns {"steps": [...], name: [...] for every measure, "n_train": N_train, "seconds": wall time}."""
    cfg = replace(cfg, vocab=VOCAB, seq_len=SEQ_LEN, input="")
    vocab = Vocab(VOCAB)
    train, heldout = split(fraction, cfg.seed)
    model = make_model(cfg, vocab)
    inputs = add_eos(train, vocab.eos_id).to(cfg.device)  # (N_train, T): the whole training set is one batch
    targets = make_targets(train, vocab.eos_id).to(cfg.device)  # (N_train, T)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=WEIGHT_DECAY, betas=BETAS,
                                  fused=True)  # fused: one kernel for all parameters, as core.train
    transformer = cfg.model == "transformer"
    log = {"steps": []}
    start = time.perf_counter()
    for step in range(steps + 1):
        if step % log_every == 0 or step == steps:
            model.eval()
            log["steps"].append(step)
            for name, value in measure(model, train, heldout, vocab.eos_id, transformer).items():
                log.setdefault(name, []).append(value)
            model.train()
        if step == steps:
            break
        loss = F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    log["n_train"], log["seconds"] = len(train), time.perf_counter() - start
    return log


# What each verdict says, by its key (the key is what metrics.json keeps)
VERDICTS = {"grokking": "grokked", "rose_with_training": "held-out rose with training", "crept": "held-out crept",
            "jumped_short": f"held-out jumped but stayed below {FIT:.0%}", "stalled": "held-out stalled",
            "no_fit": f"training never reached {FIT:.0%}"}


def first_step(steps, values, threshold):
    """The first logged step at which values reach threshold, or None."""
    reached = np.flatnonzero(np.asarray(values) >= threshold)
    return int(steps[reached[0]]) if len(reached) else None


def verdict(steps, train_accuracy, heldout_accuracy):
    """Read one run's accuracy curves. Returns {"verdict": a key of VERDICTS, and the numbers it rests on}:
        fit_step          the first logged step with training accuracy >= FIT
        heldout_at_fit    held-out accuracy then
        generalized_step  the first with held-out >= FIT, or None
        lag               generalized_step / fit_step (None where held-out never reached FIT)
        rise              the best held-out accuracy from the fit on, minus heldout_at_fit
        rise_share        the steps held-out took from 10% to 90% of that rise, over the steps from the fit to its
                          best: small for a jump, large for a creep (None without a rise)
    """
    steps, held = np.asarray(steps), np.asarray(heldout_accuracy, dtype=float)
    fit_step = first_step(steps, train_accuracy, FIT)
    numbers = {"fit_step": fit_step, "heldout_at_fit": None, "generalized_step": first_step(steps, held, FIT),
               "lag": None, "rise": None, "rise_share": None, "final_heldout": float(held[-1])}
    if fit_step is None:
        return {"verdict": "no_fit", **numbers}
    after_steps, after = steps[steps >= fit_step], held[steps >= fit_step]  # from the fit on
    at_fit, rise = float(after[0]), float(after.max() - after[0])
    numbers.update(heldout_at_fit=at_fit, rise=rise)
    generalized = numbers["generalized_step"]
    if generalized is not None:
        numbers["lag"] = generalized / max(fit_step, 1)
    if rise > 0:
        best_step = int(after_steps[after.argmax()])
        start = first_step(after_steps, after, at_fit + 0.1 * rise)
        end = first_step(after_steps, after, at_fit + 0.9 * rise)
        numbers["rise_share"] = (end - start) / max(best_step - fit_step, 1)
    jumped = rise >= MIN_JUMP and numbers["rise_share"] <= JUMP_SHARE
    if generalized is not None and (numbers["lag"] < LAG_FACTOR or rise < MIN_JUMP):
        key = "rose_with_training"  # held-out was (nearly) there when training fit
    elif jumped:
        key = "grokking" if generalized is not None else "jumped_short"
    else:
        key = "crept" if rise >= CREEP_MIN else "stalled"
    return {"verdict": key, **numbers}


def progress_summary(log, fit_step):
    """The progress measures' numbers the wording reads, for one run's log (None where training never fit):
        surrogate_gap        the largest |surrogate's held-out accuracy - the model's| over every probe
        excluded_after_fit   the lowest excluded loss from the fit on: far below chance would mean a memorizing part
        restricted_end, train_loss_end, heldout_loss_end   the losses at the last probe
        off_mirror_at_fit, off_mirror_end                  the off-mirror share at the fit and at the last probe
        mirrored_attention_at_fit, mirrored_attention_end  the transformer's, likewise
    """
    steps = np.asarray(log["steps"])
    gap = np.abs(np.subtract(log["surrogate_heldout_accuracy"], log["heldout_accuracy"])).max()
    summary = {"surrogate_gap": float(gap), "restricted_end": log["restricted_loss"][-1],
               "train_loss_end": log["train_loss"][-1], "heldout_loss_end": log["heldout_loss"][-1],
               "off_mirror_end": log["off_mirror_share"][-1]}
    if "mirrored_attention" in log:
        summary["mirrored_attention_end"] = log["mirrored_attention"][-1]
    if fit_step is not None:
        at_fit = int(np.flatnonzero(steps == fit_step)[0])
        summary["excluded_after_fit"] = float(min(log["excluded_loss"][at_fit:]))
        summary["off_mirror_at_fit"] = log["off_mirror_share"][at_fit]
        if "mirrored_attention" in log:
            summary["mirrored_attention_at_fit"] = log["mirrored_attention"][at_fit]
    return summary


def run_one(task):
    """One run of the study, (cfg, fraction, steps, log_every) -> (its log, its verdict and progress summary).
    Runs in a worker process."""
    cfg, fraction, steps, log_every = task
    log = train_logged(cfg, fraction, steps, log_every)
    found = verdict(log["steps"], log["train_accuracy"], log["heldout_accuracy"])
    return log, {**found, **progress_summary(log, found["fit_step"])}


def grokking_study(cfg, n_seeds=3, fractions=TRAIN_FRACTIONS, steps=None, log_every=None, progress=True,
                   workers=2):
    """Both models, n_seeds seeds from cfg.seed, each training fraction: train_logged and verdict for each run.
    cfg gives the seed and the device; the models are the lesson's (their widths and learning rates from Config).

    Returns a Grokking: under "runs", {model: {fraction: [one verdict() per seed]}}; the logs under "logs" (kept
    for the figure, not for metrics.json), in the same nesting."""
    steps = steps or STEPS
    log_every = log_every or LOG_EVERY
    seeds = [cfg.seed + k for k in range(n_seeds)]
    tasks = [(replace(cfg, model=model, seed=seed, lr=None), fraction, steps[model], log_every[model])
             for model in ("mlp", "transformer") for fraction in fractions for seed in seeds]
    # the largest training sets and the longest runs first: the two workers then finish together
    order = sorted(range(len(tasks)), key=lambda k: -tasks[k][1] * tasks[k][2])
    start = time.perf_counter()
    results = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc="grokking", unit="run", disable=not (progress and watching()))
    if workers <= 1 or cfg.device != "cpu" or "fork" not in multiprocessing.get_all_start_methods():
        for k in order:
            results[k] = run_one(tasks[k])
            bar.update()
    else:  # forked workers, as the capacity sweep's: the runs do not depend on each other
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=start_worker, initargs=(os.getpid(),)) as pool:  # end with this one
            for k, result in zip(order, pool.imap(run_one, [tasks[k] for k in order])):
                results[k] = result
                bar.update()
    bar.close()
    runs, logs = {}, {}
    for (task_cfg, fraction, _, _), (log, found) in zip(tasks, results):  # in the order of seeds
        runs.setdefault(task_cfg.model, {}).setdefault(str(fraction), []).append(found)
        logs.setdefault(task_cfg.model, {}).setdefault(str(fraction), []).append(log)
    return Grokking({"vocab": VOCAB, "seq_len": SEQ_LEN, "seeds": seeds, "fractions": list(fractions),
                     "n_train": {str(f): logs["mlp"][str(f)][0]["n_train"] for f in fractions},
                     "steps": dict(steps), "log_every": dict(log_every), "weight_decay": WEIGHT_DECAY,
                     "thresholds": {"fit": FIT, "lag_factor": LAG_FACTOR, "min_jump": MIN_JUMP,
                                    "jump_share": JUMP_SHARE, "creep_min": CREEP_MIN},
                     "runs": runs,
                     "seconds": time.perf_counter() - start},
                    {"logs": logs})


SURROGATE_TRACKS = 0.05  # the surrogate "gives" the model's held-out accuracy where it is never further off than this
NEAR_CHANCE = 0.9  # an excluded loss above this share of chance at every probe after the fit: nothing else fits
MODEL_NAMES = {"mlp": "MLP", "transformer": "transformer"}


def counted(found):
    """"crept (3 of 3)" or "crept (2 of 3), rose with training (1 of 3)": each verdict among the seeds' runs."""
    keys = [run["verdict"] for run in found]
    return ", ".join(f"{VERDICTS[key]} ({keys.count(key)} of {len(keys)})" for key in dict.fromkeys(keys))


class Grokking(Result):
    """What grokking_study measured; finding() gives each condition's verdict over seeds, and why, from the
    progress measures."""

    def finding(self):
        runs, n_letters = self["runs"], len(self["vocab"])
        chance = math.log(n_letters)
        every = [run for by in runs.values() for found in by.values() for run in found]
        grokked = sum(run["verdict"] == "grokking" for run in every)
        where = {}  # verdict -> [the conditions, e.g. "MLP 5%", where it happened] and its count of runs
        for model, by in runs.items():
            for f, found in by.items():
                for key in dict.fromkeys(run["verdict"] for run in found):
                    where.setdefault(key, []).append(f"{MODEL_NAMES[model]} {float(f):.0%}")
        counts = {key: sum(run["verdict"] == key for run in every) for key in where}
        opening = "No run grokked" if not grokked else f"{grokked} of {len(every)} runs grokked"
        headline = (f"{opening} (held-out {FIT:.0%} at least {LAG_FACTOR}x later than training, by a jump): "
                    + "; ".join(f"{VERDICTS[key]} in {counts[key]} of {len(every)} runs ({', '.join(where[key])})"
                                for key in where if key != "grokking") + ".")
        lags = [run["lag"] for run in every if run["lag"] is not None]
        numbers = {"runs": len(every), "grokking_runs": grokked, "largest_lag": max(lags) if lags else None,
                   "largest_surrogate_gap": max(run["surrogate_gap"] for run in every)}
        numbers = {name: value for name, value in numbers.items() if value is not None}
        seeds = self["seeds"]
        seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]} to {seeds[-1]}"
        evidence = [f"  The grokking recipe: full batch, AdamW (weight decay {self['weight_decay']:g}), the models' "
                    f"own learning rates, every sequence of {self['seq_len']} letters over {self['vocab']!r} "
                    f"({n_letters ** self['seq_len']:,}), {seed_text}; {self['seconds']:.0f} s. "
                    f"Accuracy is the share of letter outputs right (chance {1 / n_letters:.2f}), loss their "
                    f"cross-entropy (chance ln {n_letters} = {chance:.2f})."]
        for model, by in runs.items():
            for f, found in by.items():
                evidence += self.condition(model, f, found, chance)
        caveats = [f"  The verdict's thresholds are named constants in reversal/studies/grokking.py: FIT {FIT}, "
                   f"LAG_FACTOR {LAG_FACTOR}, MIN_JUMP {MIN_JUMP}, JUMP_SHARE {JUMP_SHARE}, CREEP_MIN {CREEP_MIN}.",
                   f"  One length, one weight decay and one step budget per model ({self['steps']['mlp']:,} MLP, "
                   f"{self['steps']['transformer']:,} transformer steps): other settings, or many more steps, could "
                   f"differ."]
        return Finding(headline, numbers, evidence, caveats)

    def condition(self, model, f, found, chance):
        """The lines for one model at one training fraction, over its seeds."""
        name = MODEL_NAMES[model]
        lines = [f"  {name}, {float(f):.0%} of the sequences to train on ({self['n_train'][f]}), "
                 f"{self['steps'][model]:,} steps: {counted(found)}."]
        fitted = [run for run in found if run["fit_step"] is not None]
        if not fitted:
            return lines
        text = (f"    Training reached {FIT:.0%} at step {span([r['fit_step'] for r in fitted], ',.0f')}; held-out was "
                f"then {span([r['heldout_at_fit'] for r in fitted], '.2f')}")
        reached = [run for run in fitted if run["generalized_step"] is not None]
        if reached:
            text += (f"; it reached {FIT:.0%} on {len(reached)} of {len(found)} seeds, at step "
                     f"{span([r['generalized_step'] for r in reached], ',.0f')} "
                     f"({span([r['lag'] for r in reached], '.1f')} times the fit step)")
        if len(reached) < len(found):
            rest = [run for run in fitted if run["generalized_step"] is None]
            best = [run["heldout_at_fit"] + run["rise"] for run in rest]
            text += (f"; {'on the others ' if reached else ''}its best after the fit was {span(best, '.2f')}, "
                     f"{span([r['final_heldout'] for r in rest], '.2f')} at the end")
        lines.append(text + ".")
        lines.append("    Why: " + self.why(fitted, chance))
        return lines

    def why(self, fitted, chance):
        """What the progress measures say, computed: does the additive part carry what generalizes, does anything
        else fit the training set, and where the off-mirror terms stand."""
        gap = max(run["surrogate_gap"] for run in fitted)
        if gap <= SURROGATE_TRACKS:
            text = (f"the additive surrogate, fitted to the training sequences alone, gives the model's held-out "
                    f"accuracy within {gap:.2f} at every probe; ")
        else:
            text = (f"the additive surrogate misses the model's held-out accuracy by up to {gap:.2f}: there is more "
                    f"than an additive code here; ")
        excluded = min(run["excluded_after_fit"] for run in fitted)
        if excluded < NEAR_CHANCE * chance:
            text += (f"without its mirrored terms the model still does better than chance on the training sequences "
                     f"(excluded loss down to {excluded:.2f}, chance {chance:.2f}): something beside the mirror copy "
                     f"fits them in part; ")
        else:
            text += (f"without its mirrored terms the model fits the training sequences no better than chance at any "
                     f"probe after the fit (excluded loss at least {excluded:.2f})")
            # a memorizer looks like the mirror copy on its training sequences: only the surrogate's held-out
            # accuracy beside the model's tells them apart, so the conclusion needs both
            text += (", so there is no memorizing circuit for a generalizing one to replace; "
                     if gap <= SURROGATE_TRACKS else "; ")
        restricted = [run["restricted_end"] for run in fitted]
        text += (f"the mirrored terms alone give a loss of {span(restricted, '.3f')} on every sequence at the end "
                 f"(restricted loss; held-out loss {span([r['heldout_loss_end'] for r in fitted], '.3f')}). ")
        at_fit, end = [r["off_mirror_at_fit"] for r in fitted], [r["off_mirror_end"] for r in fitted]
        text += f"The off-mirror share is {span(at_fit, '.3f')} at the fit, {span(end, '.3f')} at the end"
        if gap <= SURROGATE_TRACKS and max(restricted) < min(r["heldout_loss_end"] for r in fitted) and min(end) > 0.05:
            change = "weight decay shrinks only slowly" if max(end) < min(at_fit) else "weight decay has not removed"
            text += (f": so the held-out errors come from the off-mirror terms, which the few training sequences do "
                     f"not rule out and which {change}")
        if "mirrored_attention_end" in fitted[0]:
            at_fit = [run["mirrored_attention_at_fit"] for run in fitted]
            end = [run["mirrored_attention_end"] for run in fitted]
            text += f". Attention on the mirrored key: {span(at_fit, '.2f')} at the fit, {span(end, '.2f')} at the end"
        return text + "."


def plot_grokking(result, path):
    """One column per model and training fraction, one row per measure, a line per seed; x is the step, on a log
    scale (step 0, before training, is left out). result: a Grokking."""
    logs, chance = result["logs"], math.log(len(result["vocab"]))
    columns = [(model, f) for model in logs for f in logs[model]]
    rows = ["accuracy", "loss", "weight norm", "off-mirror share", "mirrored attention"]
    fig = Figure(figsize=(4 * len(columns), 2.6 * len(rows)))
    narrow = len(columns) <= 2  # the tutorial's small run: room for the labels and a title in two lines
    fig.subplots_adjust(left=0.12 if narrow else 0.06, right=0.98, top=0.90 if narrow else 0.93, bottom=0.05,
                        hspace=0.35, wspace=0.3 if narrow else 0.25)
    axes = fig.subplots(len(rows), len(columns), sharex="col", squeeze=False)
    for c, (model, f) in enumerate(columns):
        found = result["runs"][model][f]
        axes[0, c].set_title(f"{MODEL_NAMES[model]}, train on {float(f):.0%} ({result['n_train'][f]} sequences)\n"
                             f"{counted(found)}", fontsize=9)
        for seed, log in enumerate(logs[model][f]):
            steps = np.asarray(log["steps"])[1:]
            label = seed == 0  # one legend entry per line kind
            def draw(row, name, text, **style):
                axes[row, c].plot(steps, log[name][1:], label=text if label else None, alpha=0.8, linewidth=1.2,
                                  **style)
            draw(0, "train_accuracy", color="tab:blue", text="train")
            draw(0, "heldout_accuracy", color="tab:orange", text="held-out")
            draw(0, "surrogate_heldout_accuracy", color="black", linestyle=":", text="surrogate, held-out")
            draw(1, "train_loss", color="tab:blue", text="train")
            draw(1, "heldout_loss", color="tab:orange", text="held-out")
            draw(1, "restricted_loss", color="tab:green", linestyle="--", text="restricted (mirror terms only)")
            draw(1, "excluded_loss", color="tab:red", linestyle="--", text="excluded (mirror terms removed)")
            draw(2, "weight_norm", color="tab:purple", text="|weights|")
            draw(3, "off_mirror_share", color="tab:brown", text="off-mirror share")
            if "mirrored_attention" in log:
                draw(4, "mirrored_attention", color="tab:cyan", text="attention on the mirror")
            if found[seed]["fit_step"]:
                axes[0, c].axvline(found[seed]["fit_step"], color="grey", linestyle=":", linewidth=0.8)
        axes[1, c].axhline(chance, color="grey", linewidth=0.8)
        axes[1, c].set_yscale("log")
        axes[3, c].set_yscale("log")
        # the share may stay within one decade (0.3 to 0.6): ticks at 1, 2 and 5 of each, so it always has some
        axes[3, c].yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        for row in (1, 3):  # plain numbers on the log axes: 0.01, not 10^-2
            axes[row, c].yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            axes[row, c].yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axes[0, c].set_ylim(0, 1.02)
        axes[4, c].set_ylim(0, 1.02)
        if "mirrored_attention" not in logs[model][f][0]:
            axes[4, c].text(0.5, 0.5, "no attention in the MLP", ha="center", va="center", color="grey",
                            transform=axes[4, c].transAxes)
        axes[-1, c].set_xscale("log")
        axes[-1, c].set_xlabel("step (log scale)")
    for r, row in enumerate(rows):
        axes[r, 0].set_ylabel(row)
        for c in range(len(columns)):
            axes[r, c].grid(alpha=0.3)
            if c == 0 or (r == 4 and c == len(columns) - 1):
                if axes[r, c].get_legend_handles_labels()[0]:
                    axes[r, c].legend(fontsize=7, loc="best")
    seeds = result["seeds"]
    seeds = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]} to {seeds[-1]} (a line each)"
    title = (f"Grokking? Full-batch AdamW, weight decay {result['weight_decay']:g}, length {result['seq_len']} over "
             f"{result['vocab']!r}, {seeds}; dotted grey: the step training fits; grey line: chance loss")
    fig.suptitle(textwrap.fill(title, 95 if narrow else 250), fontsize=10)
    save_figure(fig, path)
