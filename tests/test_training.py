import pytest

from conftest import shared_model, train_model
from reversal.core.train import sequence_accuracy


def test_default_model_reverses_every_sequence(trained):
    data = trained.data
    assert sequence_accuracy(trained.model, data.train_sequences, data.vocab.eos_id) == 1.0
    assert sequence_accuracy(trained.model, data.heldout_sequences, data.vocab.eos_id) == 1.0, \
        "the model memorized its training sequences but does not reverse the held-out ones"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_other_seeds_reverse_every_sequence_including_heldout(seed):
    run = shared_model(seed=seed)
    assert sequence_accuracy(run.model, run.data.all_sequences, run.data.vocab.eos_id) == 1.0


@pytest.mark.slow
def test_length_5_generalizes_to_heldout_sequences():
    run = shared_model(seq_len=5)
    assert len(run.data.heldout_sequences) == round(0.2 * 3**5)
    assert sequence_accuracy(run.model, run.data.heldout_sequences, run.data.vocab.eos_id) >= 0.99


def test_same_seed_gives_bit_identical_loss_history():
    first = train_model(epochs=5, seed=7)
    second = train_model(epochs=5, seed=7)
    assert first.history.loss == second.history.loss, "training is not deterministic for a fixed seed"
    assert train_model(epochs=5, seed=8).history.loss != first.history.loss, "the seed has no effect"
