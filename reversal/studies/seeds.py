"""One seed is an anecdote: train the same model with several seeds and report each headline number's spread.

    python demo.py --seeds 10    # seeds 42..51: the median, min and max of every headline number, and seeds.png

Each seed changes the starting weights, the held-out split and the batch order (see reversal/support/config.py).
Everything else stays as set. A headline number is one the lesson states as a finding, e.g. "patching position i's
letter directions restores 1.00 of the answer at the mirrored output"; over seeds it becomes "median 1.00, range
0.98-1.00".
"""

import statistics
from dataclasses import replace

import numpy as np
from matplotlib.figure import Figure
from tqdm import tqdm

from ..mlp.ablation import neuron_ablation
from ..attention.patterns import attention_patterns, circuit_verdict
from ..attention.circuits import ov_circuit
from ..core.common import mirror_split
from ..attention.head_interventions import head_ablation, pattern_replacement
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..mlp.mechanism import RANDOM_DRAWS, find_mechanism
from ..mlp.probes import probe_accuracy
from ..core.run import start_run
from ..core.train import sequence_accuracy, train
from ..core.progress import watching


class AcrossSeeds(Result):
    """What across_seeds measured: {"seeds": [...], "numbers": {name: {"median", "min", "max", "per_seed"}}}, and
    under "descriptions" {name: (what it is, the format of one value, e.g. "{:.2f}")} for the wording and the figure.
    finding() gives one line per headline number: its median and range, and the seeds that are not all perfect."""

    def finding(self):
        seeds, numbers, descriptions = self["seeds"], self["numbers"], self["descriptions"]
        heldout = numbers["heldout_accuracy"]["per_seed"]
        failed = [seed for seed, accuracy in zip(seeds, heldout) if accuracy < 1]
        headline = (f"Over {len(seeds)} seeds ({seeds[0]}..{seeds[-1]}): {len(seeds) - len(failed)} of {len(seeds)} "
                    f"reverse every held-out sequence")
        carried = {"seeds": len(seeds), "seeds_reversing_every_heldout": len(seeds) - len(failed),
                   "median_heldout_accuracy": numbers["heldout_accuracy"]["median"]}
        if "clean" in numbers:  # the transformer's: how many seeds come out with the clean circuit
            clean = int(sum(numbers["clean"]["per_seed"]))
            headline += f", {clean} of {len(seeds)} have the clean circuit"
            carried["clean_seeds"] = clean
        headline += "."
        lines = [f"  Over {len(seeds)} seeds ({seeds[0]}..{seeds[-1]}), each headline number as median (min to max), "
                 f"a yes-or-no one as a count:"]
        for name, spread in numbers.items():
            text, fmt = descriptions[name]
            if fmt == "{:.0f}" and set(spread["per_seed"]) <= {0, 1}:  # a yes-or-no number: count the yeses
                yes = [seed for seed, value in zip(seeds, spread["per_seed"]) if value == 1]
                lines.append(f"  {text}: {len(yes)} of {len(seeds)} seeds" + (f" ({', '.join(map(str, yes))})"
                                                                              if yes else ""))
                continue
            lines.append(f"  {text}: {fmt.format(spread['median'])} ({fmt.format(spread['min'])} to "
                         f"{fmt.format(spread['max'])})")
        if failed:
            lines.append(f"  Seeds that do not reverse every held-out sequence: {', '.join(map(str, failed))}; the "
                         f"mechanism's numbers on those seeds are in the per_seed lists of metrics.json.")
        return Finding(headline, carried, lines)


def across_seeds(cfg, n_seeds, progress=True):
    """Train one model per seed cfg.seed, cfg.seed+1, ... and collect its headline numbers, HEADLINE_NUMBERS for
    the run's kind (each takes a core.run.Run and returns {name: number}).

    Returns an AcrossSeeds: {"seeds": [...], "numbers": {name: {"median", "min", "max", "per_seed"}}}, where
    per_seed follows the order of "seeds".
    """
    seeds = [cfg.seed + k for k in range(n_seeds)]
    per_seed = []
    for seed in tqdm(seeds, desc="seeds", unit="seed", disable=not (progress and watching())):
        run = start_run(replace(cfg, seed=seed, input=""))  # with its untrained twin, copied before training
        train(run.model, run.data, run.cfg, progress=False)
        per_seed.append(HEADLINE_NUMBERS[run.kind](run))
    numbers = {}
    for name in per_seed[0]:
        values = [numbers_of_seed[name] for numbers_of_seed in per_seed]
        if None in values:  # measured on held-out sequences, and a setting that holds none out has no value
            continue
        numbers[name] = {"median": statistics.median(values), "min": min(values), "max": max(values),
                         "per_seed": values}
    return AcrossSeeds({"seeds": seeds, "numbers": numbers}, {"descriptions": HEADLINES[run.kind]})


def plot_seeds(across, path):
    """One row per headline number: a dot per seed, and the median as a bar. across: an AcrossSeeds."""
    numbers, descriptions = across["numbers"], across["descriptions"]
    names = list(numbers)
    height = 1.3 + 0.38 * len(names)  # inches: a row per number, plus room for the title and the x label
    fig = Figure(figsize=(9, height))
    fig.subplots_adjust(left=0.47, right=0.97, bottom=0.65 / height, top=1 - 0.55 / height)
    ax = fig.subplots()
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(across["seeds"]))  # fixed, so the figure is reproducible
    for row, name in enumerate(names):
        values = np.asarray(numbers[name]["per_seed"], dtype=float)
        ax.scatter(values, row + jitter, s=14, color="tab:blue", alpha=0.7, zorder=3)
        ax.plot([numbers[name]["median"]] * 2, [row - 0.3, row + 0.3], color="black", linewidth=2, zorder=4)
    ax.set_yticks(range(len(names)), [descriptions[name][0] for name in names], fontsize=8)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel("value (each dot a seed; black bar: the median)")
    ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Headline numbers over {len(across['seeds'])} seeds ({across['seeds'][0]} to "
                 f"{across['seeds'][-1]}): one seed is an anecdote")
    save_figure(fig, path)


# The numbers the lesson states as findings, each as (what it is, how to print one value). Most are shares or
# accuracies between 0 and 1, so they share one axis in seeds.png.
MLP_HEADLINES = {
    "heldout_accuracy": ("held-out sequences reversed", "{:.0%}"),
    "pca_hidden1": ("hidden1 variance in the top L x (V-1) components", "{:.3f}"),
    "pca_hidden2": ("hidden2 variance in the top L x (V-1) components", "{:.3f}"),
    "patch_mirror_hidden1": ("hidden1 subspace patching, at the mirror (lowest)", "{:.2f}"),
    "patch_elsewhere_hidden1": ("hidden1 subspace patching, elsewhere (largest |share|)", "{:.2f}"),
    "random_patch_mirror_hidden1": (f"hidden1 random control, mirror (mean of {RANDOM_DRAWS} draws, largest)",
                                    "{:.2f}"),
    "random_patch_mirror_p95_hidden1": ("hidden1 random control, mirror (95th percentile, largest)", "{:.2f}"),
    "patch_mirror_hidden2": ("hidden2 subspace patching, at the mirror (lowest)", "{:.2f}"),
    "ablated_mirror_hidden1": ("hidden1 subspace removed: mirrored output's accuracy (highest)", "{:.0%}"),
    "ablated_others_hidden1": ("hidden1 subspace removed: accuracy the other outputs lose (largest)", "{:.0%}"),
    "additive_r2_heldout": ("additive surrogate R^2 on the held-out sequences", "{:.3f}"),
    "worst_neuron_margin_lost": ("worst single neuron (resample): share of one output's margin lost", "{:.0%}"),
    "random_label_probe": ("shuffled-label probes (a leakage check), mean accuracy", "{:.0%}"),
}


def mlp_headline_numbers(run):
    """The MLP_HEADLINES for one trained MLP: the mechanism, the worst single neuron, the probe control."""
    model, data, cfg = run.model, run.data, run.cfg
    mechanism = find_mechanism(run)
    k = min(mechanism["needed_directions"], cfg.hidden)
    patch = {name: mirror_split(mechanism["subspace_patching"][name]) for name in ("hidden1", "hidden2")}
    ablated_mirror, _ = mirror_split(mechanism["subspace_ablation"]["hidden1"])
    # the other outputs' accuracy after a removal, against their own unablated accuracy (a failing seed starts < 100%)
    change = np.array(mechanism["subspace_ablation"]["hidden1"]) - np.array(mechanism["baseline_accuracy"])[None, :]
    _, others_change = mirror_split(change)
    ablation = neuron_ablation(run)
    probes = probe_accuracy(run)
    random_labels = [a for layer in probes["trained"]["random_labels"].values() for a in layer]
    return {
        "heldout_accuracy": sequence_accuracy(model, data.heldout_sequences, data.vocab.eos_id),
        "pca_hidden1": mechanism["pca_variance_explained"]["hidden1"][k - 1],
        "pca_hidden2": mechanism["pca_variance_explained"]["hidden2"][k - 1],
        "patch_mirror_hidden1": float(patch["hidden1"][0].min()),
        "patch_elsewhere_hidden1": float(np.abs(patch["hidden1"][1]).max()),
        "random_patch_mirror_hidden1": float(mirror_split(mechanism["random_subspace_patching"]["hidden1"])[0].max()),
        "random_patch_mirror_p95_hidden1": float(
            mirror_split(mechanism["random_subspace_patching_p95"]["hidden1"])[0].max()),
        "patch_mirror_hidden2": float(patch["hidden2"][0].min()),
        "ablated_mirror_hidden1": float(ablated_mirror.max()),
        "ablated_others_hidden1": float(max(0.0, -others_change.min())),
        "additive_r2_heldout": mechanism["additive_r2_heldout"],  # None where no sequence is held out
        "worst_neuron_margin_lost": ablation["verdict"]["worst"]["margin_lost"],
        "random_label_probe": float(np.mean(random_labels)),
    }


TRANSFORMER_HEADLINES = {
    "heldout_accuracy": ("held-out sequences reversed", "{:.0%}"),
    "lowest_mirror_attention": ("lowest mean attention on the mirror, over letter outputs", "{:.3f}"),
    "eos_self_attention": ("<eos>'s mean attention on itself", "{:.3f}"),
    "clean": ("clean circuit (1 = every letter output >= 0.9 on its mirror)", "{:.0f}"),
    "mirror_wins": ("mirror circuit (1 = the mirror tops every letter row of every sequence)", "{:.0f}"),
    "lowest_mirror_lead": ("lowest lead of the mirror's attention score over the next key", "{:.2f}"),
    "antidiagonal_replacement": ("sequences right with the exact anti-diagonal forced", "{:.0%}"),
    "head_zeroed": ("sequences right with the head zeroed", "{:.0%}"),
}


def transformer_headline_numbers(run):
    """The TRANSFORMER_HEADLINES for one trained transformer: how clean its attention circuit is."""
    model, data, cfg, sequences = run.model, run.data, run.cfg, run.sequences
    patterns = attention_patterns(model, sequences, data.vocab)
    replacement = pattern_replacement(model, sequences, data.vocab, cfg.seed)
    verdict = circuit_verdict(patterns, ov_circuit(model), replacement)
    pattern = np.asarray(patterns["mean_pattern"])[0]  # (T, T), head 0
    ablation = head_ablation(model, sequences, data.vocab, data.train_sequences, cfg.seed)
    return {
        "heldout_accuracy": sequence_accuracy(model, data.heldout_sequences, data.vocab.eos_id),
        "lowest_mirror_attention": float(np.min(patterns["antidiagonal_mass"][0])),
        "eos_self_attention": float(pattern[-1, -1]),
        "clean": float(verdict["clean"]),
        "mirror_wins": float(verdict["mirror_wins_every_row"]),
        "lowest_mirror_lead": float(min(verdict["mirror_lead"])),
        "antidiagonal_replacement": replacement["antidiagonal"]["sequence_accuracy"],
        "head_zeroed": ablation["heads"][0]["zero"]["sequence_accuracy"],
    }


HEADLINES = {"mlp": MLP_HEADLINES, "transformer": TRANSFORMER_HEADLINES}
HEADLINE_NUMBERS = {"mlp": mlp_headline_numbers, "transformer": transformer_headline_numbers}
