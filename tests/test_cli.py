"""Bad settings are refused with exit 2 and one line; the two scripts run end to end."""

import html
import json
import os
import signal
import subprocess
import sys
import time

import matplotlib.image
import pytest

from reversal.studies.seeds import MLP_HEADLINES
from reversal.support.checkpoint import load_model
from reversal.support.config import build_parser, resolve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BAD = {
    "epochs 0": ["--epochs", "0"],
    "epochs not an integer": ["--epochs", "1.5"],
    "samples negative": ["--samples", "-3"],
    "batch-size 0": ["--batch-size", "0"],
    "seq-len 0": ["--seq-len", "0"],
    "seq-len 1": ["--seq-len", "1"],
    "seed too large": ["--seed", "99999999999999999999"],
    "batch-size too large": ["--batch-size", "99999999999999999999"],
    "hidden too wide": ["--hidden", "257"],
    "hidden text": ["--hidden", "many"],
    "lr 0": ["--lr", "0"],
    "lr nan": ["--lr", "nan"],
    "lr inf": ["--lr", "inf"],
    "vocab repeated letters": ["--vocab", "aab"],
    "vocab non-letters": ["--vocab", "ab1"],
    "vocab uppercase": ["--vocab", "ABC"],
    "vocab one letter": ["--vocab", "a"],
    "input outside vocab": ["--input", "abd"],
    "input wrong length": ["--input", "ab"],
    "seq-len over the limit": ["--seq-len", "13"],
    "seq-len over the limit for 26 letters": ["--vocab", "abcdefghijklmnopqrstuvwxyz", "--seq-len", "5"],
    "unknown flag": ["--epoch", "5"],
    "device not a choice": ["--device", "tpu"],
    "model not a choice": ["--model", "cnn"],
}
# the flag each message must name, so the student knows what to fix
NAMED = {"unknown flag": "--epoch", "device not a choice": "--device", "model not a choice": "--model", "seq-len over the limit for 26 letters": "--seq-len"}


def refuse(argv, capsys):
    parser = build_parser("demo.py", default_samples=2000)
    with pytest.raises(SystemExit) as exit_info:
        resolve(parser.parse_args(argv), parser)
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("case", BAD)
def test_bad_setting_exits_2_with_one_line_naming_it(case, tmp_path, capsys):
    out = tmp_path / "new"
    code, err = refuse(BAD[case] + ["--out", str(out)], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, f"expected one line, got:\n{err}"
    assert NAMED.get(case, BAD[case][0]) in err, f"the message does not name the setting: {err}"
    assert not out.exists(), "a refused run must not create --out"


def test_empty_out_is_refused(capsys):
    code, err = refuse(["--out", ""], capsys)
    assert code == 2 and "--out" in err


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    path = tmp_path / "file.txt"
    path.write_text("keep me")
    code, err = refuse(["--out", str(path)], capsys)
    assert code == 2 and "--out" in err
    code, err = refuse(["--out", str(path / "below")], capsys)
    assert code == 2 and "--out" in err
    assert path.read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() != 0, reason="/proc refuses new files only for sure as root; as a user it may differ")
def test_unwritable_out_is_refused(capsys):
    code, err = refuse(["--out", "/proc/reversal-demo"], capsys)
    assert code == 2 and "not writable" in err


def test_unwritable_out_is_refused_by_permissions(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):
        pytest.skip("running as root: permission bits do not stop us")
    code, err = refuse(["--out", str(locked / "out")], capsys)
    assert code == 2 and "not writable" in err


def test_cuda_without_cuda_is_refused(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, err = refuse(["--device", "cuda"], capsys)
    assert code == 2 and "--device" in err and "CUDA" in err


def run_script(script, *args, timeout=120):
    return subprocess.run([sys.executable, script, *args], cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("script", ["demo.py", "demo_notebook.py"])
def test_scripts_refuse_bad_input_without_a_traceback(script, tmp_path):
    out = tmp_path / "out"
    result = run_script(script, "--vocab", "aab", "--out", str(out))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "--vocab" in result.stderr
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("script", ["demo.py", "demo_notebook.py"])
def test_help_prints_every_setting(script):
    result = run_script(script, "--help")
    assert result.returncode == 0 and "Traceback" not in result.stderr, f"{script} --help failed:\n{result.stderr}"
    assert "--seed" in result.stdout
    assert ("--model" in result.stdout) == (script == "demo.py"), "only demo.py chooses a model; the notebook has both"


def assert_png(path):
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100, f"{path} is not a real image"


DEMO_FIGURES = ["training_loss.png", "activation_heatmaps.png", "position_influence.png", "probe_accuracy.png",
                "neuron_selectivity.png", "first_layer_weights.png", "ablation.png", "patching.png",
                "dimensionality.png", "subspace_interventions.png", "seeds.png"]


@pytest.mark.slow
def test_demo_runs_end_to_end(demo_run):
    result, out, _ = demo_run
    assert result.returncode == 0, result.stderr
    for name in DEMO_FIGURES:
        assert_png(out / name)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["heldout_accuracy"] == 1.0
    assert metrics["prediction"] == {"input": ["a", "b", "c", "<eos>"], "output": ["c", "b", "a", "<eos>"]}
    assert len(metrics["loss_history"]) == metrics["config"]["epochs"] == 100
    assert "c b a <eos>" in result.stdout
    assert not [name for name in os.listdir(out) if name.startswith(".tmp-")], "a temporary file was left"


@pytest.mark.slow
def test_demo_writes_the_mechanism_to_metrics(demo_run):
    result, out, _ = demo_run
    mechanism = json.loads((out / "metrics.json").read_text())["mechanism"]
    for key in ["needed_directions", "pca_variance_explained", "subspace_patching", "random_subspace_patching",
                "subspace_ablation", "additive_r2"]:
        assert key in mechanism, f"metrics.json's mechanism lacks {key!r}"
    assert mechanism["needed_directions"] == 3 * 2, "L x (V-1) = 3 x 2 with the defaults"
    assert len(mechanism["subspace_patching"]["hidden1"]) == 3, "expected an L x L matrix per layer"
    assert "statement" not in mechanism, "metrics.json keeps numbers; the sentences are the result's finding()'s"
    text = (out / "metrics.json").read_text()
    assert json.loads(text)["schema_version"] == 3, "the schema docs/metrics.md documents: bump both together"
    assert len(text.encode()) < 100_000, f"metrics.json is {len(text.encode()):,} bytes at the defaults"


@pytest.mark.slow
def test_seeds_reports_a_median_and_range_for_each_headline_number(demo_run):
    result, out, _ = demo_run
    across = json.loads((out / "metrics.json").read_text())["across_seeds"]
    report = html.unescape((out / "report.html").read_text())  # the full finding: the short log has its headline
    assert across["seeds"] == [42, 43], f"--seeds 2 should train seeds 42 and 43; got {across['seeds']}"
    assert set(across["numbers"]) == set(MLP_HEADLINES), "every headline number should be reported over the seeds"
    for name, spread in across["numbers"].items():
        assert len(spread["per_seed"]) == 2, f"{name}: one value per seed expected"
        assert spread["min"] <= spread["median"] <= spread["max"], f"{name}: median outside its range: {spread}"
        assert spread["min"] == min(spread["per_seed"]) and spread["max"] == max(spread["per_seed"]), name
        assert MLP_HEADLINES[name][0] in report, f"report.html has no line for {name}"
    heldout_r2 = across["numbers"]["additive_r2_heldout"]["per_seed"][0]  # seed 42, the run's own model
    mechanism = json.loads((out / "metrics.json").read_text())["mechanism"]
    assert heldout_r2 == pytest.approx(mechanism["additive_r2_heldout"], abs=1e-6), \
        "over seeds, the additive surrogate's R^2 is the held-out one the mechanism reports, not the mixed one"


@pytest.mark.slow
def test_demo_runs_the_transformer_end_to_end(transformer_demo_run):
    result, out, _ = transformer_demo_run
    assert result.returncode == 0, result.stderr
    for name in ["training_loss.png", "position_influence.png", "attention_patterns.png", "circuits.png",
                 "attention_interventions.png", "path_patching.png", "steering.png"]:
        assert_png(out / name)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["model"] == "transformer", "metrics.json should record which model ran"
    assert metrics["features"]["steering"]["blocks.0.hook_resid_post"]["clean_window"]["class means"]
    for key in ["mean_pattern", "antidiagonal_mass", "qk_positional_argmax_is_mirror", "ov_diagonal_argmax_rows",
                "antidiagonal_replacement_accuracy", "head_ablation"]:
        assert key in metrics["attention"], f"metrics.json's attention lacks {key!r}"
    model, cfg = load_model(out / "model.pt")
    assert cfg.model == "transformer" and model.parameter_count() == 4480


@pytest.mark.slow
def test_sweep_with_the_transformer_is_refused(tmp_path):
    result = run_script("demo.py", "--model", "transformer", "--sweep", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "--sweep" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_seeds_0_is_refused(tmp_path):
    result = run_script("demo.py", "--seeds", "0", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "--seeds" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_notebook_finishes_with_stdin_closed(notebook_run):
    result, out, _ = notebook_run  # stdin is /dev/null: it must not wait
    assert result.returncode == 0, result.stderr
    for name in ["notebook_training_loss.png", "activation_heatmaps.png"]:
        assert_png(out / name)
    assert "Step 8" in result.stdout


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_writes_nothing(tmp_path):
    # A shell starts a background job (`python -m pytest &`) with Ctrl-C ignored, and a child inherits that, so
    # demo.py would never see it: give this process a handler for the moment of the start (exec resets a handler,
    # not an ignore, to the default), so that demo.py starts as it does from a terminal.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen([sys.executable, "demo.py", "--epochs", "100000", "--out", str(tmp_path)],
                                   cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    for line in process.stdout:  # wait until training has started
        if "parameters" in line:
            break
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, f"exit status {process.returncode} after Ctrl-C: {err[-500:]}"
    assert "interrupted" in err and "Traceback" not in err
    assert os.listdir(tmp_path) == [], "an interrupted run left files behind"


@pytest.mark.slow
@pytest.mark.parametrize("script", ["demo.py", "demo_notebook.py"])
def test_output_piped_into_head_stops_without_a_traceback(script, tmp_path):
    # python demo.py | head -1: the reader goes away early, and the next print fails with a broken pipe
    # --epochs 1: the printout is the same story, and the broken pipe comes as surely, sooner
    process = subprocess.Popen([sys.executable, script, "--epochs", "1", "--out", str(tmp_path)], cwd=ROOT,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.readline()
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


@pytest.mark.parametrize("script, flags", [("demo.py", ["--help"]), ("demo.py", ["--hidden", "0"]),
                                           ("demo.py", ["--sae", "--model", "transformer"]),
                                           ("demo_notebook.py", ["--help"]), ("demo_notebook.py", ["--chapter", "9"])])
def test_help_and_bad_settings_answer_before_torch_is_imported(script, flags):
    """Importing torch takes seconds; --help and a typo must not wait for it."""
    code = (f"import runpy, sys\nsys.argv = [{script!r}, *{flags!r}]\n"
            f"try:\n    runpy.run_path({script!r}, run_name='__main__')\nexcept SystemExit:\n    pass\n"
            f"print('torch imported' if 'torch' in sys.modules else 'no torch', file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stderr.strip().endswith("no torch"), result.stderr


def demo_settings(monkeypatch, *argv):
    """demo.py's settings() on these flags, in this process: (args, cfg), or SystemExit."""
    import demo  # the script's imports are torch's, which this process has loaded already
    monkeypatch.setattr(sys, "argv", ["demo.py", *argv])
    return demo.settings()


@pytest.mark.parametrize("argv, pair", [(["--unseen"], (0, "a")), (["--unseen", "3:c"], (2, "c")),
                                        (["--unseen", "--seq-len", "4", "--vocab", "xyz"], (0, "x"))])
def test_unseen_takes_a_position_and_a_letter_at_the_studys_length(monkeypatch, argv, pair):
    args, _ = demo_settings(monkeypatch, *argv)
    assert args.unseen == pair


@pytest.mark.parametrize("value", ["6:a", "0:a", "1:e", "a:1", "1", "1:ab", ":"])
def test_a_bad_unseen_pair_exits_2_with_one_line_saying_what_is_allowed(monkeypatch, capsys, value):
    with pytest.raises(SystemExit) as stop:
        demo_settings(monkeypatch, "--unseen", value)
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1, err
    assert "--unseen" in err and "POSITION from 1 to 5 and LETTER one of 'abcd'" in err, err


@pytest.mark.parametrize("argv", [["--seq-len", "2", "--vocab", "ab"], ["--seq-len", "2", "--vocab", "abcde"]])
def test_unseen_refuses_a_study_too_small_to_split_in_one_line(monkeypatch, capsys, argv):
    with pytest.raises(SystemExit) as stop:
        demo_settings(monkeypatch, "--unseen", *argv)
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1 and "the study needs at least 3 letters" in err, err
