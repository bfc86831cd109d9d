"""The helpers that demo.py and demo_notebook.py share, one concern a module:

    config    the settings: a frozen Config and the command-line flags, checked before anything runs
    data      the vocabulary, every distinct sequence, the held-out split
    model     the network, its hook points, and the hooks that read or replace activations
    train     data and model from a Config, the training loop, accuracy
    analysis  the experiments, each returning numbers, and the sentences that explain them
    plots     every figure
    files     writing files whole or not at all
    tutorial  pausing, inline figures and printed markdown for the notebook
"""
