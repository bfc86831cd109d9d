"""Settings: one frozen dataclass, built from the command line and checked before anything trains or is written.

Every bad setting ends the program with exit status 2 and one line naming the setting and what is allowed.
"""

import argparse
import errno
import math
import os
import shutil
import string
import sys
import tempfile
from dataclasses import asdict, dataclass

from ..core.limits import DEFAULT_LR, DEMO_SAMPLES, MAX_SEQUENCES, max_seq_len

MODELS = ("mlp", "transformer")
MAX_HIDDEN = 256  # wide enough for every experiment here; much wider and the per-neuron figures become unreadable
# the whole numbers a setting may take, (lowest, highest or None); --seq-len's highest depends on the vocab
LIMITS = {"seed": (0, 2**32 - 1), "epochs": (1, 100_000), "samples": (1, 1_000_000), "seq_len": (2, None),
          "hidden": (1, MAX_HIDDEN), "batch_size": (1, 1_000_000)}
NAME_MAX = 255  # bytes in one name of a path, on Linux, macOS and Windows alike
MIN_FREE_MB = 20  # a default run writes about 3 MB (report.html carries every figure); refuse a nearly full disk
# the files each script writes into --out, checked before training: a folder in the place of one would stop the run
# at its end, when it writes that file
OUTPUTS = {
    "demo.py": ["report.html", "metrics.json", "model.pt", "training_loss.png", "activation_heatmaps.png",
                "position_influence.png", "probe_accuracy.png", "neuron_selectivity.png", "first_layer_weights.png",
                "ablation.png", "patching.png", "dimensionality.png", "subspace_interventions.png", "steering.png",
                "superposition.png", "seeds.png", "sae.png", "capacity_sweep.png", "attention_patterns.png",
                "circuits.png", "attention_interventions.png", "path_patching.png", "unseen.png",
                "grokking.png"],
    "demo_notebook.py": ["notebook_report.html", "activation_heatmaps.png"] + [f"notebook_{name}.png" for name in [
        "training_loss", "position_influence", "probe_accuracy", "neuron_selectivity", "first_layer_weights",
        "ablation", "patching", "dimensionality", "subspace_interventions", "attention_patterns", "circuits",
        "attention_interventions", "two_circuits", "path_patching", "path_patching_other_seed", "mlp_vs_transformer", "unseen", "grokking", "steering", "transformer_steering",
        "superposition", "sae", "superposition_crowded", "sae_crowded"]],
}


@dataclass(frozen=True)
class Config:
    model: str = "mlp"  # which network: "mlp" (the lesson's main model) or "transformer" (one attention layer)
    seed: int = 42  # seeds the weights, the held-out split and the batch order: same seed, same numbers
    epochs: int = 100  # passes over the training samples
    samples: int = DEMO_SAMPLES  # training samples, drawn with replacement from the non-held-out sequences
    seq_len: int = 3  # letters per sequence; the model sees seq_len + 1 tokens with <eos>
    vocab: str = "abc"  # the letters; <eos> is added as one more token
    hidden: int = 16  # neurons in each of the two hidden layers
    d_embed: int = 8  # MLP: embedding dimensions per token (fixed by the lesson, not a flag)
    d_model: int = 32  # transformer: width of the residual stream (fixed, not a flag)
    lr: float = None  # Adam learning rate; None means the model's own default, DEFAULT_LR
    batch_size: int = 100  # samples per optimizer step: 20 steps an epoch, 2000 in all with the defaults
    input: str = ""  # the sequence to show the prediction for; "" means the default built from vocab
    device: str = "cpu"  # where the tensors live, resolved from --device (auto -> cuda if available)
    out: str = "."  # folder for figures and metrics

    def __post_init__(self):
        if self.lr is None:
            object.__setattr__(self, "lr", DEFAULT_LR[self.model])
        if not self.input:  # default: the vocabulary's letters in order, repeated or cut to seq_len
            text = (self.vocab * self.seq_len)[: self.seq_len]
            if text == text[::-1] and len(set(self.vocab)) > 1:  # "abababa" reversed is itself: it would show nothing
                text = text[:-1] + next(letter for letter in self.vocab if letter != text[0])
            object.__setattr__(self, "input", text)

    def to_dict(self):
        return asdict(self)

    def summary(self):
        """The settings that shape the run, in one line (print(cfg) shows them all)."""
        width = f"hidden {self.hidden}" if self.model == "mlp" else f"d_model {self.d_model}"
        return (f"{self.model}, seed {self.seed}: {self.samples} samples of length-{self.seq_len} sequences over "
                f"{self.vocab!r}, {width}, {self.epochs} epochs, batch {self.batch_size}, lr {self.lr:g}, on "
                f"{self.device}")


class BadSetting(Exception):
    """A setting a user got wrong; carries the one line to print."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, with each error on one line naming the setting, and exit status 2."""

    def error(self, message):
        # argparse would print the whole usage block; one line is easier to read in class
        if sys.stderr is not None:  # None when stderr is closed (2>&-): the exit status still says what happened
            sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


def integer(low, high=None):
    """An argparse type: a whole number from low to high, or a one-line error naming what is allowed."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}")
        if value < low or (high is not None and value > high):
            allowed = f"from {low} to {high:,}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {value}")
        return value

    return parse


def _learning_rate(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number such as 1e-3, got {text!r}")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number such as 1e-3, got {text!r}")
    return value


def _vocab(text):
    if len(text) < 2 or any(c not in string.ascii_lowercase for c in text) or len(set(text)) != len(text):
        raise argparse.ArgumentTypeError(f"must be at least 2 distinct lowercase letters a-z, such as abc, got {text!r}")
    return text


def build_parser(prog, default_samples, description=None, choose_model=True):
    """The flags both scripts share; their defaults come from Config, so they are written down once.
    choose_model=False leaves out --model, for the notebook, which always tells both models' stories."""
    d = Config()
    parser = OneLineParser(prog=prog, description=description, allow_abbrev=False)  # a typo is an error, not a guess
    arg = parser.add_argument
    if choose_model:
        arg("--model", choices=MODELS, default=d.model,
            help="mlp: embedding -> two Linear+ReLU layers -> output; transformer: one attention-only layer with a "
                 "residual stream, whose routing can be read from its attention pattern (default: mlp)")
    arg("--out", default=d.out, help="folder for the output files; created if missing (default: the current folder)")
    arg("--seed", type=integer(*LIMITS["seed"]), default=d.seed,
        help=f"random seed for weights, split and batches (default: {d.seed})")
    arg("--epochs", type=integer(*LIMITS["epochs"]), default=d.epochs, help=f"training epochs (default: {d.epochs})")
    arg("--samples", type=integer(*LIMITS["samples"]), default=default_samples,
        help=f"training samples, drawn with replacement from the training sequences (default: {default_samples})")
    arg("--seq-len", type=integer(*LIMITS["seq_len"]), default=d.seq_len,
        help=f"letters per sequence, at least 2 (one letter reversed is itself); at most the length whose "
             f"len(vocab)**seq-len sequences fit in {MAX_SEQUENCES:,}: 12 for abc, 9 for abcd (default: {d.seq_len})")
    arg("--vocab", type=_vocab, default=d.vocab,
        help=f"the letters: at least 2 distinct lowercase letters (default: {d.vocab}); the experiments' work grows "
             f"with letters x seq-len: 26 letters at --seq-len 4 take about "
             f"{'a minute on 2 cores (62 s' if choose_model else '3 minutes on 2 cores (179 s'} at --epochs 1)")
    arg("--hidden", type=integer(*LIMITS["hidden"]), default=d.hidden,
        help=f"mlp only: neurons per hidden layer, at most {MAX_HIDDEN} (default: {d.hidden}); the experiments' "
             f"work grows with it: 256 at --seq-len 9 --vocab abcd take " + (
                 "about 3 minutes on 2 cores (184 s at --epochs 1)" if choose_model else
                 "over 5 minutes on 2 cores (at --epochs 1, step 13 of 26 after 5.5 minutes)") +
             ", and a line every 5 s says what is still running")
    arg("--lr", type=_learning_rate, default=None,
        help=f"Adam learning rate, positive (default: {DEFAULT_LR['mlp']:g} for mlp, "
             f"{DEFAULT_LR['transformer']:g} for transformer)" if choose_model else
             f"Adam learning rate of the MLP, positive (default: {DEFAULT_LR['mlp']:g}); the transformer of chapter 3 "
             f"always uses {DEFAULT_LR['transformer']:g}")
    arg("--batch-size", type=integer(*LIMITS["batch_size"]), default=d.batch_size,
        help=f"samples per optimizer step (default: {d.batch_size})")
    arg("--input", default=None,
        help="the sequence to predict: seq-len letters of the vocab, e.g. abc or 'a b c' "
             "(default: the vocab's letters in order, repeated or cut to seq-len)")
    arg("--device", choices=["auto", "cpu", "cuda"], default="auto",
        help="auto uses CUDA when it is available, else the CPU (default: auto)")
    return parser


def resolve(args, parser):
    """Turn parsed flags into a Config, checking what argparse alone cannot; parser.error exits with status 2."""
    try:
        return _resolve(args, OUTPUTS.get(parser.prog, []))
    except BadSetting as error:
        parser.error(str(error))


def _resolve(args, outputs):
    limit = max_seq_len(len(args.vocab))
    if args.seq_len > limit:
        raise BadSetting(f"argument --seq-len: must be at most {limit} with the {len(args.vocab)}-letter vocab "
                         f"{args.vocab!r} ({len(args.vocab)}**{limit} sequences fit in {MAX_SEQUENCES:,}), got {args.seq_len}")
    text = "" if args.input is None else args.input.replace(" ", "").replace(",", "")
    if args.input is not None and (len(text) != args.seq_len or any(c not in args.vocab for c in text)):
        raise BadSetting(f"argument --input: must be {args.seq_len} letters from {args.vocab!r} (the vocab), "
                         f"got {args.input!r}")
    check_writable(args.out, outputs)
    import torch  # only now: --help and every other bad setting answer without waiting seconds for torch
    if args.device == "cuda" and not torch.cuda.is_available():
        raise BadSetting("argument --device: cuda was asked for but CUDA is not available here; use cpu or auto")
    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    model = getattr(args, "model", None) or Config.model  # the notebook has no --model: it tells both stories
    return Config(model=model, seed=args.seed, epochs=args.epochs, samples=args.samples, seq_len=args.seq_len,
                  vocab=args.vocab, hidden=args.hidden, lr=args.lr, batch_size=args.batch_size, input=text,
                  device=device, out=args.out)


def checked_config(settings):
    """A Config from a dict of settings (a checkpoint's), each checked first against the limits the command line
    enforces: a file that asks for 40,000 hidden neurons is refused before gigabytes are allocated for them.
    Settings left out take Config's defaults. Raises BadSetting naming the first bad one."""
    if not isinstance(settings, dict):
        raise BadSetting(f"its config must be a dict of settings, got a {type(settings).__name__}")
    unknown = set(settings) - set(Config.__dataclass_fields__)
    if unknown:
        raise BadSetting(f"its config has settings this code does not know: {', '.join(sorted(map(str, unknown)))}")
    values = {**asdict(Config()), "lr": None, "input": "", **settings}  # as Config derives them
    sizes = {**LIMITS, "d_embed": (1, MAX_HIDDEN), "d_model": (1, MAX_HIDDEN)}  # the fixed widths: as wide at most
    for name, (low, high) in sizes.items():
        value = values[name]
        if type(value) is not int or value < low or (high is not None and value > high):  # bool is not a size
            allowed = f"from {low} to {high:,}" if high is not None else f"at least {low}"
            raise BadSetting(f"{name} must be a whole number {allowed}, got {value!r}")
    if values["model"] not in MODELS:
        raise BadSetting(f"model must be one of {', '.join(MODELS)}, got {values['model']!r}")
    if not isinstance(values["vocab"], str):
        raise BadSetting(f"vocab must be a string of letters, got {values['vocab']!r}")
    try:
        _vocab(values["vocab"])
    except argparse.ArgumentTypeError as error:
        raise BadSetting(f"vocab {error}")
    limit = max_seq_len(len(values["vocab"]))
    if values["seq_len"] > limit:
        raise BadSetting(f"seq_len must be at most {limit} with a {len(values['vocab'])}-letter vocab, "
                         f"got {values['seq_len']}")
    lr = values["lr"]
    if lr is not None and (type(lr) not in (int, float) or not math.isfinite(lr) or lr <= 0):
        raise BadSetting(f"lr must be a positive finite number, got {lr!r}")
    text = values["input"]
    if not isinstance(text, str) or (text and (len(text) != values["seq_len"] or set(text) - set(values["vocab"]))):
        raise BadSetting(f"input must be {values['seq_len']} letters from {values['vocab']!r}, got {text!r}")
    if not all(isinstance(values[name], str) for name in ("device", "out")):
        raise BadSetting("device and out must be strings")
    return Config(**values)


def check_writable(out, outputs=()):
    """Fail now, not after training, if --out cannot hold our files (outputs: their names). Creates nothing."""
    if not out.strip():
        raise BadSetting("argument --out: must name a folder, got an empty string; use . for the current folder")
    shown = repr(out if len(out) <= 60 else out[:50] + "...")  # a 300-byte name would fill the terminal
    existing = os.path.abspath(out)
    missing = []  # the folders os.makedirs would create, innermost first
    while True:  # up to the nearest folder that exists: that is where mkdir would start
        try:
            os.stat(existing)  # follows symlinks, as mkdir would
            break
        except (FileNotFoundError, NotADirectoryError):  # not there, or under a file: the check below says which
            if os.path.islink(existing):
                raise BadSetting(f"argument --out: {existing!r} is a symbolic link to {os.readlink(existing)!r}, "
                                 f"which does not exist; remove the link or choose another folder")
        except OSError as error:  # a symlink loop (ELOOP), a name too long, no permission to look inside
            if error.errno == errno.ENAMETOOLONG:
                raise BadSetting(f"argument --out: {shown} is too long: each name in a path may be at most "
                                 f"{NAME_MAX} bytes, and the whole path about 4,000; choose a shorter one")
            raise BadSetting(f"argument --out: cannot use {shown}: {error.strerror}")
        except ValueError as error:  # a NUL byte, possible in NOTEBOOK_FLAGS
            raise BadSetting(f"argument --out: cannot use {shown}: {error}")
        missing.append(os.path.basename(existing))
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise BadSetting(f"argument --out: must be a folder (or a new one to create), but {existing!r} is a file")
    if any(len(os.fsencode(name)) > NAME_MAX for name in missing):  # stat said "not there" before it read them
        raise BadSetting(f"argument --out: {shown} is too long: each name in a path may be at most {NAME_MAX} bytes; "
                         f"choose a shorter one")
    try:
        with tempfile.TemporaryFile(dir=existing):  # the only sure test: root ignores permission bits
            pass
    except OSError:
        raise BadSetting(f"argument --out: {existing!r} is not writable; choose a folder you can write to")
    free_mb = shutil.disk_usage(existing).free / 2**20
    if free_mb < MIN_FREE_MB:
        raise BadSetting(f"argument --out: only {free_mb:.1f} MB is free on the disk of {existing!r}, and a run needs "
                         f"{MIN_FREE_MB} MB to be sure of room; free some space or choose another folder")
    if not missing:  # a folder that exists already: does a folder stand where one of our files goes?
        for name in outputs:
            if os.path.isdir(os.path.join(existing, name)):
                raise BadSetting(f"argument --out: {os.path.join(existing, name)!r} is a folder, where this script "
                                 f"writes its file {name}; move it away or choose another --out")
