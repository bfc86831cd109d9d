"""When a held-out sequence fails, the letter pairs its training data never showed together are named."""

import torch

from reversal.data import all_sequences
from reversal.generalization import missing_pairs


def test_missing_pairs_reports_letters_never_seen_together():
    every = all_sequences(3, 3)
    train = every[~((every[:, 0] == 0) & (every[:, 2] == 2))]  # no training sequence has a at 0 together with c at 2
    assert missing_pairs(torch.tensor([0, 1, 2]), train) == [(0, 2)], \
        "'abc' puts a and c at positions (0, 2), a pair no training sequence has; (0, 1) and (1, 2) both occur"


def test_missing_pairs_is_empty_for_a_training_sequence(trained):
    train = trained.data.train_sequences
    assert missing_pairs(train[0], train) == [], "a training sequence cannot lack its own pairs"
