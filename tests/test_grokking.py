"""The grokking study: its log's shapes, its progress measures against functions whose answer is known, and its
verdict on curves drawn by hand. Everything here trains a few steps at most (about 2 s in all)."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from conftest import assert_finding, assert_png
from reversal.core.data import all_sequences
from reversal.studies import grokking
from reversal.studies.grokking import (additive_parts, grokking_study, measure, off_mirror_share, plot_grokking,
                                       train_logged, verdict)
from reversal.support.config import Config

N_LETTERS, SEQ_LEN, EOS = 4, 5, 4
SEQUENCES = all_sequences(N_LETTERS, SEQ_LEN)  # (1024, 5)


def copying(sequences, source, scale=4.0):
    """Logits (N, L+1, V) of a function whose letter output j names the letter at source(j), and <eos> names <eos>:
    exactly additive, one (position, letter) term per output."""
    logits = torch.zeros(len(sequences), SEQ_LEN + 1, N_LETTERS + 1, dtype=torch.float64)
    for j in range(SEQ_LEN):
        logits[torch.arange(len(sequences)), j, sequences[:, source(j)]] = scale
    logits[:, SEQ_LEN, EOS] = scale
    return logits


def mirror(j):
    return SEQ_LEN - 1 - j


def same_place(j):
    return j


class Lookup(nn.Module):
    """A stand-in model that computes `copying` from its input tokens: known logits, through measure()'s own path."""

    def __init__(self, source):
        super().__init__()
        self.source = source
        self.unused = nn.Parameter(torch.zeros(1))  # measure() reads the device and the weight norm from it

    def forward(self, tokens):
        return copying(tokens[:, :SEQ_LEN], self.source).float()


@pytest.mark.parametrize("model", ["mlp", "transformer"])
def test_a_tiny_run_logs_every_measure_at_every_probe(model):
    log = train_logged(Config(model=model), 0.05, steps=20, log_every=10)
    assert log["steps"] == [0, 10, 20], f"probes at step 0 and every 10 steps to the end, got {log['steps']}"
    assert log["n_train"] == 51, f"5% of the 1,024 sequences is 51, got {log['n_train']}"
    expected = {"train_accuracy", "heldout_accuracy", "train_loss", "heldout_loss", "weight_norm", "off_mirror_share",
                "surrogate_heldout_accuracy", "restricted_loss", "excluded_loss"}
    if model == "transformer":
        expected.add("mirrored_attention")
    measured = {name for name, values in log.items() if isinstance(values, list)} - {"steps"}
    assert measured == expected, f"{model}: logged {sorted(measured)}, expected {sorted(expected)}"
    for name in expected:
        assert len(log[name]) == 3 and all(math.isfinite(v) for v in log[name]), f"{name}: {log[name]}"


def test_off_mirror_share_is_zero_for_a_mirrored_additive_function():
    _, terms = additive_parts(SEQUENCES, copying(SEQUENCES, mirror), N_LETTERS)
    share = off_mirror_share(terms)
    assert abs(share) < 1e-9, f"a function that only copies mirrors has no off-mirror variance, got {share}"


def test_off_mirror_share_is_large_for_a_function_that_copies_in_place():
    # output j copies input j: only the middle output (j = 2, its own mirror) reads its mirror, so 4 of 5 outputs'
    # variance, all equal, is off the mirror
    _, terms = additive_parts(SEQUENCES, copying(SEQUENCES, same_place), N_LETTERS)
    share = off_mirror_share(terms)
    assert share == pytest.approx(0.8), f"4 of the 5 letter outputs read a non-mirrored position, got {share}"


def test_measures_of_a_model_that_only_copies_mirrors():
    train, heldout = grokking.split(0.05, seed=0)  # 51 sequences, every letter at every position
    row = measure(Lookup(mirror), train, heldout, EOS, transformer=False)
    assert row["surrogate_heldout_accuracy"] == 1.0 == row["heldout_accuracy"], row
    assert abs(row["off_mirror_share"]) < 1e-9, row
    assert row["restricted_loss"] == pytest.approx(row["train_loss"], abs=1e-6), \
        f"the mirrored terms are the whole function, so keeping only them keeps its loss: {row}"
    assert row["excluded_loss"] >= math.log(N_LETTERS), \
        f"with its mirrored terms taken away nothing is left to name a letter: no better than chance, {row}"


class Memorizer(nn.Module):
    """Right on its training sequences, noise on every other one: a lookup table, not a rule."""

    def __init__(self, train):
        super().__init__()
        self.train_rows = {tuple(row.tolist()) for row in train}
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, tokens):
        letters = tokens[:, :SEQ_LEN]
        noise = copying(letters[torch.randperm(len(letters), generator=torch.Generator().manual_seed(0))], mirror)
        known = torch.tensor([tuple(row.tolist()) in self.train_rows for row in letters])
        return torch.where(known[:, None, None], copying(letters, mirror), noise).float()


def test_the_surrogates_heldout_accuracy_exposes_a_memorizer():
    # On its training sequences a memorizer looks exactly like the mirror copy, so the surrogate fitted there is the
    # mirror copy too; only on the held-out sequences do the two part
    train, heldout = grokking.split(0.05, seed=0)
    row = measure(Memorizer(train), train, heldout, EOS, transformer=False)
    assert row["train_accuracy"] == 1.0 and row["heldout_accuracy"] < 0.5, row
    assert row["surrogate_heldout_accuracy"] == 1.0, \
        f"the surrogate of the training sequences alone reverses every held-out one: {row}"


STEPS = np.arange(0, 10_001, 100)
TRAIN = np.minimum(1.0, 0.25 + STEPS / 200)  # fits by step 200


def test_verdict_says_grokking_on_a_plateau_then_a_jump():
    held = np.where(STEPS < 5000, 0.3, np.minimum(1.0, 0.3 + (STEPS - 5000) / 400 * 0.7))
    found = verdict(STEPS, TRAIN, held)
    assert found["verdict"] == "grokking", f"held-out flat at 0.3 until step 5,000, then 1.0 by 5,400: {found}"
    assert found["lag"] >= grokking.LAG_FACTOR


def test_verdict_says_rose_with_training_when_heldout_follows_training():
    found = verdict(STEPS, TRAIN, np.minimum(1.0, 0.25 + STEPS / 240))
    assert found["verdict"] == "rose_with_training", f"held-out reaches 99% right after training: {found}"


def test_verdict_says_crept_on_a_slow_steady_rise():
    held = np.minimum(0.7, 0.3 + np.maximum(0, STEPS - 200) / 9800 * 0.4)
    assert verdict(STEPS, TRAIN, held)["verdict"] == "crept", "0.3 to 0.7 at an even pace, never reaching 99%"


def test_verdict_says_crept_when_heldout_gets_there_late_but_gradually():
    held = 0.3 + np.maximum(0, STEPS - 200) / 9800 * 0.7  # 1.0 only at the end, at an even pace: no jump
    found = verdict(STEPS, TRAIN, held)
    assert found["verdict"] == "crept", f"late is not enough for grokking, it must jump: {found}"


def test_verdict_when_training_never_fits():
    assert verdict(STEPS, np.full(len(STEPS), 0.9), np.full(len(STEPS), 0.5))["verdict"] == "no_fit"


def test_a_tiny_study_has_a_finding_and_a_figure(tmp_path):
    result = grokking_study(Config(), n_seeds=1, fractions=(0.05,), steps={"mlp": 20, "transformer": 20},
                            log_every={"mlp": 10, "transformer": 10}, progress=False, workers=2)  # forked, as demo.py runs it
    assert set(result["runs"]) == {"mlp", "transformer"} and len(result["runs"]["mlp"]["0.05"]) == 1
    assert_finding(result)
    plot_grokking(result, tmp_path / "grokking.png")
    assert_png(tmp_path / "grokking.png")
