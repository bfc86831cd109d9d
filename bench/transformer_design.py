"""Which initialisation and learning rate should the transformer use? A per-seed table, measured.

    python -m bench.transformer_design                       # from the repo root: all designs, seeds 0-9, 42, L 3, 5
    python -m bench.transformer_design --designs default     # only the model as reversal/core/transformer.py builds it
    python -m bench.transformer_design --seeds 0 1 42 --seq-lens 3 --lrs 3e-3

Every design trains reversal.core.transformer.AttentionReverser with reversal.core.train.train and the default Config
(2000 samples, 100 epochs, batch 100), changing only the starting weights and the learning rate. For each seed it
reports:
  - held-out accuracy at the end, and the epoch from which it stays at 100% ("got it");
  - the anti-diagonal mass: query j's attention on key L-1-j in the mean pattern over every distinct sequence, for
    each letter position j; "clean" means every one is at least 0.9 (the issue's definition);
  - what <eos> (query L) gives to itself;
  - the accuracy over every sequence when the pattern is replaced by the exact anti-diagonal (letters to their mirror,
    <eos> to itself): does the rest of the circuit (the values) already do the job the clean pattern implies?
and, per design, how many seeds are clean. It takes about 2.5 s of one core per model. Writes nothing.
"""

import argparse
import math
import multiprocessing
import os
import statistics

import torch

from reversal.core.common import analysis_sequences
from reversal.core.data import add_eos, make_targets
from reversal.core.model import run_with_cache, run_with_hooks
from reversal.core.train import make_data, make_model, train
from reversal.support.config import Config

PATTERN = "blocks.0.attn.hook_pattern"


def _normal(std):
    return lambda p, fan_in: p.normal_(0, std)


def _uniform_fan_in(p, fan_in):  # nn.Linear's default (kaiming_uniform with a=sqrt(5)): U(-1/sqrt(fan_in), +)
    bound = 1 / math.sqrt(fan_in)
    return p.uniform_(-bound, bound)


# Each design names how to draw each weight, as fn(parameter, fan_in). "default" keeps the model's own init.
def designs(d_model):
    randn_d = _normal(1 / math.sqrt(d_model))
    return {
        "default": None,
        # the lead's first version: every matrix N(0, 1/d) (W_O's 1/sqrt(heads*d_head) is the same here)
        "randn/sqrt(d)": dict(W_E=randn_d, W_pos=randn_d, W_Q=randn_d, W_K=randn_d, W_V=randn_d, W_O=randn_d,
                              W_U=randn_d),
        # plain PyTorch modules: nn.Embedding is N(0, 1); nn.Linear is U(+-1/sqrt(fan_in))
        "torch (Embedding N(0,1), Linear U)": dict(W_E=_normal(1.0), W_pos=_normal(1.0), W_Q=_uniform_fan_in,
                                                  W_K=_uniform_fan_in, W_V=_uniform_fan_in, W_O=_uniform_fan_in,
                                                  W_U=_uniform_fan_in),
        # TransformerLens's default: every matrix N(0, initializer_range), which it sets to 0.8/sqrt(d_model)
        "TL N(0, 0.8/sqrt(d))": {name: _normal(0.8 / math.sqrt(d_model))
                                 for name in ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U")},
        # GPT-2's N(0, 0.02) everywhere
        "N(0, 0.02)": {name: _normal(0.02) for name in ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U")},
        # the lead's, with small output matrices: the residual stream starts as the embeddings alone
        "randn/sqrt(d), W_O W_U N(0,0.02)": dict(W_E=randn_d, W_pos=randn_d, W_Q=randn_d, W_K=randn_d, W_V=randn_d,
                                                 W_O=_normal(0.02), W_U=_normal(0.02)),
        # embeddings of norm ~sqrt(d) as nn.Embedding draws them (sharper attention), small output matrices
        "Emb N(0,1), QKV randn/sqrt(d), W_O W_U N(0,0.02)": dict(
            W_E=_normal(1.0), W_pos=_normal(1.0), W_Q=randn_d, W_K=randn_d, W_V=randn_d, W_O=_normal(0.02),
            W_U=_normal(0.02)),
        "Emb N(0,1), QKV Linear U, W_O W_U N(0,0.02)": dict(
            W_E=_normal(1.0), W_pos=_normal(1.0), W_Q=_uniform_fan_in, W_K=_uniform_fan_in, W_V=_uniform_fan_in,
            W_O=_normal(0.02), W_U=_normal(0.02)),
        "Emb N(0,0.5), QKV randn/sqrt(d), W_O W_U N(0,0.02)": dict(
            W_E=_normal(0.5), W_pos=_normal(0.5), W_Q=randn_d, W_K=randn_d, W_V=randn_d, W_O=_normal(0.02),
            W_U=_normal(0.02)),
        "randn/sqrt(d), W_Q W_K x2, W_O W_U N(0,0.02)": dict(
            W_E=randn_d, W_pos=randn_d, W_Q=_normal(2 / math.sqrt(d_model)), W_K=_normal(2 / math.sqrt(d_model)),
            W_V=randn_d, W_O=_normal(0.02), W_U=_normal(0.02)),
        "randn/sqrt(d), W_O 0, W_U N(0,0.02)": dict(W_E=randn_d, W_pos=randn_d, W_Q=randn_d, W_K=randn_d,
                                                    W_V=randn_d, W_O=_normal(0.0), W_U=_normal(0.02)),
    }


def reinit(model, scheme):
    """Redraw every weight of an AttentionReverser from the global torch RNG (seeded by make_model)."""
    attn = model.blocks[0].attn
    d_model, d_head, n_heads = attn.W_Q.shape[1], attn.W_Q.shape[2], attn.W_Q.shape[0]
    weights = dict(W_E=(model.embed.W_E, None), W_pos=(model.pos_embed.W_pos, None), W_Q=(attn.W_Q, d_model),
                   W_K=(attn.W_K, d_model), W_V=(attn.W_V, d_model), W_O=(attn.W_O, n_heads * d_head),
                   W_U=(model.unembed.W_U, d_model))
    with torch.no_grad():
        for name, (parameter, fan_in) in weights.items():
            scheme[name](parameter, fan_in)


def exact_antidiagonal(seq_len):
    """(T, T) the clean pattern: letter query j reads key L-1-j, <eos> reads itself. E.g. L=3: keys 2, 1, 0, 3."""
    pattern = torch.zeros(seq_len + 1, seq_len + 1)
    pattern[torch.arange(seq_len), torch.arange(seq_len).flip(0)] = 1
    pattern[seq_len, seq_len] = 1
    return pattern


def measure(job):
    design, lr, seq_len, seed = job
    cfg = Config(model="transformer", seed=seed, seq_len=seq_len, lr=lr)
    data = make_data(cfg)
    torch.set_num_threads(1)  # as the scripts do: one model per process, each on one thread
    model = make_model(cfg, data.vocab)  # seeds torch
    scheme = designs(cfg.d_model)[design]
    if scheme is not None:
        reinit(model, scheme)
    history = train(model, data, cfg, progress=False)
    eos = data.vocab.eos_id
    tokens = add_eos(analysis_sequences(cfg), eos)  # (N, T) every distinct sequence
    _, cache = run_with_cache(model, tokens, [PATTERN])
    mean_pattern = cache[PATTERN].mean(0)[0]  # (T query, T key), head 0
    mass = [mean_pattern[j, seq_len - 1 - j].item() for j in range(seq_len)]
    clean_pattern = exact_antidiagonal(seq_len).expand_as(cache[PATTERN])  # (N, heads, T, T)
    replaced = run_with_hooks(model, tokens, {PATTERN: lambda pattern: clean_pattern}).argmax(-1)  # (N, T)
    replaced_accuracy = (replaced == make_targets(tokens[:, :-1], eos)).all(1).float().mean().item()
    got_it = next((e + 1 for e in range(len(history.heldout_accuracy))
                   if min(history.heldout_accuracy[e:]) == 1.0), None)
    return dict(design=design, lr=lr, seq_len=seq_len, seed=seed, heldout=history.heldout_accuracy[-1],
                got_it=got_it, mass=mass, eos_self=mean_pattern[seq_len, seq_len].item(),
                replaced=replaced_accuracy, seconds=history.seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", nargs="+", default=None, help="design names (default: all)")
    parser.add_argument("--lrs", nargs="+", type=float, default=[1e-3, 3e-3])
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10)) + [42])
    parser.add_argument("--seq-lens", nargs="+", type=int, default=[3, 5])
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    names = args.designs or list(designs(32))
    jobs = [(d, lr, L, s) for d in names for lr in args.lrs for L in args.seq_lens for s in args.seeds]
    with multiprocessing.Pool(args.jobs) as pool:  # one model per process: each trains on one thread
        results = pool.map(measure, jobs, chunksize=1)
    for design in names:
        for lr in args.lrs:
            print(f"\n## {design}, lr {lr:g}")
            for L in args.seq_lens:
                rows = [r for r in results if r["design"] == design and r["lr"] == lr and r["seq_len"] == L]
                print(f"L={L}  seed  held-out  got it  anti-diagonal mass per letter  <eos>->self  exact-anti-diag acc")
                for r in rows:
                    flag = "clean" if min(r["mass"]) >= 0.9 else "     "
                    print(f"      {r['seed']:4d}  {r['heldout']:7.0%}  {r['got_it'] or '-':>6}  "
                          f"{' '.join(f'{m:.3f}' for m in r['mass']):<30} {flag}  {r['eos_self']:.3f}  "
                          f"{r['replaced']:7.0%}")
                clean = sum(min(r["mass"]) >= 0.9 for r in rows)
                perfect = sum(r["heldout"] == 1.0 for r in rows)
                eos_self = sum(r["eos_self"] >= 0.5 for r in rows)
                kept = sum(r["replaced"] == 1.0 for r in rows)
                print(f"      clean {clean}/{len(rows)}, held-out 100% {perfect}/{len(rows)}, "
                      f"<eos> mostly to itself {eos_self}/{len(rows)}, exact anti-diagonal keeps 100% "
                      f"{kept}/{len(rows)}, median min mass {statistics.median(min(r['mass']) for r in rows):.3f}, "
                      f"median training {statistics.median(r['seconds'] for r in rows):.1f} s")
    lengths = " / ".join(f"L={L}" for L in args.seq_lens)
    print(f"\n| design | lr | clean ({lengths}) | held-out 100% | <eos> mostly to itself | "
          "exact anti-diagonal keeps 100% |")
    print("|---|---|---|---|---|---|")
    for design in names:
        for lr in args.lrs:
            def count(test):  # "clean on 9 of 11 seeds at L=3, 6 of 11 at L=5" reads as "9/11 / 6/11"
                return " / ".join(f"{sum(map(test, rows))}/{len(rows)}" for rows in (
                    [r for r in results if r["design"] == design and r["lr"] == lr and r["seq_len"] == L]
                    for L in args.seq_lens))
            print(f"| {design} | {lr:g} | {count(lambda r: min(r['mass']) >= 0.9)} | "
                  f"{count(lambda r: r['heldout'] == 1.0)} | {count(lambda r: r['eos_self'] >= 0.5)} | "
                  f"{count(lambda r: r['replaced'] == 1.0)} |")

if __name__ == "__main__":
    main()
