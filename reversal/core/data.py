"""The task's data: a vocabulary of letters plus <eos>, every distinct sequence, and a held-out split.

Example with the default vocabulary "abc" and seq_len 3:
    input  tokens  a b c <eos>   ids [0, 1, 2, 3]
    target tokens  c b a <eos>   ids [2, 1, 0, 3]
There are only 3**3 = 27 distinct sequences, so 2000 "samples" are repeats of at most 27 of them. To test whether the
model learned the rule rather than a lookup table, about 20% of the distinct sequences are held out and never trained on.
"""

import itertools

import torch

EOS = "<eos>"
HELDOUT_FRACTION = 0.2  # about a fifth of the distinct sequences are never trained on


class Vocab:
    """The letters, then <eos> as the last token id."""

    def __init__(self, letters):
        self.letters = list(letters)
        self.tokens = self.letters + [EOS]
        self.eos_id = len(self.letters)
        self.index = {token: i for i, token in enumerate(self.tokens)}

    def __len__(self):
        return len(self.tokens)

    def encode(self, letters):
        return [self.index[letter] for letter in letters]

    def decode(self, ids):
        return [self.tokens[i] for i in ids]

    def __repr__(self):
        return f"Vocab({''.join(self.letters)} + {EOS})"


def all_sequences(n_letters, seq_len):
    """Every distinct letter sequence, in lexicographic order: (n_letters**seq_len, seq_len) letter ids."""
    return torch.tensor(list(itertools.product(range(n_letters), repeat=seq_len)), dtype=torch.long)


def split_heldout(sequences, generator):
    """Shuffle the distinct sequences with a seeded generator; the first ~20% (at least one) are held out."""
    n_heldout = max(1, round(HELDOUT_FRACTION * len(sequences)))
    order = torch.randperm(len(sequences), generator=generator)
    heldout = sequences[order[:n_heldout].sort().values]  # sorted indices keep lexicographic order for reading
    train = sequences[order[n_heldout:].sort().values]
    return train, heldout


def sample_training(train_sequences, n_samples, generator):
    """Draw n_samples training sequences with replacement: (n_samples, seq_len)."""
    picks = torch.randint(len(train_sequences), (n_samples,), generator=generator)
    return train_sequences[picks]


def add_eos(sequences, eos_id):
    """(N, L) letters -> (N, L+1) model inputs: the letters, then <eos>."""
    eos = torch.full((len(sequences), 1), eos_id, dtype=torch.long)
    return torch.cat([sequences, eos], dim=1)


def make_targets(sequences, eos_id):
    """(N, L) letters -> (N, L+1) targets: the letters reversed, then <eos>."""
    return add_eos(sequences.flip(dims=[1]), eos_id)
