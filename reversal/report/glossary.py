"""The lesson's terms, each in one plain sentence: one list for the tutorial's end, the report and the README.

    from reversal.report.glossary import GLOSSARY, glossary_lines
    print("\\n".join(glossary_lines()))

Each entry is (term, definition). The order is the order a reader of the tutorial meets them.
"""

import textwrap

GLOSSARY = [
    ("L and V", "L is the sequence length (3 by default) and V the number of letters in the vocabulary (3: a, b, c)."),
    ("held-out sequence", "A sequence the model never trained on; accuracy on these says whether it generalizes."),
    ("forward hook", "A function PyTorch calls with a layer's output on every forward pass; it can record the "
                     "output (a cache) or return a replacement (an intervention)."),
    ("mirror position", "The output that must copy input position i: position L+1-i, counting from 1."),
    ("unembed", "The last linear map, from the final activations to one score (logit) per token."),
    ("logit difference", "One logit minus another, e.g. the correct token's minus the largest other one: above 0 "
                         "the model answers right, and its size is the margin."),
    ("probe", "A small linear classifier trained to read a quantity (here an input letter) from a layer's "
              "activations; it shows the information is there, not that the model uses it."),
    ("eta squared", "The share of a neuron's variance that one input position's letter explains (0 to 1)."),
    ("ablation", "Removing a component to see what it was for: zero ablation sets it to 0, mean ablation to its "
                 "average."),
    ("resample ablation", "Replacing a component's activation with its value on another, randomly chosen input."),
    ("activation patching", "Running the model on one input while copying in a component's activation from another "
                            "input, to see how much of the answer that component carries."),
    ("noising and denoising", "Noising patches a corrupted run's activation into the clean run (what breaks it); "
                              "denoising patches the clean activation into the corrupted run (what restores it)."),
    ("direction", "A vector in a layer's activation space; the activation's component along it is a number the "
                  "next layer can read."),
    ("class mean", "The average activation over all sequences with a given letter at a given position."),
    ("letter contrast", "The difference between two letters' class means at one position: the direction that "
                        "tells them apart."),
    ("subspace", "The set of all combinations of a few directions; here, the V-1 letter contrasts of one position."),
    ("affine", "Linear plus a constant: f(x) = A x + b."),
    ("change of basis", "Describing the same activations in new coordinates, here one group of directions per "
                        "input position instead of one axis per neuron."),
    ("direct logit attribution", "Splitting a logit into the contributions of the pieces that add up to it, "
                                 "because the last layer is linear."),
    ("residual stream", "In a transformer, the running sum that every layer reads from and adds its output to; "
                        "here, token embedding plus position embedding plus the attention head's output."),
    ("W_E, W_pos, W_Q, W_K, W_V, W_O, W_U", "The transformer's weights: token embedding, position embedding, "
                                            "query, key, value, output and unembedding matrices."),
    ("d_head", "The width of the attention head's queries, keys and values; scores are divided by sqrt(d_head)."),
    ("QK circuit", "W_Q and W_K read together: which key position each query position attends to."),
    ("OV circuit", "W_V and W_O read together (with W_E and W_U): what an attended token writes into the output."),
    ("path patching", "Patching along one path of the computation only: here the head's share split into one term "
                      "per key, and the pattern's into its query and key paths."),
    ("grokking", "Held-out accuracy that stays low long after training accuracy reaches 100%, then jumps."),
    ("steering", "Adding a direction, times a strength alpha, to an activation during the forward pass, to change "
                 "what the model says."),
    ("steering window", "The range of alpha over which steering writes the asked-for letter on nearly every "
                        "sequence and leaves the other outputs nearly unchanged (the printout states both cut-offs)."),
    ("feature", "A property of the input that the network represents, here 'the letter at position p is x'."),
    ("superposition", "A layer representing more features than it has neurons, as directions that cannot all be "
                      "orthogonal."),
    ("participation ratio", "An effective dimension: (sum of the PCA variances)^2 / (sum of their squares), k for k "
                            "equal directions, 1 for a line."),
    ("sparse autoencoder (SAE)", "A network trained to rewrite each activation as a sparse, non-negative mix of "
                                 "learned directions, its dictionary."),
    ("dictionary", "The SAE's set of directions (the decoder's columns), one per SAE feature."),
    ("FVE", "Fraction of variance explained: 1 minus the reconstruction's squared error over the activations' "
            "variance."),
    ("L0", "How many SAE features are active (above 0) for an input, on average."),
    ("conjunction", "A feature that fires for two properties at once: 'x at p and y at q'."),
]


def glossary_lines(width=120):
    """The glossary as printed lines: "term: definition", wrapped to `width` characters."""
    lines = []
    for term, definition in GLOSSARY:
        lines += textwrap.wrap(f"{term}: {definition}", width, subsequent_indent="    ")
    return lines
