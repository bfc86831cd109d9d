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

import numpy as np
import torch

from .additive import fit_additive, r_squared
from ..core.common import MAX_ANALYSIS_SEQUENCES, layer_features, sample_rows
from ..core.data import add_eos, make_targets
from .dimensionality import numerical_rank, variance_explained
from ..core.model import run_with_cache
from .mechanism_checks import PASS_ELSEWHERE, PASS_KEPT, PASS_RESTORED, PASS_VARIANCE
from .mechanism_wording import Mechanism, in_short
from .subspaces import (LAYERS, Corruption, accuracy_and_margin, direct_logit_attribution, intervene,
                        largest_principal_cosine, letter_subspaces, output_margin, position_bases, random_control,
                        random_subspaces, share_restored, shifted, spread_over_neurons)

# the statement lives apart: its thresholds and checks in mechanism_checks.py, its words (Mechanism, in_short) in
# mechanism_wording.py; their names are importable from here too
__all__ = ["PASS_RESTORED", "PASS_ELSEWHERE", "PASS_VARIANCE", "PASS_KEPT", "RANDOM_DRAWS", "GEOMETRY_DRAWS",
           "find_mechanism", "Mechanism", "in_short"]

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
