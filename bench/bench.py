"""How fast is the demo, and how much of its time is only Python importing torch and matplotlib?

    python bench/bench.py               # from the repo root; 5 repetitions of each measure, then demo.py --seeds 10 once
    python bench/bench.py --repeats 3   # quicker, noisier
    python bench/bench.py --no-seeds    # skip the long demo.py --seeds 10 run

Measures, as the median (and min, max) over the repetitions:
  - floor: wall time of importing torch and matplotlib.pyplot and creating one torch.optim.Adam, the least any script
    here can take: the first optimizer imports torch._dynamo (about 1 s), which no torch.optim user avoids, so
    ../shared/NOTES.md measures speed against a floor that includes it;
  - imports only: `python -c "import torch, matplotlib.pyplot"`, reported beside it for comparison;
  - demo.py, demo.py --model transformer and demo_notebook.py --no-pause: wall time end to end with default settings;
  - training alone, in a subprocess, for each model: the seconds train() measures, and optimizer steps per second;
  - peak RSS of the floor and demo.py subprocesses (both models), in MB.
And once, after the repetitions: the wall time of demo.py --seeds 10 (MLP).
Then checks the goals (issues 6 and 7): demo.py <= 2.5x the floor (aim 2x), demo.py --model transformer <= 3x,
the notebook <= 4x, MLP training <= 2 s, demo.py peak RSS <= 600 MB, demo.py --seeds 10 <= 60 s.
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
SEEDS = 10  # issue 6: `demo.py --seeds 10` within 60 s

# Training alone, in a fresh Python started in the repo root (so `reversal` imports without touching sys.path):
# prints the seconds train() measured and the optimizer steps per second. {model} is "mlp" or "transformer".
TRAINING = """
from reversal.core.train import make_data, make_model, optimizer_steps, train
from reversal.support.config import Config
cfg = Config(model="{model}")
data = make_data(cfg)
history = train(make_model(cfg, data.vocab), data, cfg, progress=False)
print(history.seconds, optimizer_steps(cfg) / history.seconds)
"""

# The end-to-end commands timed in every round; "{out}" becomes a temporary folder, so nothing stays behind.
SCRIPTS = {
    "floor": ["-c", "import torch, matplotlib.pyplot; torch.optim.Adam([torch.zeros(1, requires_grad=True)])"],
    "imports only": ["-c", "import torch, matplotlib.pyplot"],
    "demo.py": ["demo.py", "--out", "{out}"],
    "demo.py transformer": ["demo.py", "--model", "transformer", "--out", "{out}"],
    "notebook --no-pause": ["demo_notebook.py", "--no-pause", "--out", "{out}"],
}


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


def time_training(model):
    """Training seconds and optimizer steps per second with the default Config for model, from a subprocess."""
    result = subprocess.run([sys.executable, "-c", TRAINING.format(model=model)], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    seconds, steps_per_second = map(float, result.stdout.split())
    return seconds, steps_per_second


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="repetitions of each measure (default: 5)")
    parser.add_argument("--no-seeds", dest="seeds", action="store_false",
                        help=f"skip the one run of demo.py --seeds {SEEDS} (it takes the longest)")
    args = parser.parse_args()
    results = {}  # measure name -> one value per repetition
    record = lambda name, value: results.setdefault(name, []).append(value)

    # interleaved, one of each per round, so a burst of machine noise hits every script alike
    for repeat in range(args.repeats):
        print(f"round {repeat + 1}/{args.repeats}", file=sys.stderr)
        with tempfile.TemporaryDirectory() as out:
            for name, script in SCRIPTS.items():
                seconds, rss = run([arg.replace("{out}", out) for arg in script])
                record(f"{name} (s)", seconds)
                if name in ("floor", "demo.py", "demo.py transformer"):
                    record(f"{name} peak RSS (MB)", rss)
        for model in ("mlp", "transformer"):
            seconds, steps_per_second = time_training(model)
            record(f"training {model} (s)", seconds)
            record(f"training {model} (steps/s)", steps_per_second)

    # once, not per round: it trains 11 models and is the longest measure by far
    seeds_seconds = None
    if args.seeds:
        print(f"demo.py --seeds {SEEDS}, once", file=sys.stderr)
        with tempfile.TemporaryDirectory() as out:
            seeds_seconds, _ = run(["demo.py", "--seeds", str(SEEDS), "--out", out])

    median = {name: statistics.median(values) for name, values in results.items()}
    print(f"\n{'measure':<34}{'median':>10}{'min':>10}{'max':>10}   ({args.repeats} repeats)")
    for name, values in results.items():
        print(f"{name:<34}{median[name]:>10.2f}{min(values):>10.2f}{max(values):>10.2f}")
    if seeds_seconds is not None:
        print(f"{f'demo.py --seeds {SEEDS} (s)':<34}{seeds_seconds:>10.2f}   (one run)")

    # each goal: what it says, the measured value as text, and whether it holds
    ratio = lambda name: median[f"{name} (s)"] / median["floor (s)"]  # medians first, then the ratio
    print(f"\nratios to the floor (to imports only): demo.py {ratio('demo.py'):.2f}x "
          f"({median['demo.py (s)'] / median['imports only (s)']:.2f}x), transformer {ratio('demo.py transformer'):.2f}x "
          f"({median['demo.py transformer (s)'] / median['imports only (s)']:.2f}x), notebook "
          f"{ratio('notebook --no-pause'):.2f}x ({median['notebook --no-pause (s)'] / median['imports only (s)']:.2f}x)")
    goals = [
        ("demo.py <= 2.5x the floor (aim 2x)", f"{ratio('demo.py'):.2f}x", ratio("demo.py") <= 2.5),
        ("demo.py --model transformer <= 3x the floor", f"{ratio('demo.py transformer'):.2f}x",
         ratio("demo.py transformer") <= 3),
        ("demo_notebook.py --no-pause <= 4x the floor", f"{ratio('notebook --no-pause'):.2f}x",
         ratio("notebook --no-pause") <= 4),
        ("training alone (MLP) <= 2 s", f"{median['training mlp (s)']:.2f} s", median["training mlp (s)"] <= 2),
        ("demo.py peak RSS <= 600 MB", f"{median['demo.py peak RSS (MB)']:.0f} MB",
         median["demo.py peak RSS (MB)"] <= 600),
    ]
    if seeds_seconds is not None:
        goals.append((f"demo.py --seeds {SEEDS} <= 60 s (one run)", f"{seeds_seconds:.1f} s", seeds_seconds <= 60))
    print(f"\n{'goal':<48}{'measured':>10}   holds")
    for goal, measured, holds in goals:
        print(f"{goal:<48}{measured:>10}   {'yes' if holds else 'NO'}")


if __name__ == "__main__":
    main()
