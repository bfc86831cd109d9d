"""Build the data and model from a Config, train with mini-batch Adam, and measure exact-match accuracy."""

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .data import Vocab, add_eos, all_sequences, make_targets, sample_training, split_heldout
from .health import probe_tokens, responds_to_input
from .model import Reverser, device_of
from .transformer import AttentionReverser
from .progress import watching


@dataclass
class Data:
    vocab: Vocab
    train_sequences: torch.Tensor  # (N_train, L) distinct letter sequences the model may see
    heldout_sequences: torch.Tensor  # (N_heldout, L) distinct sequences it never sees in training
    samples: torch.Tensor  # (samples, L) training samples: repeats of train_sequences

    @property
    def all_sequences(self):  # (N, L) every distinct sequence, training ones first
        return torch.cat([self.train_sequences, self.heldout_sequences])


def make_data(cfg):
    """The vocabulary, the seeded held-out split and the training samples for cfg."""
    vocab = Vocab(cfg.vocab)
    generator = torch.Generator().manual_seed(cfg.seed)  # its own generator: the split never depends on the model
    train, heldout = split_heldout(all_sequences(len(cfg.vocab), cfg.seq_len), generator)
    return Data(vocab, train, heldout, sample_training(train, cfg.samples, generator))


def make_model(cfg, vocab):
    """The network cfg.model names, with its starting weights drawn from cfg.seed."""
    torch.manual_seed(cfg.seed)  # the one global seed: the layers draw their initial weights from it
    if cfg.model == "transformer":
        return AttentionReverser(len(vocab), cfg.seq_len, cfg.d_model).to(cfg.device)
    return Reverser(len(vocab), cfg.seq_len, cfg.d_embed, cfg.hidden).to(cfg.device)


@torch.no_grad()
def predict(model, sequences, eos_id):
    """(N, L) letter sequences -> (N, L+1) predicted token ids."""
    device = device_of(model)
    return model(add_eos(sequences, eos_id).to(device)).argmax(dim=-1).cpu()


def reverse_text(model, vocab, text):
    """The model's output for one input, e.g. "abc" -> ["c", "b", "a", "<eos>"]."""
    return vocab.decode(predict(model, torch.tensor([vocab.encode(text)]), vocab.eos_id)[0].tolist())


def sequence_accuracy(model, sequences, eos_id):
    """Fraction of sequences whose whole output, <eos> included, is exactly right."""
    correct = (predict(model, sequences, eos_id) == make_targets(sequences, eos_id)).all(dim=1)
    return correct.float().mean().item()


@dataclass
class History:
    loss: list  # mean training loss per epoch
    heldout_accuracy: list  # exact-match accuracy on the held-out sequences after each epoch
    seconds: float = 0.0
    responsive: list = field(default_factory=list)  # after each epoch: do the outputs still depend on the input?


def optimizer_steps(cfg):
    """How many optimizer steps train() takes: the last batch of an epoch may be short."""
    return cfg.epochs * math.ceil(cfg.samples / cfg.batch_size)


def train(model, data, cfg, progress=True):
    """Mini-batch Adam on cross-entropy over every output position. Returns the per-epoch History.

    progress: show a progress bar, when someone is watching (a terminal or a notebook, not a pipe or CI)."""
    inputs = add_eos(data.samples, data.vocab.eos_id).to(cfg.device)  # (S, T)
    targets = make_targets(data.samples, data.vocab.eos_id).to(cfg.device)  # (S, T)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)  # fused: one kernel for all parameters
    generator = torch.Generator().manual_seed(cfg.seed + 1)  # batch order, apart from the split's generator
    history = History(loss=[], heldout_accuracy=[])
    probe = probe_tokens(data, cfg.device)  # (n, T) a few training sequences: a diverged model answers them alike
    start = time.perf_counter()
    # the bar counts steps, not epochs: at a million samples an epoch is thousands of steps
    bar = tqdm(total=optimizer_steps(cfg), desc="training", unit="step", disable=not (progress and watching()))
    for _ in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(inputs), generator=generator).to(cfg.device)
        total = torch.zeros((), device=cfg.device)  # summed on the device: no GPU->CPU sync every step
        for batch in order.split(cfg.batch_size):
            logits = model(inputs[batch])  # (B, T, V)
            loss = F.cross_entropy(logits.flatten(0, 1), targets[batch].flatten())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(batch)
            bar.update()
        model.eval()
        history.loss.append(total.item() / len(inputs))
        history.heldout_accuracy.append(sequence_accuracy(model, data.heldout_sequences, data.vocab.eos_id))
        history.responsive.append(responds_to_input(model, probe))  # core.health reads when training diverged
    bar.close()
    history.seconds = time.perf_counter() - start
    return history
