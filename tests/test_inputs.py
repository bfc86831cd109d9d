"""Hostile inputs and conditions: odd --out paths, a full disk, a checkpoint that asks for too much, NaN in the
metrics, a viewer that fails, a closed stderr. Each ends with one clear line, before training where it can."""

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from reversal.features import steering
from reversal.mlp.additive import fit_additive, r_squared
from reversal.report import files
from reversal.support import checkpoint, config, tutorial
from reversal.support.config import build_parser, resolve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def refuse(argv, capsys, prog="demo.py"):
    parser = build_parser(prog, default_samples=2000)
    with pytest.raises(SystemExit) as exit_info:
        resolve(parser.parse_args(argv), parser)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, f"expected exit status 2, got {exit_info.value.code}: {err}"
    assert len(err.strip().splitlines()) == 1 and "--out" in err, f"expected one line naming --out, got:\n{err}"
    return err


def test_dangling_symlink_out_is_refused(tmp_path, capsys):
    link = tmp_path / "results"
    link.symlink_to(tmp_path / "gone")
    assert "does not exist" in refuse(["--out", str(link)], capsys)
    refuse(["--out", str(link / "below")], capsys)
    assert not (tmp_path / "gone").exists(), "a refused run must create nothing"


def test_symlink_loop_out_is_refused(tmp_path, capsys):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert "symbolic links" in refuse(["--out", str(tmp_path / "loop")], capsys)


@pytest.mark.parametrize("where", ["in a folder that exists", "in a new folder"])
def test_over_long_out_name_is_refused(where, tmp_path, capsys):
    name = "x" * 300
    out = tmp_path / name if where == "in a folder that exists" else tmp_path / "new" / name
    err = refuse(["--out", str(out)], capsys)
    assert "255 bytes" in err and len(err) < 300, f"the message should say the limit, briefly: {err}"
    assert not (tmp_path / "new").exists()


def test_folder_where_model_pt_goes_is_refused(tmp_path, capsys):
    (tmp_path / "model.pt").mkdir()
    assert "model.pt" in refuse(["--out", str(tmp_path)], capsys)


def test_nearly_full_disk_is_refused(tmp_path, capsys, monkeypatch):
    usage = type(config.shutil.disk_usage(tmp_path))
    monkeypatch.setattr(config.shutil, "disk_usage", lambda path: usage(2**30, 2**30 - 2**20, 2**20))  # 1 MB free
    assert "MB is free" in refuse(["--out", str(tmp_path / "new")], capsys)


def test_each_file_the_scripts_write_is_checked_before_training():
    """config.OUTPUTS lists the files each script writes, so that a folder in the place of one is found at once."""
    for script, names in config.OUTPUTS.items():
        with open(os.path.join(ROOT, script)) as file:
            source = file.read()
        written = set(__import__("re").findall(r'out\("([^"]+)"\)', source))
        assert written <= set(names), f"{script} writes {sorted(written - set(names))}, missing from config.OUTPUTS"


def test_a_file_that_cannot_be_written_is_named_with_its_cause(tmp_path):
    (tmp_path / "metrics.json").mkdir()  # a folder where the file goes
    with pytest.raises(files.WriteError, match="metrics.json") as error:
        files.save_json({"a": 1}, str(tmp_path / "metrics.json"))
    assert "directory" in str(error.value), f"the cause is missing: {error.value}"
    assert sorted(os.listdir(tmp_path)) == ["metrics.json"], "the temporary file was left behind"


def test_a_write_error_ends_the_script_with_one_line(tmp_path):
    """Without torch: the hook the scripts install prints the WriteError's line, with no traceback."""
    code = ("import os, sys\nfrom reversal.report.files import save_json, stop_quietly_when_the_reader_goes\n"
            "stop_quietly_when_the_reader_goes()\nos.mkdir('model.pt')\nsave_json({}, 'model.pt')")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=30,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "model.pt" in result.stderr, result.stderr


def test_metrics_json_is_strict_json():
    text = files.to_json_text({"loss": float("nan"), "history": [1.0, float("inf")], "nested": {"r2": -float("inf")},
                               "rows": [{"x": [[float("nan")]]}]})
    data = json.loads(text, parse_constant=lambda word: pytest.fail(f"{word} is not JSON"))
    json.dumps(data, allow_nan=False)
    assert data == {"loss": None, "history": [1.0, None], "nested": {"r2": None}, "rows": [{"x": [[None]]}]}


def test_additive_fit_gives_the_same_bits_whatever_the_memory_layout():
    """MKL's default least-squares driver moved the last digits with the alignment of its inputs."""
    generator = torch.Generator().manual_seed(0)
    sequences = torch.tensor(list(itertools.product(range(3), repeat=3)))  # (27, 3)
    order = torch.randperm(27, generator=generator)
    fit, heldout = sequences[order[:22]], sequences[order[22:]]
    logits, heldout_logits = torch.randn(22, 4, 4, generator=generator), torch.randn(5, 4, 4, generator=generator)
    values, kept = set(), []
    for shift in range(40):
        kept.append(torch.empty(7 * shift + 3))  # moves where the next tensors are allocated
        copy = torch.empty(logits.numel() + shift)[shift:].view(logits.shape).copy_(logits)
        values.add(r_squared(fit_additive(fit, copy, 3)(heldout), heldout_logits))
    assert len(values) == 1, f"40 identical fits gave {len(values)} different R^2: {sorted(values)}"


def test_load_model_checks_the_sizes_before_building(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    torch.save({"model_class": "Reverser", "config": {**config.Config().to_dict(), "hidden": 40000},
                "state_dict": {}}, path)
    monkeypatch.setattr(checkpoint, "make_model", lambda *_: pytest.fail("built a model from an unchecked config"))
    with pytest.raises(ValueError, match="hidden must be a whole number from 1 to 256, got 40000"):
        checkpoint.load_model(path)
    torch.save({"model_class": "Reverser", "config": {"vocab": "abc", "seq_len": 10**9}, "state_dict": {}}, path)
    with pytest.raises(ValueError, match="seq_len"):
        checkpoint.load_model(path)
    torch.save([1, 2], path)
    with pytest.raises(ValueError, match="not a model.pt"):
        checkpoint.load_model(path)


def test_long_steering_shows_progress_and_gives_the_same_numbers(run, monkeypatch, capsys):
    triples = steering.steering_triples(run.cfg.seq_len, len(run.cfg.vocab))
    directions = torch.randn(2, len(triples), run.cfg.hidden, generator=torch.Generator().manual_seed(0))
    args = (run.model, "hidden1", directions, triples, run.sequences, run.vocab, run.device, steering.ALPHAS)
    whole = steering.steer_layer(*args, predict=True)
    monkeypatch.setattr(steering, "BATCH_ROWS", 1000)  # a pass holds a few alphas: many passes, as at 26 letters
    monkeypatch.setattr(steering, "watching", lambda: True)
    split = steering.steer_layer(*args, predict=True)
    assert "steering hidden1" in capsys.readouterr().err, "many passes, but no progress bar"
    for name in ("flip", "side_effects", "logit_diff"):
        assert np.array_equal(whole[name], split[name]), f"{name} changed when the passes were split"
        assert np.array_equal(whole["predicted"][name], split["predicted"][name])


@pytest.mark.parametrize("status, expected", [(0, "opened in a window"), (3, "could not open it (exit status 3)")])
def test_show_says_what_the_viewer_did(status, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tutorial, "_viewer", [sys.executable, "-c", f"raise SystemExit({status})"])
    tutorial.show(str(tmp_path / "figure.png"))
    printed = capsys.readouterr().out
    assert expected in printed, printed
    if status:
        assert "opened in a window" not in printed and tutorial._viewer is None


def test_a_path_stdout_cannot_encode_is_printed_escaped():
    """A --out name that is not UTF-8 reaches Python as a lone surrogate, which a strict UTF-8 stdout refuses."""
    code = ("from reversal.report.files import stop_quietly_when_the_reader_goes\n"
            "stop_quietly_when_the_reader_goes()\nprint('wrote into /tmp/\\udcff')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30,
                            env={**os.environ, "PYTHONPATH": ROOT, "PYTHONIOENCODING": "utf-8"})
    assert result.returncode == 0 and result.stdout == b"wrote into /tmp/\\udcff\n", result.stderr.decode()


def test_closed_stderr_still_exits_2(monkeypatch):
    monkeypatch.setattr(sys, "stderr", None)  # what Python sets when the script runs with 2>&-
    parser = build_parser("demo.py", default_samples=2000)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--hidden", "0"])
    assert exit_info.value.code == 2
