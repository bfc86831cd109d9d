"""Fixtures shared by the tests: one default model, trained once for the whole session (about 2 s), its
untrained twin, the run that bundles them (core.run.Run), and a copy with a neuron switched off on purpose; the
default transformer likewise (about 6 s); and the whole-script runs the slow tests read.

The machine has 2 cores and pytest uses one. So what takes longest starts at collection, on the other: the
transformer's training in a forked process, then each whole-script run in turn; the tests that read them run last."""

import copy
import functools
import io
import json
import multiprocessing
import numbers
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ProcessPoolExecutor
from threading import Event, Lock, Thread
from dataclasses import dataclass

import matplotlib.image
import pytest
import torch

from reversal.core.common import analysis_sequences
from reversal.core.run import Run
from reversal.report.result import HEADLINE_WORDS
from reversal.core.train import make_data, make_model, train
from reversal.support.config import Config

torch.set_num_threads(1)  # as the scripts do: matrices this small run faster on one thread, and give the same numbers

DEAD = 0  # the neuron `dead_neuron_model` switches off in each hidden layer


@dataclass
class Trained:
    cfg: Config
    data: object
    model: object
    history: object


def train_model(**settings):
    cfg = Config(**settings)
    data = make_data(cfg)
    model = make_model(cfg, data.vocab)
    history = train(model, data, cfg, progress=False)
    return Trained(cfg, data, model, history)


@functools.cache
def shared_model(**settings):
    """train_model, once a session for each settings: several test files read the models of seeds 1 and 2 and of
    --seq-len 5. Read them, never change them (copy.deepcopy first). Those in AHEAD train at collection, in the
    background; this waits for them."""
    ahead = background.get(frozenset(settings.items()))
    if ahead is None:
        return train_model(**settings)
    weights, history = ahead.result()  # waits, if it is still training
    cfg = Config(**settings)
    data = make_data(cfg)
    model = make_model(cfg, data.vocab)
    model.load_state_dict(torch.load(io.BytesIO(weights)))
    return Trained(cfg, data, model, history)


TRANSFORMER = {"model": "transformer"}  # the settings of `demo.py --model transformer`
NEEDS_TRANSFORMER = {"trained_transformer", "transformer_run"}
# The other models worth training at collection, in the background, by settings for shared_model, with the slow
# tests that read them, by id: a model trains only if one of its readers is selected. Each takes seconds. The MLP's
# come first, in the order their readers run (in their place, early); the transformers' readers run late, with the
# other tests that need a transformer.
NEEDED = "test_mechanism.py::test_the_needed_directions_hold_nearly_all_the_variance"
OTHER_SEEDS = "test_training.py::test_other_seeds_reverse_every_sequence_including_heldout"
AHEAD = [
    ({"seed": 6}, ["test_generalization.py::test_the_finding_names_what_seed_6_training_lacked"]),
    *[(settings, [f"{NEEDED}[{layer}-{name}]" for layer in ("hidden1", "hidden2")
                  for name in ("seed 1", "seed 2", "seq-len 5")] + readers)
      for settings, readers in [
          ({"seed": 1}, [f"{OTHER_SEEDS}[1]"]), ({"seed": 2}, [f"{OTHER_SEEDS}[2]"]),
          ({"seq_len": 5}, ["test_training.py::test_length_5_generalizes_to_heldout_sequences",
                            "test_sae.py::test_steering_toward_a_middle_letter_overshoots_to_the_far_end"])]],
    *[(settings, [f"test_mechanism.py::test_at_settings_where_patching_misses_no_change_of_basis_is_claimed[{name}]"])
      for name, settings in [("length 2, ab", {"seq_len": 2, "vocab": "ab"}), ("epochs 5", {"epochs": 5})]],
    ({"vocab": "ab"}, ["test_sae.py::test_two_letters_are_not_double_counted_nor_called_off_a_line"]),
    ({"hidden": 6, "seq_len": 4},
     ["test_superposition.py::test_a_small_width_that_keeps_every_letter_is_packed_even_where_the_task_fails"]),
    ({**TRANSFORMER, "seed": 1}, ["test_transformer.py::test_reverses_every_heldout_sequence[seed1]"]),
    ({**TRANSFORMER, "seq_len": 6}, ["test_transformer.py::test_reverses_every_heldout_sequence[seq_len6]",
                                     "test_attention.py::test_at_length_6_the_transformer_is_the_mirror_circuit"]),
    ({**TRANSFORMER, "seed": 3},  # a messy circuit: output 2 attends to <eos>
     ["test_path_patching.py::test_at_seed_3_the_eos_key_carries_what_activation_patching_misses"]),
]
background = {}  # what started at collection: the models' training, the script runs (Futures)
folders = []  # the script runs' own folders, removed at the end
running = []  # the script runs' processes, stopped at the end
ending = Event()  # set at the end: start no further script run
started = set()  # the script runs begun, by name; `starting` guards it (two threads start them)
starting = Lock()


def call_key(function, args):
    return function.__module__, function.__qualname__, repr(args)


def computed(function, *args):
    """function(*args), worked out at collection in the background where a slow test module asks for it: its
    AHEAD_CALLS maps a test's name to the calls [(function, *args)] it reads (the function at module level, so the
    forked worker finds it by name). Elsewhere, computed here."""
    ahead = background.get(call_key(function, args))
    return function(*args) if ahead is None else ahead.result()


def train_weights(settings):
    """In a forked worker: train, and send back the weights (as torch.save bytes) and the history."""
    trained = train_model(**settings)
    buffer = io.BytesIO()
    torch.save(trained.model.state_dict(), buffer)
    return buffer.getvalue(), trained.history


ROOT = pathlib.Path(__file__).resolve().parent.parent


def viewer_environment(folder):
    """An environment with a display and a stand-in image viewer that writes down what it was asked to open (in
    folder/opened), for --show."""
    viewer = folder / "bin" / "xdg-open"
    viewer.parent.mkdir()
    viewer.write_text(f"#!/bin/sh\necho \"$1\" >> {folder / 'opened'}\n")
    viewer.chmod(viewer.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "DISPLAY": ":0", "PATH": f"{viewer.parent}{os.pathsep}{os.environ['PATH']}"}


# The whole-script runs the slow tests read, by fixture name, longest first: (script, flags, needs a viewer). Each
# writes into its own folder, passed as --out; stdin is /dev/null, so a script that waited for a key would hang.
SCRIPT_RUNS = {
    "features_notebook_run": ("demo_notebook.py", ["--no-pause", "--chapter", "features", "--show",
                                                   "--details"], True),
    "notebook_run": ("demo_notebook.py", [], False),
    "demo_run": ("demo.py", ["--seeds", "2"], False),
    "transformer_demo_run": ("demo.py", ["--model", "transformer"], False),
}


def run_scripts(names):
    """Run each named script in turn, in a thread (the scripts are other processes: this thread only waits). A
    script a test asked for before its turn (script_run) has started already, beside this one: skip it."""
    for name in names:
        if ending.is_set():
            break
        with starting:
            if name in started:
                continue
            started.add(name)
        script, flags, viewer = SCRIPT_RUNS[name]
        folder = pathlib.Path(tempfile.mkdtemp(prefix=f"{name}-"))
        folders.append(folder)
        command = [sys.executable, script, *flags, "--out", str(folder / "out")]
        try:
            with subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  env=viewer_environment(folder) if viewer else None) as process:
                running.append(process)  # so that a session that ends first (-x, Ctrl-C) stops it
                try:
                    stdout, stderr = process.communicate(timeout=180)
                finally:
                    process.kill()  # a no-op once it has exited
            result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
            background[name].set_result((result, folder / "out", folder))
        except BaseException as error:  # a timeout, say: the test that reads this run reports it
            background[name].set_exception(error)


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected: start only what the selected tests read
def pytest_collection_modifyitems(items):
    """Start what takes longest now, on the second core, and run the tests that need it last."""
    def uses(item, names):  # a fixture by name, or by a parameter that names it (request.getfixturevalue)
        parameters = getattr(item, "callspec", None)
        named = [value for value in parameters.params.values() if isinstance(value, str)] if parameters else []
        return set(names) & {*getattr(item, "fixturenames", ()), *named}

    scripts = [name for name in SCRIPT_RUNS if any(uses(item, [name]) for item in items)]
    selected = {item.nodeid.split("/")[-1]: item for item in items}
    ahead = [settings for settings, readers in AHEAD if set(readers) & set(selected)]
    mlp = [settings for settings in ahead if settings.get("model") != "transformer"]
    transformers = [settings for settings in ahead if settings.get("model") == "transformer"]
    needing = [item for item in items if uses(item, NEEDS_TRANSFORMER)]
    needing += [selected[reader] for settings, readers in AHEAD if settings.get("model") == "transformer"
                for reader in readers if reader in selected]
    calls = [call for item in items if item.get_closest_marker("slow")
             for call in getattr(getattr(item, "module", None), "AHEAD_CALLS", {}).get(item.originalname, [])]
    if ahead + needing + calls and "fork" in multiprocessing.get_all_start_methods():
        # Training is seeded and on one thread, so the weights are bit-identical to training here.
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
        background["pool"] = pool
        for settings in mlp + [TRANSFORMER] * any(uses(item, NEEDS_TRANSFORMER) for item in items) + transformers:
            background[frozenset(settings.items())] = pool.submit(train_weights, settings)
        for function, *args in calls:
            background[call_key(function, args)] = pool.submit(function, *args)
    for name in scripts:
        background[name] = Future()
    if scripts:
        for chain in (scripts[0::2], scripts[1::2]):  # two chains: a script waits less for the one before it
            Thread(target=run_scripts, args=(chain,), daemon=True).start()
    # stable: the scripts' readers last, the transformer's before them, the rest in the order collected
    items.sort(key=lambda item: 2 if uses(item, scripts) else 1 if item in needing else 0)


def pytest_unconfigure(config):
    ending.set()
    for process in running:
        process.kill()  # a no-op once it has exited
    if "pool" in background:
        background["pool"].shutdown(cancel_futures=True)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def script_run(name):
    """(CompletedProcess, the --out folder, the run's own folder) of SCRIPT_RUNS[name]: started at collection, in two
    chains of one after another (measured: 82-85 s for the suite, against 92-95 s with one chain). By the time a test
    asks for one, the tests that need no script are done (they run first), so a run still waiting its turn starts
    now, beside the ones running."""
    if name not in background:  # collected some other way
        background[name] = Future()
    with starting:
        waiting = name not in started
    if waiting:
        Thread(target=run_scripts, args=([name],), daemon=True).start()
    return background[name].result()


@pytest.fixture(scope="session")
def demo_run():
    """`demo.py --seeds 2`, end to end: a spread needs two seeds, and each costs the suite a second."""
    return script_run("demo_run")


@pytest.fixture(scope="session")
def transformer_demo_run():
    """`demo.py --model transformer`, end to end."""
    return script_run("transformer_demo_run")


@pytest.fixture(scope="session")
def notebook_run():
    """The whole notebook as a script, pausing as a student's run does, with stdin closed."""
    return script_run("notebook_run")


@pytest.fixture(scope="session")
def features_notebook_run():
    """The notebook's chapter 4 alone, with --show (a stand-in viewer) and --details. Not --crowded: step 25's
    crowded model costs 7 s of the suite's 90; its parts (superposition_report, sae_experiment) are tested on their
    own."""
    return script_run("features_notebook_run")


@pytest.fixture(scope="session")
def trained_transformer():
    """The default transformer of `demo.py --model transformer`: seed 42, lr 3e-3, trained once for every test file
    that needs it (in the background where it can be)."""
    return shared_model(**TRANSFORMER)


@pytest.fixture(scope="session")
def trained():
    """The default model of demo.py: seed 42, 2000 samples, 100 epochs."""
    return train_model()


@pytest.fixture(scope="session")
def sequences(trained):
    return analysis_sequences(trained.cfg)  # (27, 3): every sequence of the default settings


@pytest.fixture(scope="session")
def untrained(trained):
    return make_model(trained.cfg, trained.data.vocab)  # same shape and seed, no training


@pytest.fixture(scope="session")
def run(trained, untrained):
    """What every technique takes: the default trained model, its untrained twin, the data and the settings."""
    return Run(trained.model, untrained, trained.data, trained.cfg)


@pytest.fixture(scope="session")
def transformer_run(trained_transformer):
    """The same for the default transformer."""
    cfg, data = trained_transformer.cfg, trained_transformer.data
    return Run(trained_transformer.model, make_model(cfg, data.vocab), data, cfg)


@pytest.fixture(scope="session")
def dead_neuron_model(trained):
    """A copy of the trained model in which neuron DEAD of each hidden layer never fires, whatever the input.

    Built on purpose rather than searched for: which neurons training kills depends on the seed.
    """
    model = copy.deepcopy(trained.model)
    with torch.no_grad():
        for linear in (model.linear1, model.linear2):
            linear.weight[DEAD] = 0
            linear.bias[DEAD] = -1  # pre-activation -1 for every input: ReLU gives 0
    return model


def assert_png(path):
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100, \
        f"{path.name} is not a real image: shape {image.shape}"


def drawn_figure(monkeypatch, module, plot, *args, **kwargs):
    """The Figure that `plot` (a plot function of `module`) builds, caught before it is saved: no file, no rendering."""
    figures = []
    monkeypatch.setattr(module, "save_figure", lambda fig, path: figures.append(fig))
    plot(*args, "unused.png", **kwargs)
    return figures[0]


def panels(fig):
    """The axes that draw a heatmap: colour bars and empty axes are not panels."""
    return [ax for ax in fig.axes if ax.images]


def assert_readable(fig, smallest=9):
    """Every piece of text is at least `smallest` points at the figure's saved size: readable when projected."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text
    FigureCanvasAgg(fig).draw()  # tick labels exist only once the figure is laid out
    small = sorted({(text.get_text(), text.get_fontsize()) for text in fig.findobj(Text)
                    if text.get_visible() and text.get_text() and text.get_fontsize() < smallest})
    assert not small, f"text below {smallest} pt, too small to read when projected: {small}"


def assert_finding(result):
    """A technique's result says what it found in layers (report.result): a short computed headline, named numbers,
    and evidence and caveats as lines; and its to_json() holds numbers and lists only, no prose."""
    finding = result.finding()
    words = len(finding.headline.split())
    assert 0 < words <= HEADLINE_WORDS, f"{type(result).__name__}'s headline has {words} words, at most " \
                                        f"{HEADLINE_WORDS}: move the rest into evidence:\n{finding.headline}"
    assert finding.numbers and all(isinstance(value, numbers.Number) for value in finding.numbers.values()), \
        f"{type(result).__name__}'s finding names no numbers, or not only numbers: {finding.numbers}"
    assert all(isinstance(line, str) for line in finding.evidence + finding.caveats)
    prose = [value for value in leaves(result.to_json()) if isinstance(value, str) and len(value.split()) > 3]
    assert not prose, f"{type(result).__name__}.to_json() stores prose: {prose[:2]}"
    json.dumps(result.to_json())  # numbers and lists all the way down


def leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value
