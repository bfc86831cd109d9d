"""An additive surrogate: fit the logits as a bias plus one vector per (position, letter), with no term that sees
two positions at once, and measure how much of the logits it explains (R^2).

An additive function of (position, letter) pairs seen in training extends to unseen combinations of them by
construction; how close the network comes to one is evidence about how it generalizes, not a guarantee.
"""

import torch


def one_hot_letters(sequences, n_letters):
    """(N, L) -> (N, 1 + L*(V-1)): a 1 for the bias, then one indicator per (position, letter), the last letter left
    out at each position (it is what is left when the others are 0)."""
    columns = [torch.ones(len(sequences), 1, dtype=torch.float64)]
    for position in range(sequences.shape[1]):
        one_hot = torch.nn.functional.one_hot(sequences[:, position], n_letters).double()  # (N, V)
        columns.append(one_hot[:, :-1])
    return torch.cat(columns, dim=1)


def additive_weights(sequences, logits, n_letters):
    """Least-squares fit of logits (N, T, V+1) as bias + one vector per (position, letter): the weights,
    (1 + L*(V-1), T*(V+1)), one row per column of one_hot_letters (row 0 the bias)."""
    targets = logits.double().flatten(1)  # (N, T*(V+1))
    # gelsd (by SVD) on float64 gives the same bits whatever the memory layout: the default driver's last digits
    # moved with the alignment of its inputs (MKL), so metrics.json differed between identical runs
    return torch.linalg.lstsq(one_hot_letters(sequences, n_letters), targets, driver="gelsd").solution


def fit_additive(sequences, logits, n_letters):
    """Least-squares fit of logits as bias + one vector per (position, letter): no term sees two positions at once.

    Returns the surrogate, a function (N, L) sequences -> (N, T, V+1) logits.
    """
    shape = logits.shape[1:]
    weights = additive_weights(sequences, logits, n_letters)  # (1 + L*(V-1), T*(V+1))
    return lambda new: (one_hot_letters(new, n_letters) @ weights).view(len(new), *shape)


def r_squared(predicted, actual):
    """1 - residual sum of squares / total sum of squares, pooled over every logit.

    None where the logits do not vary (a single sequence): there is no variance to explain, and 1 - x / 0 would be
    -inf or NaN, which metrics.json cannot hold.
    """
    actual = actual.double().flatten(1)
    predicted = predicted.flatten(1)
    total = ((actual - actual.mean(0)) ** 2).sum()
    if len(actual) < 2 or total == 0:
        return None
    return (1 - ((actual - predicted) ** 2).sum() / total).item()
