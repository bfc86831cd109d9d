"""Write output files whole or not at all: write a temporary file beside the target, then rename it over.

A rename within one folder is atomic, so a Ctrl-C or a crash never leaves a half-written PNG or JSON behind.
"""

import json
import math
import os
import sys
import tempfile


_UMASK = os.umask(0)
os.umask(_UMASK)  # reading the umask means setting it: put it straight back


class WriteError(Exception):
    """A file could not be written (a full disk, a folder in its place): carries the one line to print, naming the
    file and the cause. A plain Exception of one string, so it comes back whole from a figure worker."""


def write_atomically(path, write):
    """Call write(file) on a temporary file beside path, then rename it over path: whole or not at all.
    An OSError (a full disk, a folder where the file goes) becomes a WriteError that names the file."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    except OSError as error:
        raise WriteError(f"could not write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes the file private; give it the usual permissions
        os.replace(tmp, path)
    except BaseException as error:  # KeyboardInterrupt too: remove the partial file, then let the interrupt go on
        os.unlink(tmp)
        if isinstance(error, OSError):
            raise WriteError(f"could not write {path}: {error.strerror or error}") from None
        raise


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
