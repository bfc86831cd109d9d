"""A letter never seen at a position: what each model's mechanism predicts, then the test.

    study = unseen_pair(cfg, position=0, letter="a")           # both models, three seeds; FULL_RUN's steps
    print(study.finding())                                     # the prediction, then what the test measured
    plot_unseen(study, "unseen.png")                           # accuracy over training, the pair against the rest

The split (unseen_split). Hold out every sequence with letter x at input position p; train on half of the rest; the
other half is held out too. At length 5 over abcd: 1,024 sequences, 256 with 'a' first, 384 trained on, 384 other
held-out. No training sequence has x at p, so no training target has x at output L-1-p, the output that copies it.

The prediction, from each mechanism.
    MLP: its code is additive, one direction in hidden1 per (position, letter), read out at the mirrored output
        (reversal/mlp/mechanism.py). Training writes one only for the pairs it shows: (p, x) gets none, so the MLP
        cannot copy x from p. Its other held-out sequences are new combinations of seen pairs, which it gets right.
    Transformer: the OV circuit copies whatever letter the head attends to, and QK routes by position
        (reversal/attention/circuits.py). Neither needs to have seen x at p, so it can copy the pair.

The test trains both models on the split (full batch: the training set is a few hundred distinct sequences, so
each step sees them all, and a step count means the same for both; AdamW with weight decay 1, each model at its own
default learning rate) and measures, every EVERY steps: exact-match accuracy on the training sequences and on the
other held-out ones; at the output that must copy the pair, accuracy and the logit difference (x's logit minus the
best other, reversal.core.common.margin: > 0 means right) on the sequences with the pair.

Measured on this project's 2-core laptop, one thread (the issue's prototype first found it at L=5 over abcd):
    - At the demo's defaults, L=3 over abc, there are 27 sequences: 9 with the pair and 18 others, and half of 18 is
      9 to train on. Trained on all 18, the transformer copied the pair on 1 to 2 of 3 seeds. At L=4 over abcd (64
      with the pair, 96 trained on) it reached 99% and lost it again on most seeds. So the study runs at L=5 over
      abcd (STUDY_SEQ_LEN, STUDY_VOCAB).
    - Weight decay matters for the transformer (the issue's table): without it a direct path learns "never x at this
      output" and beats the copy on some seeds. With weight decay 1 the MLP still never copies the pair.
"""

import time
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from ..attention.circuits import ov_circuit
from ..attention.head_interventions import PATTERN
from ..core.common import margin
from ..core.data import Vocab, add_eos, all_sequences, make_targets
from ..core.directions import class_mean, letter_directions
from ..core.limits import UNSEEN_SHAPE, unseen_shape
from ..core.model import run_with_cache
from ..core.train import make_model
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import span

STUDY_SEQ_LEN, STUDY_VOCAB = UNSEEN_SHAPE  # enough sequences for the effect to show (the module docstring)
TRAIN_FRACTION = 0.5  # of the sequences without the pair; the rest are the other held-out sequences
WEIGHT_DECAY = 1.0  # AdamW's; with less the transformer copies the pair later or never on some seeds (issue 17)
EVERY = 20  # steps between measurements
TARGET = 0.99  # "reached": this share of the pair's sequences right at the output that copies it
MODELS = ("mlp", "transformer")
# How long to train: the tutorial's small run (one seed, a few seconds) and demo.py's full one (three seeds).
SMALL_RUN = {"steps": {"mlp": 700, "transformer": 120}, "seeds": 1}  # seed 42: the MLP fits by step 620, the
# transformer by 100, and copies the pair from step 80
SMALL_RUN_SEQUENCES = 8192  # the small run trains full batch on half the sequences, about 1 ms each: 7 s at 6,561
FULL_RUN = {"steps": 1500, "seeds": 3}


def study_config(cfg):
    """cfg at the study's length and letters, if it has the demo's defaults (too few sequences, above)."""
    seq_len, vocab = unseen_shape(cfg.seq_len, cfg.vocab)
    return cfg if (seq_len, vocab) == (cfg.seq_len, cfg.vocab) else replace(cfg, seq_len=seq_len, vocab=vocab, input="")


@dataclass
class UnseenSplit:
    train: torch.Tensor  # (N_train, L) sequences trained on: none has the letter at the position
    with_pair: torch.Tensor  # (N_pair, L) every sequence with the letter at the position: never trained on
    other_heldout: torch.Tensor  # (N_other, L) sequences without the pair that are not trained on either


def unseen_split(cfg, position, letter):
    """Hold out every sequence with `letter` (a character of cfg.vocab) at `position` (0-based); train on
    TRAIN_FRACTION of the rest, drawn with a generator seeded by cfg.seed. Each part in lexicographic order."""
    sequences = all_sequences(len(cfg.vocab), cfg.seq_len)  # (V^L, L)
    has_pair = sequences[:, position] == cfg.vocab.index(letter)
    rest = sequences[~has_pair]
    order = torch.randperm(len(rest), generator=torch.Generator().manual_seed(cfg.seed))
    n_train = round(TRAIN_FRACTION * len(rest))
    return UnseenSplit(rest[order[:n_train].sort().values], sequences[has_pair], rest[order[n_train:].sort().values])


def train_on_split(model, split, cfg, position, letter, steps):
    """Full-batch AdamW on the training sequences; every EVERY steps, the measurements. Returns {name: list}, one
    entry per measurement, and the seconds it took."""
    vocab = Vocab(cfg.vocab)
    x, output = cfg.vocab.index(letter), cfg.seq_len - 1 - position  # the output that copies input `position`
    parts = (split.train, split.with_pair, split.other_heldout)
    tokens = add_eos(torch.cat(parts), vocab.eos_id).to(cfg.device)  # (N, T): all three, measured in one pass
    targets = make_targets(torch.cat(parts), vocab.eos_id).to(cfg.device)
    n_train, n_pair = len(split.train), len(split.with_pair)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=WEIGHT_DECAY, fused=True)
    curves = {name: [] for name in ("step", "train_accuracy", "pair_accuracy", "pair_logit_difference",
                                    "other_accuracy", "other_logit_difference")}
    start = time.perf_counter()
    for step in range(1, steps + 1):
        loss = F.cross_entropy(model(tokens[:n_train]).flatten(0, 1), targets[:n_train].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % EVERY:
            continue
        with torch.no_grad():
            logits = model(tokens)  # (N, T, V)
        right = (logits.argmax(-1) == targets).all(1).float()  # (N,) the whole output exact
        at_output = margin(logits, targets)[:, output]  # (N,) the copying output's logit difference
        pair, other = slice(n_train, n_train + n_pair), slice(n_train + n_pair, None)
        curves["step"].append(step)
        curves["train_accuracy"].append(right[:n_train].mean().item())
        curves["pair_accuracy"].append((logits[pair, output].argmax(-1) == x).float().mean().item())
        curves["pair_logit_difference"].append(at_output[pair].mean().item())
        curves["other_accuracy"].append(right[other].mean().item())  # NaN where nothing else is held out
        curves["other_logit_difference"].append(at_output[other].mean().item())
    return curves, time.perf_counter() - start


def first_step(steps, values, threshold):
    """The first measured step at which values reach threshold, or None."""
    return next((step for step, value in zip(steps, values) if value >= threshold), None)


def twins(cfg, position, v, against):
    """Rows of all_sequences(...) with v at `position`, and for each letter w of `against` (not v) the rows of the
    same sequences with w there instead: ((N_v,), (len(against), N_v)). all_sequences is in lexicographic order,
    so swapping v for w at p moves a row by (w - v) * V^(L-1-p)."""
    sequences = all_sequences(len(cfg.vocab), cfg.seq_len)
    place = len(cfg.vocab) ** (cfg.seq_len - 1 - position)
    rows = (sequences[:, position] == v).nonzero()[:, 0]  # (N_v,)
    return rows, torch.stack([rows + (w - v) * place for w in against])


def seen_letters(cfg, letter, but=None):
    """The letter ids other than the unseen `letter` (and other than `but`)."""
    return [w for w in range(len(cfg.vocab)) if w not in (cfg.vocab.index(letter), but)]


@torch.no_grad()
def own_logit_gain(model, cfg, position, letter):
    """For each letter v: how much putting v at input `position` raises v's logit at the output that copies it,
    against the same sequences with a seen letter there, averaged over the sequences. (V-1,) float.

    Causal and continuous: a model that copies position p gives every letter a large gain; one that never learned
    to write v at that output gives v little or none."""
    n_letters, output = len(cfg.vocab), cfg.seq_len - 1 - position
    sequences = all_sequences(n_letters, cfg.seq_len)  # (N, L)
    logits = model(add_eos(sequences, n_letters).to(cfg.device))[:, output, :n_letters].cpu()  # (N, V-1)
    gains = []
    for v in range(n_letters):
        rows, others = twins(cfg, position, v, seen_letters(cfg, letter, but=v))
        gains.append((logits[rows, v] - logits[others, v].mean(0)).mean().item())
    return gains


@torch.no_grad()
def mlp_explanation(model, split, cfg, position, letter):
    """Why the MLP cannot copy the pair: its (p, x) class mean on the training sequences is undefined (no sequence
    has it); and how much of the change in hidden1 that x at p makes lies in the span of what training wrote at p
    (the seen letters' directions there), beside a seen letter's change, and beside rank / H, what a random
    direction would have there."""
    x = cfg.vocab.index(letter)
    n_letters = len(cfg.vocab)
    _, cache = run_with_cache(model, add_eos(split.train, n_letters).to(cfg.device), ["hidden1"])
    trained = cache["hidden1"].cpu()  # (N_train, H)
    directions = letter_directions(trained, split.train, n_letters)[position]  # (V, H); NaN for x
    written = directions[~directions.isnan().any(1)]  # the directions training wrote at p: the seen letters'
    basis = torch.linalg.svd(written, full_matrices=False)
    rank = int((basis.S > 1e-6 * basis.S[0]).sum())  # V-2: one position's directions add up to 0
    span_basis = basis.Vh[:rank]  # (rank, H) orthonormal rows
    sequences = all_sequences(n_letters, cfg.seq_len)
    _, cache = run_with_cache(model, add_eos(sequences, n_letters).to(cfg.device), ["hidden1"])
    hidden1 = cache["hidden1"].cpu().double()  # (N, H)
    inside = []
    for v in range(n_letters):
        rows, others = twins(cfg, position, v, seen_letters(cfg, letter, but=v))
        change = hidden1[rows] - hidden1[others].mean(0)  # (N_v, H) what v at p adds, against a seen letter there
        projected = change @ span_basis.T  # (N_v, rank): its coordinates in what training wrote at p
        inside.append((projected.pow(2).sum() / change.pow(2).sum().clamp_min(1e-12)).item())
    return {"pair_training_sequences": int((split.train[:, position] == x).sum()),
            "pair_class_mean_defined": bool(not class_mean(trained, split.train, position, x).isnan().any()),
            "written_rank": rank, "random_share": rank / hidden1.shape[1], "share_inside_written": inside,
            "own_logit_gain": own_logit_gain(model, cfg, position, letter)}


@torch.no_grad()
def transformer_explanation(model, split, cfg, position, letter):
    """Why the transformer can copy the pair: its OV circuit's entry for x on x against the row's largest other
    entry, and the attention that the copying output pays its mirror (input `position`) at the pair's sequences,
    beside the other sequences'."""
    x, output, n_letters = cfg.vocab.index(letter), cfg.seq_len - 1 - position, len(cfg.vocab)
    ov = ov_circuit(model)
    copy_margin = (np.array(ov["diagonal"][0]) - np.array(ov["largest_off_diagonal"][0])).tolist()  # (V-1,)
    sequences = all_sequences(n_letters, cfg.seq_len)
    _, cache = run_with_cache(model, add_eos(sequences, n_letters).to(cfg.device), [PATTERN])
    on_mirror = cache[PATTERN][:, 0, output, position].cpu()  # (N,) head 0: the copying output on input `position`
    has_pair = sequences[:, position] == x
    return {"copy_margin": copy_margin, "pair_mirror_attention": on_mirror[has_pair].mean().item(),
            "other_mirror_attention": on_mirror[~has_pair].mean().item(),
            "own_logit_gain": own_logit_gain(model, cfg, position, letter)}


EXPLANATIONS = {"mlp": mlp_explanation, "transformer": transformer_explanation}


def one_seed(cfg, kind, position, letter, steps):
    """Train one model of `kind` on the split for cfg.seed, at its own default learning rate; its curves, steps
    and explanation."""
    cfg = replace(cfg, model=kind, lr=None)  # lr None: the model's own default (core.limits.DEFAULT_LR)
    split = unseen_split(cfg, position, letter)
    model = make_model(cfg, Vocab(cfg.vocab))
    curves, seconds = train_on_split(model, split, cfg, position, letter, steps)
    return {"seed": cfg.seed, "lr": cfg.lr, "seconds": seconds, "curves": curves,
            "fit_step": first_step(curves["step"], curves["train_accuracy"], 1.0),
            "pair_step": first_step(curves["step"], curves["pair_accuracy"], TARGET),
            "pair_accuracy": curves["pair_accuracy"][-1], "pair_logit_difference": curves["pair_logit_difference"][-1],
            "other_accuracy": curves["other_accuracy"][-1], "train_accuracy": curves["train_accuracy"][-1],
            "explanation": EXPLANATIONS[kind](model.eval(), split, cfg, position, letter)}


class UnseenPair(Result):
    """What unseen_pair measured; finding() states each mechanism's prediction, then the test, over the seeds."""

    def finding(self):
        p, x, seeds, steps = self["position"], self["letter"], self["seeds"], self["steps"]
        output, n = self["seq_len"] - p, len(seeds)
        mlp, transformer = self["mlp"], self["transformer"]
        reached = {kind: [run["pair_accuracy"] >= TARGET for run in self[kind]] for kind in MODELS}
        accuracy = {kind: [run["pair_accuracy"] for run in self[kind]] for kind in MODELS}
        ld = {kind: [run["pair_logit_difference"] for run in self[kind]] for kind in MODELS}
        over = f"over {n} seeds" if n > 1 else f"seed {seeds[0]}"
        prediction = (f"Prediction: the MLP has no direction for {x!r} at input {p + 1}, so cannot copy it; the "
                      f"transformer's OV copies any letter.")
        test = (f"Test, {over}: at output {output}, MLP {span(accuracy['mlp'], '.0%')}, transformer "
                f"{span(accuracy['transformer'], '.0%')}")
        missed = n - sum(reached["transformer"])
        if missed:  # the prediction is not borne out here: say so, and how to look further, in 40 words
            where = f"on {missed} of {n} seeds" if n > 1 else "here"
            headline = (f"Prediction: the transformer copies {x!r} at input {p + 1}, the MLP cannot. {test}, "
                        f"below {TARGET:.0%} by step {steps['transformer']:,} {where}: train it longer "
                        f"(demo.py --unseen trains {FULL_RUN['steps']:,} steps).")
        else:
            headline = f"{prediction} {test}."
        numbers = {"mlp_pair_accuracy_max": max(accuracy["mlp"]),
                   "transformer_pair_accuracy_min": min(accuracy["transformer"]),
                   "transformer_seeds_reaching_target": sum(reached["transformer"]), "seeds": n}
        evidence = [f"  {prediction}"] * bool(missed) + [f"  The split: every sequence with {x!r} at input {p + 1} held out ({self['with_pair']}); "
                    f"{self['train']} of the other {self['train'] + self['other_heldout']} trained on, the rest "
                    f"held out too. No training target has {x!r} at output {output}.",
                    f"  Trained full-batch AdamW (weight decay {WEIGHT_DECAY:g}), {steps['mlp']:,} steps for the MLP "
                    f"and {steps['transformer']:,} for the transformer, each at its own learning rate "
                    f"({mlp[0]['lr']:g} MLP, {transformer[0]['lr']:g} transformer); "
                    f"seeds {', '.join(map(str, seeds))}."]
        for kind, name in (("mlp", "MLP"), ("transformer", "Transformer")):
            runs = self[kind]
            fits = [run["fit_step"] for run in runs]
            hits = [run["pair_step"] for run in runs]
            evidence.append(
                f"  {name}: fits training by step {steps_text(fits)}; at output {output} on the pair's sequences "
                f"{span(accuracy[kind], '.0%')} right at the end, logit difference {span(ld[kind], '+.1f')} (> 0 is "
                f"right); first reached {TARGET:.0%} at step {steps_text(hits)}; other held-out sequences "
                f"{span([run['other_accuracy'] for run in runs], '.0%')} exact.")
            if all(fit is not None and hit is not None for fit, hit in zip(fits, hits)):
                ratios = [hit / fit for fit, hit in zip(fits, hits)]
                evidence.append(f"    The pair reached {TARGET:.0%} {span(ratios, '.1f')} times as many steps as "
                                f"training took to fit.")
        gains = {kind: np.array([run["explanation"]["own_logit_gain"] for run in self[kind]]) for kind in MODELS}
        index = self["vocab"].index(x)
        seen = [v for v in range(len(self["vocab"])) if v != index]
        for kind, name in (("mlp", "MLP"), ("transformer", "transformer")):
            evidence.append(f"  Causal check, {name}: putting {x!r} at input {p + 1}, in place of a seen letter, "
                            f"moves {x!r}'s logit at output {output} by {span(gains[kind][:, index], '+.1f')}; a seen "
                            f"letter in place of another moves its own by "
                            f"{span(gains[kind][:, seen].ravel(), '+.1f')}.")
        explained = [e["explanation"] for e in mlp]
        evidence.append(f"  Why the MLP cannot: {explained[0]['pair_training_sequences']} training sequences have "
                        f"{x!r} at input {p + 1}, so its class mean there is undefined (NaN): training wrote no "
                        f"({p + 1}, {x!r}) direction. Of the change {x!r} at input {p + 1} makes in hidden1, "
                        f"{span([e['share_inside_written'][index] for e in explained], '.0%')} (of its squared size) "
                        f"lies in the span of the directions training wrote at input {p + 1}; of a seen letter's "
                        f"change, {span([e['share_inside_written'][v] for e in explained for v in seen], '.0%')}; of a "
                        f"random direction's, {explained[0]['random_share']:.0%}.")
        shares = [e["share_inside_written"][index] for e in explained]
        if min(shares) >= 0.5:  # the measurement, not the guess: the change is mostly a blend of seen ones
            evidence.append(f"    So hidden1 writes {x!r} at input {p + 1} mostly as a blend of the seen letters' "
                            f"directions there, not outside them; what is missing is a readout that turns it into "
                            f"{x!r} at output {output} (the causal check above).")
        elif max(shares) < 0.5:
            evidence.append(f"    So most of the change {x!r} makes lies outside what training wrote at input {p + 1}.")
        else:
            evidence.append(f"    Whether that change lies mostly inside or outside what training wrote at input "
                            f"{p + 1} varies with the seed.")
        explained = [e["explanation"] for e in transformer]
        margins = np.array([e["copy_margin"] for e in explained])  # (seeds, V-1)
        evidence.append(f"  Why the transformer can: its OV circuit raises {x!r}'s own logit above any other by "
                        f"{span(margins[:, index], '+.1f')} (the other letters: "
                        f"{span(margins[:, seen].ravel(), '+.1f')}), though it never copied {x!r} to output {output} "
                        f"in training; output {output} pays input {p + 1} "
                        f"{span([e['pair_mirror_attention'] for e in explained], '.2f')} of its attention at the "
                        f"pair's sequences, {span([e['other_mirror_attention'] for e in explained], '.2f')} at the "
                        f"others.")
        caveats = []
        if n > 1 and len({*reached["transformer"]}) > 1:
            caveats.append(f"  It varies with the seed: the transformer is at {TARGET:.0%} or more at the end on "
                           f"{sum(reached['transformer'])} of {n} seeds.")
        if any(reached["mlp"]):
            caveats.append("  The MLP copied the pair on some seed: the prediction failed there.")
        caveats.append(f"  One split, one pair ({x!r} at input {p + 1}), at length {self['seq_len']} over "
                       f"{self['vocab']!r}.")
        return Finding(headline, numbers, evidence, caveats)


def steps_text(steps):
    """The step each seed reached something, "never" where it did not: "620, 880 and never"."""
    words = [f"{step:,}" if step is not None else "never" for step in steps]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def unseen_pair(cfg, position, letter, steps=FULL_RUN["steps"], seeds=FULL_RUN["seeds"]):
    """Train both models on unseen_split(cfg, position, letter) for seeds cfg.seed, cfg.seed+1, ...; measure.
    steps: one count for both models, or {kind: count}.

    Returns an UnseenPair: {"position" (0-based), "letter", "seq_len", "vocab", "steps", "seeds", "train",
    "with_pair", "other_heldout" (counts at cfg.seed), "mlp", "transformer": one dict per seed, as one_seed gives,
    without the curves}; arrays {"curves": {kind: [per seed, {name: list}]}} for the figure."""
    steps = steps if isinstance(steps, dict) else {kind: steps for kind in MODELS}  # one count, or one per model
    runs = {kind: [one_seed(replace(cfg, seed=cfg.seed + k), kind, position, letter, steps[kind])
                   for k in range(seeds)] for kind in MODELS}
    split = unseen_split(cfg, position, letter)
    values = {"position": position, "letter": letter, "seq_len": cfg.seq_len, "vocab": cfg.vocab, "steps": steps,
              "seeds": [cfg.seed + k for k in range(seeds)], "train": len(split.train),
              "with_pair": len(split.with_pair), "other_heldout": len(split.other_heldout),
              **{kind: [{key: value for key, value in run.items() if key != "curves"} for run in runs[kind]]
                 for kind in MODELS}}
    return UnseenPair(values, {"curves": {kind: [run["curves"] for run in runs[kind]] for kind in MODELS}})


def plot_unseen(study, path):
    """Accuracy over training for both models, one column each: exact match on the training and the other held-out
    sequences, and the pair's output right; a thin line per seed. Below, the logit difference at that output."""
    p, x, output = study["position"], study["letter"], study["seq_len"] - study["position"]
    fig = Figure(figsize=(11, 6.5))
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.14, top=0.88, hspace=0.3, wspace=0.15)
    axes = fig.subplots(2, 2, sharex="col")
    lines = [("train_accuracy", "training sequences", "tab:blue"),
             ("other_accuracy", "other held-out sequences", "tab:green"),
             ("pair_accuracy", f"with {x!r} at input {p + 1} (top: output {output} right)", "tab:red")]
    for column, (kind, name) in enumerate((("mlp", "MLP"), ("transformer", "Transformer"))):
        for k, curves in enumerate(study["curves"][kind]):
            for key, text, color in lines:  # one legend entry per line, not per seed
                axes[0, column].plot(curves["step"], curves[key], color=color, linewidth=1.2, alpha=0.8,
                                     label=text if k == 0 else None)
            for key, color in (("pair_logit_difference", "tab:red"), ("other_logit_difference", "tab:green")):
                axes[1, column].plot(curves["step"], curves[key], color=color, linewidth=1.2, alpha=0.8)
        axes[0, column].axhline(TARGET, color="0.5", linestyle=":", linewidth=1)
        axes[0, column].set_ylim(-0.03, 1.03)
        axes[0, column].set_title(name)
        axes[1, column].axhline(0, color="black", linewidth=0.8)
        axes[1, column].set_xlabel("training step")
    axes[0, 0].set_ylabel("accuracy")
    axes[1, 0].set_ylabel(f"logit difference at output {output}\n(> 0 is right)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, frameon=False)
    seeds = study["seeds"]
    fig.suptitle(f"A letter never seen at a position: {x!r} at input {p + 1} never trained on "
                 f"(a line per seed, {seeds[0]} to {seeds[-1]})" if len(seeds) > 1 else
                 f"A letter never seen at a position: {x!r} at input {p + 1} never trained on (seed {seeds[0]})")
    save_figure(fig, path)
