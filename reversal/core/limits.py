"""The numbers the settings are checked against, and the learning rates: plain Python, no torch.

The command line reads these before it imports torch, so that --help and a mistyped setting answer at once.
"""

MAX_SEQUENCES = 1_000_000  # the split enumerates all len(vocab)**seq_len sequences; this bounds its memory and time
DEMO_SAMPLES = 2000  # demo.py's training samples (the notebook's are 1000)
DEFAULT_LR = {"mlp": 1e-3, "transformer": 3e-3}  # the brief's; the transformer's chosen by bench/transformer_design.py


UNSEEN_SHAPE = (5, "abcd")  # demo.py --unseen's length and letters where the defaults' 27 sequences are too few


def unseen_shape(seq_len, vocab):
    """The (seq_len, vocab) the unseen-pair study trains at: the defaults (3, "abc") give 27 sequences, too few to
    hold a pair out and train on the rest, so they become UNSEEN_SHAPE; any other choice is kept."""
    return UNSEEN_SHAPE if (seq_len, vocab) == (3, "abc") else (seq_len, vocab)


UNSEEN_MIN_LETTERS, UNSEEN_MIN_SEQUENCES = 3, 64  # a letter to hold out, two to compare it with; enough to split


def unseen_pair_setting(text, seq_len, vocab):
    """--unseen's "P:X" -> (0-based position, letter), or a ValueError whose text says what is allowed."""
    if len(vocab) < UNSEEN_MIN_LETTERS or len(vocab) ** seq_len < UNSEEN_MIN_SEQUENCES:
        raise ValueError(f"the study needs at least {UNSEEN_MIN_LETTERS} letters and {UNSEEN_MIN_SEQUENCES} sequences "
                         f"(letters ** --seq-len), to hold a pair out and still train on every other; --seq-len "
                         f"{seq_len} over {vocab!r} gives {len(vocab)} and {len(vocab) ** seq_len:,}")
    allowed = (f"must be POSITION:LETTER with POSITION from 1 to {seq_len} and LETTER one of {vocab!r} (the study "
               f"runs at --seq-len {seq_len} over {vocab!r}), such as 1:{vocab[0]}, got {text!r}")
    position, _, letter = text.partition(":")
    if not (position.isdigit() and 1 <= int(position) <= seq_len and len(letter) == 1 and letter in vocab):
        raise ValueError(allowed)
    return int(position) - 1, letter


def max_seq_len(n_letters):
    """The largest seq_len whose n_letters**seq_len distinct sequences fit under MAX_SEQUENCES."""
    length = 1
    while n_letters ** (length + 1) <= MAX_SEQUENCES:
        length += 1
    return length
