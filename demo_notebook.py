# %% [markdown]
# # Reversing sequences: a first lesson in mechanistic interpretability
#
# Train a tiny network to reverse letter sequences, then open it up and find out how it does it. Each step asks a
# question and closes with a one-line takeaway computed from this run.
#
#     python demo_notebook.py              # pauses after each step; press Enter to go on
#     python demo_notebook.py --details    # also each step's evidence, caveats and longer notes
#     python demo_notebook.py --help       # every setting
#
# In a notebook, `DETAILS = True` in the first code cell does what --details does.
#
# **Exercises.** Seven cells ask you to write a technique; the cell under each checks it on this model. A terminal
# checks the reference solutions: write yours in reversal/exercises/ and run `python -m reversal.exercises`.
#
# **A 90-minute class.** Each heading and exercise gives its minutes. In class (88 min): steps 1 to 8 and 11 to 14,
# with exercises 1 to 4. A second session (91 min): steps 15 to 26, with exercises 5 to 7. Steps 9 and 10 (9 min)
# are reading for home. Run every cell: later steps use what earlier ones compute.
#
# <details><summary>The chapters, the flags and the files</summary>
#
#     python demo_notebook.py --no-pause           # runs straight through
#     python demo_notebook.py --chapter features   # starts at a chapter; what it needs is trained first
#     python demo_notebook.py --show               # also opens each figure in a window as its step runs
#     python demo_notebook.py --crowded            # step 25 also measures a crowded layer (about 4 s more)
#
# Four chapters. 1, the model (steps 1 to 7): the task, the data, training, hooks, and what the network does.
# 2, the mechanism (steps 8 to 14): probes, selectivity, weights, ablation and patching take the MLP apart, and the
# mechanism is stated and tested. 3, attention (steps 15 to 20): a one-layer transformer trained on the same split,
# its circuit read from its attention pattern and its weights. 4, features (steps 21 to 25): steering both models
# along the directions found, superposition, and a sparse autoencoder scored against the ground truth; step 26 lists
# things to try and the glossary. The notebook always tells both models' stories, so it has no --model flag;
# `python demo.py --model transformer` runs the transformer alone.
#
# Writes into --out: notebook_training_loss.png, activation_heatmaps.png, and one figure per experiment:
# notebook_position_influence.png, notebook_probe_accuracy.png, notebook_neuron_selectivity.png,
# notebook_first_layer_weights.png, notebook_ablation.png, notebook_patching.png, notebook_dimensionality.png,
# notebook_subspace_interventions.png, then notebook_attention_patterns.png, notebook_circuits.png,
# notebook_attention_interventions.png, notebook_two_circuits.png, notebook_path_patching.png,
# notebook_path_patching_other_seed.png, notebook_mlp_vs_transformer.png, notebook_unseen.png,
# notebook_grokking.png, then
# notebook_steering.png, notebook_transformer_steering.png, notebook_superposition.png and notebook_sae.png;
# with --crowded also notebook_superposition_crowded.png and notebook_sae_crowded.png. At the end, step 26 writes
# notebook_report.html: every step run, with its question, figures and takeaway, on one page for a browser.
# The same story without the commentary, plus metrics.json, is demo.py.
#
# </details>

# %%
NOTEBOOK_FLAGS = []  # the settings, in a notebook: e.g. ["--seed", "1", "--seq-len", "4"] (a terminal reads its own)
DETAILS = False  # True: every step also prints its evidence and caveats, as --details does in a terminal
try:
    from reversal.support.notebook import start, start_chapter
except ModuleNotFoundError:  # a fresh hosted notebook: the lesson's package is not installed here
    raise SystemExit("Run  %pip install git+<this lesson's repository URL>  (or pip install . in a clone), then "
                     "this cell again.") from None
args, cfg, out = start(NOTEBOOK_FLAGS, DETAILS)  # checks every setting before torch loads; --help answers here
PAUSE, DETAILS = not args.no_pause, args.details

# %%
# the lesson's tools, by chapter (the settings above are checked first, so --help answers before torch loads)
import copy
import dataclasses
import os

import numpy as np
import torch

from reversal import exercises  # the exercises' checks (reversal/exercises/)
from reversal.attention.circuits import plot_circuits
from reversal.attention.compare import comparison, mlp_routing, model_summary, plot_comparison, transformer_routing
from reversal.attention.head_interventions import plot_interventions
from reversal.attention.path_patching import path_patching, plot_path_patching
from reversal.attention.patterns import attention_experiments, plot_circuit_comparison, plot_patterns
from reversal.core.common import layer_features, letters, margin  # margin, logit_difference: for your exercises
from reversal.core.data import add_eos, make_targets
from reversal.core.health import training_health
from reversal.core.model import hook_count, hooks, run_with_cache, run_with_hooks
from reversal.core.run import Run, start_run
from reversal.core.train import make_data, make_model, reverse_text, sequence_accuracy, train
from reversal.exercises.checking import check
from reversal.features.sae import ground_truth, matched_r, n_found, plot_sae, sae_experiment, train_sae
from reversal.features.steering import plot_steering, steering_experiment
from reversal.features.superposition import plot_superposition, superposition_report
from reversal.mlp.ablation import neuron_ablation, plot_ablation
from reversal.mlp.activations import capture_all, plot_activations
from reversal.mlp.dimensionality import plot_dimensionality
from reversal.mlp.generalization import generalization
from reversal.mlp.influence import plot_influence, position_influence
from reversal.mlp.mechanism import find_mechanism, in_short
from reversal.report.glossary import GLOSSARY, glossary_lines
from reversal.mlp.patching import activation_patching, patch_neurons, plot_patching
from reversal.mlp.probes import N_FOLDS, cross_validated_accuracy, fold_masks, plot_probes, probe_accuracy
from reversal.mlp.selectivity import neuron_selectivity, null_cutoff, plot_selectivity
from reversal.mlp.subspaces import logit_difference, plot_subspace_interventions
from reversal.mlp.weights import first_layer_weights, plot_first_layer_weights
from reversal.report.files import quick_exit
from reversal.report.plots import plot_training
from reversal.report.wording import percentages
from reversal.studies.grokking import VERDICTS, grokking_study, plot_grokking
from reversal.studies.unseen import SMALL_RUN, SMALL_RUN_SEQUENCES, plot_unseen, study_config, unseen_pair
from reversal.support.config import DEFAULT_LR
from reversal.support.tutorial import figure, in_notebook, pause, report, say, stop_lesson, summarize, tell

SAE_STEPS = 2000  # the notebook's SAE: fewer steps than demo.py --sae (5,000) keeps the run short
start_chapter(args)  # --chapter: run that chapter from here (and, quietly, the steps it needs), then stop


# %% [markdown]
# # Chapter 1: the model
# ## Step 1: the task (2 min)
# **Question.** Can a small network learn to write letters backwards, and can we find out how it does it?
#
# **L and V.** L is the sequence length and V the number of letters in the vocabulary. The network reads L letters
# and an end marker, and writes them back reversed. Output j copies input L+1-j, its *mirror position*.
# Mechanistic interpretability (MI) asks not only *whether* a network does this, but *how*.

# %%
tell()
if DETAILS:
    print(cfg)
data = make_data(cfg)
vocab = data.vocab
example = torch.tensor(vocab.encode(cfg.input))  # the test input, --input
print(f"L = {cfg.seq_len} letters from V = {len(vocab.letters)} ({cfg.vocab!r}), then <eos>: "
      f"{' '.join(vocab.decode(add_eos(example[None], vocab.eos_id)[0].tolist()))} -> "
      f"{' '.join(vocab.decode(make_targets(example[None], vocab.eos_id)[0].tolist()))}")
say(f"output j must copy input {cfg.seq_len + 1}-j, a rule the network has to learn from examples.", step=1)
pause(PAUSE)

# %% [markdown]
# ## Step 2: the data (2 min)
# **Question.** How can we tell a network that learned the rule from one that memorized its examples?
#
# A *held-out sequence* is one the network never trains on: accuracy on these says whether it generalizes. About a
# fifth of the distinct sequences are held out; the training samples are drawn, with repeats, from the rest.

# %%
tell()
n_distinct = len(data.train_sequences) + len(data.heldout_sequences)
shown, more = data.heldout_sequences[:20], len(data.heldout_sequences) - 20
print("held out (never trained on):", ", ".join("".join(vocab.decode(s.tolist())) for s in shown)
      + (f" ... and {more} more" if more > 0 else ""))
if DETAILS:
    print(f"{len(data.samples)} training samples drawn with replacement from the training sequences; the first five:")
    for sample in data.samples[:5]:
        print(f"  {' '.join(vocab.decode(add_eos(sample[None], vocab.eos_id)[0].tolist())):<24} -> "
              f"{' '.join(vocab.decode(make_targets(sample[None], vocab.eos_id)[0].tolist()))}")
say(f"{n_distinct} distinct sequences: {len(data.train_sequences)} to train on, drawn {len(data.samples):,} times "
    f"with repeats, and {len(data.heldout_sequences)} held out to test on.", step=2)
pause(PAUSE)

# %% [markdown]
# ## Step 3: the model (3 min)
# **Question.** What is inside the network, and where can it move a letter between positions?
#
# An embedding (a learned vector per token) -> flatten -> Linear+ReLU (`hidden1`) -> Linear+ReLU (`hidden2`) ->
# unembed. The *unembed* is the last linear map, from the final activations to one score (logit) per token. There is
# no attention: letters move between positions only through the hidden layers.

# %%
tell()
model = make_model(cfg, vocab)
untrained = copy.deepcopy(model)  # kept for later: the same network before any training, as a control
if DETAILS:
    print(model)
if DETAILS:
    print(f"Shapes for a batch of B sequences: tokens (B, {cfg.seq_len + 1}) -> embedding (B, "
          f"{(cfg.seq_len + 1) * cfg.d_embed}) -> hidden1 (B, {cfg.hidden}) -> hidden2 (B, {cfg.hidden}) -> "
          f"logits (B, {cfg.seq_len + 1}, {len(vocab)})")
say(f"{model.parameter_count():,} parameters; every route from an input letter to an output runs through the two "
    f"hidden layers of {cfg.hidden} neurons.", step=3)
pause(PAUSE)

# %% [markdown]
# ## Step 4: training (3 min)
# **Question.** Does it learn to reverse, including the sequences it never saw?
#
# Adam, cross-entropy over every output position, mini-batches of `--batch-size` samples. A sequence counts as right
# only if every output token is (exact match).

# %%
tell()
model = make_model(cfg, vocab)  # the same starting weights as in step 3, so re-running this cell starts over
history = train(model, data, cfg)
run = Run(model, untrained, data, cfg)  # what every experiment below takes: the model, its untrained twin, the data, cfg
train_accuracy = sequence_accuracy(model, data.train_sequences, vocab.eos_id)
heldout_accuracy = history.heldout_accuracy[-1]
health = training_health(run, history)  # did training break? (reversal/core/health.py, as in demo.py)
if DETAILS:
    print(f"{cfg.epochs} epochs in {history.seconds:.2f} s; final training loss {history.loss[-1]:.2e}")
if health.line:
    print(health.line)  # e.g. "training diverged at epoch 1: try a smaller --lr (...)"
print(f"prediction: {' '.join(cfg.input)} <eos>  ->  {' '.join(reverse_text(model, vocab, cfg.input))}")
figure(plot_training, history, out("notebook_training_loss.png"), title="Training (notebook run)")
say(generalization(run, train_accuracy, heldout_accuracy, health).finding(), step=4)
if not health.responsive:  # every input gets the same output: no later step would have anything to measure
    stop_lesson("The tutorial stops here: this network gives every input the same output, so the steps below, which "
                "study how it reverses, have nothing to measure.", out("notebook_report.html"), cfg)
pause(PAUSE)

# %% [markdown]
# ## Step 5: hooks, reading the hidden layers (4 min)
# **Question.** How do we read what a hidden layer computes for one input?
#
# A *forward hook* is a function PyTorch calls with a layer's output every time the layer runs; it can record the
# output or return a replacement. `run_with_cache` attaches hooks, stores the outputs, and removes the hooks again
# even if something fails (a `try/finally` inside a context manager).

# %%
tell()
test_tokens = torch.tensor([vocab.encode(cfg.input) + [vocab.eos_id]], device=cfg.device)  # (1, T)
logits, cache = run_with_cache(model, test_tokens, ("hidden1", "hidden2"))
if DETAILS:
    for name, activation in cache.items():
        print(f"{name:<9} shape {tuple(activation.shape)}  values {[round(v, 2) for v in activation[0].tolist()]}")
    print("Every hidden value is >= 0: each is the output of a ReLU, which turns negatives into 0.")
lowest = min(activation.min().item() for activation in cache.values())
say(f"the hooks recorded both hidden layers for {cfg.input!r}, every value "
    f"{'>= 0 (after a ReLU)' if lowest >= 0 else 'as it came'}; {hook_count(model)} hooks were left attached.", step=5)

# %% [markdown]
# **Exercise 1: hook** (difficulty 1 of 3, 5 min). Write a forward hook that keeps hidden1, the way `run_with_cache`
# does above. Write it in the cell below; the check under it runs it on this model and names the likely mistake.

# %%
def cache_hidden1(model, tokens):
    """tokens (N, T) -> (logits (N, T, V), hidden1 (N, H)): run the model with a forward hook on "hidden1" that
    stores its output, detached. Attach it with hooks(model, {"hidden1": fn}): writing the hook is the exercise."""
    raise NotImplementedError  # your code here


# %% [markdown]
# <details><summary>Hint</summary>
#
# Make a dict, cache = {}; define hook(output) that stores output.detach() in it and returns nothing; run the model
# inside `with hooks(model, {"hidden1": hook}):` under torch.no_grad().
#
# </details>
#
# <details><summary>Solution</summary>
#
#     def cache_hidden1(model, tokens):
#         """Exercise 1 (hook.py)."""
#         cache = {}
#
#         def hook(output):
#             cache["hidden1"] = output.detach()  # returns None: read, not changed
#
#         with torch.no_grad(), hooks(model, {"hidden1": hook}):
#             logits = model(tokens)  # (N, T, V)
#         return logits, cache["hidden1"]  # (N, H)
#
# </details>

# %%
tell()
check(exercises.hook, cache_hidden1, run)
pause(PAUSE)

# %% [markdown]
# ## Step 6: the heatmaps (4 min)
# **Question.** Do the hidden neurons respond differently to different inputs, and are some never used?
# **Hypothesis.** Most neurons vary across inputs; a few may be *dead*, 0 for every input.
# **Experiment.** Capture both hidden layers for every distinct sequence: a row per input, a column per neuron.
#
# <details><summary>How to read the figure, and why a neuron dies</summary>
#
# A neuron whose input to the ReLU is pushed below 0 for every input during training stays at 0. The heatmaps use a
# seeded sample of 64 sequences when there are more; colour is the activation. Orange labels are held-out sequences,
# the cyan box is the test input, a red outline marks a dead neuron.
#
# </details>

# %%
tell()
capture = capture_all(run)
figure(plot_activations, capture, out("activation_heatmaps.png"), seed=cfg.seed)
say(capture.finding(), step=6)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# Dead columns cannot matter to the output; columns that vary carry *some* information about the input. The heatmap
# does not say which information, or whether the output uses it: the probes, ablation and patching below test that.
# Which neuron is dead changes with --seed.
#
# </details>
#
# **Try it.** Find the inputs that make one live neuron fire most. Do they share a letter at some position?

# %%
tell()
acts = capture["layers"]["hidden1"]  # (N, H)
NEURON = int(acts.var(0).argmax())  # the neuron that varies most; try others
print(f"hidden1 neuron {NEURON} fires most for", [capture["labels"][i] for i in np.argsort(-acts[:, NEURON])[:5]])
pause(PAUSE)

# %% [markdown]
# ## Step 7: behaviour first. What does the network do? (5 min)
# **Question.** Which input positions does each output position depend on?
# **Hypothesis.** Changing input i's letter changes the *predicted letter* at output L+1-i only (the logits may
# still move a little elsewhere).
# **Experiment.** Swap each input letter for each other one; count how often each output's prediction changes
# (argmax view), and how far its logit moves (logit view).

# %%
tell()
sequences = run.sequences  # every distinct sequence (a seeded sample if there are many)
influence = position_influence(run)
figure(plot_influence, influence, out("notebook_position_influence.png"))
say(influence.finding(), step=7)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# Where the printout says so, the argmax map is the anti-diagonal: each output's decision depends only on the
# mirrored input, and the logit map shows that other inputs move it too, by much less. This varies with the seed:
# `python demo_notebook.py --seed 6` printed, when we ran it, that changing input 1 or 3 flips its mirrored output in
# 89% of cases and the output at its own position in 22%. Both maps are behaviour: a lookup table would draw the same
# pictures, and they say nothing about *how* the network computes.
#
# </details>
#
# **Try it.** Print the logit view for the untrained network. Is there an anti-diagonal before training?

# %%
tell()
before = np.array(position_influence(dataclasses.replace(run, model=untrained))["logit"])  # (L inputs, L outputs)
if DETAILS:
    print("untrained: how far output j's logit moves when input i changes (rows: input i; columns: output j)")
    print("        " + "".join(f"output {j + 1:<4}" for j in range(cfg.seq_len)))
    for i, row in enumerate(before):
        print(f"input {i + 1} " + "".join(f"{value:<11.3f}" for value in row))
print(f"largest: {before.max():.3f}, against {np.array(influence['logit']).max():.1f} in the trained network")
pause(PAUSE)

# %% [markdown]
# # Chapter 2: the mechanism
# ## Step 8: probes. Where is each input letter stored? (5 min)
# **Question.** Can a linear classifier read the letter at each input position from each layer?
# A *probe* is a small linear classifier trained to read a quantity (here an input letter) from a layer's
# activations; it shows the information is there, not that the model uses it.
# **Hypothesis.** To write out every letter the network must keep them all, in every layer.
# **Experiment.** A probe per layer and position, scored on sequences it never saw; the untrained network is the
# control.
#
# <details><summary>The folds, the control and the leakage check</summary>
#
# One probe (L2 penalty) per layer and position, cross-validated over all distinct sequences in 5 seeded folds, so
# every sequence is scored by a probe that never saw it. For hidden2 a linear readout is guaranteed if the model
# works: the output layer is itself a linear readout of hidden2. A leakage check: shuffled labels (each sequence
# labelled with another's letter), which no probe can predict for a sequence it never saw, so they score chance by
# construction.
#
# </details>

# %%
tell()
probes = probe_accuracy(run)
figure(plot_probes, probes, out("notebook_probe_accuracy.png"))
say(probes.finding(), step=8)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# A probe shows that information is *present* in a layer, not that the network *uses* it: the untrained network's
# layers hold much of it too. The shuffled labels near chance show that the folds do not leak: they are a check on
# the set-up, chance by construction, not a control task. A perfect hidden2 score adds nothing beyond "the model
# works".
#
# </details>
#
# **Try it.** Take the probes' penalty away (`WEIGHT_DECAY`), then make it large. Which network's probes move?

# %%
tell()
WEIGHT_DECAY = 0.0
folds = fold_masks(len(sequences), N_FOLDS, torch.Generator().manual_seed(cfg.seed))
for name, network in (("trained", model), ("untrained", untrained)):
    features = layer_features(network, sequences, vocab, cfg.device)["hidden2"][None]  # (1, N, H): one feature set
    accuracy = cross_validated_accuracy(features, sequences, folds, len(vocab.letters), WEIGHT_DECAY)[0]
    print(f"{name} hidden2, weight decay {WEIGHT_DECAY}: mean accuracy {accuracy.mean():.0%}"
          + (f", per input position {percentages(accuracy.tolist())}" if DETAILS else ""))
pause(PAUSE)

# %% [markdown]
# ## Step 9: selectivity. Does one neuron mean one thing? (5 min)
# **Question.** Is there a neuron for each input position's letter?
# *Eta squared* is the share of a neuron's variance that one input position's letter explains, from 0 to 1.
# **Hypothesis.** A tidy network would have one-position neurons.
# **Experiment.** Each neuron's eta squared for each position, counted where it beats a shuffled null; the untrained
# network is the control.
#
# <details><summary>The null</summary>
#
# How large must eta squared be to count? A permutation null: shuffle which sequence has which activation 200 times;
# the cut-off is what shuffled data exceed only 1% of the time (never below 10%).
#
# </details>

# %%
tell()
selectivity = neuron_selectivity(run)
figure(plot_selectivity, selectivity, out("notebook_neuron_selectivity.png"))
say(selectivity.finding(), step=9)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# With few sequences chance alone reaches a sizeable eta squared, so a fixed 10% cut-off would count noise. The
# distributions say more than the counts: compare the trained and untrained medians above. Eta squared measures
# association one position at a time, and says nothing about whether the output uses the neuron.
#
# </details>
#
# **Try it.** Move the null's quantile (`QUANTILE`) and watch the counts. Which would you report, and why?

# %%
tell()
QUANTILE = 0.95
hidden1 = torch.cat([layer_features(network, sequences, vocab, cfg.device, ("hidden1",))["hidden1"]
                     for network in (model, untrained)], 1)  # (N, 2H); the step's null pools hidden2 too
cutoff = null_cutoff(hidden1, sequences, torch.Generator().manual_seed(cfg.seed), quantile=QUANTILE)
positions = (np.array(selectivity["hidden1"]["eta"]) >= cutoff).sum(1)
print(f"cut-off {cutoff:.2f}: {(positions == 1).sum()} trained hidden1 neurons depend on one position alone, "
      f"{(positions > 1).sum()} on more, {(positions == 0).sum()} on none")
if DETAILS:
    print(f"  neurons depending on 0, 1, 2, ... positions: {np.bincount(positions, minlength=cfg.seq_len + 1).tolist()} "
          f"(a dead neuron counts as 0)")
pause(PAUSE)

# %% [markdown]
# ## Step 10: weights. What do the first layer's weights say? (4 min)
# **Question.** Before its ReLU, a first-layer neuron is a sum over positions of W_p E_x (the position's weight block
# times the letter's embedding). Do the weights predict which positions it depends on?
# **Hypothesis.** Yes, by arithmetic, before the ReLU, in the untrained network too.
# **Experiment.** Each position's share of the variance, from the weights, beside the measured eta squared.

# %%
tell()
weights = first_layer_weights(run)
figure(plot_first_layer_weights, weights, out("notebook_first_layer_weights.png"))
say(weights.finding(), step=10)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# Where the weights predict selectivity in both networks, the agreement is arithmetic, not something training
# created; what is left is the ReLU. It says nothing about which neurons the output needs. A weight block's norm
# alone would mislead: it ignores the embeddings.
#
# </details>
#
# **Try it.** For one neuron (`NEURON`), compare the block norms, the shares and eta squared. Is its biggest block
# its most selective position?

# %%
tell()
alive = np.flatnonzero(np.array(weights["eta"]).sum(1) > 0)  # neurons that are not dead on every sequence
NEURON = int(alive[0]) if len(alive) else 0  # the first of them (this run's hidden1 may be all dead: then 0)
blocks = model.linear1.weight.detach().cpu().view(cfg.hidden, cfg.seq_len + 1, -1)[NEURON, :cfg.seq_len]  # (L, E)
norms = blocks.norm(dim=1).numpy()  # (L,)
selective = (f"most selective for input {np.argmax(weights['eta'][NEURON]) + 1}" if len(alive) else
             "selective for none: every hidden1 neuron of this run is dead")
print(f"hidden1 neuron {NEURON}: biggest block at input {norms.argmax() + 1}, {selective}")
if DETAILS:
    print(f"  block norms {norms.round(2)}, weight shares {np.round(weights['shares'][NEURON], 2)}, eta squared "
          f"{np.round(weights['eta'][NEURON], 2)}")
pause(PAUSE)

# %% [markdown]
# ## Step 11: ablation. Which neurons does the output need, and for which output? (6 min)
# **Question.** If we switch one neuron off, how much does each output lose?
# *Ablation* removes a component to see what it was for; *resample ablation* replaces its activation with its value
# on another, randomly chosen input. The *logit difference* is the correct token's logit minus the largest other one:
# above 0 the answer is right, and its size is the margin.
# **Hypothesis.** One-position neurons would each damage one output; shared work would spread the damage.
# **Experiment.** Resample-ablate each neuron; measure each output's logit difference and loss.
#
# <details><summary>The ablations, the measures and the yardstick</summary>
#
# Each neuron gets its value on another training sequence, averaged over 8 draws: the field's standard; zeroing and
# holding it at its mean are shown beside it. Accuracy saturates (the model wins by a margin of many logits), hence
# the logit difference. Ablating a whole layer is only a sanity check here: in a chain with no residual path
# everything passes through each layer. The yardstick for spread: one-position units put 100% of a neuron's damage on
# its worst output; an even split puts 1/L on each, and a random split on average (1 + 1/2 + ... + 1/L)/L on the
# worst.
#
# </details>

# %%
tell()
ablation = neuron_ablation(run)
figure(plot_ablation, ablation, out("notebook_ablation.png"), detail=DETAILS)
say(ablation.finding(), step=11)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# How much margin one neuron's removal costs, and whether its damage lands on one output or spreads. It does not say
# where the information lives instead: a direction spread over many neurons (step 13) would give the same picture.
# Which neuron is worst changes with the seed and the resample draws.
#
# </details>
#

# %% [markdown]
# **Exercise 2: ablate** (difficulty 2 of 3, 10 min). Zero one hidden1 neuron with a hook that returns the changed
# activation, and read what each output loses. Write it in the cell below; the check under it runs it on this model and
# names the likely mistake.

# %%
def zero_ablate(model, tokens, targets, neuron):
    """tokens, targets (N, T) -> (accuracy (L,), margin (L,)) with hidden1 neuron `neuron` set to 0 by a hook
    (run_with_hooks), at each output letter position (L = T - 1, the <eos> output left out), over the N sequences.
    margin(logits, targets) gives the correct logit minus the best wrong one."""
    raise NotImplementedError  # your code here


# %% [markdown]
# <details><summary>Hint</summary>
#
# hook(output): out = output.clone(); out[:, neuron] = 0; return out. Then logits = run_with_hooks(model, tokens,
# {"hidden1": hook}); keep logits[:, :L] and targets[:, :L] with L = T - 1; accuracy is (argmax == target) averaged over
# the sequences; the margin is core.common.margin(...), averaged likewise.
#
# </details>
#
# <details><summary>Solution</summary>
#
#     def zero_ablate(model, tokens, targets, neuron):
#         """Exercise 2 (ablate.py)."""
#
#         def hook(output):
#             out = output.clone()  # (N, H)
#             out[:, neuron] = 0
#             return out  # returned: it replaces hidden1
#
#         seq_len = tokens.shape[1] - 1
#         logits = run_with_hooks(model, tokens, {"hidden1": hook})[:, :seq_len]  # (N, L, V): the <eos> output left out
#         targets = targets[:, :seq_len]  # (N, L)
#         accuracy = (logits.argmax(-1) == targets).float().mean(0)  # (L,)
#         return accuracy, margin(logits, targets).mean(0)  # (L,) each
#
# </details>

# %%
tell()
check(exercises.ablate, zero_ablate, run)
pause(PAUSE)

# %% [markdown]
# ## Step 12: activation patching. What suffices, and what is needed? (6 min)
# **Question.** When one input letter changes, which activations carry that change to the output?
# *Activation patching* runs the model on one input while copying in a component's activation from another.
# *Noising and denoising*: noising patches a corrupted run's activation into the clean run (what breaks it);
# denoising, the clean activation into the corrupted run (what restores it).
# **Hypothesis.** A whole layer carries all of it; single neurons carry shares of it.
# **Experiment.** Corrupt the input an output copies; patch each neuron, then each layer, both ways.
#
# <details><summary>The measure</summary>
#
# LD = clean letter's logit minus corrupted letter's, normalised so that 1 = the part carries all of
# LD_clean - LD_corrupted: restored for denoising, lost for noising. In hidden2, whose readout is linear, the shares
# add up exactly.
#
# </details>

# %%
tell()
patching = activation_patching(run)
figure(plot_patching, patching, out("notebook_patching.png"), detail=DETAILS)
say(patching.finding(), step=12)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# *Direct logit attribution* splits a logit into the contributions of the pieces that add up to it, because the last
# layer is linear; a hidden2 neuron's patching share is exactly that.
# The shares add up to 1, so when several neurons contribute, each single share is small by arithmetic; that alone
# is not evidence of a "distributed" mechanism. Noising equals denoising here when every pair is run both ways
# round: with clean and corrupted inputs from different sets, as in language models, they can differ. Negative
# shares mean a neuron alone pushes toward the corrupted letter. Measured on one-letter corruptions only.
#
# </details>
#
# **Try it.** Patch the `K` neurons with the largest mean shares together. How many carry most of the answer?

# %%
tell()
K = 4
for name in ("hidden1", "hidden2"):
    best = np.argsort(-np.array(patching["denoising"][name]["neurons"]).mean(1), kind="stable")[:K].tolist()
    for direction in ("denoising", "noising") if DETAILS else ("denoising",):  # the two agree here (see above)
        shares = patch_neurons(model, sequences, vocab, cfg.device, name, best, direction=direction)
        print(f"{name}, {direction}: the top {K}{f' {best}' if DETAILS else ''} together carry "
              + (f"{' '.join(f'{s:.2f}' for s in shares)} per output" if DETAILS else
                 f"{np.mean(shares):.2f} of the answer, averaged over the outputs"))
pause(PAUSE)

# %% [markdown]
# ## Step 13: the mechanism. Where does each letter live, and who reads it? (10 min)
# **Question.** Single neurons each matter a little. So where does each letter live, and who reads it?

# %%
tell()
mechanism = find_mechanism(run)
summarize(f"In short: {mechanism.finding().headline}")  # printed, and the report opens with it

# %% [markdown]
# How we found it. A *direction* is a vector in a layer's activation space; the activation's component along it is a
# number the next layer can read. A *class mean* is the average activation over the sequences with a given letter
# at a given position; a *letter contrast*, the difference of two letters' class means there, is the direction that
# tells them apart. A *subspace* is all combinations of a few directions, here one position's V-1 letter contrasts.
# Splitting each activation into one part per position is a *change of basis*. We patch one position's part into a
# run with every letter changed, against random subspaces, then remove it.
#
# <details><summary>The experiment in full</summary>
#
# **Hypothesis.** Each input position's letter is written into its own few directions of a hidden layer (not its
# own neurons), added to the others; output j reads only the directions of its mirrored input L+1-j. An additive
# code like that needs L x (V-1) directions.
# **Experiment.** (1) Count the directions the layers use: the variance held by the top k principal components,
# beside the untrained network. (2) For each layer and input position, find the letter directions from class means
# on the training sequences (mean activation with letter x at position i, minus the overall mean), and split every
# activation into one part per position, solving for all positions together. (3) Patch only position i's part from
# a clean run into a run with *every* letter changed, and measure the share of the answer restored at every output
# j (0 = corrupted, 1 = clean); random subspaces of the same size are the control, 20 draws per position, since one
# draw can restore anything from little to a lot: the mechanism is named only where the letter directions beat the
# draws' 95th percentile. Then remove position i's part and measure accuracy at every output. (4) The readout from
# hidden2 is linear, so split the logit difference exactly into parts. (5) Fit the logits with a model that has no
# interaction between positions.
#
# </details>

# %%
tell()
figure(plot_dimensionality, mechanism, out("notebook_dimensionality.png"))
figure(plot_subspace_interventions, mechanism, out("notebook_subspace_interventions.png"), detail=DETAILS)
finding = mechanism.finding()
numbers = finding.numbers  # the three that carry it: patched at the mirror, the random control, removal
headline = (f"in hidden1, patching an input's own directions restores at least "
            f"{numbers['hidden1_restored_at_mirror']:.0%} of its mirrored output's answer, random subspaces at most "
            f"{numbers['hidden1_random_restored_at_mirror_p95']:.0%}; removing them costs the other outputs "
            f"{numbers['hidden1_accuracy_lost_elsewhere']:.0%} of their accuracy.")
say(dataclasses.replace(finding, headline=headline), step=13)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# The patching figure is the anti-diagonal of step 7 *inside* the network: where putting back position i's few
# directions restores the mirrored output and nothing else, and taking them away breaks exactly that output, that is
# causal evidence for the mechanism, on these corruptions and this seed (the printout above says whether it holds on
# this run). The dimension count alone proves little: hidden1 before its ReLU is an *affine* function of the letters
# (linear plus a constant, f(x) = A x + b), so it has at most L x (V-1) directions for *any* weights, and the
# untrained network is low-dimensional too. How much two positions' subspaces overlap, and how many neurons each
# spreads over, means little without a yardstick: the printout measures both on class means over every sequence
# (there each letter is equally often at each position) and puts random subspaces of the same size beside them.
# Where the printout says the picture holds and L x (V-1) fits in --hidden, neurons mix positions because the
# directions are rotated against the neuron axes, not because of superposition (step 14). Superposition is possible
# only where L x (V-1) exceeds --hidden (try --hidden 4, or --seq-len 6 --vocab abcd); steps 23 and 25 measure it. A
# patched share above 100% means the patch overshoots the clean run; a negative one pushes toward the corrupted
# letter.
#
# </details>
#

# %% [markdown]
# **Exercise 3: direction** (difficulty 1 of 3, 5 min). A letter's class-mean direction: what the layer adds when
# `letter` is at `position`. Write it in the cell below; the check under it runs it on this model and names the likely
# mistake.

# %%
def letter_direction(activations, sequences, position, letter):
    """activations (N, H), sequences (N, L) -> (H,): the mean activation over the sequences with `letter` at
    `position`, minus the mean over all N."""
    raise NotImplementedError  # your code here


# %% [markdown]
# <details><summary>Hint</summary>
#
# Select the rows with the letter: activations[sequences[:, position] == letter] is (M, H); average over the sequences,
# axis 0; subtract activations.mean(0).
#
# </details>
#
# <details><summary>Solution</summary>
#
#     def letter_direction(activations, sequences, position, letter):
#         """Exercise 3 (direction.py)."""
#         with_letter = activations[sequences[:, position] == letter]  # (M, H)
#         return with_letter.double().mean(0) - activations.double().mean(0)  # (H,)
#
# </details>

# %%
tell()
check(exercises.direction, letter_direction, run)

# %% [markdown]
# **Exercise 4: patch** (difficulty 3 of 3, 15 min). Patch one input position's subspace, clean into corrupted, and read
# the share restored at every output. Write it in the cell below; the check under it runs it on this model and names the
# likely mistake.

# %%
def patch_position(model, subspaces, clean, corrupted, eos_id, position):
    """Patch input `position`'s letter subspace of hidden1 from the clean run into the corrupted run, and return
    (L,): at each output j, the share of the clean answer restored, sum(LD_patched - LD_corrupted) /
    sum(LD_clean - LD_corrupted) over the pairs, LD = logit_difference(logits, good, bad) (P, L). clean, corrupted
    (P, L): add_eos(..., eos_id) makes the input. subspaces.components(acts) (P, H) -> (P, L, H), in float64."""
    raise NotImplementedError  # your code here


# %% [markdown]
# <details><summary>Hint</summary>
#
# Cache the clean run's hidden1 (run_with_cache) and take clean_part = subspaces.components(acts)[:, position] (P, H).
# The hook returns out + clean_part - subspaces.components(out)[:, position] (components works in float64: cast back
# with .float()). Run it on the corrupted tokens with run_with_hooks. LD needs the letters at each output: clean.flip(1)
# and corrupted.flip(1); mlp.subspaces.logit_difference(logits, good, bad) gives (P, L).
#
# </details>
#
# <details><summary>Solution</summary>
#
#     def patch_position(model, subspaces, clean, corrupted, eos_id, position):
#         """Exercise 4 (patch.py)."""
#         clean_tokens, corrupt_tokens = add_eos(clean, eos_id), add_eos(corrupted, eos_id)  # (P, T) each
#         clean_logits, cache = run_with_cache(model, clean_tokens, ("hidden1",))
#         corrupt_logits, _ = run_with_cache(model, corrupt_tokens, ())
#         clean_part = subspaces.components(cache["hidden1"])[:, position]  # (P, H) position's part of the clean run
#
#         def patch(out):
#             corrupt_part = subspaces.components(out)[:, position]  # (P, H)
#             return (out.double() - corrupt_part + clean_part).float()  # the corrupted run, position's part clean
#
#         patched_logits = run_with_hooks(model, corrupt_tokens, {"hidden1": patch})
#         good, bad = clean.flip(1), corrupted.flip(1)  # (P, L): output j reads input L-1-j, the mirror
#         ld = lambda logits: logit_difference(logits, good, bad)  # (P, L)
#         return (ld(patched_logits) - ld(corrupt_logits)).sum(0) / (ld(clean_logits) - ld(corrupt_logits)).sum(0)
#
# </details>

# %%
tell()
check(exercises.patch, patch_position, run)
pause(PAUSE)

# %% [markdown]
# ## Step 14: what it means (3 min)
# **Question.** What have we learned about this network, and what carries over to large models?
# - The unit to read this network in is the per-position directions found above, not single neurons.
# - Probes and activation patching work the same way on large language models, with hooks on named activations
#   (ours imitate TransformerLens's `run_with_cache` and `run_with_hooks`).
# - A *feature* is a property of the input that the network represents, such as "the letter at position 2 is b".
#   *Superposition* is a layer representing more features than it has neurons, as directions that cannot all be
#   orthogonal; sparse autoencoders attack it. Here it is possible only where L x (V-1) exceeds --hidden.

# %%
tell()
if DETAILS:
    print(f"Behaviour: the network reverses {sequence_accuracy(model, data.all_sequences, vocab.eos_id):.0%} of all "
          f"{n_distinct} sequences, {heldout_accuracy:.0%} of the {len(data.heldout_sequences)} it never saw.")
    print(f"Mechanism: {in_short(mechanism, details='in step 13')}")
    print("These numbers are for this seed and settings; `python demo.py --samples 1000 --seeds 10` shows how they "
          "spread over seeds for this notebook's model.")
say(f"{mechanism['needed_directions']} needed directions, {cfg.hidden} neurons per layer: "
    + ("room for every direction, so nothing forces superposition." if mechanism["needed_directions"] <= cfg.hidden
       else "more directions than neurons, so superposition is possible here (step 23 measures it)."), step=14)
pause(PAUSE)

# %% [markdown]
# # Chapter 3: attention, the same task in a transformer
# ## Step 15: a one-layer, attention-only transformer, on the same split (5 min)
# **Question.** Does a transformer learn the same task from the same data?
#
# A transformer moves information between positions with *attention*: each output position (query) takes a weighted
# average of what the positions it attends to (keys) send it (values). The *residual stream* is the running sum that
# every layer reads from and adds its output to; here token embedding plus position embedding plus the head's output.
# Ours has one attention head and nothing else: no MLP, no LayerNorm, no biases.
#
# <details><summary>Why this design</summary>
#
# The MLP hid its routing in rotated directions that took class means and patching to find. With no MLP, no
# LayerNorm and no biases, every path from input to output is a product of weight matrices, the setting of "A
# Mathematical Framework for Transformer Circuits" (Elhage et al. 2021). Its hook points have TransformerLens's names
# (`blocks.0.attn.hook_pattern`, ...). It trains on exactly the same sequences and samples.
#
# </details>

# %%
tell()
transformer_cfg = dataclasses.replace(cfg, model="transformer", lr=DEFAULT_LR["transformer"])
transformer = make_model(transformer_cfg, vocab)
transformer_history = train(transformer, data, transformer_cfg)
transformer_untrained = make_model(transformer_cfg, vocab)  # same seed, same starting weights, never trained
transformer_run = Run(transformer, transformer_untrained, data, transformer_cfg)  # what chapters 3 and 4 take
if DETAILS:
    print(transformer)
    print("its hook points:", ", ".join(transformer.hook_points))
print(f"{transformer.parameter_count():,} parameters"
      + (f"; trained in {transformer_history.seconds:.2f} s" if DETAILS else "")
      + f"; held-out sequences right: {sequence_accuracy(transformer, data.heldout_sequences, vocab.eos_id):.0%}")

# %% [markdown]
# **Probes on the residual stream**, before the head (`hook_resid_pre`) and after it (`hook_resid_post`).
#
# <details><summary>What they can and cannot see</summary>
#
# The same probes, folds and controls as step 8, each layer flattened over positions to (N, T*d). Every letter is
# there before and after the head, in the trained and the untrained transformer alike: the stream keeps each token's
# embedding at its own position. So these probes cannot see the routing.
#
# </details>
#
# **Try it.** Probe only the output position that should hold input i's letter, trained and untrained: which tells
# them apart, and why?
#
# <details><summary>Counting from 0</summary>
#
# In Python, counting from 0, input i is copied at position L-1-i, hence `post[:, L-1-i]`; the printouts count from
# 1, where input i is copied at output L+1-i.
#
# </details>

# %%
tell()
transformer_probes = probe_accuracy(transformer_run)
folds = fold_masks(len(sequences), N_FOLDS, torch.Generator().manual_seed(cfg.seed))
for name, network in (("trained", transformer), ("untrained", transformer_untrained)):
    post = layer_features(network, sequences, vocab, cfg.device, ("blocks.0.hook_resid_post",))
    post = post["blocks.0.hook_resid_post"].view(len(sequences), cfg.seq_len + 1, -1)  # (N, T, d)
    at_mirror = [cross_validated_accuracy(post[None, :, cfg.seq_len - 1 - i], sequences[:, i:i + 1], folds,
                                          len(vocab.letters)).item() for i in range(cfg.seq_len)]
    print(f"{name}: input i's letter read at output {cfg.seq_len + 1}-i only: {percentages(at_mirror)}")
say(transformer_probes.finding(), step=15)
pause(PAUSE)

# %% [markdown]
# ## Step 16: the attention pattern. Where does each output look? (4 min)
# **Question.** Which input position does each output position read from?
# **Hypothesis.** Output j attends to input L+1-j, the anti-diagonal; `<eos>`'s row is free.
# **Experiment.** Read the pattern (`hook_pattern`) for every sequence and average.

# %%
tell()
attention = attention_experiments(transformer_run)
figure(plot_patterns, attention["patterns"], out("notebook_attention_patterns.png"))
say(attention["patterns"].finding(), step=16)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# The pattern says where each output reads from, not that what it reads is used, nor how the letter is turned into
# the output: steps 17 and 18 test those. Where L is odd, the middle position is its own mirror, so it could also
# read its letter from its own residual stream.
#
# </details>
#
# **Try it.** Which single sequence puts the least attention on a mirror? Look at its pattern row by row.

# %%
tell()
tokens = add_eos(sequences, vocab.eos_id).to(cfg.device)  # (N, T)
_, transformer_cache = run_with_cache(transformer, tokens, ["blocks.0.attn.hook_pattern"])
pattern = transformer_cache["blocks.0.attn.hook_pattern"][:, 0].cpu()  # (N, query, key), head 0
on_mirror = torch.stack([pattern[:, j, cfg.seq_len - 1 - j] for j in range(cfg.seq_len)], 1)  # (N, L)
weakest = int(on_mirror.min(1).values.argmin())
print(f"weakest: {''.join(vocab.decode(sequences[weakest].tolist()))!r}, {on_mirror[weakest].min():.3f} on its mirror "
      f"at output {on_mirror[weakest].argmin() + 1}")
if DETAILS:
    print(f"attention on the mirror per output {[round(v, 3) for v in on_mirror[weakest].tolist()]}")
    print(np.round(pattern[weakest].numpy(), 3))
pause(PAUSE)

# %% [markdown]
# ## Step 17: the QK and OV circuits, read from the weights (6 min)
# **Question.** Can we predict the pattern, and what the head writes, from the weights alone?
# The weights W_E, W_pos, W_Q, W_K, W_V, W_O, W_U are the token embedding, position embedding, query, key, value,
# output and unembedding matrices; *d_head* is the width of the head's queries, keys and values. The *QK circuit*
# (W_Q and W_K) says which key each query attends to; the *OV circuit* (W_V and W_O, with W_E and W_U) what an
# attended token writes into the output.
# **Hypothesis.** QK peaks on the mirrored key; OV copies, largest on its diagonal.
#
# <details><summary>The arithmetic</summary>
#
# Attention scores are (x_q W_Q)(x_k W_K)^T / sqrt(d_head), and each x is a token embedding plus a position
# embedding. The positional part, W_pos W_Q W_K^T W_pos^T, should peak on the mirrored key in every letter row. What
# a head writes when it attends to a token is W_E W_V W_O W_U in logits: a copying matrix, with its largest entry on
# the diagonal, would copy the attended letter to the output. We compare the positional QK part with the
# token-dependent terms, and OV with the direct path W_E W_U that skips the head.
#
# </details>

# %%
tell()
figure(plot_circuits, attention["qk"], attention["ov"], vocab, out("notebook_circuits.png"), detail=DETAILS)
say(attention["qk"].finding(), attention["ov"].finding(), step=17)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# Where the printout's worst-case margin is positive, the weights predict both halves of the mechanism: where to
# look (QK) and what to copy (OV). The positional argmax can be the mirror even on seeds whose pattern is messy
# (`python demo_notebook.py --seed 6 --details`, when we ran it, printed that output 1 puts 0.53 on `<eos>`); only
# the token-dependent terms (the worst-case margin) show the mess, so read them too.
#
# </details>
#

# %% [markdown]
# **Exercise 5: pattern** (difficulty 2 of 3, 10 min). Compute the attention pattern from W_Q, W_K and the residual
# stream, and compare it with the hook's. Write it in the cell below; the check under it runs it on this model and names
# the likely mistake.

# %%
def attention_pattern(model, tokens, head):
    """tokens (N, T) -> (N, T query, T key): head `head`'s attention pattern, computed from the residual stream it
    reads (run_with_cache, "blocks.0.hook_resid_pre") and model.blocks[0].attn.W_Q, W_K (heads, d, d_head), not read
    from hook_pattern. Each row sums to 1."""
    raise NotImplementedError  # your code here


# %% [markdown]
# <details><summary>Hint</summary>
#
# _, cache = run_with_cache(model, tokens, ("blocks.0.hook_resid_pre",)); resid = cache[...] (N, T, d). attn =
# model.blocks[0].attn; q = resid @ attn.W_Q[head] and k = resid @ attn.W_K[head] (N, T, d_head); scores = q @
# k.transpose(-1, -2) / sqrt(d_head) (N, T, T); return scores.softmax(dim=-1).
#
# </details>
#
# <details><summary>Solution</summary>
#
#     def attention_pattern(model, tokens, head):
#         """Exercise 5 (pattern.py)."""
#         _, cache = run_with_cache(model, tokens, ("blocks.0.hook_resid_pre",))
#         resid = cache["blocks.0.hook_resid_pre"]  # (N, T, d): W_E[tokens] + W_pos, what the head reads
#         attn = model.blocks[0].attn
#         q, k = resid @ attn.W_Q[head], resid @ attn.W_K[head]  # (N, T, d_head) each
#         scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (N, T query, T key)
#         return scores.softmax(dim=-1).detach()  # over the keys: each query's row sums to 1; no mask, bidirectional
#
# </details>

# %%
tell()
check(exercises.pattern, attention_pattern, transformer_run)

# %% [markdown]
# **Exercise 6: ov** (difficulty 2 of 3, 10 min). Read the OV circuit's letter block from the weights: what the head
# writes for each letter it attends to. Write it in the cell below; the check under it runs it on this model and names
# the likely mistake.

# %%
def ov_letters(model, n_letters, head):
    """-> (n_letters, n_letters): head `head`'s OV circuit from the weights, row = the letter attended to, column =
    the letter whose logit it moves. model.embed.W_E (V, d), model.blocks[0].attn.W_V (heads, d, d_head) and W_O
    (heads, d_head, d), model.unembed.W_U (d, V); the letters are token ids 0 to n_letters - 1."""
    raise NotImplementedError  # your code here


# %% [markdown]
# <details><summary>Hint</summary>
#
# W_E = model.embed.W_E[:n_letters] (letters, d); attn = model.blocks[0].attn; W_U = model.unembed.W_U[:, :n_letters]
# (d, letters). Return W_E @ attn.W_V[head] @ attn.W_O[head] @ W_U, in that order: d -> d_head -> d -> logits.
#
# </details>
#
# <details><summary>Solution</summary>
#
#     def ov_letters(model, n_letters, head):
#         """Exercise 6 (ov.py)."""
#         attn = model.blocks[0].attn
#         embed, unembed = model.embed.W_E[:n_letters], model.unembed.W_U[:, :n_letters]  # (L, d), (d, L)
#         return (embed @ attn.W_V[head] @ attn.W_O[head] @ unembed).detach()  # (L attended, L logits)
#
# </details>

# %%
tell()
check(exercises.ov, ov_letters, transformer_run)
pause(PAUSE)

# %% [markdown]
# ## Step 18: interventions on the head (5 min)
# **Question.** Does the output need the head, and is the anti-diagonal all the head needs to get right?
# **Hypothesis.** Without the head, accuracy falls to chance; the exact anti-diagonal pattern keeps every sequence
# right, a uniform one does not.
# **Experiment.** Ablate the head's output, replace its pattern, and patch its values, pattern and output.

# %%
tell()
figure(plot_interventions, attention["interventions"], out("notebook_attention_interventions.png"))
say(attention["interventions"].finding(), step=18)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# Ablation (zero, mean and resample) shows the head is necessary. Where the forced anti-diagonal keeps every sequence
# right, that pattern suffices for this model's values; where it does not, the values were learned for the pattern
# the model has. Compare zero ablation with the hypothesis: where the direct path that is left has nearly flat logits
# whose argmax is each position's own letter, the middle output (where L is odd) survives and more sequences stay
# right than chance. `python demo_notebook.py --seed 6`, when we ran it, printed 0% right with the anti-diagonal
# forced, and with the head zeroed 33% at the middle output and 3.7% of sequences, chance. In one layer a key's value
# depends only on its own token, so the other keys' patching shares of 0 are arithmetic, not evidence.
#
# </details>
#
# **Try it.** Replace the pattern by the identity, each query attending only to itself. Predict the accuracy first.

# %%
tell()
identity = lambda pattern: torch.eye(pattern.shape[-1], device=pattern.device).expand_as(pattern)
logits = run_with_hooks(transformer, tokens, {"blocks.0.attn.hook_pattern": identity})
right = (logits.argmax(-1).cpu() == make_targets(sequences, vocab.eos_id)).all(1)  # (N,) every output right
print(f"identity pattern: {right.float().mean():.0%} of sequences right")
pause(PAUSE)

# %% [markdown]
# ## Step 19: two seeds, two circuits? (4 min)
# **Question.** Does every transformer that reverses perfectly use the clean anti-diagonal?
# **Hypothesis.** Not necessarily: `<eos>`'s row is unconstrained, and what it reads can push the values around.
# **Experiment.** Train the next seeds (at most `TRIES`) until one's circuit differs in kind, and compare.
#
# <details><summary>What "in kind" means</summary>
#
# The kind: clean (every letter row puts at least 0.9 on its mirror), the mirror circuit softer (the mirror wins
# every row, with less on it), or another; whether `<eos>` attends most to itself; and the accuracy with the exact
# anti-diagonal forced. The figure compares the two patterns and what each key's value pushes onto `<eos>`.
#
# </details>

# %%
tell()
TRIES = 3
other = None
for seed in range(transformer_cfg.seed + 1, transformer_cfg.seed + 1 + TRIES):
    other_run = start_run(dataclasses.replace(transformer_cfg, seed=seed, input=""))  # its own split and weights
    train(other_run.model, other_run.data, other_run.cfg, progress=False)
    other = (seed, attention_experiments(other_run))
    if other[1]["verdict"].kind() != attention["verdict"].kind():
        break
seed, other_attention = other
if DETAILS:
    print(f"seed {transformer_cfg.seed}:\n{attention['verdict'].finding()}\nseed {seed}:\n{other_attention['verdict'].finding()}")
kinds = {name: result["verdict"].kind() for name, result in [("this", attention), ("other", other_attention)]}
for name, label in [("this", transformer_cfg.seed), ("other", seed)] if DETAILS else []:
    k = kinds[name]
    print(f"seed {label}: {k['circuit']} circuit, <eos> attends most to {'itself' if k['eos_on_itself'] else 'a letter'}"
          f", {k['antidiagonal_accuracy']:.0%} right with the exact anti-diagonal forced")
figure(plot_circuit_comparison, [(f"seed {transformer_cfg.seed}", attention["patterns"], attention["verdict"]),
                                  (f"seed {seed}", other_attention["patterns"], other_attention["verdict"])],
       out("notebook_two_circuits.png"))
if kinds["this"] == kinds["other"]:
    kinds_text = (f"the next {TRIES} seeds came out the same kind as seed {transformer_cfg.seed}: the same circuit, "
                  f"<eos> on the same key type, the same forced anti-diagonal accuracy; raise TRIES to look further.")
else:
    kinds_text = (f"the two seeds' circuits are {kinds['this']['circuit']} and {kinds['other']['circuit']}: one "
                  f"design and one data budget, two kinds of circuit.")

# %% [markdown]
# *Path patching* splits the head's share at an output into one term per key, and the pattern's into its query and
# key paths.
#
# <details><summary>The terms, and why the MLP needs none</summary>
#
# Term k is A[j,k] v[k] carried to the logit difference by W_O and the unembedding, so the terms add up to the
# head's share exactly. A key whose value never changes under the corruption gets 0 from activation patching, yet
# can carry part of the answer when the corruption moves the attention onto it. The pattern's share splits into the
# query path (only the clean queries patched in), the key path (only the clean keys) and their interaction. The MLP
# needs no path patching: it has no residual stream, so every path from hidden1 runs through all of hidden2.
#
# </details>

# %%
tell()
paths = {label: path_patching(network.model, network.sequences, vocab, result["interventions"]["patching"])
         for label, network, result in [(transformer_cfg.seed, transformer_run, attention),
                                        (seed, other_run, other_attention)]}  # other_run: the seed step 19 kept
figure(plot_path_patching, paths[transformer_cfg.seed], out("notebook_path_patching.png"),
       model_name=f"seed {transformer_cfg.seed}")
figure(plot_path_patching, paths[seed], out("notebook_path_patching_other_seed.png"), model_name=f"seed {seed}")
if DETAILS:
    print(f"seed {transformer_cfg.seed}:\n{paths[transformer_cfg.seed].finding()}\nseed {seed}:")
other_paths = paths[seed].finding()
n = other_paths.numbers
if "<eos> key" in other_paths.headline:  # the path activation patching cannot see: say it in short
    headline = (f"Seed {seed}: at output {n['output']}, {n['largest_off_mirror_term']:.2f} of the head's "
                f"{n['head_share']:.2f} flows through the <eos> key, whose value never changes, so activation "
                f"patching gives it 0.")
else:
    headline = f"Seed {seed}: {other_paths.headline[0].lower()}{other_paths.headline[1:]}"
say(kinds_text, dataclasses.replace(other_paths, headline=headline), step=19)
pause(PAUSE)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# Accuracy cannot tell two such circuits apart; only the internals can. Each seed's held-out split differs too (the
# seed picks it), so this compares training runs, not the initialisation alone.
#
# </details>
#
# <details><summary>Try it: count the clean seeds out of ten</summary>
#
# `python demo.py --model transformer --samples 1000 --seeds 10` counts them.
# That command printed 3 of 10 clean (seeds 42, 45 and 49); `python demo.py --model transformer --seeds 10`, at
# demo.py's default of 2,000 samples, printed 2 of 10.
#
# </details>

# %% [markdown]
# ## Step 20: the MLP against the transformer (3 min)
# **Question.** The same data; is it the same behaviour, and where does the routing live in each model?
#
# <details><summary>Another seed</summary>
#
# The two can differ: `python demo_notebook.py --seed 6`, when we ran it, printed that the MLP reverses 40% of the
# held-out sequences and the transformer 100%.
#
# </details>

# %%
tell()
transformer_influence = position_influence(transformer_run)
mlp_summary = model_summary(run, history, influence, mlp_routing(mechanism))
transformer_summary = model_summary(transformer_run, transformer_history, transformer_influence,
                                    transformer_routing(attention["patterns"]))
both = comparison(mlp_summary, transformer_summary)
figure(plot_comparison, both, out("notebook_mlp_vs_transformer.png"))

# %% [markdown]
# **A prediction**, then its test: can each model copy a letter to an output where training never showed it?
#
# <details><summary>The run, and the full study</summary>
#
# The test holds out every sequence with that letter at that input, and trains both models on half the rest.
# Each mechanism predicts the answer: the MLP writes one direction per (position, letter), learned from the sequences
# that have it; the transformer's head routes by position and copies whatever letter it attends to.
# At the defaults the 27 sequences are too few to hold a pair out, so this runs at --seq-len 5 over abcd (1,024
# sequences): full-batch AdamW with weight decay 1, one seed, 700 MLP and 120 transformer steps (each fits its
# training sequences by then at seed 42). The measures: accuracy at the output that must copy the pair, beside the
# other held-out sequences, and the logit difference there. `python demo.py --unseen` runs three seeds for longer,
# and `--unseen P:X` another pair. Over 8,192 sequences (a big vocab or length) the small run is skipped: it would
# take minutes.
#
# </details>

# %%
tell()
unseen_cfg = study_config(cfg)  # --seq-len 5 over abcd at the defaults (above); the settings chosen otherwise
n_study = len(unseen_cfg.vocab) ** unseen_cfg.seq_len
if n_study <= SMALL_RUN_SEQUENCES:
    unseen = unseen_pair(unseen_cfg, 0, unseen_cfg.vocab[0], **SMALL_RUN)  # the first letter at input 1
    figure(plot_unseen, unseen, out("notebook_unseen.png"))
    unseen_said = unseen.finding()
else:  # a big vocab or length: training on half of them, full batch, would take minutes
    unseen_said = (f"The unseen pair: not run at {n_study:,} sequences, more than the small run's "
                   f"{SMALL_RUN_SEQUENCES:,}: demo.py --unseen with the same flags runs it, for minutes.")

# %% [markdown]
# **Grokking?** *Grokking* is held-out accuracy that stays low long after training accuracy reaches 100%, then jumps:
# on modular arithmetic, a memorizing circuit that weight decay slowly replaces with a generalizing one (Nanda et al.
# 2023). Here that recipe runs once, small; `python demo.py --grokking` runs the full study.
#
# <details><summary>The recipe, and the progress measures</summary>
#
# Full batch, AdamW with weight decay 1, 5% of the 1,024 sequences of length 5 over abcd to train on: 600 MLP and
# 150 transformer steps here, one seed; the study runs longer, three seeds, and 25% too.
# An additive surrogate (one vector per position and letter, no term seeing two positions) is fitted to the
# training sequences alone at every probe; its held-out accuracy beside the model's says whether what generalizes is
# that additive copy. The restricted loss keeps only its mirrored terms, the excluded loss removes them; the
# off-mirror share is the share of its logit variance from non-mirrored positions. The full study draws them all.
#
# </details>

# %%
tell()
grokking = grokking_study(cfg, n_seeds=1, fractions=(0.05,), steps={"mlp": 600, "transformer": 150}, workers=1,
                          progress=False)  # under a second: each model fits its training set by then at seed 42
figure(plot_grokking, grokking, out("notebook_grokking.png"))
verdicts = {model: grokking["runs"][model]["0.05"][0]["verdict"] for model in ("mlp", "transformer")}
grokked = dataclasses.replace(grokking.finding(), headline=(
    f"{'No run grokked' if 'grokking' not in verdicts.values() else 'A run grokked'}: for the MLP "
    f"{VERDICTS[verdicts['mlp']]}, for the transformer {VERDICTS[verdicts['transformer']]}."))
why = (f"Why: an additive surrogate fitted to the training sequences alone tracks held-out accuracy within "
       f"{grokking.finding().numbers['largest_surrogate_gap']:.2f}: the additive mirror copy generalizes, and "
       f"training finds it first.")
say(both.finding(), unseen_said, grokked, why, step=20)
pause(PAUSE)

# %% [markdown]
# # Chapter 4: features
# ## Step 21: steering. Can the directions we found *move* the answer? (6 min)
# **Question.** Does pushing hidden1 along v = mean(h | y at p) - mean(h | x at p) make the mirrored output say y,
# and change nothing else?
# *Steering* adds a direction, times a strength alpha, to an activation during the forward pass, to change what the
# model says. The *steering window* is the range of alpha over which it flips the mirror on nearly every sequence
# and changes almost no other output.
# **Hypothesis.** Near alpha = 1 the mirror flips and nothing else moves; random directions and one neuron do not.
# **Experiment.** Every (p, x, y), a sweep of alpha, in both hidden layers.
#
# <details><summary>The thresholds, the controls and hidden2</summary>
#
# Clean: flip >= 90% of the sequences (the mirror says y), side effects (any other output changed) <= 5%. The
# random directions are 20 a triple, read at their 95th percentile. The steered layers are clamped at 0 (they come
# out of a ReLU). At hidden2 this is no test: hidden2 feeds the linear readout, so the steered logits are the
# unsteered ones plus alpha W v, and the readout predicts them with no intervention run.
#
# </details>

# %%
tell()
steering = steering_experiment(run)
figure(plot_steering, steering, out("notebook_steering.png"))
windows = {layer: steering[layer]["clean_window"]["class means"] for layer in steering["layers"]}  # [(from, to)]
if DETAILS:  # the headline gives the first layer's window
    for layer, window in windows.items():
        print(f"{layer}: " + (f"clean from alpha {window[0][0]:g} to {window[-1][1]:g}" if window else
                              "no clean window"))
    inside = [layer for layer, window in windows.items() if any(low <= 1 <= high for low, high in window)]
    print(f"alpha = 1, x's class mean moved onto y's, is inside the window at {', '.join(inside)}" if inside else
          "alpha = 1, x's class mean moved onto y's, is inside no window")
say(steering.finding(), step=21)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# A clean window at hidden1 says the class-mean directions are carried through linear2 and its ReLU to the mirrored
# output and to no other, on these sequences; where the printout says the class-mean direction beats the random
# draws' 95th percentile and the neuron, it is the direction that matters, not the size of the push (where the
# neuron flips some triples at some alpha of its own, it carries part of the direction). At hidden2 the agreement
# is arithmetic: the printout puts the readout's prediction beside the measurement, and the clamp at 0 is all that
# separates them. The window depends on the training run: the lines above say where this run's lies and whether
# alpha = 1 is inside it (`python demo.py`, at its 2,000 samples, printed 0.65 to 1.20 at hidden1 and 0.65 to 1.00
# at hidden2 when we ran it). The figure shades that window darker, and lighter the wider one of its own triple
# alone.
#
# </details>
#

# %% [markdown]
# **Exercise 7: steer** (difficulty 2 of 3, 15 min). Steer hidden1 along a class-mean direction with a hook, and read
# the mirrored output. Write it in the cell below; the check under it runs it on this model and names the likely
# mistake.

# %%
def steer(model, hidden1, sequences, eos_id, position, source, target, alpha):
    """-> (flip, side_effects): add alpha times v = mean(hidden1 | target at position) - mean(hidden1 | source at
    position) to hidden1, clamped at 0, for the sequences (N, L) with `source` at `position`; flip = the share whose
    mirrored output now says `target`, side_effects = the share where any other output changed. hidden1 (N, H)."""
    raise NotImplementedError  # your code here


# %% [markdown]
# <details><summary>Hint</summary>
#
# v = hidden1[sequences[:, position] == target].mean(0) - the same for source. Keep the rows with source at position,
# tokens = add_eos(sequences[rows], eos_id); hook(out) returns (out + alpha * v).clamp(min=0). Run run_with_hooks(model,
# tokens, {}) and with {"hidden1": hook}; take argmax(-1) of each, (M, L+1). The flip reads output L-1-position; the
# side effects every other output, <eos> included, against the unsteered answers.
#
# </details>
#
# <details><summary>Solution</summary>
#
#     def steer(model, hidden1, sequences, eos_id, position, source, target, alpha):
#         """Exercise 7 (steer.py)."""
#         has = lambda letter: sequences[:, position] == letter  # (N,)
#         vector = hidden1[has(target)].mean(0) - hidden1[has(source)].mean(0)  # (H,) from source towards target
#         tokens = add_eos(sequences[has(source)], eos_id)  # (M, L+1): only the sequences with source at position
#
#         def push(out):
#             return (out + alpha * vector).clamp(min=0)  # hidden1 is post-ReLU: no input makes it negative
#
#         before = run_with_hooks(model, tokens, {}).argmax(-1)  # (M, L+1) the unsteered answers
#         after = run_with_hooks(model, tokens, {"hidden1": push}).argmax(-1)  # (M, L+1)
#         mirror = sequences.shape[1] - 1 - position  # the output that copies input `position`
#         others = torch.arange(tokens.shape[1]) != mirror  # (L+1,) every other output, <eos> included
#         flip = (after[:, mirror] == target).float().mean()
#         side_effects = (after != before)[:, others].any(1).float().mean()
#         return flip.item(), side_effects.item()
#
# </details>

# %%
tell()
check(exercises.steer, steer, run)

# %% [markdown]
# **Try it.** Steer without the clamp. Does the window change, and in which layer?

# %%
tell()
unclamped = steering_experiment(run, clamp=False)
for layer in unclamped["layers"]:
    window = unclamped[layer]["clean_window"]["class means"]
    print(f"{layer}, not clamped: " + (f"clean from alpha {window[0][0]:g} to {window[-1][1]:g}" if window else
                                       "no clean window"))
if DETAILS:
    print("\n".join(line for line in unclamped.finding().evidence if line.startswith("  hidden")))  # one line per layer
pause(PAUSE)

# %% [markdown]
# ## Step 22: steering the transformer's residual stream (5 min)
# **Question.** Does the same steering work in the transformer's residual stream?
# **Hypothesis.** Before the head the stream at input p is W_E[letter] + W_pos[p], so v is W_E[y] - W_E[x] and
# alpha = 1 is typing y: the mirror flips if the head carries the new letter across.
# **Experiment.** The same sweep, at one token position, against random directions and one stream dimension.
#
# <details><summary>The two sites, and what each can show</summary>
#
# Input p's position is also a key and a value for every output, so a large push may change other outputs too. At
# `blocks.0.hook_resid_post`, the mirrored output's position is read by the unembedding alone, so no other output
# can change, and the flip follows from W_U too (the unembedding is linear): arithmetic, not a test. The vector is
# added at the input's position at resid_pre and at the mirrored output's at resid_post, not clamped (no ReLU makes
# the stream).
#
# </details>

# %%
tell()
transformer_steering = steering_experiment(transformer_run)
figure(plot_steering, transformer_steering, out("notebook_transformer_steering.png"))
say(transformer_steering.finding(), step=22)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# At resid_pre a clean window says the head moves whatever letter sits at input p to the mirror; the window says how
# much smaller or larger than a real letter change (alpha = 1) the push may be. That tests the head, not a direction
# we found: the direction is the embedding difference. The printout says what ends the window there; where it is
# side effects, pushing the input's position harder changes what other outputs read. At resid_post all of it is
# arithmetic: the printout puts the unembedding's prediction, logits + alpha W_U v, beside the measurement;
# resid_pre, where the head must carry the push, is the site with a test. The single-dimension control moves an axis
# the model does not compute with, so where it flips a triple, that says only that the letter's direction has a
# large component along that axis.
#
# </details>
#
# **Try it.** Push far past the window (`ALPHA`). Does the mirror still say y, and where does its query attend?

# %%
tell()
ALPHA, POSITION, FROM, TO = 5.0, 0, 0, 1  # input 1 (0-based 0), a -> b
W_E = transformer.embed.W_E.detach()
one = add_eos(sequences[sequences[:, POSITION] == FROM][:1], vocab.eos_id).to(cfg.device)  # (1, T)


def push(resid):
    resid = resid.clone()
    resid[:, POSITION] += ALPHA * (W_E[TO] - W_E[FROM])  # only the steered input's position moves
    return resid


mirror = cfg.seq_len - 1 - POSITION
_, plain = run_with_cache(transformer, one, ["blocks.0.attn.hook_pattern"])
with hooks(transformer, {"blocks.0.hook_resid_pre": push}):
    logits, steered = run_with_cache(transformer, one, ["blocks.0.attn.hook_pattern"])
print(f"{letters(one[0, :cfg.seq_len].cpu(), vocab)}, alpha {ALPHA}: output {mirror + 1} says "
      f"{vocab.tokens[logits[0, mirror].argmax().item()]}; "
      f"the whole output {' '.join(vocab.decode(logits.argmax(-1)[0].tolist()))}")
if DETAILS:
    print(f"output {mirror + 1}'s attention over the inputs, before: "
          f"{np.round(plain['blocks.0.attn.hook_pattern'][0, 0, mirror].cpu().numpy(), 2)}, "
          f"steered: {np.round(steered['blocks.0.attn.hook_pattern'][0, 0, mirror].cpu().numpy(), 2)}")
print(f"its attention on input {POSITION + 1}: {plain['blocks.0.attn.hook_pattern'][0, 0, mirror, POSITION]:.2f} "
      f"before, {steered['blocks.0.attn.hook_pattern'][0, 0, mirror, POSITION]:.2f} steered")
pause(PAUSE)

# %% [markdown]
# ## Step 23: superposition. More directions than neurons? (5 min)
# **Question.** Does the network carry more (position, letter) directions than it has neurons?
# **Hypothesis.** With the defaults, no: the L x (V-1) directions fit in --hidden neurons.
# **Experiment.** Each layer's effective dimension, the overlap of different positions' directions against random
# ones, the probes, and held-out accuracy. The *participation ratio* is an effective dimension: (sum of the PCA
# variances)^2 / (sum of their squares), k for k equal directions, 1 for a line.
#
# <details><summary>Necessary, not sufficient</summary>
#
# More directions than neurons is necessary for superposition, not sufficient: the layer might also carry fewer
# directions than the additive count. Beside the participation ratio, the printout gives the number of principal
# components that hold 99% of the variance.
#
# </details>

# %%
tell()
superposition = superposition_report(run)
figure(plot_superposition, superposition, out("notebook_superposition.png"))
say(superposition.finding(), step=23)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# L x (V-1) is what a general additive code needs; a network can use fewer directions (a position's letters on a
# line). More needed directions than neurons is necessary for superposition, not proof of it. Step 25 (`--crowded`)
# measures a layer that is crowded and still right. Where the layers lose letters (the probes miss them), one run
# cannot say whether more training would keep them: a failure is not a capacity limit until a larger budget has
# been tried (`python demo.py --sweep` does).
#
# </details>
#
# **Try it.** Run `python demo_notebook.py --chapter features --hidden 4` and compare this step's numbers.

# %%
tell()
pause(PAUSE)

# %% [markdown]
# ## Step 24: a sparse autoencoder, scored against the ground truth (6 min)
# **Question.** Can a sparse autoencoder recover the features "the letter at position p is x" from hidden1 alone?
# A *sparse autoencoder (SAE)* is a network trained to rewrite each activation as a sparse, non-negative mix of
# learned directions; its *dictionary* is that set of directions, one per SAE feature.
# **Hypothesis.** No neuron is such a feature (see selectivity), but an SAE should find sparse, linear features.
# **Experiment.** Match true features to SAE features by correlation, against randomly rotated SAE features.
#
# <details><summary>The SAE, the matching and the control in full</summary>
#
# *FVE* (fraction of variance explained) is 1 minus the reconstruction's squared error over the activations'
# variance; *L0* is how many SAE features are active for an input, on average.
# One SAE (a ReLU encoder, a decoder with unit-norm columns, an L1 penalty; L x V features, a number chosen with the
# ground truth in hand) on hidden1 over every sequence (a seeded sample of 512 where there are more); `python
# demo.py --sae` trains three SAE seeds with more steps. Match ground-truth features to SAE features one to one, by
# correlation r (the best pair first, then the best pair left): a feature is found when its match has r >= 0.9. The
# same rule scores the neurons, the principal components, and a linear+ReLU readout fitted to each feature (a
# supervised reference). Also FVE, L0 and the model's accuracy with hidden1 replaced by the reconstruction. The
# control: the SAE's features mixed by 20 random rotations, which reconstruct just as well.
#
# </details>

# %%
tell()
sae = sae_experiment(run, seeds=(0,), steps=SAE_STEPS)
figure(plot_sae, sae, out("notebook_sae.png"))
say(sae.finding(), step=24)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# Its FVE and the model's accuracy with the reconstruction are near-perfect whatever it found; only the count against
# the rotated control, and the ground truth that real models lack, tell whether it found the features. The dictionary
# size came from that ground truth too. Where it finds fewer than the readout, features that are sparse and linearly
# readable were not enough for this SAE. `python demo.py --sae --seq-len 6 --vocab abcd` measures a crowded layer
# over three SAE seeds; step 25 (`--crowded`) runs this step's SAE on one trained now.
#
# </details>
#
# **Try it.** Double the dictionary (`N_FEATURES`). Does it find more true features, or *conjunctions*, features
# for two properties at once ("x at p and y at q")?

# %%
tell()
N_FEATURES = 2 * cfg.seq_len * len(vocab.letters)
acts = layer_features(model, sequences, vocab, cfg.device, ("hidden1",))["hidden1"]  # (N, H)
wide_sae, _ = train_sae(acts, N_FEATURES, seed=0, steps=SAE_STEPS, progress=False)
matched = matched_r(ground_truth(sequences, len(vocab.letters)), wide_sae.encode(acts).detach())  # one to one
print(f"{N_FEATURES} features: {n_found(matched)} of {len(matched)} ground-truth features found "
      f"(the SAE above: {sae['found']['sae']})")
pause(PAUSE)

# %% [markdown]
# ## Step 25: a crowded layer, where superposition can really happen (--crowded) (4 min)
# **Question.** Where a layer must hold more letter directions than it has neurons, what do the same measures show?
# **Hypothesis.** Then the directions cannot all be orthogonal: they overlap, or the layer carries fewer of them.
#
# <details><summary>The experiment in full</summary>
#
# At --seq-len 6 --vocab abcd, L x (V-1) = 18 directions share 16 neurons. Either different positions' directions
# overlap, or the layer carries fewer than 18 directions (for example a position's letters on a line). Random
# directions are the yardstick for how much overlap is a lot. The SAE finds fewer of the 24 features than the fitted
# readout. With `--crowded`: train the same MLP at --seq-len 6 --vocab abcd (4,096 sequences, of which the measures
# use a seeded sample of 512; this run's seed, samples and epochs, 16 neurons), then run step 23's measures and step
# 24's SAE on it. It adds about 4 s with its exercise, so it is opt-in; without the flag this step says how to run
# it.
#
# </details>

# %%
tell()
if args.crowded:
    crowded_cfg = dataclasses.replace(cfg, seq_len=6, vocab="abcd", hidden=16, input="")
    crowded = start_run(crowded_cfg)  # its own data, model and untrained twin
    train(crowded.model, crowded.data, crowded_cfg)
    crowded_superposition = superposition_report(crowded)
    figure(plot_superposition, crowded_superposition, out("notebook_superposition_crowded.png"))
    crowded_sae = sae_experiment(crowded, seeds=(0,), steps=SAE_STEPS)
    figure(plot_sae, crowded_sae, out("notebook_sae_crowded.png"))
    say(crowded_superposition.finding(), crowded_sae.finding(), step=25)
else:
    say("not run: add --crowded to train the crowded model and measure it (in a notebook, put \"--crowded\" in "
        "NOTEBOOK_FLAGS and run all cells again).", step=25)

# %% [markdown]
# <details><summary>What it proves, and what not</summary>
#
# Crowded and still readable is where superposition *can* happen. Two ways to fit: overlap (different positions'
# directions with a larger |cos| than random ones would have) or compression (fewer principal components than the
# additive count, or a position's letters on a line). Compare the printout's |cos| with its random baseline, and its
# component count with the additive count; then the SAE's count with its rotated control.
#
# </details>
#
# **Try it.** Train the crowded SAE with two more seeds. Does the count of features found move much?

# %%
tell()
if args.crowded:
    more = sae_experiment(crowded, seeds=(1, 2), steps=SAE_STEPS, progress=False)
    print("\n".join(line for line in more.finding().evidence if line.startswith("  SAE seed")))
pause(PAUSE)

# %% [markdown]
# ## Step 26: things to try (3 min)
# **Question.** Which settings change the story, and how?
# - `--seed 6`: another held-out split. Does the network still generalize, and does the mechanism still hold?
# - `--hidden 4`: fewer neurons than needed directions. What happens to the mechanism?
# - `python demo.py --seeds 10`: every headline number over ten seeds.
# - `python demo.py --model transformer --seeds 10`: how many transformers have the clean circuit?
# - `python demo.py --sweep`: held-out accuracy over sequence length and width.
#
# In a notebook, put the flags in `NOTEBOOK_FLAGS` in the first code cell and run all cells again.
#
# <details><summary>More to try</summary>
#
# - `--seed 6`: if held-out accuracy drops, the explanation says what the training data lacked, and the mechanism's
#   statement says where it falls short.
# - `--seq-len 5`: more sequences. How many directions now?
# - `python demo.py --seeds 10` gives each headline number as a median and range; demo.py trains on 2,000 samples,
#   so add `--samples 1000` for this notebook's models.
# - `python demo.py --sae`: the sparse autoencoder over three SAE seeds.
# - `python demo.py --seq-len 5 --sae`: positions whose letters lie on a line; the middle letter has no feature of
#   its own, and steering toward it overshoots.
# - `--chapter features --crowded`: chapter 4 again, with a crowded layer measured in step 25.
#
# </details>

# %%
tell()
if DETAILS:
    print("python demo_notebook.py --seed 6                 # another held-out split")
    print("python demo_notebook.py --seq-len 5              # 243 distinct sequences")
    print("python demo_notebook.py --hidden 4               # fewer neurons than needed directions")
    print("python demo.py --seeds 10                        # the MLP's headline numbers over 10 seeds")
    print("python demo.py --model transformer --seeds 10    # how clean the transformer's circuit is, over 10 seeds")
    print("python demo.py --sweep                           # sequence length x hidden width, at two training budgets")
    print("python demo.py --seq-len 5 --sae                 # letters on a line: the middle one has no feature")
    print("python demo_notebook.py --chapter features --crowded   # chapter 4 with a crowded layer too")
say(f"the figures are in {os.path.abspath(cfg.out)}; every number above is for --seed {cfg.seed}, and the "
    f"commands above show how they move.", step=26)
# the whole run on one page: each step's question, figures and takeaway. In a terminal the figures were drawn in the
# background, so this first waits until every one is written.
report(out("notebook_report.html"), cfg, transformer_cfg)

# %% [markdown]
# # Glossary
# Every term of the lesson, in the order the steps meet them. Each is defined where it is first used; in a terminal
# the definitions print here with --details.

# %%
tell()
if DETAILS or in_notebook():
    print("\n".join(glossary_lines()))
else:  # the definitions are in notebook_report.html and the README too
    print(f"{len(GLOSSARY)} terms: --details prints them here with their definitions.")
if not in_notebook():
    quick_exit()  # run as a script: skip Python's slow teardown of torch; in a notebook the kernel stays
