"""The transformer's own experiments (reversal/attention/): with the default seed the pattern
is the anti-diagonal, the weights say so too, the exact anti-diagonal can stand in for the learned pattern and a
uniform one cannot, the head is necessary, and a pattern that is not clean is reported as such."""

import pytest
import torch

from conftest import assert_finding, assert_png, assert_readable, drawn_figure, panels, shared_model
from reversal.attention import circuits as circuits_module
from reversal.attention.circuits import mirror_keys, plot_circuits
from reversal.attention.head_interventions import plot_interventions
from reversal.attention.patterns import (PATTERN, attention_experiments, circuit_verdict, plot_circuit_comparison,
                                         plot_patterns)
from reversal.core.data import add_eos
from reversal.core.model import run_with_cache
from reversal.core.run import Run


@pytest.fixture(scope="module")
def transformer(trained_transformer):
    """The default transformer of `demo.py --model transformer` (conftest trains it once for the session)."""
    return trained_transformer


@pytest.fixture(scope="module")
def results(transformer_run):
    return attention_experiments(transformer_run)


def test_default_seed_attends_to_the_mirror(results):
    mass = results["patterns"]["antidiagonal_mass"][0]
    assert min(mass) >= 0.9, \
        f"with seed 42 every letter output should put at least 0.9 of its attention on its mirrored input, got " \
        f"{[round(m, 3) for m in mass]}: did the initialisation or learning rate change? (a pattern that is not " \
        f"clean is possible on other seeds; the issue calls it 'same accuracy, different circuits')"


def test_positional_qk_argmax_is_the_mirror(results):
    seq_len = len(results["patterns"]["antidiagonal_mass"][0])
    is_mirror = results["qk"]["positional_argmax_is_mirror"][0][:seq_len]
    assert all(is_mirror), \
        f"W_pos W_Q W_K^T W_pos^T should score the mirrored key highest in every letter row, got " \
        f"{results['qk']['positional_argmax'][0]} (mirror: {mirror_keys(seq_len)}): is the product transposed?"


def test_qk_terms_add_up_to_the_attention_scores(transformer, results):
    # the residual is W_E[t] + W_pos[p], so the score is exactly the sum of the four bilinear terms
    sequence = torch.tensor([[0, 2, 1]])
    tokens = add_eos(sequence, transformer.data.vocab.eos_id)[0]  # (T,)
    _, cache = run_with_cache(transformer.model, tokens[None], ["blocks.0.attn.hook_attn_scores"])
    measured = cache["blocks.0.attn.hook_attn_scores"][0, 0]  # (T, T)
    qk, terms = results["qk"], results["qk"]["token_terms"]
    positional = torch.tensor(qk["positional"][0])
    query_token = torch.tensor(terms["query_token_key_position"][0])[tokens]  # (T query, T key)
    key_token = torch.tensor(terms["query_position_key_token"][0])[:, tokens]  # (T, T)
    both = torch.tensor(terms["token_token"][0])[tokens][:, tokens]  # (T, T)
    summed = positional + query_token + key_token + both
    assert torch.allclose(summed, measured, atol=1e-4), \
        f"the positional and token-dependent QK terms should add up to hook_attn_scores; largest gap " \
        f"{(summed - measured).abs().max():.2e}: is the 1/sqrt(d_head) scale missing from one term?"


def test_a_negative_ov_diagonal_entry_is_not_called_a_ratio(results):
    # on some transformer seed OV's smallest diagonal entry is negative: "-5 times smaller" would be nonsense
    ov = results["ov"]
    values, arrays = dict(ov.values), dict(ov.arrays)
    holder = values if "diagonal" in values else arrays
    holder["diagonal"] = [[-1.0] + list(ov["diagonal"][0][1:])]
    text = str(type(ov)(values, arrays).finding())
    assert "times smaller" not in text and "-1.0" in text, text


def test_ov_copies_every_letter(results, transformer):
    n_letters = len(transformer.data.vocab.letters)
    assert results["ov"]["diagonal_argmax_rows"][0] == n_letters, \
        f"W_E W_V W_O W_U should have its largest entry on the diagonal in all {n_letters} letter rows, got " \
        f"{results['ov']['diagonal_argmax_rows'][0]}: rows = attended token, columns = logit; are they swapped?"


def test_exact_antidiagonal_pattern_keeps_every_sequence(results):
    accuracy = results["interventions"]["replacement"]["antidiagonal"]["sequence_accuracy"]
    assert accuracy == 1.0, \
        f"replacing the pattern with the exact anti-diagonal should keep 100% with seed 42, got {accuracy:.0%}: " \
        f"does the replacement put <eos> on itself?"


def test_uniform_pattern_breaks_the_reversal(results):
    accuracy = results["interventions"]["replacement"]["uniform"]["sequence_accuracy"]
    assert accuracy <= 0.5, \
        f"a uniform pattern gives every output the same mix of letters, so it cannot reverse; yet {accuracy:.0%} " \
        f"of sequences stay right: did the hook on {PATTERN} return its replacement?"


def test_zeroing_the_head_leaves_the_outer_outputs_at_chance(results):
    zero = results["interventions"]["ablation"]["heads"][0]["zero"]["accuracy"]  # per letter output
    seq_len, chance = len(zero), 1 / 3
    # without the head only the direct path is left: each position can say its own letter, which is right only for
    # the middle output (its own mirror); every other output has lost its route to its input
    outer = [zero[j] for j in range(seq_len) if j != seq_len - 1 - j]
    assert max(outer) <= chance + 0.15, \
        f"with the head zeroed, outputs that copy another position should be near chance ({chance:.0%}); got " \
        f"{outer}: did the ablation hook zero the head's output?"


def test_patching_other_keys_values_changes_nothing(results):
    # in one layer the value at key k depends only on the token at k, and only the mirrored input was corrupted
    value = torch.tensor(results["interventions"]["patching"]["denoising"]["value"][0])  # (L, T)
    seq_len = value.shape[0]
    others = value.clone()
    others[torch.arange(seq_len), torch.tensor(mirror_keys(seq_len)[:seq_len])] = 0
    assert others.abs().max() < 1e-6, \
        f"patching the value at a key whose token did not change should restore nothing, got shares up to " \
        f"{others.abs().max():.2e}: does the patch hit the right key position?"


def test_a_messy_pattern_is_called_not_clean():
    # a hand-made model in the shape of seed 0's: <eos> reads input 3, output 1 splits between input 3 and <eos>
    pattern = [[0.01, 0.01, 0.50, 0.48], [0.0, 0.95, 0.0, 0.05], [0.95, 0.0, 0.0, 0.05], [0.1, 0.05, 0.85, 0.0]]
    patterns = {"antidiagonal_mass": [[0.50, 0.95, 0.95]], "mean_pattern": [pattern],
                "lowest_mirror_lead": [[-0.4, 3.0, 3.0]], "n_sequences": 27}  # output 1: <eos> outscores it once
    ov = {"value_eos_push": [[9.7, 8.6, 24.1, -45.8]]}
    replacement = {"antidiagonal": {"sequence_accuracy": 0.0}, "baseline": {"sequence_accuracy": 1.0}}
    verdict = circuit_verdict(patterns, ov, replacement)
    text = str(verdict.finding())
    assert not verdict["clean"] and "NOT clean" in text, f"output 1 puts 0.50 on its mirror, below 0.9:\n{text}"
    assert "0.85 of its attention on input 3" in text, f"the text should say where <eos> looks instead:\n{text}"
    assert verdict.kind() == {"circuit": "other", "eos_on_itself": False, "antidiagonal_accuracy": 0.0}


# ---- the verdict reads a continuous measure, not the 0.9 cut-off alone (issue 13, point 5) ----

def soft_mirror(forced=1.0, accuracy=1.0):
    """A hand-made verdict: every letter row below 0.9 on its mirror, but the mirror tops every row."""
    pattern = [[0.05, 0.05, 0.80, 0.10], [0.05, 0.85, 0.05, 0.05], [0.82, 0.06, 0.06, 0.06], [0.1, 0.1, 0.1, 0.7]]
    patterns = {"antidiagonal_mass": [[0.80, 0.85, 0.82]], "mean_pattern": [pattern],
                "lowest_mirror_lead": [[1.83, 2.5, 2.1]], "n_sequences": 27}
    replacement = {"antidiagonal": {"sequence_accuracy": forced}, "baseline": {"sequence_accuracy": accuracy}}
    return circuit_verdict(patterns, {"value_eos_push": [[1.0, 1.0, 1.0, 5.0]]}, replacement)


def test_a_softer_mirror_circuit_is_called_the_mirror_circuit_not_a_different_pattern():
    verdict = soft_mirror()
    text = str(verdict.finding())
    assert verdict.kind()["circuit"] == "mirror", verdict.kind()
    assert "mirror circuit, softer" in text and "lead at least 1.83" in text, text
    for old in ["NOT clean by our test:", "a different pattern", "What it does instead"]:
        assert old not in text, f"the mirror wins every row, yet the text says {old!r}:\n{text}"


def test_the_forced_anti_diagonal_is_said_against_the_models_own_accuracy():
    none_right = str(soft_mirror(forced=0.0, accuracy=0.0).finding())
    assert "no circuit to name" in none_right and "blurred" not in none_right and "same" not in none_right, \
        none_right
    fewer = str(soft_mirror(forced=0.5, accuracy=1.0).finding())
    assert "fewer than the 100% of its own pattern" in fewer, fewer
    same = str(soft_mirror(forced=1.0, accuracy=1.0).finding())
    assert "the same as its own pattern" in same and "blurred copy" in same, same


@pytest.mark.slow
def test_at_length_6_the_transformer_is_the_mirror_circuit():
    """Where the audit found 'a different pattern' printed: the mirror tops every letter row of all 729 sequences."""
    trained = shared_model(model="transformer", seq_len=6)
    run = Run(trained.model, trained.model, trained.data, trained.cfg)
    verdict = attention_experiments(run)["verdict"]
    text = str(verdict.finding())
    assert verdict["mirror_wins_every_row"] and min(verdict["mirror_lead"]) > 0.5, verdict["mirror_lead"]
    assert verdict.kind()["circuit"] in ("clean", "mirror") and "NOT clean by our test:" not in text, text


def test_metrics_keep_exactly_the_attention_entry(results):
    kept = results.to_json()
    assert set(kept) == {"mean_pattern", "antidiagonal_mass", "lowest_antidiagonal_mass", "eos_row",
                         "qk_positional_argmax_is_mirror", "qk_positional_margin", "qk_token_range", "qk_worst_margin",
                         "ov_diagonal_argmax_rows", "ov_value_eos_push", "antidiagonal_replacement_accuracy",
                         "pattern_replacement", "head_ablation", "unablated", "patching", "circuit",
                         "lowest_mirror_lead", "mirror_wins", "circuit_kind"}, \
        f"metrics.json's attention entry changed its keys: {sorted(kept)}"
    assert kept["circuit"]["clean"] is True and kept["ov_diagonal_argmax_rows"] == [3], \
        "the verdict and the OV count should be written as numbers and lists"


@pytest.mark.parametrize("part", ["bundle", "patterns", "qk", "ov", "interventions", "verdict"])
def test_each_attention_finding_is_layered(results, part):
    assert_finding(results if part == "bundle" else results[part])


def test_the_bundle_tells_every_part_in_order(results):
    text = str(results.finding())
    starts = [text.find(words) for words in ("Attention, head 1", "QK circuit from the weights",
                                             "OV circuit from the weights", "Interventions on head 1",
                                             "Circuit: clean by our test")]
    assert -1 not in starts and starts == sorted(starts), \
        f"the transformer's printout should tell pattern, QK, OV, interventions and verdict, in that order:\n{text}"


@pytest.mark.slow  # renders a figure: about 0.5 s
@pytest.mark.parametrize("figure", ["patterns", "circuits", "interventions", "comparison"])
def test_figures_draw(results, transformer, tmp_path, figure):
    path = tmp_path / f"{figure}.png"
    if figure == "patterns":
        plot_patterns(results["patterns"], path)
    elif figure == "circuits":
        plot_circuits(results["qk"], results["ov"], transformer.data.vocab, path)
    elif figure == "interventions":
        plot_interventions(results["interventions"], path)
    else:
        entry = ("seed 42", results["patterns"], results["verdict"])
        plot_circuit_comparison([entry, entry], path)
    assert_png(path)


@pytest.mark.slow  # builds full-size figures: about 1 s
def test_the_default_circuits_figure_draws_the_panels_the_lesson_reads(results, transformer, monkeypatch):
    args = (results["qk"], results["ov"], transformer.data.vocab)
    simple = drawn_figure(monkeypatch, circuits_module, plot_circuits, *args)
    full = drawn_figure(monkeypatch, circuits_module, plot_circuits, *args, detail=True)
    titles = [ax.get_title() for ax in panels(simple)]
    assert len(titles) == 3 and len(panels(full)) == 4, \
        f"default: QK positional, OV, direct path (the lesson compares OV with the direct path); detail adds OV's " \
        f"positional part. Got {titles}"
    assert not any("W_" in title for title in titles), f"the default titles are words, not matrix products: {titles}"


@pytest.mark.slow  # lays the figure out: about 0.5 s
def test_the_default_circuits_figure_reads_when_projected(results, transformer, monkeypatch):
    assert_readable(drawn_figure(monkeypatch, circuits_module, plot_circuits, results["qk"], results["ov"],
                                 transformer.data.vocab))
