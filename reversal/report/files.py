"""Write output files whole or not at all, and end the program cleanly, however it is stopped.

Each file is written to a temporary file beside it, .tmp-<pid>-<random>, then renamed over it: a rename within one
folder is atomic, so a crash never leaves a half-written PNG or JSON behind. A signal is different: Ctrl-C (SIGINT),
kill or timeout (SIGTERM) and a closed terminal (SIGHUP) may come between any two lines. So every process keeps the
names of the temporary files it is writing, and on a signal removes them before it exits (stop_cleanly_on_signals).
A process that had no chance to (kill -9, a power cut) leaves its temporary files behind; the next run removes them
(remove_stale_temp_files), knowing them by the pid in their name.
"""

import json
import math
import multiprocessing
import os
import re
import signal
import sys
import threading
import time

from ..core.progress import heartbeat

_writing = set()  # the temporary files this process is writing now: a signal removes them before the process ends
TEMPORARY = re.compile(r"\.tmp-(\d+)-[0-9a-f]{8}(\.\w+)?")  # the names write_atomically gives its temporary files


class WriteError(Exception):
    """A file could not be written (a full disk, a folder in its place): carries the one line to print, naming the
    file and the cause. A plain Exception of one string, so it comes back whole from a figure worker."""


def write_atomically(path, write):
    """Call write(file) on a temporary file beside path, then rename it over path: whole or not at all.
    An OSError (a full disk, a folder where the file goes) becomes a WriteError that names the file."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.urandom(4).hex()}{os.path.splitext(path)[1]}")
    _writing.add(tmp)  # before the file exists: a signal from here on knows to remove it
    try:
        with open(tmp, "xb") as file:  # "x": a new file, with the usual permissions
            write(file)
        os.replace(tmp, path)
    except BaseException as error:  # an error, or KeyboardInterrupt where no handler is installed: remove the rest
        remove(tmp)
        if isinstance(error, OSError):  # a full disk, a folder in its place: one line naming the file
            raise WriteError(f"could not write {path}: {error.strerror or error}") from None
        raise
    finally:
        _writing.discard(tmp)


def remove(path):
    try:
        os.unlink(path)
    except OSError:  # gone already (renamed into place, or never created)
        pass


def save_figure(fig, path):
    write_atomically(path, lambda file: fig.savefig(file, format="png", dpi=100))


def save_json(data, path):
    write_atomically(path, lambda file: file.write(to_json_text(data).encode() + b"\n"))


def to_json_text(value, depth=0):
    """JSON with one key a line, but each list of numbers (or of lists of numbers) on one line: a matrix reads
    as its rows, and the file stays small. json.loads reads it back as json.dumps would have written it.
    A technique's result (report.result.Result) is written as its to_json(). Strict JSON has no NaN or infinity
    (a diverged run's numbers): they are written as null."""
    if hasattr(value, "to_json"):
        value = value.to_json()
    if isinstance(value, dict) and value:
        inner = "  " * (depth + 1)
        items = ",\n".join(f"{inner}{json.dumps(str(key))}: {to_json_text(item, depth + 1)}"
                            for key, item in value.items())
        return "{\n" + items + "\n" + "  " * depth + "}"
    if isinstance(value, (list, tuple)) and any(isinstance(item, dict) for item in value):
        inner = "  " * (depth + 1)
        return "[\n" + ",\n".join(inner + to_json_text(item, depth + 1) for item in value) + "\n" + "  " * depth + "]"
    return json.dumps(finite_or_none(value), allow_nan=False)


def finite_or_none(value):
    """value, with each NaN or infinity in it (in lists too) replaced by None, which JSON writes as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    return value


def remove_stale_temp_files(folder):
    """Remove the temporary files a killed run left in folder: those whose writer (the pid in the name) is no longer
    running. A run writing into the same folder at this moment keeps its own; files of other names are not ours."""
    try:
        names = os.listdir(folder)
    except OSError:  # no folder yet: nothing to remove
        return
    for name in names:
        match = TEMPORARY.fullmatch(name)
        if match and not running(int(match.group(1))):
            remove(os.path.join(folder, name))


def running(pid):
    """Whether process pid exists. On Windows os.kill(pid, 0) would end it, not ask: say no, the file is stale."""
    if os.name == "nt" or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0 sends nothing: it only asks whether the process is there
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's process
        return True
    return True


def quick_exit():
    """End the program now, once every file is written and closed.

    Python's own teardown of torch's many modules takes about a second and saves nothing, so skip it: flush what
    was printed, then leave with status 0.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader of the output has gone (| head): nothing more to say to it
        pass
    os._exit(0)


def stop_quietly_when_the_reader_goes():
    """`python demo.py | head`: when whatever reads our output closes it early, the next print raises
    BrokenPipeError. Stop there without a traceback, with status 1: Python's documentation of SIGPIPE recommends
    pointing stdout at os.devnull, so that the flush at exit has nowhere left to fail. A file that cannot be
    written (WriteError: a full disk, say) ends the run with its one line and status 1, not a traceback.

    It also sends each line out as it is printed, as a terminal does: a reader such as `tee` then sees the log as it
    happens, and one that goes away early is noticed at the next line rather than when the run ends. And a
    character the output cannot encode (a folder name that is not UTF-8) is printed as an escape such as \\udcff."""
    sys.stdout.reconfigure(line_buffering=True, errors="backslashreplace")
    previous = sys.excepthook

    def hook(kind, error, traceback):
        if issubclass(kind, BrokenPipeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        elif issubclass(kind, WriteError):
            if sys.stderr is not None:
                print(f"{os.path.basename(sys.argv[0])}: error: {error}", file=sys.stderr)
        else:
            previous(kind, error, traceback)

    sys.excepthook = hook


# the signals that stop a run, and how the one line printed on stopping names each (Windows has no SIGHUP)
STOPPING = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "terminated (SIGTERM)"}
if hasattr(signal, "SIGHUP"):
    STOPPING[signal.SIGHUP] = "hung up (SIGHUP)"

_main = None  # the pid of the process that called stop_cleanly_on_signals(): the one that prints why it stopped


def stop_cleanly_on_signals():
    """From now on, Ctrl-C, kill or a closed terminal, at any moment, stops the run in the same way: the file being
    written is removed, the worker processes are ended, one line says why, and the exit status is the one a shell
    expects, 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP). Call it first thing:
    until then, Ctrl-C prints a traceback. Not in a notebook, whose Ctrl-C (interrupt the kernel) stops one cell."""
    global _main
    _main = os.getpid()
    handle_stopping_signals()


def handle_stopping_signals():
    """stop() handles each stopping signal from now on, but one this process was started ignoring stays ignored, as
    `nohup` (SIGHUP) and a shell's background job (SIGINT) ask."""
    for number in STOPPING:
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, stop)


def stop(number, frame):
    """The signal handler: Python runs it in the main thread, between two lines of whatever was running."""
    for each in STOPPING:  # a second Ctrl-C, or the terminal's SIGHUP after it, must not interrupt the cleanup
        signal.signal(each, signal.SIG_IGN)
    heartbeat.stage(None)  # stopping: nothing is still working
    for tmp in list(_writing):
        remove(tmp)
    if os.getpid() == _main:  # a worker ends silently: its parent says it
        end_workers()
        say(f"\n{STOPPING[number]}: stopped before finishing; no half-written file is left")
    os._exit(128 + number)  # now: Python's exit would wait for the workers' queues, and a second Ctrl-C hang there


def end_workers():
    """Stop every worker process of ours (the figure workers, the sweep's): each removes its own temporary file."""
    workers = multiprocessing.active_children()
    for worker in workers:
        worker.terminate()  # SIGTERM: the worker's handler is stop(), above
    deadline = time.monotonic() + 2  # one figure's drawing at most, before the worker reaches a line of Python
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            worker.kill()


def say(line):
    """Print line on stderr, straight to the file descriptor: the signal may have come in the middle of a print, and
    printing again to a stream half-way through a write raises an error."""
    try:
        sys.stdout.flush()  # what was printed before comes first
    except Exception:  # the same, on stdout; or no stdout at all
        pass
    try:
        os.write(2, line.encode() + b"\n")
    except OSError:  # the terminal has gone (SIGHUP) or stderr is closed: nobody to tell
        pass


def start_worker(parent):
    """The first thing each worker process does (plots.BackgroundFigures, the sweep): stop as the main process does
    on a signal, and end when the main process ends, however it ends (even kill -9)."""
    _writing.clear()  # the fork copied the parent's list: those files are the parent's to remove
    handle_stopping_signals()
    if not end_with_parent_on_linux():
        threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent ended before we could ask to be told
        os.kill(os.getpid(), signal.SIGTERM)


def end_with_parent_on_linux():
    """Ask Linux to send this process SIGTERM when its parent ends (prctl PR_SET_PDEATHSIG). False elsewhere.
    Strictly, when the parent's thread that started it ends: the pools start their workers from the main thread, or
    from a thread of the pool's own that lasts as long as the pool."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
        return ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM) == 0
    except (OSError, AttributeError):  # no C library to ask
        return False


def watch_parent(parent):
    """Elsewhere: a thread looks twice a second whether the parent is still there (when it ends, this process is
    handed to another, and os.getppid() changes)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)  # to the whole process, so that the main thread runs stop()
