"""The model, and forward hooks to read (or overwrite) its hidden layers.

    tokens (B, T) -> embed (B, T, E) -> flatten (B, T*E) -> Linear+ReLU (B, H) -> Linear+ReLU (B, H) -> Linear -> (B, T, V)

T = seq_len + 1 (the letters and <eos>), E = 8 embedding dims, H = hidden width, V = vocabulary size with <eos>.
One output layer predicts every output position at once: there is no attention and no recurrence, so any
"moving letters around" has to happen inside the two hidden layers.

The hook points are named modules: "embedding" (the flattened embedding), "hidden1" and "hidden2" (post-ReLU, so
never negative). As in TransformerLens, a hook that returns a tensor replaces that activation, so one mechanism
serves capture, ablation and patching.
"""

from contextlib import contextmanager

import torch
import torch.nn as nn

HOOK_POINTS = ("embedding", "hidden1", "hidden2")


class Reverser(nn.Module):
    hook_points = HOOK_POINTS

    def __init__(self, n_tokens, seq_len, d_embed=8, hidden=16):
        super().__init__()
        self.n_tokens, self.n_positions = n_tokens, seq_len + 1
        self.embed = nn.Embedding(n_tokens, d_embed)
        self.embedding = nn.Flatten()  # hook point: all positions' embeddings side by side
        self.linear1 = nn.Linear(self.n_positions * d_embed, hidden)
        self.hidden1 = nn.ReLU()  # hook point
        self.linear2 = nn.Linear(hidden, hidden)
        self.hidden2 = nn.ReLU()  # hook point
        self.unembed = nn.Linear(hidden, self.n_positions * n_tokens)

    def forward(self, tokens):
        x = self.embedding(self.embed(tokens))  # (B, T*E)
        x = self.hidden1(self.linear1(x))  # (B, H)
        x = self.hidden2(self.linear2(x))  # (B, H)
        return self.unembed(x).view(-1, self.n_positions, self.n_tokens)  # (B, T, V) logits

    def parameter_count(self):
        return sum(p.numel() for p in self.parameters())


@contextmanager
def hooks(model, fwd_hooks):
    """Run the body with forward hooks attached, e.g. {"hidden1": fn}; fn(activation) may return a replacement.

    A name is a module's path in the model, so dotted names such as "blocks.0.attn.hook_pattern" work too.

    The hooks are removed in `finally`, so an exception in the body never leaves one behind.
    """
    handles = []
    try:
        for name, fn in fwd_hooks.items():
            # register_forward_hook calls hook(module, inputs, output); a non-None return replaces the output
            handles.append(model.get_submodule(name).register_forward_hook(lambda module, inputs, output, fn=fn: fn(output)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def hook_count(model):
    """How many forward hooks are attached anywhere in the model (PyTorch keeps them in each module's dict)."""
    return sum(len(module._forward_hooks) for module in model.modules())


@torch.no_grad()
def run_with_cache(model, tokens, names=HOOK_POINTS):
    """Forward pass that also returns {name: activation}, detached, for each hook point in `names`."""
    cache = {}

    def save(name):
        def hook(output):
            cache[name] = output.detach()  # returns None: the activation is read, not changed

        return hook

    with hooks(model, {name: save(name) for name in names}):
        logits = model(tokens)
    return logits, cache


@torch.no_grad()
def run_with_hooks(model, tokens, fwd_hooks):
    """Forward pass with intervention hooks (ablation, patching) that are gone again afterwards."""
    with hooks(model, fwd_hooks):
        return model(tokens)


def device_of(model):
    """The device a model's weights are on, where its inputs must go too (either model: both are nn.Modules)."""
    return next(model.parameters()).device
