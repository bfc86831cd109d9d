"""The unseen pair (reversal/studies/unseen.py): the split holds out exactly the pair's sequences, the MLP cannot
copy a letter never seen at a position, the transformer can, and the result says so in layers."""

import pytest
import torch

from conftest import assert_finding, computed, drawn_figure
from reversal.core.data import all_sequences
from reversal.studies import unseen
from reversal.studies.unseen import SMALL_RUN, TARGET, one_seed, plot_unseen, study_config, unseen_pair, unseen_split
from reversal.support.config import Config

STUDY = study_config(Config())  # length 5 over abcd, seed 42: what demo.py --unseen runs by default


def test_the_split_holds_out_every_sequence_with_the_pair_and_only_those():
    split = unseen_split(STUDY, 0, "a")
    assert (len(split.train), len(split.with_pair), len(split.other_heldout)) == (384, 256, 384), \
        "at length 5 over abcd: 256 sequences start with 'a', half of the other 768 are trained on"
    assert not (split.train[:, 0] == 0).any(), "a training sequence has 'a' first: the pair was seen"
    assert (split.with_pair[:, 0] == 0).all() and not (split.other_heldout[:, 0] == 0).any()
    parts = torch.cat([split.train, split.with_pair, split.other_heldout])
    codes = (parts * 4 ** torch.arange(4, -1, -1)).sum(1)  # each sequence as a base-4 number
    assert sorted(codes.tolist()) == list(range(4 ** 5)), "the three parts must cover every sequence exactly once"
    again = unseen_split(STUDY, 0, "a")
    assert torch.equal(again.train, split.train), "the split must depend on the seed alone"


def test_the_split_works_at_any_position_and_letter():
    split = unseen_split(Config(seq_len=3, vocab="abc", seed=1), 2, "c")
    assert len(split.with_pair) == 9 and (split.with_pair[:, 2] == 2).all()
    assert len(split.train) == 9 and not (split.train[:, 2] == 2).any()
    assert study_config(Config(seq_len=4)).seq_len == 4, "a length the user chose must be kept"
    assert len(all_sequences(4, 5)) == 4 ** 5


def first_input_a(model, seed=42):
    """one_seed for the pair ('a' at input 1), at the study's settings and SMALL_RUN's steps for the MLP, 200 for the
    transformer (it copies the pair from step 80 at seeds 42 to 44, measured, and 3 seeds take about 3 s)."""
    steps = SMALL_RUN["steps"]["mlp"] if model == "mlp" else 200
    return one_seed(Config(**{**STUDY.to_dict(), "seed": seed}), model, 0, "a", steps)


# Worked out at collection, in the background (conftest.computed): for each slow test, the calls it reads
AHEAD_CALLS = {"test_the_mlp_never_copies_the_unseen_pair": [(first_input_a, "mlp")],
               "test_the_transformer_copies_the_unseen_pair_on_most_seeds": [(first_input_a, "transformer", seed)
                                                                              for seed in (42, 43, 44)]}


@pytest.mark.slow
def test_the_mlp_never_copies_the_unseen_pair():
    run = computed(first_input_a, "mlp")
    assert run["train_accuracy"] == 1.0, f"the MLP should fit its training sequences in {SMALL_RUN['steps']} steps"
    assert max(run["curves"]["pair_accuracy"]) == 0.0, \
        "the MLP has no direction for 'a' at input 1, yet wrote 'a' at output 5 on some sequence: did the split leak?"
    assert run["pair_logit_difference"] < 0 and run["other_accuracy"] >= 0.95, \
        "the pair's logit difference should be negative while the other held-out sequences are reversed"
    assert run["explanation"]["pair_training_sequences"] == 0
    assert not run["explanation"]["pair_class_mean_defined"], "no training sequence has the pair: its mean is NaN"


@pytest.mark.slow
def test_the_transformer_copies_the_unseen_pair_on_most_seeds():
    # 200 steps, not the demo's 1,500: at seeds 42 to 44 the pair is at 99% from step 80 (measured)
    reached = [computed(first_input_a, "transformer", seed)["pair_accuracy"] for seed in (42, 43, 44)]
    assert sum(accuracy >= TARGET for accuracy in reached) >= 2, \
        f"the transformer's OV copies any letter, so it should copy 'a' to output 5 on most seeds: {reached}"


@pytest.fixture(scope="module")
def short_study():
    return unseen_pair(STUDY, 0, "a", steps=20, seeds=2)  # too short to fit: for the wording and the figure only


def test_the_unseen_finding_is_layered_and_states_the_prediction_first(short_study):
    assert_finding(short_study)
    headline = short_study.finding().headline
    assert headline.startswith("Prediction:") and "Test" in headline, headline
    # 20 steps: the transformer has not copied the pair, and the headline must say so, not let the prediction stand
    assert "below 99% by step 20 on 2 of 2 seeds: train it longer" in headline, headline


def test_the_unseen_figure_draws_both_models(short_study, monkeypatch):
    fig = drawn_figure(monkeypatch, unseen, plot_unseen, short_study)
    assert len(fig.axes) == 4 and all(ax.lines for ax in fig.axes), "two models x (accuracy, logit difference)"
