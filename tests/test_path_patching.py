"""Path patching in the head (reversal.attention.path_patching): the splits are exact, and the words say the numbers."""

import math

import numpy as np
import pytest
import torch

from conftest import assert_finding, assert_readable, drawn_figure, shared_model
from reversal.attention import path_patching as module
from reversal.attention.head_interventions import DIRECTIONS, attention_patching, corrupted_pairs
from reversal.attention.path_patching import KEY, MLP_SENTENCE, QUERY, path_patching, plot_path_patching
from reversal.core.data import add_eos
from reversal.core.model import run_with_cache
from reversal.core.run import Run


def measured(run):
    patching = attention_patching(run.model, run.sequences, run.vocab)
    return patching, path_patching(run.model, run.sequences, run.vocab, patching)


@pytest.fixture(scope="module")
def default(transformer_run):
    return measured(transformer_run)


def assert_sums(patching, paths):
    """The per-key terms add up to the head's share, and query + key + interaction to the pattern's, each checked
    against attention_patching's shares: patched through hooks, not added up from the same cache."""
    terms = np.array(paths["per_key"]).sum(-1)  # (H, L)
    for direction in DIRECTIONS:
        assert np.allclose(terms, patching[direction]["head"], atol=1e-6, rtol=0), \
            f"the per-key terms A[j,k] v[k] should sum to the head's share ({direction}): {terms} against " \
            f"{patching[direction]['head']}; is a key left out, or W_O / the unembedding read the wrong way round?"
        split = {name: np.array(share) for name, share in paths[direction].items()}
        total = split["query"] + split["key"] + split["interaction"]
        assert np.allclose(total, patching[direction]["pattern"], atol=1e-6, rtol=0), \
            f"query + key + interaction should be the pattern's share ({direction}): {total} against " \
            f"{patching[direction]['pattern']}"


def test_per_key_terms_sum_to_the_heads_share(default):
    patching, paths = default
    assert_sums(patching, paths)
    assert np.allclose(np.array(paths["per_key"]).sum(-1), paths["head"], atol=1e-7, rtol=0), \
        "the per-key terms should add up to the head's own output (hook_result, float32) to its rounding"


def test_query_path_is_the_pattern_with_only_the_queries_clean(transformer_run, default):
    """The query path by hand, at the middle output (the only one whose query changes): softmax of clean queries
    against corrupted keys, the corrupted values, W_O and the unembedding; and 0 at every other output."""
    _, paths = default
    model, sequences, vocab = transformer_run.model, transformer_run.sequences, transformer_run.vocab
    j = sequences.shape[1] // 2
    query = np.array(paths["denoising"]["query"][0])
    assert np.allclose(np.delete(query, j), 0, atol=1e-6), \
        f"only the middle output's query reads the corrupted position, so the query path is 0 elsewhere: {query}"
    rows, good, bad = corrupted_pairs(sequences, j, len(vocab.letters))
    caches, lds = {}, {}
    for name, letters in rows.items():
        logits, caches[name] = run_with_cache(model, add_eos(letters, vocab.eos_id), [QUERY, KEY, module.VALUE])
        lds[name] = logits[torch.arange(len(good)), j, good] - logits[torch.arange(len(good)), j, bad]
    q, k, v = (caches[name][hook][:, :, 0].double() for name, hook in
               (("clean", QUERY), ("corrupted", KEY), ("corrupted", module.VALUE)))  # (P, T, e) each
    pattern = (torch.einsum("pe,pke->pk", q[:, j], k) / math.sqrt(q.shape[-1])).softmax(-1)  # (P, T)
    W_O, W_U = model.blocks[0].attn.W_O[0].double().detach(), model.unembed.W_U.double().detach()
    out = torch.einsum("pk,pke->pe", pattern, v) @ W_O  # (P, d): the head's output at j, queries patched
    u = (W_U[:, good] - W_U[:, bad]).T  # (P, d)
    _, plain = run_with_cache(model, add_eos(rows["corrupted"], vocab.eos_id), [module.RESULT])
    gain = ((out - plain[module.RESULT][:, j, 0].double()) * u).sum(-1)  # (P,): LD gained, the rest unchanged
    by_hand = (gain.sum() / (lds["clean"] - lds["corrupted"]).double().sum()).item()
    assert abs(by_hand - query[j]) < 1e-5, f"the query path at output {j + 1}: {query[j]} patched, {by_hand} by hand"


def test_finding_says_its_numbers(default):
    _, paths = default
    assert_finding(paths)
    finding = paths.finding()
    head = np.array(paths["head"][0])
    assert finding.headline.startswith("Path patching adds little here") and \
        " ".join(f"{share:.3f}" for share in head) in finding.headline, \
        f"at seed 42 the mirror carries the head's share; the headline should say so, with {head}: {finding.headline}"
    assert abs(finding.numbers["largest_off_mirror_term"]) < module.NEGLIGIBLE, finding.numbers
    assert MLP_SENTENCE in str(finding), "the finding should say why the MLP needs no path patching"


@pytest.mark.slow  # reads the seed-3 transformer, trained at collection (conftest.AHEAD)
def test_at_seed_3_the_eos_key_carries_what_activation_patching_misses():
    trained = shared_model(model="transformer", seed=3)
    run = Run(trained.model, trained.model, trained.data, trained.cfg)
    patching, paths = measured(run)
    assert_sums(patching, paths)
    numbers = paths.finding().numbers
    seq_len = run.sequences.shape[1]
    eos = np.array(paths["per_key"][0])[:, seq_len]
    assert eos.max() > 0.1 and np.allclose(np.array(paths["value_patching"][0])[:, seq_len], 0, atol=1e-6), \
        f"at seed 3 output 2 attends to <eos>: its term should be clear ({eos}) where value patching gives 0"
    headline = paths.finding().headline
    words = [f"At output {numbers['output']} ", f"{numbers['head_share']:.3f} of the answer",
             f"{numbers['largest_eos_term']:.3f} through the <eos> key", f"pattern's {numbers['pattern_share']:.3f}",
             f"{numbers['query_path']:.3f} query", f"{numbers['key_path']:.3f} key",
             f"{numbers['interaction']:.3f} interaction"]
    missing = [word for word in words if word not in headline]
    assert not missing, f"the headline should say {missing}: {headline}"
    assert_finding(paths)


def test_figure_is_readable(monkeypatch, default):
    assert_readable(drawn_figure(monkeypatch, module, plot_path_patching, default[1]))
