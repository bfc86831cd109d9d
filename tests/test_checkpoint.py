"""model.pt: save_model then load_model gives back the same network, for both models."""

import torch

from reversal.core.data import add_eos, all_sequences
from reversal.core.train import make_data, make_model
from reversal.support.checkpoint import load_model, save_model
from reversal.support.config import Config


def moved_transformer():
    """A transformer whose weights are not the ones its seed draws, so a load that skipped the weights would fail."""
    cfg = Config(model="transformer")
    model = make_model(cfg, make_data(cfg).vocab)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter))
    return model, cfg


def round_trip(model, cfg, tmp_path):
    path = tmp_path / "model.pt"
    save_model(model, cfg, path)
    return load_model(path)


def logits(model, cfg):
    return model(add_eos(all_sequences(len(cfg.vocab), cfg.seq_len), len(cfg.vocab)))  # (N, T, V)


def test_loaded_mlp_gives_the_same_logits(trained, tmp_path):
    loaded, _ = round_trip(trained.model, trained.cfg, tmp_path)
    assert torch.equal(logits(loaded, trained.cfg), logits(trained.model, trained.cfg)), \
        "the loaded MLP computes other logits: were the weights loaded?"


def test_loaded_transformer_gives_the_same_logits(tmp_path):
    model, cfg = moved_transformer()
    loaded, _ = round_trip(model, cfg, tmp_path)
    assert type(loaded).__name__ == "AttentionReverser", f"the config rebuilt a {type(loaded).__name__}"
    assert torch.equal(logits(loaded, cfg), logits(model, cfg)), "the loaded transformer computes other logits"


def test_the_config_comes_back(trained, tmp_path):
    _, cfg = round_trip(trained.model, trained.cfg, tmp_path)
    assert cfg == trained.cfg, f"saved {trained.cfg}, loaded {cfg}"


def test_saving_leaves_only_model_pt(trained, tmp_path):
    save_model(trained.model, trained.cfg, tmp_path / "model.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"], "a temporary file was left behind"


def test_loading_does_not_reseed_the_callers_random_numbers(trained, tmp_path):
    save_model(trained.model, trained.cfg, tmp_path / "model.pt")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_model(tmp_path / "model.pt")
    assert torch.equal(torch.rand(3), expected), "load_model changed the global RNG: a notebook's next draw moved"
