"""Settings: one frozen dataclass, built from the command line and checked before anything trains or is written.

Every bad setting ends the program with exit status 2 and one line naming the setting and what is allowed.
"""

import argparse
import math
import os
import string
import sys
import tempfile
from dataclasses import asdict, dataclass

from ..core.limits import DEFAULT_LR, DEMO_SAMPLES, MAX_SEQUENCES, max_seq_len

MODELS = ("mlp", "transformer")
MAX_HIDDEN = 256  # wide enough for every experiment here; much wider and the per-neuron figures become unreadable


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
    arg("--seed", type=integer(0, 2**32 - 1), default=d.seed,
        help=f"random seed for weights, split and batches (default: {d.seed})")
    arg("--epochs", type=integer(1, 100_000), default=d.epochs, help=f"training epochs (default: {d.epochs})")
    arg("--samples", type=integer(1, 1_000_000), default=default_samples,
        help=f"training samples, drawn with replacement from the training sequences (default: {default_samples})")
    arg("--seq-len", type=integer(2), default=d.seq_len,
        help=f"letters per sequence, at least 2 (one letter reversed is itself); at most the length whose "
             f"len(vocab)**seq-len sequences fit in {MAX_SEQUENCES:,}: 12 for abc, 9 for abcd (default: {d.seq_len})")
    arg("--vocab", type=_vocab, default=d.vocab,
        help=f"the letters: at least 2 distinct lowercase letters (default: {d.vocab})")
    arg("--hidden", type=integer(1, MAX_HIDDEN), default=d.hidden,
        help=f"mlp only: neurons per hidden layer, at most {MAX_HIDDEN} (default: {d.hidden})")
    arg("--lr", type=_learning_rate, default=None,
        help=f"Adam learning rate, positive (default: {DEFAULT_LR['mlp']:g} for mlp, "
             f"{DEFAULT_LR['transformer']:g} for transformer)" if choose_model else
             f"Adam learning rate of the MLP, positive (default: {DEFAULT_LR['mlp']:g}); the transformer of chapter 3 "
             f"always uses {DEFAULT_LR['transformer']:g}")
    arg("--batch-size", type=integer(1, 1_000_000), default=d.batch_size,
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
        return _resolve(args)
    except BadSetting as error:
        parser.error(str(error))


def _resolve(args):
    limit = max_seq_len(len(args.vocab))
    if args.seq_len > limit:
        raise BadSetting(f"argument --seq-len: must be at most {limit} with the {len(args.vocab)}-letter vocab "
                         f"{args.vocab!r} ({len(args.vocab)}**{limit} sequences fit in {MAX_SEQUENCES:,}), got {args.seq_len}")
    text = "" if args.input is None else args.input.replace(" ", "").replace(",", "")
    if args.input is not None and (len(text) != args.seq_len or any(c not in args.vocab for c in text)):
        raise BadSetting(f"argument --input: must be {args.seq_len} letters from {args.vocab!r} (the vocab), "
                         f"got {args.input!r}")
    check_writable(args.out)
    import torch  # only now: --help and every other bad setting answer without waiting seconds for torch
    if args.device == "cuda" and not torch.cuda.is_available():
        raise BadSetting("argument --device: cuda was asked for but CUDA is not available here; use cpu or auto")
    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    model = getattr(args, "model", None) or Config.model  # the notebook has no --model: it tells both stories
    return Config(model=model, seed=args.seed, epochs=args.epochs, samples=args.samples, seq_len=args.seq_len,
                  vocab=args.vocab, hidden=args.hidden, lr=args.lr, batch_size=args.batch_size, input=text,
                  device=device, out=args.out)


def check_writable(out):
    """Fail now, not after training, if --out cannot hold our files. Creates nothing that stays."""
    if not out.strip():
        raise BadSetting("argument --out: must name a folder, got an empty string; use . for the current folder")
    existing = os.path.abspath(out)
    while not os.path.exists(existing):  # the nearest folder that exists is where mkdir would start
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise BadSetting(f"argument --out: must be a folder (or a new one to create), but {existing!r} is a file")
    try:
        with tempfile.TemporaryFile(dir=existing):  # the only sure test: root ignores permission bits
            pass
    except OSError:
        raise BadSetting(f"argument --out: {existing!r} is not writable; choose a folder you can write to")
