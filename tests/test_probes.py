"""Probes: cross-validated over every distinct sequence, with the untrained network as the control and shuffled
labels as a leakage check."""

import pytest
import torch

from conftest import assert_finding, assert_png
from reversal.core.common import analysis_sequences, layer_features
from reversal.core.data import Vocab, add_eos
from reversal.core.model import run_with_cache
from reversal.core.train import make_model
from reversal.mlp.probes import cross_validated_accuracy, fold_masks, plot_probes, probe_accuracy
from reversal.support.config import Config

RESID_POST = "blocks.0.hook_resid_post"


@pytest.fixture(scope="module")
def probes(run):
    return probe_accuracy(run)


@pytest.fixture(scope="module")
def transformer_probes(transformer_run):
    """The default transformer (conftest trains it once), probed at its default hook points."""
    return probe_accuracy(transformer_run)


def test_every_sequence_is_scored_by_exactly_one_fold():
    test = fold_masks(27, 5, torch.Generator().manual_seed(0))  # (K, N)
    assert test.shape == (5, 27), f"expected 5 folds over 27 sequences, got {tuple(test.shape)}"
    assert (test.sum(0) == 1).all(), f"times each sequence is scored: {test.sum(0).tolist()}; every one should be 1"


def test_probes_never_score_a_sequence_they_were_fitted_on():
    # each sequence's own feature is a one-hot column: a probe fitted on a sequence memorizes its random label and
    # would score ~100%; a probe that never saw it has only the others' columns, all 0 for it, and can only guess
    generator = torch.Generator().manual_seed(0)
    features = torch.eye(30)[None]  # (1 feature set, 30 sequences, 30 features)
    labels = torch.randint(3, (30, 10), generator=generator)  # 10 random-label tasks, 3 classes
    accuracy = cross_validated_accuracy(features, labels, fold_masks(30, 5, generator), 3).mean().item()
    assert accuracy < 0.5, (f"probes named {accuracy:.0%} of random labels from features that identify each "
                            f"sequence: were they scored on the sequences they were fitted on?")


def test_fitting_probes_together_gives_each_its_own_result(trained, sequences):
    # the embedding (32 features) and hidden1 (16, padded with zeros to 32) fitted at once, and hidden1 alone
    layers = layer_features(trained.model, sequences, trained.data.vocab, trained.cfg.device)
    hidden1 = layers["hidden1"].float()
    padded = torch.nn.functional.pad(hidden1, (0, layers["embedding"].shape[1] - hidden1.shape[1]))
    test = fold_masks(len(sequences), 5, torch.Generator().manual_seed(0))
    together = cross_validated_accuracy(torch.stack([layers["embedding"].float(), padded]), sequences, test, 3)
    alone = cross_validated_accuracy(hidden1[None], sequences, test, 3)
    assert torch.equal(together[1], alone[0]), (f"hidden1 probes fitted beside the embedding's score {together[1]}, "
                                                f"alone {alone[0]}: does the batched loss mix the probes?")


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_probes_read_every_input_letter_from_the_trained_hidden_layers(probes, trained, layer):
    accuracy = probes["trained"]["letters"][layer]
    assert len(accuracy) == trained.cfg.seq_len, "expected one probe per input position"
    assert min(accuracy) >= 0.99, f"cross-validated probe accuracy per position in {layer}: {accuracy}"


def test_the_random_label_control_is_near_chance(probes):
    scores = [v for layer in probes["trained"]["random_labels"].values() for v in layer]
    mean = sum(scores) / len(scores)
    assert abs(mean - probes["chance"]) <= 0.12, (
        f"random labels scored {mean:.0%} on average, chance is {probes['chance']:.0%}: a leak between folds, or "
        f"labels not shuffled?")


def test_the_output_layer_reads_every_input_letter_from_hidden2(probes):
    assert probes["readout"] == [1.0] * len(probes["readout"]), (
        f"the default model reverses every sequence, so its own readout at output L+1-i should name input i's letter "
        f"every time; got {probes['readout']}: is the flip from outputs to inputs wrong?")


@pytest.mark.parametrize("model", ["mlp", "transformer"])
def test_the_probes_finding_is_layered(probes, transformer_probes, model):
    assert_finding(probes if model == "mlp" else transformer_probes)


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_the_headline_says_every_letter_only_where_every_probe_reads_it(probes):
    assert "read every input letter" in probes.finding().headline, probes.finding().headline
    values = {**probes.values, "trained": {**probes["trained"], "letters": {
        name: [0.67] + scores[1:] for name, scores in probes["trained"]["letters"].items()}}}
    headline = type(probes)(values, probes.arrays).finding().headline
    assert "every" not in headline and "67%" in headline, headline


def test_the_shuffled_labels_are_called_a_leakage_check_not_a_control_task(probes):
    # no test sequence is ever trained on, so shuffled labels score chance by construction: not Hewitt and Liang's
    # control task (random labels per type, shared by test and training items), and no "selectivity" follows
    text = str(probes.finding())
    assert "leakage check" in text.lower(), text
    assert "Hewitt" not in text and "selectivity" not in text.lower(), text


def test_plot_probes_draws_a_png(probes, tmp_path):
    path = tmp_path / "plot_probes.png"
    plot_probes(probes, path)
    assert_png(path)


def test_a_shuffle_of_four_sequences_that_copies_a_position_is_detected():
    sequences = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])  # --seq-len 2 --vocab ab
    shuffled = torch.tensor([[1, 0], [0, 1], [1, 1], [0, 0]])  # column 1 groups as position 2; column 2 as XOR
    from reversal.mlp.probes import copies_a_position
    assert copies_a_position(shuffled, sequences) == 1, (
        "the first shuffled column groups the sequences exactly as position 2's letters do (under other names), "
        "the second does not: copies_a_position must count 1")


def test_the_transformer_probes_read_every_input_letter_from_resid_post(transformer_probes):
    letters = transformer_probes["trained"]["letters"]
    assert RESID_POST in letters, f"the transformer's default probe points are {list(letters)}: expected {RESID_POST}"
    assert min(letters[RESID_POST]) >= 0.99, f"cross-validated probe accuracy per position in resid_post: " \
                                             f"{letters[RESID_POST]}; the unembedding reads every letter from it"


def test_layer_features_flattens_positions_into_one_feature_vector():
    cfg = Config(model="transformer")
    vocab = Vocab(cfg.vocab)
    model, sequences = make_model(cfg, vocab), analysis_sequences(cfg)  # untrained: the shapes are what matter
    _, cache = run_with_cache(model, add_eos(sequences, vocab.eos_id), (RESID_POST,))  # (N, T, d)
    features = layer_features(model, sequences, vocab, cfg.device, (RESID_POST,))[RESID_POST]
    n, positions, width = cache[RESID_POST].shape
    assert features.shape == (n, positions * width), (
        f"layer_features gave {tuple(features.shape)} for an activation of shape {(n, positions, width)}: "
        f"expected one row of T*d features per sequence")
    assert torch.equal(features[:, width:2 * width], cache[RESID_POST][:, 1]), (
        "features d..2d-1 should be position 1's residual stream: is the flatten in (T, d) order?")


def test_fitting_more_features_than_sequences_in_their_span_changes_nothing():
    # 30 sequences, 20 features: fitted as they are, and with 20 zero columns added (40 features, more than the
    # sequences, so the fit runs in the span of the training rows). Zero columns change nothing, so neither may that.
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(30, 20, generator=generator)
    labels = (features[:, :3] + 0.5 * torch.randn(30, 3, generator=generator)).argmax(1, keepdim=True)  # (30, 1)
    test = fold_masks(30, 5, generator)
    narrow = cross_validated_accuracy(features[None], labels, test, 3)
    wide = cross_validated_accuracy(torch.nn.functional.pad(features, (0, 20))[None], labels, test, 3)
    assert torch.equal(narrow, wide), (f"the same probe scored {narrow.item():.0%} on 20 features and "
                                       f"{wide.item():.0%} with 20 zero columns added: is the span basis right?")
