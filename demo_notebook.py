# %% [markdown]
# # Reversing sequences: a first lesson in mechanistic interpretability
#
# A guided tour, step by step: train a tiny network to reverse letter sequences, then open it up and look at how it
# does it. Run it as a script (it pauses between steps) or open it as a notebook (VS Code, or JupyterLab with
# jupytext) and run it cell by cell.
#
#     python demo_notebook.py              # pauses after each step; press Enter to go on
#     python demo_notebook.py --no-pause   # runs straight through
#     python demo_notebook.py --help       # every setting
#
# Writes into --out: notebook_training_loss.png, activation_heatmaps.png, and one figure per experiment:
# notebook_position_influence.png, notebook_probe_accuracy.png, notebook_neuron_selectivity.png,
# notebook_first_layer_weights.png, notebook_ablation.png and notebook_patching.png.
# The same story without the commentary, plus metrics.json, is demo.py.

# %%
import copy
import os

import numpy as np
import torch

from reversal.ablation import explain_ablation, neuron_ablation, plot_ablation
from reversal.activations import capture_all, explain_activations, plot_activations
from reversal.common import analysis_sequences, layer_features
from reversal.generalization import explain_accuracy
from reversal.influence import explain_influence, plot_influence, position_influence
from reversal.patching import activation_patching, explain_patching, patch_neurons, plot_patching
from reversal.plots import plot_training
from reversal.probes import explain_probes, fit_probe, plot_probes, probe_accuracy
from reversal.selectivity import explain_selectivity, neuron_selectivity, plot_selectivity
from reversal.weights import explain_weights, plot_first_layer_weights
from reversal.config import build_parser, resolve
from reversal.data import add_eos, make_targets
from reversal.model import hook_count, run_with_cache, run_with_hooks
from reversal.files import quick_exit
from reversal.train import make_data, make_model, reverse_text, sequence_accuracy, train
from reversal.tutorial import in_notebook, pause, show, tell

parser = build_parser("demo_notebook.py", default_samples=1000,
                      description="A guided, step-by-step tutorial: train a tiny sequence reverser and look inside it.")
parser.add_argument("--no-pause", action="store_true", help="run straight through without waiting for Enter")
# In a notebook sys.argv holds the kernel's own arguments, so the flags come from this list instead:
NOTEBOOK_FLAGS = []  # e.g. ["--seed", "1", "--seq-len", "4"]
args = parser.parse_args(NOTEBOOK_FLAGS if in_notebook() else None)
cfg = resolve(args, parser)
PAUSE = not args.no_pause
os.makedirs(cfg.out, exist_ok=True)
out = lambda name: os.path.join(cfg.out, name)
tell()  # in a terminal, print the introduction above (a notebook shows it already)

# %% [markdown]
# ## Step 1: the task
# The network reads a few letters and an end marker, and must write them back in reverse order:
# `a b c <eos>` -> `c b a <eos>`. Every output position has a fixed source: output 1 copies input L, output 2 copies
# input L-1, and so on. Mechanistic interpretability (MI) asks not only *whether* a network does this, but *how*:
# which parts of it carry which information, and which parts the answer actually depends on.

# %%
tell()
print(cfg)
data = make_data(cfg)
vocab = data.vocab
example = torch.tensor(vocab.encode(cfg.input))  # the test input, --input
print(f"Reverse {cfg.seq_len} letters from {cfg.vocab!r}, followed by <eos>. For example:")
print(f"  input  {' '.join(vocab.decode(add_eos(example[None], vocab.eos_id)[0].tolist()))}")
print(f"  target {' '.join(vocab.decode(make_targets(example[None], vocab.eos_id)[0].tolist()))}")
pause(PAUSE)

# %% [markdown]
# ## Step 2: the data
# With the defaults, 3 letters and length 3, there are only 3^3 = 27 distinct sequences, so the 1000 training
# samples are mostly repeats. To find out whether the network learns the *rule* rather than memorizing, about 20%
# of the distinct sequences are held out: the network never sees them during training, and we test it on them afterwards.

# %%
tell()
n_distinct = len(data.train_sequences) + len(data.heldout_sequences)
print(f"{n_distinct} distinct sequences: {len(data.train_sequences)} for training, {len(data.heldout_sequences)} held out.")
print("held out (never trained on):", ", ".join("".join(vocab.decode(s.tolist())) for s in data.heldout_sequences[:20]))
print(f"{len(data.samples)} training samples drawn with replacement from the training sequences; the first five:")
for sample in data.samples[:5]:
    print(f"  {' '.join(vocab.decode(add_eos(sample[None], vocab.eos_id)[0].tolist())):<24} -> "
          f"{' '.join(vocab.decode(make_targets(sample[None], vocab.eos_id)[0].tolist()))}")
pause(PAUSE)

# %% [markdown]
# ## Step 3: the model
# embedding (8 numbers per token) -> flatten -> Linear+ReLU -> Linear+ReLU -> one Linear that predicts every output
# position at once. There is no attention: the only place letters can be "moved" is through the two hidden layers.

# %%
tell()
model = make_model(cfg, vocab)
untrained = copy.deepcopy(model)  # kept for later: the same network before any training, as a control
print(model)
print(f"{model.parameter_count():,} parameters. Shapes for a batch of B sequences: tokens (B, {cfg.seq_len + 1}) -> "
      f"embedding (B, {(cfg.seq_len + 1) * cfg.d_embed}) -> hidden1 (B, {cfg.hidden}) -> hidden2 (B, {cfg.hidden}) -> "
      f"logits (B, {cfg.seq_len + 1}, {len(vocab)})")
pause(PAUSE)

# %% [markdown]
# ## Step 4: training
# Adam, cross-entropy averaged over every output position, mini-batches of `--batch-size` samples. After every epoch we
# measure exact-match accuracy on the held-out sequences: a sequence counts only if every output token is right.

# %%
tell()
model = make_model(cfg, vocab)  # the same starting weights as in step 3, so re-running this cell starts over
history = train(model, data, cfg)
train_accuracy = sequence_accuracy(model, data.train_sequences, vocab.eos_id)
heldout_accuracy = history.heldout_accuracy[-1]
print(f"{cfg.epochs} epochs in {history.seconds:.2f} s; final training loss {history.loss[-1]:.2e}")
print(f"prediction: {' '.join(cfg.input)} <eos>  ->  {' '.join(reverse_text(model, vocab, cfg.input))}")
print("\n".join(explain_accuracy(model, data, train_accuracy, heldout_accuracy)))
plot_training(history, out("notebook_training_loss.png"), title="Training (notebook run)")
show(out("notebook_training_loss.png"))
pause(PAUSE)

# %% [markdown]
# ## Step 5: hooks, reading the hidden layers
# A forward hook is a function PyTorch calls with a layer's output every time the layer runs. `run_with_cache`
# attaches one to `hidden1` and `hidden2`, stores what they output, and removes the hooks again, even if something
# fails on the way (a `try/finally` inside a context manager).

# %%
tell()
test_tokens = torch.tensor([vocab.encode(cfg.input) + [vocab.eos_id]], device=cfg.device)  # (1, T)
logits, cache = run_with_cache(model, test_tokens, ("hidden1", "hidden2"))
for name, activation in cache.items():
    print(f"{name:<9} shape {tuple(activation.shape)}  values {[round(v, 2) for v in activation[0].tolist()]}")
print("hooks still attached after the run:", hook_count(model), "(the context manager removed them)")
print("Every hidden value is >= 0: each is the output of a ReLU, which turns negatives into 0.")
pause(PAUSE)

# %% [markdown]
# ## Step 6: the heatmaps
# Now every distinct sequence at once: a row per input, a column per neuron, colour = activation. Look for
# columns that are black everywhere (dead neurons: they never fire, so they cannot matter), columns that light up
# for some inputs but not others (those carry information about the input), and the boxed row, the test input.

# %%
tell()
capture = capture_all(model, data, cfg)
print("\n".join(explain_activations(capture)))
plot_activations(capture, out("activation_heatmaps.png"), seed=cfg.seed)
show(out("activation_heatmaps.png"))
pause(PAUSE)

# %% [markdown]
# ## Step 7: behaviour first. What does the network do?
# **Question.** Which input positions does each output position depend on?
# **Hypothesis.** If it reverses, changing the letter at input position i changes output position L+1-i, and
# nothing else: the map is the anti-diagonal.
# **Experiment.** For every sequence and every input position, swap in each other letter and count how often each
# output letter changes.

# %%
tell()
sequences = analysis_sequences(cfg)  # every distinct sequence (a seeded sample if there are many)
influence = position_influence(model, sequences, vocab)
print(np.round(influence, 2))
print("\n".join(explain_influence(influence)))
plot_influence(influence, out("notebook_position_influence.png"))
show(out("notebook_position_influence.png"))

# %% [markdown]
# **What it proves, and what not.** This is a statement about behaviour: the input-output map. It says nothing about
# *how* the network computes it; a lookup table would give the same picture on these sequences.
#
# **Exercise.** Run the same map on the untrained network (`untrained`). What does "no mechanism yet" look like?

# %%
tell()
print(np.round(position_influence(untrained, sequences, vocab), 2))
pause(PAUSE)

# %% [markdown]
# ## Step 8: probes. Where is each input letter stored?
# **Question.** Can a linear classifier read the letter at each input position from the embedding, hidden1 and
# hidden2?
# **Hypothesis.** Yes at every layer: to write out every letter, the network must keep all of them.
# **Experiment.** Fit one logistic-regression probe per layer and position on the training sequences' activations,
# score it on the held-out sequences. The probe has an L2 penalty (weight decay): with the defaults there are only
# 22 training points and 16 to 32 features, and an unpenalized probe can fit them in ways that do not generalize.
# The control: the same probes on the same network before training.

# %%
tell()
probes = probe_accuracy(model, data, cfg)
probes_control = probe_accuracy(untrained, data, cfg)
print("\n".join(explain_probes(probes, probes_control, data)))
plot_probes(probes, probes_control, out("notebook_probe_accuracy.png"))
show(out("notebook_probe_accuracy.png"))

# %% [markdown]
# **What it proves, and what not.** A probe shows that information is *present* in a layer, not that the network
# *uses* it; the untrained control makes the point when random weights score as well. With a handful of held-out
# sequences the score is also coarse: one sequence is a big step.
#
# **Exercise.** The cell below fits the hidden2 probes with no penalty at all (`WEIGHT_DECAY = 0.0`). Does the
# held-out score hold up on this seed? Try a few values, and other seeds: the score can move with both.

# %%
tell()
WEIGHT_DECAY = 0.0
train_features = layer_features(model, data.train_sequences, vocab, cfg.device)["hidden2"]
heldout_features = layer_features(model, data.heldout_sequences, vocab, cfg.device)["hidden2"]
for position in range(cfg.seq_len):
    probe = fit_probe(train_features, data.train_sequences[:, position], len(cfg.vocab), WEIGHT_DECAY)
    score = (probe(heldout_features) == data.heldout_sequences[:, position]).float().mean().item()
    print(f"hidden2, position {position + 1}, weight decay {WEIGHT_DECAY}: held-out accuracy {score:.0%}")
pause(PAUSE)

# %% [markdown]
# ## Step 9: selectivity. Does one neuron mean one thing?
# **Question.** Is there a neuron for "the letter at position 1", another for position 2, and so on?
# **Hypothesis.** A tidy network would have one-position neurons.
# **Experiment.** For each neuron, the share of its variance explained by the letter at each position (eta squared,
# from 0 = unrelated to 1 = determined by it).

# %%
tell()
selectivity = neuron_selectivity(model, sequences, vocab, cfg.device, control=untrained)
print("\n".join(explain_selectivity(selectivity)))
plot_selectivity(selectivity, out("notebook_neuron_selectivity.png"))
show(out("notebook_neuron_selectivity.png"))

# %% [markdown]
# **What it proves, and what not.** Eta squared measures association, one position at a time; it misses what a neuron
# computes from several positions together, and it does not say whether the output uses the neuron.
#
# **Exercise.** The threshold for "depends on" is a choice. Raise `THRESHOLD` and watch the counts move.

# %%
tell()
THRESHOLD = 0.3
for name in ("hidden1", "hidden2"):
    positions = (np.array(selectivity[name]["eta"]) >= THRESHOLD).sum(1)
    print(f"{name}: neurons depending on 0, 1, 2, ... positions at threshold {THRESHOLD}: "
          f"{np.bincount(positions, minlength=cfg.seq_len + 1).tolist()}")
pause(PAUSE)

# %% [markdown]
# ## Step 10: weights. What do the first layer's weights say?
# **Question.** The first Linear sees the embeddings side by side, so its weights split into one block per input
# position. Does a neuron with a large block for a position depend on that position?
# **Experiment.** Each hidden1 neuron's weight norm per position block, beside its measured selectivity.

# %%
tell()
print("\n".join(explain_weights(selectivity)))
plot_first_layer_weights(selectivity, out("notebook_first_layer_weights.png"))
show(out("notebook_first_layer_weights.png"))

# %% [markdown]
# **What it proves, and what not.** A weight norm counts how strongly a neuron *could* respond to a position; how
# much it does also depends on how different the letters' embeddings are, and on the ReLU. Agreement is evidence,
# not proof.
#
# **Exercise.** Pick a neuron (`NEURON`) and compare its weight norms with its selectivity, position by position.

# %%
tell()
NEURON = int(np.argmax(np.array(selectivity["hidden1"]["eta"]).max(1)))  # the most selective one; try others
print(f"hidden1 neuron {NEURON}: weight norms {np.round(selectivity['first_layer_weight_norms'][NEURON], 2).tolist()}, "
      f"eta squared {np.round(selectivity['hidden1']['eta'][NEURON], 2).tolist()}")
pause(PAUSE)

# %% [markdown]
# ## Step 11: ablation. Which neurons does the output need?
# **Question.** If we switch a neuron off, what breaks?
# **Hypothesis.** If each neuron carried one position, zeroing it would break that output position completely.
# **Experiment.** Zero each neuron alone (zero-ablation), or hold it at its average over the training sequences
# (mean-ablation, a gentler "remove the information, keep the typical level"); then ablate a whole layer. The hooks
# *return* a changed activation, which replaces the real one.

# %%
tell()
ablation = neuron_ablation(model, sequences, vocab, cfg.device, mean_over=data.train_sequences)
print("\n".join(explain_ablation(ablation, len(cfg.vocab))))
plot_ablation(ablation, out("notebook_ablation.png"))
show(out("notebook_ablation.png"))

# %% [markdown]
# **What it proves, and what not.** Ablation shows what the output *needs*; a small effect for every single neuron
# means the work is shared (or redundant), not that the neurons do nothing.
#
# **Exercise.** Ablate several neurons together. `NEURONS` starts as the two whose zeroing hurt most in hidden1;
# edit the list.

# %%
tell()
drops = np.array(ablation["baseline"]) - np.array(ablation["hidden1"]["zero"]["accuracy"])  # (H, L)
NEURONS = np.argsort(-drops.max(1), kind="stable")[:2].tolist()
tokens = add_eos(sequences, vocab.eos_id).to(cfg.device)


def zero_neurons(activation):
    activation = activation.clone()
    activation[:, NEURONS] = 0  # returning a tensor from a hook replaces the activation
    return activation


logits = run_with_hooks(model, tokens, {"hidden1": zero_neurons})
accuracy = (logits.argmax(-1).cpu() == make_targets(sequences, vocab.eos_id)).float().mean(0)[:cfg.seq_len]
print(f"hidden1 neurons {NEURONS} zeroed together: accuracy per output position "
      f"{' '.join(f'{value:.0%}' for value in accuracy.tolist())}")
pause(PAUSE)

# %% [markdown]
# ## Step 12: activation patching. Where does the causal path run?
# **Question.** When one input letter changes, which activations carry that change to the output?
# **Experiment.** Run a clean sequence and a corrupted copy with the letter at position i changed. Copy ("patch")
# clean activations into the corrupted run, a whole layer or one neuron at a time, and measure how much of the clean
# answer at the mirrored output comes back (1 = all, 0 = none), using the difference between the clean and the
# corrupted letter's logits.

# %%
tell()
patching = activation_patching(model, sequences, vocab, cfg.device)
print("\n".join(explain_patching(patching)))
plot_patching(patching, out("notebook_patching.png"))
show(out("notebook_patching.png"))

# %% [markdown]
# **What it proves, and what not.** Patching a layer restores everything because the network is a chain: all that
# reaches the output passes through each hidden layer. If single neurons each restore only a little, that is causal
# evidence that the path is spread across many neurons. It is measured on these corruptions only.
#
# **Exercise.** Patch the `K` neurons that restore the most together. How many does it take to bring most of the
# answer back?

# %%
tell()
K = 4
for name in ("hidden1", "hidden2"):
    best = np.argsort(-np.array(patching[name]["neurons"]).mean(1), kind="stable")[:K].tolist()
    shares = patch_neurons(model, sequences, vocab, cfg.device, name, best)
    print(f"{name}: its {K} best single neurons {best} patched together restore "
          f"{' '.join(f'{share:.0%}' for share in shares)} per input position")
pause(PAUSE)

# %% [markdown]
# ## Step 13: what it means, and how it connects to transformers
# - Behaviour: the influence map is what the *attention pattern* of a reversal transformer would be expected to show,
#   each output attending to its mirrored input. Our MLP has no attention, so the same routing must live in its weights.
# - Probing and activation patching are used the same way on large language models, with hooks on named activations
#   (TransformerLens's `run_with_cache` and `run_with_hooks` are what ours imitate).
# - Neurons that mix several positions are polysemantic; that is the problem sparse autoencoders attack, by
#   rewriting a layer's activations as a larger set of sparser, more single-meaning features.

# %%
tell()
counts = selectivity["hidden1"]["counts"]
worst = ablation["worst_single_neuron_drop"]
print(f"Behaviour: the network reverses {sequence_accuracy(model, data.all_sequences, vocab.eos_id):.0%} of all "
      f"{n_distinct} sequences, {heldout_accuracy:.0%} of the {len(data.heldout_sequences)} it never saw.")
print(f"Mechanism: in hidden1, {counts['several_positions']} of {cfg.hidden} neurons depend on several positions and "
      f"{counts['one_position']} on one; no single neuron's ablation costs more than {100 * worst['drop']:.0f} points "
      f"on any output, "
      f"and the best single neuron restores at most "
      f"{max(np.array(patching[n]['neurons']).max() for n in ('hidden1', 'hidden2')):.0%} in patching.")
print("These numbers are for this seed and settings; which neuron does what changes with --seed.")
pause(PAUSE)

# %% [markdown]
# ## Step 14: things to try
# - `--seed 6`: a different held-out split. Does held-out accuracy stay at 100%? If not, the explanation says what
#   the training data lacked.
# - `--seq-len 5`: 243 sequences instead of 27. Does the network still generalize, and do the neurons change?
# - `--hidden 4`: how narrow can the network be and still reverse? Do its neurons become more selective?
# - `python demo.py --sweep`: held-out accuracy over sequence length and width, where 16 neurons run out.
#
# In a notebook, put the flags in `NOTEBOOK_FLAGS` in the first code cell and run all cells again.

# %%
tell()
print("python demo_notebook.py --seed 6          # another held-out split")
print("python demo_notebook.py --seq-len 5       # 243 distinct sequences")
print("python demo_notebook.py --hidden 4        # a narrower network")
print("python demo.py --sweep                    # capacity: sequence length x hidden width")
print(f"\nwrote the figures into {os.path.abspath(cfg.out)}")
if not in_notebook():
    quick_exit()  # run as a script: skip Python's slow teardown of torch; in a notebook the kernel stays
