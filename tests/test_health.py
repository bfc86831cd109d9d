"""A run that fails to learn is a result, not a crash: core.health says in one line that training diverged, and the
advice names the cause (a too large --lr, too few epochs, a plateau) and only flags the model has."""

import json
import sys

import pytest

from conftest import train_model
from reversal.core.health import Health, training_health
from reversal.core.run import Run
from reversal.core.train import make_model, sequence_accuracy
from reversal.mlp.generalization import generalization


def as_run(trained):
    return Run(trained.model, make_model(trained.cfg, trained.data.vocab), trained.data, trained.cfg)


@pytest.fixture(scope="module")
def diverged():
    """An MLP trained at --lr 1 for a few epochs: every neuron dies in the first epoch (a fraction of a second)."""
    trained = train_model(lr=1.0, epochs=3, samples=400)
    return as_run(trained), trained.history


def test_a_diverged_run_is_named_in_one_line(diverged):
    run, history = diverged
    health = training_health(run, history)
    assert not health.responsive, "at --lr 1 every neuron dies: the model gives every input the same output"
    assert health.line.startswith("training diverged at epoch 1: try a smaller --lr"), health.line
    assert "\n" not in health.line and len(health.line) <= 120, f"one line, as the log prints it: {health.line!r}"


def test_a_diverged_run_is_not_told_to_train_longer_or_wider(diverged):
    run, history = diverged
    train_accuracy = sequence_accuracy(run.model, run.data.train_sequences, run.vocab.eos_id)
    text = str(generalization(run, train_accuracy, history.heldout_accuracy[-1],
                              training_health(run, history)).finding())
    assert "smaller --lr" in text, f"the cause is the step size; say so:\n{text}"
    assert "--hidden" not in text and "train it longer" not in text, f"advice for the wrong cause:\n{text}"


def test_one_epoch_is_told_to_train_longer_not_to_change_seed():
    trained = train_model(epochs=1, samples=400)
    advice = training_health(as_run(trained), trained.history).misfit_advice()
    assert "--epochs" in advice and "--seed" not in advice, f"one epoch is too few, whatever the seed: {advice!r}"


def test_the_advice_follows_the_loss():
    rising = Health("mlp", [1.0] * 5 + [0.3] * 10 + [0.6] * 5)
    falling = Health("mlp", [0.8 ** epoch for epoch in range(20)])
    flat = Health("mlp", [0.7] * 20)
    assert "smaller --lr" in rising.misfit_advice(), "a loss that rose again points to too large a step"
    assert "--epochs" in falling.misfit_advice(), "a loss still falling at the end needs more training"
    assert "--hidden" in flat.misfit_advice(), "an MLP whose loss levelled off short of 0 may be too narrow"


def test_a_transformer_is_never_told_about_hidden():
    for loss in ([0.7] * 20, [0.8 ** epoch for epoch in range(20)]):
        health = Health("transformer", loss)
        for advice in (health.misfit_advice(), health.generalize_advice()):
            assert "--hidden" not in advice, f"the transformer has no --hidden flag: {advice!r}"
    stalled = Health("transformer", [1.0] * 20, responsive=False, broken_since=3)
    assert "--hidden" not in stalled.line and "epoch 3" in stalled.line, stalled.line


@pytest.mark.slow
def test_demo_writes_its_files_after_a_diverged_run(tmp_path, monkeypatch, capsys):
    # demo.py's own main(), in this process (torch is loaded already): what a subprocess would run, seconds sooner
    import demo
    out = tmp_path / "diverged"
    monkeypatch.setattr(sys, "argv", ["demo.py", "--lr", "1", "--epochs", "3", "--samples", "400", "--out", str(out)])
    demo.main(*demo.settings())  # a diverged run is a result, not a crash: no exception
    printed = capsys.readouterr().out
    assert "training diverged at epoch 1: try a smaller --lr" in printed, printed
    assert "No experiment was run" in printed, printed
    assert {"metrics.json", "model.pt", "report.html"} <= {path.name for path in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["training_health"] == {"responsive": False, "broken_since_epoch": 1, "diverged": True}
