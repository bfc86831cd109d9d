"""Each experiment's heading and the one question it answers, for the report (html.py): written once, read by both
scripts. A question states no result: the finding under it, computed from the run, does that.

    title, question = QUESTIONS["probes"]
"""

QUESTIONS = {
    "training": ("Training", "Does the model learn to reverse, even sequences it never saw?"),
    "activations": ("Hidden layers", "What do the hidden neurons do for each input?"),
    "behaviour": ("Behaviour", "Which input letter does each output letter depend on?"),
    "probes": ("Probes", "Can a linear probe read each input letter from each layer?"),
    "selectivity": ("Neuron selectivity", "Does each neuron depend on the letter at one input position?"),
    "weights": ("First-layer weights", "Do the weights alone predict which positions a neuron depends on?"),
    "ablation": ("Ablation", "Does the output need any single neuron?"),
    "patching": ("Activation patching", "How much of the answer does each neuron carry from one run into another?"),
    "mechanism": ("The mechanism", "Where does each input letter live, and which output reads it?"),
    "steering": ("Steering", "Can adding a letter's direction make the model say a letter we choose?"),
    "superposition": ("Superposition", "Does a layer pack more directions than it has neurons?"),
    "attention_patterns": ("Attention patterns", "Where does each output position look?"),
    "circuits": ("QK and OV circuits", "What do the weights alone say: where does the head look, and what does it "
                                       "copy?"),
    "interventions": ("Interventions on the head", "What happens when the head is zeroed, its pattern replaced, or "
                                                   "its parts patched?"),
    "verdict": ("The circuit verdict", "Is this seed's circuit the clean reversal circuit?"),
    "capacity_sweep": ("Capacity sweep", "How does held-out accuracy change with sequence length and width?"),
    "sae": ("Sparse autoencoder", "Does a sparse autoencoder find the features the network must carry?"),
    "across_seeds": ("Across seeds", "Do the headline numbers hold for other seeds?"),
}
