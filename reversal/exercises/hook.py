"""Exercise 1, a forward hook that caches hidden1: the mechanism every later exercise uses to read the network.

core.model.hooks(model, {"hidden1": fn}) attaches fn to the layer named hidden1 (the ReLU after the first Linear)
and removes it again when the `with` block ends. The model calls fn(output) on the layer's output, (N, H). A hook
that returns a tensor replaces the activation; one that returns None leaves it alone, so a hook that only reads
returns nothing.
"""

import torch

from ..core.data import add_eos
from ..core.model import hook_count, hooks, run_with_cache  # hooks is for your answer; the check uses the rest
from .checking import Wrong

NUMBER, TITLE, FUNCTION = 1, "hook", "cache_hidden1"
DIFFICULTY, MINUTES = 1, 5
HINT = ("Make a dict, cache = {}; define hook(output) that stores output.detach() in it and returns nothing; run "
        "the model inside `with hooks(model, {\"hidden1\": hook}):` under torch.no_grad().")


def cache_hidden1(model, tokens):
    """Run the model on tokens (N, T) with a forward hook on "hidden1" that stores its output.

    Returns (logits (N, T, V), hidden1 (N, H)): the model's ordinary output, unchanged by the hook, and the
    activation it saw, detached. Use core.model.hooks, not run_with_cache: writing the hook is the exercise.
    """
    raise NotImplementedError


def check(student_fn, run):
    """Compare with core.model.run_with_cache on every sequence of the run."""
    tokens = add_eos(run.sequences, run.vocab.eos_id).to(run.device)  # (N, T)
    logits, cache = run_with_cache(run.model, tokens, ("hidden1",))
    student_logits, hidden1 = student_fn(run.model, tokens)
    if hook_count(run.model):
        for module in run.model.modules():  # take it off, so that the next exercises run the model as trained
            module._forward_hooks.clear()
        raise Wrong("a hook is still attached after your function returned: attach it with `with hooks(...)`, "
                    "which removes it in `finally`, rather than register_forward_hook alone")
    if tuple(hidden1.shape) != tuple(cache["hidden1"].shape):
        raise Wrong(f"hidden1 has shape {tuple(hidden1.shape)}, not (N, H) = {tuple(cache['hidden1'].shape)}: "
                    f"store the hook's whole output, one row per sequence")
    if hidden1.requires_grad:
        raise Wrong("the cached tensor still requires grad: store output.detach() (and run under torch.no_grad()), "
                    "or the cache keeps the whole graph alive")
    if (hidden1 < 0).any():
        raise Wrong(f"the cache has negative values (down to {hidden1.min().item():.2f}), which a ReLU never gives: "
                    f"did you hook linear1, before the ReLU? hidden1 is the ReLU's output")
    if not torch.allclose(student_logits, logits, atol=1e-5):
        raise Wrong(f"your logits differ from the model's own (by up to "
                    f"{(student_logits - logits).abs().max().item():.2f}): does your hook return a value? A hook "
                    f"that returns a tensor replaces the activation; one that only reads must return None")
    if not torch.allclose(hidden1, cache["hidden1"], atol=1e-5):
        raise Wrong(f"the cached hidden1 differs from run_with_cache's by up to "
                    f"{(hidden1 - cache['hidden1']).abs().max().item():.2f}: cache the output of \"hidden1\" itself")
