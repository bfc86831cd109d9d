"""Dimensionality: how many directions does a hidden layer use? The cumulative variance held by the top k principal
components, against the L x (V-1) directions an additive code needs (3 positions x 2 letter contrasts = 6 with the
defaults), beside the untrained network, which shows what the architecture gives for free: hidden1 before its ReLU is
an affine function of the letters, so it spans at most L x (V-1) directions for any weights.
"""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..core.pca import singular_values
from ..report.files import save_figure

LAYERS = ("hidden1", "hidden2")


def variance_explained(activations):
    """Cumulative fraction of the variance held by the top k principal components, k = 1 .. H: a list of H.

    Example: [0.55, 0.80, 0.92, 0.97, 0.99, 0.997, 0.998, ...]: 6 directions hold 99.7% of the layer's variance.
    """
    variances = singular_values(activations) ** 2  # (min(N, H),) largest first
    total = variances.sum()
    if total == 0:  # a layer that is the same for every input (all neurons dead) has no direction at all
        return [0.0] * activations.shape[1]
    cumulative = (variances.cumsum(0) / total).tolist()
    return cumulative + [1.0] * (activations.shape[1] - len(cumulative))  # fewer sequences than neurons: the rest 0


def numerical_rank(activations, tolerance=1e-6):
    """How many directions the centred activations span, ignoring those below `tolerance` x the largest."""
    values = singular_values(activations)
    return int((values > tolerance * values.max()).sum()) if values.max() > 0 else 0


def plot_dimensionality(mechanism, path):
    """Cumulative variance explained by the top k principal components, trained and untrained, per hidden layer,
    with a line at the L x (V-1) directions an additive code needs."""
    needed, width = mechanism["needed_directions"], mechanism["width"]
    # with 64 neurons and 6 needed directions, k = 1 .. 6 would take a tenth of the axis: show up to 3 x needed
    shown = min(width, max(3 * needed, 8))
    k = np.arange(1, shown + 1)
    fig = Figure(figsize=(10, 4.2))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13 if shown == width else 0.18, top=0.76, wspace=0.25)
    for ax, name in zip(fig.subplots(1, 2), LAYERS):
        marker = "o" if shown <= 24 else None
        for key, label, style in (("pca_variance_explained", "trained", "-"),
                                  ("pca_variance_explained_untrained", "untrained (control)", "--")):
            values = mechanism[key][name][:shown]
            at = f": top {min(needed, width)} hold {values[min(needed, width) - 1]:.1%}"
            ax.plot(k, values, style, marker=marker, markersize=4, label=label + at)
        title = name
        if needed <= width:
            ax.axvline(needed, color="grey", linestyle=":", label=f"{needed} = L x (V-1), what an additive code needs")
        else:  # in the title, where no curve can run through it
            title += f"\n(an additive code needs {needed} directions; only {width} neurons)"
        ax.set_ylim(0, 1.05)
        ax.set_xlim(0.5, shown + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # k counts components: no tick at 1.5
        ax.set_xlabel("k, the number of principal components" + ("" if shown == width else
                                                                 f"\n(shown up to {shown} of the {width})"))
        ax.set_ylabel("share of the layer's variance")
        ax.set_title(title, fontsize=10)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("How many directions do the hidden layers use? Variance held by the top k principal components\n"
                 "(hidden1 before its ReLU spans at most L x (V-1) directions for any weights: compare the control)",
                 fontsize=10)
    save_figure(fig, path)
