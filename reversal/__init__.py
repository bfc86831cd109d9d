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
    mechanism       the mechanism: per-position letter directions, tested by patching and removing them
    subspaces       the letter subspaces and the interventions on them, for mechanism
    sweep           held-out accuracy over sequence length and hidden width, at two training budgets
    seeds           the headline numbers over several seeds: median and range
"""
