"""Each experiment's heading and the one question it answers, for the reports (html.py): QUESTIONS for demo.py's
report.html, STEPS for the notebook's notebook_report.html. A question states no result: the finding under it,
computed from the run, does that.

    title, question = QUESTIONS["probes"]
    title, question = STEPS[8]            # ("Step 8: probes. Where is each input letter stored?", "Can a linear ...")
"""

QUESTIONS = {
    "training": ("Training", "Does the model learn to reverse, even sequences it never saw?"),
    "experiments": ("Experiments", "What can the experiments find in this model?"),
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
    "path_patching": ("Path patching", "Through which key, and through the query or the key, does the head's "
                                       "answer flow?"),
    "grokking": ("Grokking", "Does held-out accuracy jump long after training fits?"),
    "unseen": ("A letter never seen at a position", "Can each model copy a letter to an output where training "
                                                    "never showed it, as its mechanism predicts?"),
    "verdict": ("The circuit verdict", "Is this seed's circuit the clean reversal circuit?"),
    "capacity_sweep": ("Capacity sweep", "How does held-out accuracy change with sequence length and width?"),
    "sae": ("Sparse autoencoder", "Does a sparse autoencoder find the features the network must carry?"),
    "across_seeds": ("Across seeds", "Do the headline numbers hold for other seeds?"),
}

# demo_notebook.py's steps: {step: (its heading, its question)}, as the notebook's markdown writes them (without the
# minutes and the * and ` marks), so that say(..., step=N) can title the step's section of notebook_report.html also
# in a notebook kernel, which never reads that markdown. tests/test_report.py keeps the two the same.
STEPS = {
    1: ("Step 1: the task",
        "Can a small network learn to write letters backwards, and can we find out how it does it?"),
    2: ("Step 2: the data", "How can we tell a network that learned the rule from one that memorized its examples?"),
    3: ("Step 3: the model", "What is inside the network, and where can it move a letter between positions?"),
    4: ("Step 4: training", "Does it learn to reverse, including the sequences it never saw?"),
    5: ("Step 5: hooks, reading the hidden layers", "How do we read what a hidden layer computes for one input?"),
    6: ("Step 6: the heatmaps",
        "Do the hidden neurons respond differently to different inputs, and are some never used?"),
    7: ("Step 7: behaviour first. What does the network do?",
        "Which input positions does each output position depend on?"),
    8: ("Step 8: probes. Where is each input letter stored?",
        "Can a linear classifier read the letter at each input position from each layer?"),
    9: ("Step 9: selectivity. Does one neuron mean one thing?", "Is there a neuron for each input position's letter?"),
    10: ("Step 10: weights. What do the first layer's weights say?",
         "Before its ReLU, a first-layer neuron is a sum over positions of W_p E_x (the position's weight block times "
         "the letter's embedding). Do the weights predict which positions it depends on?"),
    11: ("Step 11: ablation. Which neurons does the output need, and for which output?",
         "If we switch one neuron off, how much does each output lose?"),
    12: ("Step 12: activation patching. What suffices, and what is needed?",
         "When one input letter changes, which activations carry that change to the output?"),
    13: ("Step 13: the mechanism. Where does each letter live, and who reads it?",
         "Single neurons each matter a little. So where does each letter live, and who reads it?"),
    14: ("Step 14: what it means",
         "What have we learned about this network, and what carries over to large models?"),
    15: ("Step 15: a one-layer, attention-only transformer, on the same split",
         "Does a transformer learn the same task from the same data?"),
    16: ("Step 16: the attention pattern. Where does each output look?",
         "Which input position does each output position read from?"),
    17: ("Step 17: the QK and OV circuits, read from the weights",
         "Can we predict the pattern, and what the head writes, from the weights alone?"),
    18: ("Step 18: interventions on the head",
         "Does the output need the head, and is the anti-diagonal all the head needs to get right?"),
    19: ("Step 19: two seeds, two circuits?",
         "Does every transformer that reverses perfectly use the clean anti-diagonal?"),
    20: ("Step 20: the MLP against the transformer",
         "The same data; is it the same behaviour, and where does the routing live in each model?"),
    21: ("Step 21: steering. Can the directions we found move the answer?",
         "Does pushing hidden1 along v = mean(h | y at p) - mean(h | x at p) make the mirrored output say y, and "
         "change nothing else?"),
    22: ("Step 22: steering the transformer's residual stream",
         "Does the same steering work in the transformer's residual stream?"),
    23: ("Step 23: superposition. More directions than neurons?",
         "Does the network carry more (position, letter) directions than it has neurons?"),
    24: ("Step 24: a sparse autoencoder, scored against the ground truth",
         "Can a sparse autoencoder recover the features \"the letter at position p is x\" from hidden1 alone?"),
    25: ("Step 25: a crowded layer, where superposition can really happen (--crowded)",
         "Where a layer must hold more letter directions than it has neurons, what do the same measures show?"),
    26: ("Step 26: things to try", "Which settings change the story, and how?"),
}
