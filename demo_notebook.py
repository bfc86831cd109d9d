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
# Writes into --out: notebook_training_loss.png and activation_heatmaps.png.
# The same story without the commentary, plus metrics.json, is demo.py.

# %%
import os

import torch

from reversal.analysis import capture_all, explain_accuracy, explain_activations
from reversal.config import build_parser, resolve
from reversal.data import add_eos, make_targets
from reversal.model import run_with_cache
from reversal.plots import plot_activations, plot_training
from reversal.train import make_data, make_model, reverse_text, sequence_accuracy, train
from reversal.tutorial import in_notebook, pause, section, show

parser = build_parser("demo_notebook.py", default_samples=1000,
                      description="A guided, step-by-step tutorial: train a tiny sequence reverser and look inside it.")
parser.add_argument("--no-pause", action="store_true", help="run straight through without waiting for Enter")
# In a notebook sys.argv holds the kernel's own arguments, so use the defaults there; to change a setting, put
# flags in this list, e.g. ["--seed", "1"].
args = parser.parse_args([] if in_notebook() else None)
cfg = resolve(args, parser)
PAUSE = not args.no_pause
os.makedirs(cfg.out, exist_ok=True)
out = lambda name: os.path.join(cfg.out, name)

# %% [markdown]
# ## Step 1: the task
# The network reads a few letters and an end marker, and must write them back in reverse order:
# `a b c <eos>` -> `c b a <eos>`. Every output position has a fixed source: output 1 copies input L, output 2 copies
# input L-1, and so on. Mechanistic interpretability (MI) asks not only *whether* a network does this, but *how*:
# which parts of it carry which information, and which parts the answer actually depends on.

# %%
section("Step 1: the task")
print(cfg)
data = make_data(cfg)
vocab = data.vocab
example = data.train_sequences[0]
print(f"Reverse {cfg.seq_len} letters from {cfg.vocab!r}, followed by <eos>. For example:")
print(f"  input  {' '.join(vocab.decode(add_eos(example[None], vocab.eos_id)[0].tolist()))}")
print(f"  target {' '.join(vocab.decode(make_targets(example[None], vocab.eos_id)[0].tolist()))}")
pause(PAUSE)

# %% [markdown]
# ## Step 2: the data
# With 3 letters and length 3 there are only 3**3 = 27 distinct sequences, so 1000 training samples are mostly
# repeats. To find out whether the network learns the *rule* rather than memorizing, about 20% of the distinct
# sequences are held out: the network never sees them during training, and we test it on them afterwards.

# %%
section("Step 2: the data")
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
section("Step 3: the model")
model = make_model(cfg, vocab)
print(model)
print(f"{model.parameter_count():,} parameters. Shapes for a batch of B sequences: tokens (B, {cfg.seq_len + 1}) -> "
      f"embedding (B, {(cfg.seq_len + 1) * cfg.d_embed}) -> hidden1 (B, {cfg.hidden}) -> hidden2 (B, {cfg.hidden}) -> "
      f"logits (B, {cfg.seq_len + 1}, {len(vocab)})")
pause(PAUSE)

# %% [markdown]
# ## Step 4: training
# Adam, cross-entropy summed over every output position, mini-batches of `--batch-size` samples. After every epoch we
# measure exact-match accuracy on the held-out sequences: a sequence counts only if every output token is right.

# %%
section("Step 4: training")
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
section("Step 5: hooks")
test_tokens = torch.tensor([vocab.encode(cfg.input) + [vocab.eos_id]], device=cfg.device)  # (1, T)
logits, cache = run_with_cache(model, test_tokens)
for name, activation in cache.items():
    print(f"{name:<9} shape {tuple(activation.shape)}  values {[round(v, 2) for v in activation[0].tolist()]}")
print("hooks still attached after the run:",
      sum(len(module._forward_hooks) for module in model.modules()), "(the context manager removed them)")
print("Every hidden value is >= 0: each is the output of a ReLU, which turns negatives into 0.")
pause(PAUSE)

# %% [markdown]
# ## Step 6: the heatmaps
# Now every distinct sequence at once: a row per input, a column per neuron, colour = activation. Look for
# columns that are black everywhere (dead neurons: they never fire, so they cannot matter), columns that light up
# for some inputs but not others (those carry information about the input), and the boxed row, the test input.

# %%
section("Step 6: the heatmaps")
capture = capture_all(model, data, cfg)
print("\n".join(explain_activations(capture)))
plot_activations(capture, out("activation_heatmaps.png"), seed=cfg.seed)
show(out("activation_heatmaps.png"))
pause(PAUSE)

# %% [markdown]
# ## Step 7: what it means
# The heatmaps show *that* neurons respond differently to different inputs, not *what* they compute or whether the
# output depends on them. That takes experiments on the network: change an input and watch the output
# (behaviour), fit a probe (is the information there?), switch neurons off (ablation: is it needed?), and copy
# activations from one run into another (patching: where does the causal path run?). The same tools are used on
# transformers: hooks are how TransformerLens reads and edits a language model's activations.

# %%
section("Step 7: what it means")
print(f"This network reverses {sequence_accuracy(model, data.all_sequences, vocab.eos_id):.0%} of all "
      f"{n_distinct} sequences, including {heldout_accuracy:.0%} of the {len(data.heldout_sequences)} it never saw.")
print("The activations above are a description; the next lessons test what causes the output.")
pause(PAUSE)

# %% [markdown]
# ## Step 8: things to try
# - `--seed 6`: a different held-out split. Does held-out accuracy stay at 100%? The explanation says why not.
# - `--seq-len 5`: 243 sequences instead of 27. Does the network still generalize?
# - `--hidden 4`: how narrow can the network be and still reverse?
# - `--vocab abcd --seq-len 4`: more letters.

# %%
section("Step 8: things to try")
print("python demo_notebook.py --seed 6          # another held-out split")
print("python demo_notebook.py --seq-len 5       # 243 distinct sequences")
print("python demo_notebook.py --hidden 4        # a narrower network")
print(f"\nwrote notebook_training_loss.png and activation_heatmaps.png into {os.path.abspath(cfg.out)}")
