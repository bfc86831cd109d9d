"""How fast is the demo, and how much of its time is only Python importing torch and matplotlib?

    python bench/bench.py               # from the repo root; 5 repetitions of each measure
    python bench/bench.py --repeats 3   # quicker, noisier

Measures, as the median (and min, max) over the repetitions:
  - floor: wall time of `python -c "import torch, matplotlib.pyplot"`, the least any script here can take;
  - demo.py and demo_notebook.py --no-pause: wall time end to end with default settings;
  - training alone, in a subprocess: the seconds train() measures, and optimizer steps per second;
  - peak RSS of the floor and demo.py subprocesses, in MB.
Then checks the goals: demo.py <= 2.5x the floor (aim 2x), training <= 2 s, demo.py peak RSS <= 600 MB.
It is a report, not a test: it exits 0 whatever the numbers, and 1 only if a script fails. Writes nothing that stays.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Training alone, in a fresh Python started in the repo root (so `reversal` imports without touching sys.path):
# prints the seconds train() measured and the optimizer steps per second.
TRAINING = """
import math
from reversal.config import Config
from reversal.train import make_data, make_model, train
cfg = Config()
data = make_data(cfg)
history = train(make_model(cfg, data.vocab), data, cfg, progress=False)
steps = cfg.epochs * math.ceil(cfg.samples / cfg.batch_size)  # the last batch of an epoch may be short
print(history.seconds, steps / history.seconds)
"""


def run(args):
    """Wall seconds and peak RSS in MB of `python *args`; exits 1 with its stderr if it fails.

    Linux reports a child's peak RSS as at least this process's own peak (exec records the high-water mark of the
    memory it replaces, and subprocess uses vfork, so that memory is ours): so this process never imports torch.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:  # a file, not a pipe: a full pipe would block the child
        child = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)  # wait4, not wait: it also returns the child's resource usage
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not try to reap it again
        if child.returncode != 0:
            stderr.seek(0)
            print(f"python {' '.join(args)} exited {child.returncode}:\n{stderr.read().decode()}", file=sys.stderr)
            sys.exit(1)
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def time_training():
    """Training seconds and optimizer steps per second with the default Config, from a subprocess."""
    result = subprocess.run([sys.executable, "-c", TRAINING], cwd=ROOT, capture_output=True, text=True, check=True)
    seconds, steps_per_second = map(float, result.stdout.split())
    return seconds, steps_per_second


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="repetitions of each measure (default: 5)")
    repeats = parser.parse_args().repeats
    names = ["floor (s)", "demo.py (s)", "demo_notebook.py (s)", "training (s)", "training (steps/s)",
             "floor peak RSS (MB)", "demo.py peak RSS (MB)"]
    results = {name: [] for name in names}  # one value per repetition

    # interleaved, one of each per round, so a burst of machine noise hits every script alike
    for repeat in range(repeats):
        print(f"round {repeat + 1}/{repeats}", file=sys.stderr)
        with tempfile.TemporaryDirectory() as out:
            floor_seconds, floor_rss = run(["-c", "import torch, matplotlib.pyplot"])
            demo_seconds, demo_rss = run(["demo.py", "--out", out])
            notebook_seconds, _ = run(["demo_notebook.py", "--no-pause", "--out", out])
        for name, value in [("floor (s)", floor_seconds), ("demo.py (s)", demo_seconds),
                            ("demo_notebook.py (s)", notebook_seconds), ("floor peak RSS (MB)", floor_rss),
                            ("demo.py peak RSS (MB)", demo_rss)]:
            results[name].append(value)
        train_seconds, steps_per_second = time_training()
        results["training (s)"].append(train_seconds)
        results["training (steps/s)"].append(steps_per_second)

    median = {name: statistics.median(values) for name, values in results.items()}
    print(f"\n{'measure':<24}{'median':>10}{'min':>10}{'max':>10}   ({repeats} repeats)")
    for name, values in results.items():
        print(f"{name:<24}{median[name]:>10.2f}{min(values):>10.2f}{max(values):>10.2f}")

    demo_ratio = median["demo.py (s)"] / median["floor (s)"]
    notebook_ratio = median["demo_notebook.py (s)"] / median["floor (s)"]
    print(f"\ndemo.py / floor          {demo_ratio:.2f}x")
    print(f"demo_notebook.py / floor {notebook_ratio:.2f}x")
    verdict = lambda ok: "pass" if ok else "FAIL"
    print(f"\n{verdict(demo_ratio <= 2.5)}  demo.py end to end <= 2.5x the floor (aim 2x): {demo_ratio:.2f}x")
    print(f"{verdict(median['training (s)'] <= 2)}  training <= 2 s: {median['training (s)']:.2f} s")
    print(f"{verdict(median['demo.py peak RSS (MB)'] <= 600)}  demo.py peak RSS <= 600 MB: "
          f"{median['demo.py peak RSS (MB)']:.0f} MB")


if __name__ == "__main__":
    main()
