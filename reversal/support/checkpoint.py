"""Save a trained model with the settings that built it (model.pt), and load it back, e.g. in a notebook of your own:

    from reversal.checkpoint import load_model
    model, cfg = load_model("model.pt")  # the MLP or the transformer, whichever was saved, on the CPU
    print(cfg.model, model.parameter_count())

The file is a plain dict, {"model_class": "AttentionReverser", "config": cfg.to_dict(), "state_dict": ...}, so
torch.load(path, weights_only=True) reads it: weights_only unpickles only tensors and plain Python values, never
arbitrary objects, so loading a model.pt from someone else cannot run their code.
"""

import torch

from ..report import files
from .config import BadSetting, checked_config
from ..core.data import Vocab
from ..core.train import make_model


def save_model(model, cfg, path):
    """Write the model's weights and cfg to path, whole or not at all (files.py: a temporary file, then a rename)."""
    checkpoint = {
        "model_class": type(model).__name__,  # a check on load: the config alone decides which class is built
        "config": cfg.to_dict(),
        "state_dict": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},  # loads anywhere
    }
    # files.write_atomically is write-then-rename; torch.save writes straight into the open temporary file
    files.write_atomically(path, lambda file: torch.save(checkpoint, file))


def load_model(path):
    """(model, cfg) from a file save_model wrote: the model rebuilt from its config, its weights loaded, on the CPU.

    cfg.device is "cpu" whatever it was when saved; call model.to("cuda") to move it. A file whose config the
    command line would refuse (a width of 40,000, say) raises ValueError before anything is built.
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or not {"model_class", "config", "state_dict"} <= set(checkpoint):
        raise ValueError(f"{path}: not a model.pt of this project: it needs model_class, config and state_dict")
    try:  # the sizes are checked before make_model allocates them
        cfg = checked_config({**checkpoint["config"], "device": "cpu"} if isinstance(checkpoint["config"], dict)
                             else checkpoint["config"])
    except BadSetting as error:
        raise ValueError(f"{path}: {error}") from None
    with torch.random.fork_rng(devices=[]):  # make_model seeds torch for its starting weights; keep the caller's RNG
        model = make_model(cfg, Vocab(cfg.vocab))
    if type(model).__name__ != checkpoint["model_class"]:
        raise ValueError(f"{path}: its config builds a {type(model).__name__}, but it holds a "
                         f"{checkpoint['model_class']}; was it saved with another cfg than the model's?")
    model.load_state_dict(checkpoint["state_dict"])  # strict: a missing or extra weight is an error, not a guess
    return model.eval(), cfg

