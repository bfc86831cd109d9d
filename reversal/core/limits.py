"""The numbers the settings are checked against, and the learning rates: plain Python, no torch.

The command line reads these before it imports torch, so that --help and a mistyped setting answer at once.
"""

MAX_SEQUENCES = 1_000_000  # the split enumerates all len(vocab)**seq_len sequences; this bounds its memory and time
DEMO_SAMPLES = 2000  # demo.py's training samples (the notebook's are 1000)
DEFAULT_LR = {"mlp": 1e-3, "transformer": 3e-3}  # the brief's; the transformer's chosen by bench/transformer_design.py


def max_seq_len(n_letters):
    """The largest seq_len whose n_letters**seq_len distinct sequences fit under MAX_SEQUENCES."""
    length = 1
    while n_letters ** (length + 1) <= MAX_SEQUENCES:
        length += 1
    return length
