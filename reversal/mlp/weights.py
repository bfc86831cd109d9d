"""Weights: can the first layer's weights tell which input positions a hidden1 neuron depends on?

The first Linear sees the tokens' embeddings side by side, so hidden1 neuron n, before its ReLU, is a sum over
positions:   pre_n = b_n + sum_p (W_p E_{x_p})_n,
W_p the (H, E) block of weights for position p, E_x the embedding of letter x. Example, defaults: what the letter at
position 1 adds to neuron n is one of three numbers, (W_1 E_a)_n, (W_1 E_b)_n or (W_1 E_c)_n. The more those three
differ, the more the first letter moves the neuron. Their variance over letters, as a share over the positions, is
then exactly the neuron's eta squared *before* the ReLU (over all sequences, where every letter is equally common
at every position): selectivity is weight arithmetic. A weight block's norm alone would miss the embeddings: a big
block that maps every letter to nearly the same number moves nothing.
"""

import numpy as np
import torch

from ..core.data import add_eos
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..core.model import run_with_cache
from ..report.plots import heatmap
from .selectivity import eta_squared, neuron_axes, neuron_figure


def letter_variance_shares(model, n_letters):
    """(H, L): for each hidden1 neuron, the share of each input position in the variance, over letters, of what that
    position's letter adds before the ReLU, (W_p E_x)_n."""
    weight = model.linear1.weight.detach().cpu().double()  # (H, T*E)
    blocks = weight.view(weight.shape[0], model.n_positions, -1)  # (H, T, E): one block of E weights per token
    letters = model.embed.weight.detach().cpu().double()[:n_letters]  # (V, E): the letters' embeddings, not <eos>
    added = torch.einsum("hte,ve->htv", blocks[:, :-1], letters)  # (H, L, V); <eos> adds the same to every input
    variance = added.var(-1, unbiased=False)  # (H, L), over equally common letters
    return (variance / variance.sum(1, keepdim=True).clamp_min(1e-12)).numpy()


def agreement(shares, eta):
    """Correlation over live neurons x positions, and how often a live neuron's largest share is at its most selective
    position. A neuron whose activation never varies (eta all 0) is left out: it has no selectivity to predict."""
    live = eta.sum(1) > 0
    correlation = float(np.corrcoef(shares[live].ravel(), eta[live].ravel())[0, 1]) if live.sum() > 1 else float("nan")
    agree = int((shares[live].argmax(1) == eta[live].argmax(1)).sum())
    return {"correlation": correlation, "top_position_agrees": agree, "live_neurons": int(live.sum())}


class FirstLayerWeights(Result):
    """What first_layer_weights measured; finding() says what it means. The untrained network's numbers are under
    "untrained"."""

    def finding(self):
        trained, control = self, self["untrained"]
        headline = (f"The first layer's weights predict which input positions each hidden1 neuron depends on with r = "
                    f"{trained['correlation']:.2f} trained and {control['correlation']:.2f} untrained; before the ReLU "
                    f"the match is r = {trained['preactivation_correlation']:.2f}, arithmetic true of any weights.")
        numbers = {"correlation": trained["correlation"], "untrained_correlation": control["correlation"],
                   "preactivation_correlation": trained["preactivation_correlation"],
                   "top_position_agrees": trained["top_position_agrees"], "live_neurons": trained["live_neurons"]}
        gap = control["correlation"] - trained["correlation"]
        compared = ("about as well as" if abs(gap) <= 0.05 else "better than" if gap > 0 else "less well than")
        evidence = [f"  First-layer weights: the share of each position in the variance over letters of W_p E_x (the "
                    f"weight block times the letter's embedding: what that letter adds to a hidden1 neuron before its "
                    f"ReLU) predicts hidden1's eta squared at r = {trained['correlation']:.2f} trained and r = "
                    f"{control['correlation']:.2f} untrained; the top position agrees for "
                    f"{trained['top_position_agrees']} of {trained['live_neurons']} live neurons "
                    f"({control['top_position_agrees']} of {control['live_neurons']} untrained).",
                    f"  After the ReLU the untrained network agrees {compared} the trained one; its ReLU zeroes "
                    f"{control['zeroed']:.0%} of its live hidden1 values, the trained network's "
                    f"{trained['zeroed']:.0%}."]
        caveats = [f"  Before the ReLU the match is r = {trained['preactivation_correlation']:.2f} trained and "
                   f"{control['preactivation_correlation']:.2f} untrained (exactly 1 over all sequences, where a sum "
                   f"over positions splits its variance by position; a sample comes close). So the link is "
                   f"arithmetic, true of any weights, not something training created; only the ReLU, which cuts off "
                   f"part of each neuron's range, loosens it."]
        return Finding(headline, numbers, evidence, caveats)


def first_layer_weights(run):
    """The weights' prediction of hidden1's selectivity on run.sequences, in run.model and in run.untrained.

    Returns a FirstLayerWeights: {"shares": (H, L) from letter_variance_shares, "eta": (H, L) hidden1's measured eta
    squared (after the ReLU), "correlation", "top_position_agrees", "live_neurons": from agreement(shares, eta),
    "preactivation_correlation": the same correlation against eta squared before the ReLU (1 over all sequences),
    "zeroed": the fraction of the live neurons' values that the ReLU sets to 0,
    "untrained": the same keys for the untrained network}
    """
    sequences, vocab = run.sequences, run.vocab
    tokens = add_eos(sequences, vocab.eos_id).to(run.device)
    result = {}
    for network, net in (("trained", run.model), ("untrained", run.untrained)):
        _, cache = run_with_cache(net, tokens, ("linear1", "hidden1"))  # linear1's output: hidden1 before the ReLU
        shares = letter_variance_shares(net, len(vocab.letters))
        eta = eta_squared(cache["hidden1"].cpu(), sequences)
        before_relu = eta_squared(cache["linear1"].cpu(), sequences)
        live = eta.sum(1) > 0
        result[network] = {"shares": shares.tolist(), "eta": eta.tolist(), **agreement(shares, eta),
                           "preactivation_correlation": float(np.corrcoef(shares.ravel(), before_relu.ravel())[0, 1]),
                           "zeroed": float((cache["hidden1"][:, live] == 0).float().mean())}
    return FirstLayerWeights({**result["trained"], "untrained": result["untrained"]})


def plot_first_layer_weights(weights, path):
    """The weights' share per position beside hidden1's measured eta squared, and one against the other for the
    trained and the untrained network. Both maps are shares from 0 to 1, drawn in one colour map on one scale, so
    that equal colours are equal numbers."""
    shares, eta = np.asarray(weights["shares"]), np.asarray(weights["eta"])
    n_neurons, seq_len = shares.shape
    fig, (left, middle, right) = neuron_figure(n_neurons, 12, 3)
    heatmap(fig, left, shares, "viridis", 0, 1, "share of variance over letters")
    left.set_title("weights: each position's share of\nthe variance over letters of W_p E_x", fontsize=9)
    heatmap(fig, middle, eta, "viridis", 0, 1, "eta squared")
    middle.set_title("measured: hidden1's eta squared\n(after the ReLU)", fontsize=9)
    for ax in (left, middle):
        neuron_axes(ax, n_neurons, seq_len, "hidden1 neuron")
        ax.tick_params(labelsize=9)  # readable when projected
    for network, color in (("untrained", "tab:orange"), ("trained", "tab:blue")):
        result = weights if network == "trained" else weights["untrained"]
        live = np.asarray(result["eta"]).sum(1) > 0
        right.scatter(np.asarray(result["shares"])[live].ravel(), np.asarray(result["eta"])[live].ravel(), s=10,
                      alpha=0.6, color=color, label=f"{'trained' if network == 'trained' else 'untrained'}: "
                                                    f"r = {result['correlation']:.2f}")
    right.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1,
               label="y = x, where every dot\nlies before the ReLU")
    right.set_xlim(0, 1)
    right.set_ylim(0, 1)
    right.set_aspect("equal", adjustable="box")
    right.set_xlabel("weights' share", fontsize=10)
    right.set_ylabel("measured eta squared", fontsize=10)
    right.legend(fontsize=9, loc="upper left", frameon=False)
    right.set_title("one dot per (neuron, position)", fontsize=9)
    fig.suptitle("Weights vs selectivity: do the weights say which positions a hidden1 neuron depends on?")
    save_figure(fig, path)
