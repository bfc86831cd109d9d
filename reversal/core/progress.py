"""Is a person watching? Progress bars are drawn only for someone who can see them: a terminal or a notebook. And
for a terminal, a heartbeat: a big setting makes one experiment take seconds, and a silent terminal looks hung."""

import sys
import threading
import time

from tqdm import tqdm

HEARTBEAT = 5  # seconds a stage may run silently before the heartbeat speaks, and between its lines


def in_notebook():
    """True inside a Jupyter kernel (VS Code, JupyterLab), where sys.argv holds the kernel's own arguments."""
    return "ipykernel" in sys.modules


def watching():
    """Is a person watching the output live? Then progress bars are worth drawing (not in a pipe or CI)."""
    return in_notebook() or sys.stderr.isatty()


class Heartbeat:
    """While one stage has run HEARTBEAT seconds or more, a line on stderr every HEARTBEAT seconds says what runs
    and for how long ("... still working on step 24: 10 s"), unless a progress bar is on screen to say it. Only at
    a terminal: a notebook marks a busy cell itself, and a pipe has nobody watching. At the defaults every stage
    ends sooner, and it says nothing."""

    def __init__(self, every=HEARTBEAT):
        self.every = every
        self.name, self.since, self.said = None, 0.0, 0.0
        self.thread = None

    def stage(self, name):
        """What runs from now on; None while waiting for the person (a pause), when nothing is said."""
        self.name, self.since = name, time.monotonic()
        self.said = self.since
        if name is not None and self.thread is None and watching() and not in_notebook():
            self.thread = threading.Thread(target=self._beat, daemon=True)  # daemon: it never keeps a run alive
            self.thread.start()

    def _beat(self):
        while True:
            time.sleep(min(0.5, self.every / 4))
            now, name = time.monotonic(), self.name
            if name is None or now - self.said < self.every or tqdm._instances:  # a bar on screen says it already
                continue
            self.said = now
            print(f"... still working on {name}: {now - self.since:.0f} s", file=sys.stderr, flush=True)


heartbeat = Heartbeat()  # one for the process: demo.py names its stages, the tutorial its steps
