import pytest
import torch

from reversal.core.model import HOOK_POINTS, Reverser, hook_count, hooks, run_with_cache


def test_captured_activations_equal_a_hand_computed_forward_pass():
    torch.manual_seed(0)
    model = Reverser(n_tokens=4, seq_len=3)
    tokens = torch.tensor([[0, 1, 2, 3], [2, 2, 0, 3]])
    logits, cache = run_with_cache(model, tokens)
    embedding = model.embed.weight[tokens].flatten(1)  # (B, 32) by hand
    hidden1 = torch.relu(embedding @ model.linear1.weight.T + model.linear1.bias)
    hidden2 = torch.relu(hidden1 @ model.linear2.weight.T + model.linear2.bias)
    manual_logits = (hidden2 @ model.unembed.weight.T + model.unembed.bias).view(2, 4, 4)
    assert set(cache) == set(HOOK_POINTS)
    torch.testing.assert_close(cache["embedding"], embedding.detach())
    torch.testing.assert_close(cache["hidden1"], hidden1.detach(), msg="hidden1 hook is not the post-ReLU output")
    torch.testing.assert_close(cache["hidden2"], hidden2.detach())
    torch.testing.assert_close(logits, manual_logits.detach())
    assert (cache["hidden1"] >= 0).all() and (cache["hidden2"] >= 0).all(), "post-ReLU values cannot be negative"


def test_no_hook_remains_even_when_the_body_raises():
    model = Reverser(n_tokens=4, seq_len=3)
    run_with_cache(model, torch.tensor([[0, 1, 2, 3]]))
    assert hook_count(model) == 0
    with pytest.raises(RuntimeError):
        with hooks(model, {"hidden1": lambda out: None, "hidden2": lambda out: None}):
            assert hook_count(model) == 2
            raise RuntimeError("boom")
    assert hook_count(model) == 0, "a hook was left registered after an exception"


def test_a_hook_that_returns_a_tensor_replaces_the_activation():
    model = Reverser(n_tokens=4, seq_len=3)
    tokens = torch.tensor([[0, 1, 2, 3]])
    with hooks(model, {"hidden2": lambda out: torch.zeros_like(out)}):
        logits = model(tokens)
    torch.testing.assert_close(logits, model.unembed.bias.detach().view(1, 4, 4).expand_as(logits))
