"""Ctrl-C (SIGINT), kill (SIGTERM) and a closed terminal (SIGHUP), at any moment, stop a run in one line, with the
status a shell expects (128 + the signal's number), leaving no half-written file and no process of ours behind.

Most tests run a tiny Python program, without torch, that writes with reversal.report.files and draws with its
worker processes, and signal it from here while it writes; two run a script. Each is bounded in time."""

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from reversal.report.files import remove_stale_temp_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
WORDS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated", signal.SIGHUP: "hung up"}

# A run in miniature: the main process and, with "workers", two figure workers each write a file that takes 30 s,
# so that a signal finds every one of them half-way through. Each says "writing <pid>" once its file is open.
WRITER = r"""
import os, sys, time
from reversal.report import files

def slowly(file):
    file.write(b"half of it")
    file.flush()
    os.write(1, f"writing {os.getpid()}\n".encode())  # one write: the three processes share this pipe
    time.sleep(30)

def figure(path):
    files.write_atomically(path, slowly)

folder, how = sys.argv[1], sys.argv[2:]
if "polling" in how:
    sys.platform = "elsewhere"  # as on a system without prctl: the workers watch their parent instead
files.stop_cleanly_on_signals()
if "workers" in how:
    from reversal.report.plots import BackgroundFigures
    with BackgroundFigures() as figures:
        figures.draw(figure, os.path.join(folder, "first.png"))
        figures.draw(figure, os.path.join(folder, "second.png"))
        if "main writes" in how:
            files.write_atomically(os.path.join(folder, "metrics.json"), slowly)
elif "bare workers" in how:  # the same workers without matplotlib's import: files.start_worker, as the sweep's
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing
    with ProcessPoolExecutor(2, multiprocessing.get_context("fork"), files.start_worker, (os.getpid(),)) as pool:
        pool.submit(figure, os.path.join(folder, "first.png"))
        pool.submit(figure, os.path.join(folder, "second.png"))
else:
    files.write_atomically(os.path.join(folder, "metrics.json"), slowly)
"""


def start(command, **options):
    """Popen command as a terminal would start it: with Ctrl-C not ignored. (A shell starts a background job, such as
    `python -m pytest &`, with SIGINT ignored; a child inherits that, and the scripts rightly keep it so.)"""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options)
    finally:
        signal.signal(signal.SIGINT, previous)


def start_writer(folder, *how):
    return start([sys.executable, "-c", WRITER, str(folder), *how], stdin=subprocess.DEVNULL)


def wait_for(process, text, count=1, seconds=60):
    """Read the process's stdout until `text` has come `count` times; returns what was read."""
    read, deadline = b"", time.monotonic() + seconds
    while read.count(text.encode()) < count:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(process.stdout.fileno(), 65536) if ready else b""
        if not chunk:
            process.kill()
            pytest.fail(f"{text!r} never came ({'timed out' if not ready else 'it ended'}): {read.decode()[-500:]}"
                        f"{process.communicate()[1].decode()[-1000:]}")
        read += chunk
    return read.decode()


def pids(read):
    """The pids that said "writing <pid>"."""
    return [int(line.split()[1]) for line in read.splitlines() if line.startswith("writing ")]


def alive(pid):
    """Whether pid is still running: a zombie (ended, not yet reaped by whoever adopted it) counts as ended."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: ask the system
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def wait_until_ended(workers, seconds=10):
    deadline = time.monotonic() + seconds
    while any(map(alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [pid for pid in workers if alive(pid)]


def assert_stopped_in_one_line(process, number, seconds=10):
    _, err = process.communicate(timeout=seconds)
    err = err.decode()
    assert process.returncode == STATUS[number], f"exit status {process.returncode}, not {STATUS[number]}: {err}"
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, f"expected one line, got:\n{err}"
    assert WORDS[number] in err, f"the line should say what stopped the run: {err}"


@pytest.mark.parametrize("number", list(STATUS), ids=lambda number: signal.Signals(number).name)
def test_a_signal_while_a_file_is_written_leaves_no_temporary_file(number, tmp_path):
    process = start_writer(tmp_path)
    wait_for(process, "writing")
    assert [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")], "the temporary file should exist"
    process.send_signal(number)
    assert_stopped_in_one_line(process, number)
    assert os.listdir(tmp_path) == [], "the half-written file was left behind"


def test_ctrl_c_stops_the_figure_workers_and_a_second_one_does_not_hang(tmp_path):
    process = start_writer(tmp_path, "workers", "main writes")
    workers = [pid for pid in pids(wait_for(process, "writing", 3)) if pid != process.pid]
    assert len(workers) == 2 and len(os.listdir(tmp_path)) == 3, "each process should be writing its file"
    process.send_signal(signal.SIGINT)
    time.sleep(0.01)
    process.send_signal(signal.SIGINT)  # impatient: a second Ctrl-C while the first one cleans up
    assert_stopped_in_one_line(process, signal.SIGINT)
    assert wait_until_ended(workers, seconds=1) == [], "a figure worker outlived the run"
    assert os.listdir(tmp_path) == [], "a half-written file was left behind"


@pytest.mark.parametrize("how", ["prctl", "polling"])
def test_workers_end_when_their_parent_is_killed(how, tmp_path):
    process = start_writer(tmp_path, "bare workers", how)
    workers = pids(wait_for(process, "writing", 2))
    process.kill()  # kill -9: the parent has no chance to end its workers
    process.communicate(timeout=10)
    assert wait_until_ended(workers, seconds=5) == [], "the workers outlived their parent"
    assert os.listdir(tmp_path) == [], "a worker left its half-written file"


def test_a_worker_killed_on_its_own_stops_the_run_in_one_line(tmp_path):
    process = start_writer(tmp_path, "workers")
    workers = pids(wait_for(process, "writing", 2))
    os.kill(workers[0], signal.SIGTERM)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 1 and "Traceback" not in err.decode(), err.decode()
    assert len(err.decode().strip().splitlines()) == 1 and "figure worker" in err.decode(), err.decode()
    assert wait_until_ended(workers, seconds=5) == [] and os.listdir(tmp_path) == []


def test_stale_temporary_files_are_removed_and_others_kept(tmp_path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(ended.stdout)  # a pid whose process has ended
    stale = [f".tmp-{dead}-0123abcd.png", f".tmp-{dead}-89abcdef.json"]
    kept = [f".tmp-{os.getpid()}-0123abcd.png",  # a run writing into the same folder now: its file is no one else's
            ".tmp-notes.txt", "report.html"]  # not a name the writer gives: someone else's
    for name in stale + kept:
        (tmp_path / name).write_text("x")
    remove_stale_temp_files(tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted(kept)
    remove_stale_temp_files(tmp_path / "not yet made")  # no folder yet: nothing to do, no error


def sigcgt(pid):
    """The signals the process has a handler for, from /proc (a bit mask: bit n-1 is signal n)."""
    with open(f"/proc/{pid}/status") as file:
        return int(next(line for line in file if line.startswith("SigCgt:")).split()[1], 16)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the signal handlers from /proc")
def test_demo_ctrl_c_while_it_imports_stops_in_one_line(tmp_path):
    process = start([sys.executable, "demo.py", "--out", str(tmp_path / "out")], stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    # the handlers are in place once SIGHUP has one (Python itself only handles SIGINT); then torch takes seconds
    while not sigcgt(process.pid) & (1 << (signal.SIGHUP - 1)) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert "torch" not in open(f"/proc/{process.pid}/maps").read(), "too late: torch is loaded already"
    process.send_signal(signal.SIGINT)
    assert_stopped_in_one_line(process, signal.SIGINT)
    assert not (tmp_path / "out").exists(), "a run stopped before its start should write nothing"


@pytest.mark.slow
def test_notebook_ctrl_c_at_the_pause_stops_in_one_line(tmp_path):
    # a stale temporary file, as a killed run leaves it (the pid of an ended process), is removed at the next start
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / f".tmp-{int(ended.stdout)}-0123abcd.png").write_text("half")
    import pty

    terminal, keyboard = pty.openpty()  # the tutorial pauses only for a person at a terminal
    process = start([sys.executable, "demo_notebook.py", "--out", str(tmp_path)], stdin=keyboard)
    os.close(keyboard)
    try:
        wait_for(process, "[press Enter to continue]")
        time.sleep(0.2)  # waiting for Enter now
        process.send_signal(signal.SIGINT)
        assert_stopped_in_one_line(process, signal.SIGINT)
    finally:
        os.close(terminal)
    assert [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")] == []
