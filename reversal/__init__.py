"""The helpers that demo.py and demo_notebook.py share. One concern a module; one technique a module, holding its
computation, the sentences that explain its numbers, and its figure.

The machinery:
    config          the settings: a frozen Config and the command-line flags, checked before anything runs
    data            the vocabulary, every distinct sequence, the held-out split
    model           the network, its hook points, and the hooks that read or replace activations
    train           data and model from a Config, the training loop, accuracy
    common          what the experiments share: the sequences to test on, activations, corruptions
    plots           the training figure and what the other figures share; drawing in the background
    files           writing files whole or not at all
    tutorial        pausing, inline figures and printed markdown for the notebook

The techniques, in the order the lesson runs them:
    generalization  did it learn the rule? held-out accuracy, and what the training data lacked
    activations     the hidden layers read with forward hooks
    influence       behaviour: which outputs change when one input letter changes
    probes          can a linear classifier read each letter from a layer?
    selectivity     how much of each neuron's variance each input position explains
    weights         what the first layer's weights say about selectivity
    ablation        switch neurons off: what does the output lose?
    patching        copy clean activations into a corrupted run: what comes back?
    dimensionality  how many principal components each hidden layer needs, against L x (V-1)
    subspaces       the per-position letter subspaces, patching and removing them, direct logit attribution
    additive        a surrogate of the logits with no interaction between positions, and its R^2
    mechanism       the mechanism: the evidence above together, stated, with where it breaks
    steering        add a letter direction to a hidden layer: does the mirrored output, and only it, change?
    superposition   needed directions against the width, effective dimension, interference
    sae             a sparse autoencoder scored against the ground-truth features (--sae)
    sweep           held-out accuracy over sequence length and hidden width, at two training budgets
    seeds           the headline numbers over several seeds: median and range

The transformer (--model transformer, and the notebook's chapter 3):
    transformer     a one-layer attention-only transformer with TransformerLens's hook and parameter names
    attention       its attention pattern, and whether its circuit is the clean anti-diagonal
    circuits        the QK and OV circuits, read from the weights
    head_interventions  the head ablated, its pattern replaced, its values and pattern patched
    compare         the MLP and the transformer side by side
    checkpoint      model.pt: save a trained model with its settings, and load it back
"""
