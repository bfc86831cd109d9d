"""The helpers that demo.py and demo_notebook.py share, in folders that show the architecture:

    core        read first: the data, the MLP, the transformer, the hooks, training, the shared letter concepts
    mlp         chapters 1 and 2: what the MLP learned and how, one technique a file, in lesson order
    attention   chapter 3: the transformer's attention patterns, QK and OV circuits, head interventions
    features    chapter 4: steering, superposition, the sparse autoencoder
    studies     opt-in studies over many models: --seeds, --sweep
    report      how numbers are written, figure helpers, files written whole or not at all
    support     not the lesson: the flags, model.pt, the notebook's plumbing

core imports nothing else from the package; the chapters import core and report; only the scripts and support
import support (tests/test_layout.py checks it). README.md's "Where things live" lists every file.
"""
