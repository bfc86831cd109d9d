import torch

from reversal.core.data import Vocab, add_eos, all_sequences, make_targets, split_heldout
from reversal.core.limits import max_seq_len
from reversal.core.train import make_data
from reversal.support.config import Config


def test_targets_are_the_exact_reversal_with_eos_last():
    vocab = Vocab("abc")
    sequences = all_sequences(3, 3)
    targets = make_targets(sequences, vocab.eos_id)
    for sequence, target in zip(sequences.tolist(), targets.tolist()):
        assert vocab.decode(target) == vocab.decode(sequence[::-1]) + ["<eos>"], "target is not the reversal + <eos>"
    assert (add_eos(sequences, vocab.eos_id)[:, -1] == vocab.eos_id).all(), "inputs must end with <eos>"


def test_all_sequences_are_distinct_and_complete():
    sequences = all_sequences(4, 3)
    assert len(sequences) == 4**3
    assert len({tuple(s) for s in sequences.tolist()}) == 4**3


def test_heldout_sequences_never_appear_in_training():
    data = make_data(Config(seq_len=4, vocab="abc", samples=5000))
    heldout = {tuple(s) for s in data.heldout_sequences.tolist()}
    assert heldout, "at least one sequence must be held out"
    assert not heldout & {tuple(s) for s in data.samples.tolist()}, "a held-out sequence leaked into the samples"
    assert not heldout & {tuple(s) for s in data.train_sequences.tolist()}
    assert len(heldout) == round(0.2 * 3**4)


def test_split_holds_out_at_least_one_and_depends_only_on_the_seed():
    tiny = all_sequences(2, 1)  # 2 sequences: 20% rounds to 0, so the floor of one applies
    train, heldout = split_heldout(tiny, torch.Generator().manual_seed(0))
    assert len(heldout) == 1 and len(train) == 1
    first = make_data(Config(seed=3)).heldout_sequences
    assert torch.equal(first, make_data(Config(seed=3)).heldout_sequences), "same seed must give the same split"


def test_max_seq_len_is_the_largest_that_fits():
    assert max_seq_len(3) == 12  # 3**12 = 531,441 <= 1,000,000 < 3**13
    assert max_seq_len(26) == 4


def test_the_default_input_is_never_a_palindrome():
    # "abababa" (--vocab ab --seq-len 7) reversed is itself: the printed prediction would show no reversal
    from reversal.support.config import Config
    assert Config().input == "abc", "the defaults' input stays a b c"
    for vocab, seq_len in [("ab", 7), ("ab", 3), ("abc", 5), ("abcd", 9), ("ab", 2)]:
        text = Config(vocab=vocab, seq_len=seq_len).input
        assert len(text) == seq_len and text != text[::-1], f"--vocab {vocab} --seq-len {seq_len}: input {text!r}"
