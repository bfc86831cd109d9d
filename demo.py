"""Train a tiny network to reverse letter sequences, then look inside it.

    python demo.py                 # defaults: 2000 samples of length-3 sequences over "abc", 100 epochs
    python demo.py --out results   # write the files into results/ instead of the current folder
    python demo.py --help          # every setting

Writes into --out: training_loss.png, activation_heatmaps.png and metrics.json.
The guided, step-by-step version of the same story is demo_notebook.py.
"""

import os
import sys

from reversal.analysis import activation_stats, capture_all, explain_accuracy, explain_activations
from reversal.config import build_parser, resolve
from reversal.files import save_json
from reversal.plots import plot_activations, plot_training
from reversal.train import make_data, make_model, reverse_text, sequence_accuracy, train


def main():
    parser = build_parser("demo.py", default_samples=2000, description=__doc__.splitlines()[0])
    cfg = resolve(parser.parse_args(), parser)
    print(cfg)
    os.makedirs(cfg.out, exist_ok=True)
    out = lambda name: os.path.join(cfg.out, name)

    # data: every distinct sequence, a seeded held-out split, training samples drawn from the rest
    data = make_data(cfg)
    model = make_model(cfg, data.vocab)
    print(f"{model.parameter_count():,} parameters; {len(data.train_sequences)} training and "
          f"{len(data.heldout_sequences)} held-out sequences")

    history = train(model, data, cfg)
    steps = cfg.epochs * -(-cfg.samples // cfg.batch_size)  # ceil: the last batch of an epoch may be short
    print(f"trained {cfg.epochs} epochs in {history.seconds:.2f} s ({steps / history.seconds:,.0f} steps/s); "
          f"final loss {history.loss[-1]:.2e}")
    train_accuracy = sequence_accuracy(model, data.train_sequences, data.vocab.eos_id)
    heldout_accuracy = history.heldout_accuracy[-1]

    output = reverse_text(model, data.vocab, cfg.input)
    print(f"\nprediction: {' '.join(cfg.input)} <eos>  ->  {' '.join(output)}")
    print("\n".join(explain_accuracy(model, data, train_accuracy, heldout_accuracy)))

    # forward hooks capture both hidden layers for every distinct sequence
    capture = capture_all(model, data, cfg)
    print("\nhidden layers, captured with forward hooks:")
    print("\n".join(explain_activations(capture)))

    plot_training(history, out("training_loss.png"))
    plot_activations(capture, out("activation_heatmaps.png"), seed=cfg.seed)
    save_json({
        "config": cfg.to_dict(),
        "final_loss": history.loss[-1],
        "train_accuracy": train_accuracy,
        "heldout_accuracy": heldout_accuracy,
        "heldout_sequences": len(data.heldout_sequences),
        "loss_history": history.loss,
        "heldout_accuracy_history": history.heldout_accuracy,
        "prediction": {"input": list(cfg.input) + ["<eos>"], "output": output},
        "train_seconds": history.seconds,
        "activations": {name: activation_stats(acts) for name, acts in capture.layers.items()},
    }, out("metrics.json"))
    print(f"\nwrote training_loss.png, activation_heatmaps.png and metrics.json into {os.path.abspath(cfg.out)}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        # files are written whole or not at all (reversal/files.py), so stopping leaves nothing half-written
        print("\ninterrupted: stopped before finishing; no partial file was written", file=sys.stderr)
        sys.exit(130)
