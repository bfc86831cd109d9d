"""Long work shows progress (reversal/core/progress.py): at a terminal, a stage that runs long says so every few
seconds unless a bar of its own is on screen; training's bar counts steps, so an epoch of thousands moves it."""

import time
from types import SimpleNamespace

import torch
from tqdm import tqdm

from conftest import train_model
from reversal.core import progress, train
from reversal.core.progress import Heartbeat
from reversal.features.steering import most_correlated_neurons
from reversal.core.train import make_data, make_model
from reversal.support import tutorial
from reversal.support.config import Config


def at_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "watching", lambda: True)
    monkeypatch.setattr(progress, "in_notebook", lambda: False)


def test_a_long_stage_says_what_runs_every_few_seconds(monkeypatch, capsys):
    at_a_terminal(monkeypatch)
    beat = Heartbeat(every=0.1)
    beat.stage("the experiments")
    said, deadline = [], time.monotonic() + 5  # a busy machine may wake the thread late: wait for two lines
    while len(said) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        said += capsys.readouterr().err.splitlines()
    beat.stage(None)  # a pause: the person is being waited for
    time.sleep(0.1)  # a line the thread had begun before the pause
    said += capsys.readouterr().err.splitlines()
    time.sleep(0.2)
    assert len(said) >= 2 and all(line.startswith("... still working on the experiments: ") for line in said), said
    assert capsys.readouterr().err == "", "the heartbeat spoke while nothing was running"


def test_the_heartbeat_is_quiet_while_a_bar_is_on_screen_and_in_a_pipe(monkeypatch, capsys):
    at_a_terminal(monkeypatch)
    beat = Heartbeat(every=0.1)
    with tqdm(total=1, disable=False, file=open("/dev/null", "w")):  # a bar on screen says it already
        beat.stage("steering")
        time.sleep(0.3)
    beat.stage(None)
    monkeypatch.setattr(progress, "watching", lambda: False)
    piped = Heartbeat(every=0.1)
    piped.stage("the experiments")
    time.sleep(0.3)
    piped.stage(None)
    assert capsys.readouterr().err == "" and piped.thread is None


def test_training_shows_one_bar_over_every_step(monkeypatch, capsys):
    monkeypatch.setattr(train, "watching", lambda: True)
    cfg = Config(epochs=2, samples=950)  # 10 batches an epoch of 100, the last one short
    data = make_data(cfg)
    history = train.train(make_model(cfg, data.vocab), data, cfg, progress=True)
    assert "20/20" in capsys.readouterr().err, "the bar should count 2 epochs x 10 batches"
    assert history.loss == train_model(epochs=2, samples=950).history.loss, "the bar must not change training"


def test_a_step_heading_names_the_stage(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(tutorial, "in_notebook", lambda: False)
    monkeypatch.setattr(tutorial.heartbeat, "name", None)  # restored afterwards: the process has one heartbeat
    cells = tmp_path / "cells.py"
    cells.write_text("# %% [markdown]\n# ## Step 7: behaviour\n\n# %%\ntell()\n")
    tutorial.tell(caller=SimpleNamespace(f_code=SimpleNamespace(co_filename=str(cells)), f_lineno=5))
    assert "Step 7: behaviour" in capsys.readouterr().out
    assert tutorial.heartbeat.name == "step 7", "a long step should be named by its number"


def test_the_most_correlated_neurons_match_one_letter_at_a_time():
    generator = torch.Generator().manual_seed(0)
    sequences = torch.randint(0, 3, (200, 3), generator=generator)
    sequences[:, 1] = sequences[:, 1].clamp(max=1)  # letter 2 never at position 1: it correlates with nothing
    activations = torch.relu(torch.randn(200, 8, generator=generator) + sequences[:, :1] * 0.5)
    activations[:, 3] = 0  # a dead neuron
    for position in range(3):
        found = most_correlated_neurons(activations, sequences, position, 3)
        for letter in range(3):
            indicator = (sequences[:, position] == letter).double()
            indicator = indicator - indicator.mean()
            centred = activations.double() - activations.double().mean(0)
            r = torch.nan_to_num(centred.T @ indicator / (centred.norm(dim=0) * indicator.norm()))
            neuron = int(r.abs().argmax())
            assert found[letter] == (neuron, 1.0 if r[neuron] >= 0 else -1.0), (position, letter)
