"""Train a tiny network to reverse letter sequences, then run experiments on it to find out how it does it.

    python demo.py                 # defaults: 2000 samples of length-3 sequences over "abc", 100 epochs
    python demo.py --out results   # write the files into results/ instead of the current folder
    python demo.py --verbose       # print every finding in full, evidence and caveats too (by default: a short log)
    python demo.py --seeds 10      # also: every headline number over 10 seeds, as a median and range (about 15 s)
    python demo.py --sweep         # also: held-out accuracy over sequence length x hidden width, two budgets
    python demo.py --sae           # also: a sparse autoencoder on hidden1, scored against the ground truth (~4 s more)
    python demo.py --unseen        # also: a letter never seen at a position; can each model copy it? (about 40 s)
    python demo.py --grokking      # also: does held-out accuracy jump long after training fits? (about 30 s)
    python demo.py --model transformer   # the same task in a one-layer attention-only transformer
    python demo.py --help          # every setting

Writes into --out: report.html (the whole run on one page, every figure embedded beside its finding: open it in a
browser), training_loss.png, activation_heatmaps.png, position_influence.png, probe_accuracy.png,
neuron_selectivity.png, first_layer_weights.png, ablation.png, patching.png, dimensionality.png,
subspace_interventions.png, steering.png, superposition.png, metrics.json and model.pt; with --seeds seeds.png,
with --sae sae.png, with --sweep capacity_sweep.png, with --unseen unseen.png, with --grokking grokking.png. With
--model transformer: report.html, training_loss.png, position_influence.png, probe_accuracy.png,
attention_patterns.png, circuits.png, attention_interventions.png, path_patching.png, steering.png, metrics.json and
model.pt.
The guided, step-by-step version of the same story is demo_notebook.py.
"""

# plain Python, no torch: --help and every bad setting answer at once, before the lesson's imports below
from reversal.core.limits import max_seq_len, unseen_pair_setting, unseen_shape
from reversal.report.files import stop_cleanly_on_signals
from reversal.support.config import build_parser, integer, resolve

SWEEP_SEQ_LENS = [3, 4, 5, 6, 7, 8, 9, 10]
SWEEP_WIDTHS = [4, 8, 16, 32]
MAX_SEEDS = 100
LOG_WIDTH = 120  # the short log's lines fit a terminal, and a projected one
SHORT_LOG = ["steering", "superposition", "capacity_sweep", "sae", "unseen", "grokking", "across_seeds"]  # one headline each, by default
METRICS_SCHEMA_VERSION = 3  # metrics.json's layout (docs/metrics.md); 3: "untrained", additive_r2_train


def settings():
    """The flags, every one checked before anything is imported, trained or written."""
    parser = build_parser("demo.py", default_samples=2000, description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true",
                        help=f"also train a model for each seq-len {SWEEP_SEQ_LENS[0]}..{SWEEP_SEQ_LENS[-1]} "
                             f"(as far as the vocab allows) and hidden width {', '.join(map(str, SWEEP_WIDTHS))}, and plot held-out "
                             f"accuracy; then retrain the cells below 100%% with 10 times the samples (about 2 minutes on 2 cores)")
    parser.add_argument("--seeds", type=integer(1, MAX_SEEDS), default=None, metavar="N",
                        help=f"also train N models, seeds --seed to --seed+N-1, and report every headline number as a "
                             f"median and range, with seeds.png (1 to {MAX_SEEDS}; about 1.2 s a seed on a 2-core "
                             f"laptop, 10 seeds in about 15 s)")
    parser.add_argument("--sae", action="store_true",
                        help="also train a sparse autoencoder on hidden1 (3 SAE seeds) and score its features against "
                             "the ground truth, 'the letter at position p is x' (mlp only; about 4 s more with the "
                             "defaults)")
    parser.add_argument("--unseen", nargs="?", const="", default=None, metavar="P:X",
                        help="also hold out every sequence with letter X at input P (1-based; alone, 1 and the first "
                             "letter), train "
                             "both models on half the rest over 3 seeds, and test what each mechanism predicts: the "
                             "MLP cannot copy the pair, the transformer can (at the defaults the study runs at "
                             "--seq-len 5 over abcd; about 40 s)")
    parser.add_argument("--grokking", action="store_true",
                        help="also run the grokking study: both models at length 5 over abcd, full-batch AdamW "
                             "(weight decay 1) on 5%% and 25%% of the sequences, seeds --seed to --seed+2, with "
                             "grokking.png (about 30 s on 2 cores; ignores --seq-len, --vocab, --lr and --epochs)")
    parser.add_argument("--verbose", action="store_true",
                        help="print every finding in full: its evidence and caveats too (by default a short log of "
                             "headlines; report.html always has everything)")
    args = parser.parse_args()
    if args.sweep and args.model != "mlp":
        parser.error("argument --sweep: the sweep varies the MLP's hidden width; use it with --model mlp")
    if args.sae and args.model != "mlp":
        parser.error("argument --sae: the sparse autoencoder reads the MLP's hidden1; use it with --model mlp")
    if args.seeds and args.seed + args.seeds - 1 > 2**32 - 1:
        parser.error(f"argument --seeds: --seed {args.seed} plus {args.seeds} seeds passes the largest seed, 2^32-1")
    cfg = resolve(args, parser)  # every other setting is checked here, before anything is trained or written
    if args.unseen is not None:
        try:
            seq_len, vocab = unseen_shape(cfg.seq_len, cfg.vocab)
            args.unseen = unseen_pair_setting(args.unseen or f"1:{vocab[0]}", seq_len, vocab)
        except ValueError as error:
            parser.error(f"argument --unseen: {error}")
    return args, cfg


if __name__ == "__main__":
    stop_cleanly_on_signals()  # Ctrl-C, kill or a closed terminal, from here on: one line, nothing half-written
    ARGS, CFG = settings()  # parser.error exits 2 here, in a fraction of a second

import os
import textwrap

import torch

from reversal.attention.circuits import plot_circuits
from reversal.attention.head_interventions import plot_interventions
from reversal.attention.path_patching import path_patching, plot_path_patching
from reversal.attention.patterns import attention_experiments, plot_patterns
from reversal.core.common import SEED_NOTE
from reversal.core.health import training_health
from reversal.core.progress import heartbeat
from reversal.core.run import start_run
from reversal.core.train import optimizer_steps, reverse_text, sequence_accuracy, train
from reversal.features.sae import plot_sae, sae_experiment
from reversal.features.steering import steering_experiment
from reversal.features.steering_plot import plot_steering
from reversal.features.superposition import plot_superposition, superposition_report
from reversal.mlp.ablation import neuron_ablation, plot_ablation
from reversal.mlp.activations import capture_all, plot_activations
from reversal.mlp.dimensionality import plot_dimensionality
from reversal.mlp.generalization import generalization
from reversal.mlp.influence import plot_influence, position_influence
from reversal.mlp.mechanism import find_mechanism
from reversal.mlp.mechanism_wording import in_short
from reversal.mlp.patching import activation_patching, plot_patching
from reversal.mlp.probes import plot_probes, probe_accuracy
from reversal.mlp.selectivity import neuron_selectivity, plot_selectivity
from reversal.mlp.subspaces import plot_subspace_interventions
from reversal.mlp.weights import first_layer_weights, plot_first_layer_weights
from reversal.report.files import quick_exit, remove_stale_temp_files, save_json, stop_quietly_when_the_reader_goes
from reversal.report.glossary import GLOSSARY
from reversal.report.html import Section, write_report
from reversal.report.plots import BackgroundFigures, plot_training
from reversal.report.questions import QUESTIONS
from reversal.report.result import Finding
from reversal.report.wording import plural
from reversal.studies.grokking import grokking_study, plot_grokking
from reversal.studies.seeds import across_seeds, plot_seeds
from reversal.studies.sweep import capacity_sweep, plot_sweep
from reversal.studies.unseen import plot_unseen, study_config, unseen_pair
from reversal.support.checkpoint import save_model


def main(args, cfg):
    log = Log(args.verbose)
    log.full(cfg)
    log.short(cfg.summary())
    os.makedirs(cfg.out, exist_ok=True)
    out = lambda name: os.path.join(cfg.out, name)

    torch.set_num_threads(1)  # matrices this small run faster on one thread than split across cores
    # data: every distinct sequence, a seeded held-out split, training samples drawn from the rest; the model, and
    # its untrained twin (the control: the same shape and starting weights, never trained)
    run = start_run(cfg)
    data, vocab, model = run.data, run.vocab, run.model
    sizes = (f"{model.parameter_count():,} parameters; {len(data.train_sequences)} training and "
             f"{len(data.heldout_sequences)} held-out sequences")
    print(sizes)

    heartbeat.stage("training")  # at a big setting a stage takes minutes: at a terminal, a line every few seconds
    history = train(model, data, cfg)
    steps = optimizer_steps(cfg)
    trained = (f"trained {cfg.epochs} epochs in {history.seconds:.2f} s ({steps / history.seconds:,.0f} steps/s); "
               f"final loss {history.loss[-1]:.2e}")
    print(trained)
    health = training_health(run, history)  # did training break (a blown-up loss, every input the same output)?
    if health.line:
        print(health.line)  # e.g. "training diverged at epoch 1: try a smaller --lr (...)"
    train_accuracy = sequence_accuracy(model, data.train_sequences, vocab.eos_id)
    heldout_accuracy = history.heldout_accuracy[-1]
    output = reverse_text(model, vocab, cfg.input)
    prediction = f"prediction: {' '.join(cfg.input)} <eos>  ->  {' '.join(output)}"
    print(f"\n{prediction}")
    generalization_finding = generalization(run, train_accuracy, heldout_accuracy, health).finding()
    log.full(generalization_finding)
    log.short(generalization_finding.headline)
    # the report's sections, in lesson order: (name in QUESTIONS, finding, figure files)
    lesson = [("training", generalization_finding, ["training_loss.png"])]

    heartbeat.stage("the experiments")
    with BackgroundFigures() as figures:  # figures draw on the second core while the experiments run
        figures.draw(plot_training, history, out("training_loss.png"))
        if health.responsive:
            experiments = {"mlp": mlp_experiments, "transformer": transformer_experiments}[run.kind]
            results, experiment_lesson = experiments(run, figures, out, log)
        else:  # a result, not a crash: one finding says why no experiment can run on this model
            results, experiment_lesson = not_run(health, args, log)
        lesson += experiment_lesson

        # opt-in: a model for every (length, width), then the misses again with 10x the samples
        if args.sweep and health.responsive:
            seq_lens = [n for n in SWEEP_SEQ_LENS if n <= max_seq_len(len(cfg.vocab))]  # a big vocab allows fewer
            sweep = capacity_sweep(cfg, seq_lens, SWEEP_WIDTHS)
            lesson.append(("capacity_sweep", sweep.finding(), ["capacity_sweep.png"]))
            log.full(f"\n{lesson[-1][1]}")
            figures.draw(plot_sweep, sweep, out("capacity_sweep.png"))
            results["interpretability"]["capacity_sweep"] = sweep

        # opt-in: a sparse autoencoder on hidden1, scored against the features the network must carry
        if args.sae and health.responsive:
            sae = sae_experiment(run)
            lesson.append(("sae", sae.finding(), ["sae.png"]))
            log.full(f"\n{lesson[-1][1]}")
            figures.draw(plot_sae, sae, out("sae.png"))
            results.setdefault("features", {})["sae"] = sae

        # opt-in: the grokking recipe on both models, with progress measures and a computed verdict
        if args.grokking:
            grokking = grokking_study(cfg)
            lesson.append(("grokking", grokking.finding(), ["grokking.png"]))
            log.full(f"\n{lesson[-1][1]}")
            figures.draw(plot_grokking, grokking, out("grokking.png"))
            results["grokking"] = grokking

        # opt-in: a letter never seen at a position; each mechanism predicts whether its model can copy it
        if args.unseen is not None:
            unseen = unseen_pair(study_config(cfg), *args.unseen)  # both models, three seeds
            lesson.append(("unseen", unseen.finding(), ["unseen.png"]))
            log.full(f"\n{lesson[-1][1]}")
            figures.draw(plot_unseen, unseen, out("unseen.png"))
            results["unseen"] = unseen

        # opt-in: one seed is an anecdote; train N and report each headline number's spread
        if args.seeds and health.responsive:
            results["across_seeds"] = across_seeds(cfg, args.seeds)  # the headline numbers of the model's kind
            lesson.append(("across_seeds", results["across_seeds"].finding(), ["seeds.png"]))
            log.full(f"\n{lesson[-1][1]}")
            figures.draw(plot_seeds, results["across_seeds"], out("seeds.png"))

    # the short log: the mechanism in short (the transformer: its circuit verdict), then one line a further finding
    summary = (experiment_lesson[0][1].headline if not health.responsive else
               f"In short: {in_short(results['mechanism'])}" if run.kind == "mlp" else
               results["attention"].finding().headline)
    log.short(summary)
    for name, finding, _ in lesson:
        if name in SHORT_LOG:
            log.short(finding.headline)

    heartbeat.stage("writing the files")
    save_model(model, cfg, out("model.pt"))  # weights + settings: reversal.support.checkpoint.load_model reads it back
    save_json({
        "schema_version": METRICS_SCHEMA_VERSION,
        "config": cfg.to_dict(),
        "final_loss": history.loss[-1],
        "train_accuracy": train_accuracy,
        "heldout_accuracy": heldout_accuracy,
        "heldout_sequences": len(data.heldout_sequences),
        "loss_history": history.loss,
        "heldout_accuracy_history": history.heldout_accuracy,
        "prediction": {"input": list(cfg.input) + ["<eos>"], "output": output},
        "train_seconds": history.seconds,
        "training_health": health.to_json(),
        **results,
    }, out("metrics.json"))
    # the whole run on one page: the figures are drawn by now (BackgroundFigures waits for them), so embed them
    sections = [Section(*QUESTIONS[name], [out(figure) for figure in figure_files], finding)
                for name, finding, figure_files in lesson]
    write_report(out("report.html"), f"Reversing letters: the {'MLP' if run.kind == 'mlp' else run.kind}, step by step",
                 [cfg.summary(), sizes, trained, prediction] + [f"({SEED_NOTE}.)"] * (run.kind == "mlp"),
                 summary, sections, GLOSSARY)
    figure_count = sum(len(section.figures) for section in sections)
    print("\n" + wrap(f"wrote report.html (open it in a browser), {plural(figure_count, 'figure')}, metrics.json and "
                      f"model.pt into {os.path.abspath(cfg.out)}"))


class Log:
    """The printout in two layers: by default a short log, a line or a few per finding; with --verbose, every
    finding in full. Lines both layers share are plain print()s."""

    def __init__(self, verbose):
        self.verbose = verbose

    def full(self, text):
        if self.verbose:
            print(text)

    def short(self, text):
        if not self.verbose:  # wrapped, so that no line runs past LOG_WIDTH characters
            print(wrap(str(text)))


def wrap(text):
    """text in lines of at most LOG_WIDTH characters, the later ones indented; a word (a path) is never split."""
    return textwrap.fill(text, LOG_WIDTH, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)


def not_run(health, args, log):
    """What a model whose output does not depend on its input gets instead of the experiments: one finding that
    says why none can run. Each reads how the output moves with the input, or which part of the model carries it."""
    asked = [flag for flag, on in (("--sweep", args.sweep), ("--sae", args.sae), ("--seeds", args.seeds)) if on]
    also = f" (nor {', '.join(asked)})" if asked else ""
    finding = Finding(f"No experiment was run{also}: the model gives every input the same output, so there is no "
                      f"mechanism to find.", {"responsive": False},
                      [f"  {health.line}.",
                       "  Each experiment (behaviour, probes, ablation, patching, the mechanism, steering) measures "
                       "how the output moves with the input, or which part of the model carries it."])
    log.full(f"\n{finding}")
    return {}, [("experiments", finding, [])]


def mlp_experiments(run, figures, out, log):
    """The MLP's lesson: hooks, behaviour, probes, selectivity, weights, ablation, patching, then the mechanism.
    Prints what each found (with --verbose), queues its figure, and returns what metrics.json keeps and the lesson:
    the report's sections, as (name in QUESTIONS, finding, figure files)."""
    # forward hooks capture both hidden layers for every distinct sequence
    capture = capture_all(run)
    figures.draw(plot_activations, capture, out("activation_heatmaps.png"), 64, run.seed)

    # experiments: what does it do, where is the information, which parts does the output need, and how?
    influence = position_influence(run)
    figures.draw(plot_influence, influence, out("position_influence.png"))
    probes = probe_accuracy(run)
    figures.draw(plot_probes, probes, out("probe_accuracy.png"))
    selectivity = neuron_selectivity(run)
    figures.draw(plot_selectivity, selectivity, out("neuron_selectivity.png"))
    weights = first_layer_weights(run)
    figures.draw(plot_first_layer_weights, weights, out("first_layer_weights.png"))
    ablation = neuron_ablation(run)
    figures.draw(plot_ablation, ablation, out("ablation.png"), detail=log.verbose)
    patching = activation_patching(run)
    figures.draw(plot_patching, patching, out("patching.png"), detail=log.verbose)
    # the mechanism: letters live in per-position directions, and each output reads its mirrored input's
    mechanism = find_mechanism(run)
    figures.draw(plot_dimensionality, mechanism, out("dimensionality.png"))
    figures.draw(plot_subspace_interventions, mechanism, out("subspace_interventions.png"), detail=log.verbose)
    # features: steer along the letter directions, and count directions against neurons (superposition?)
    steering = steering_experiment(run)
    figures.draw(plot_steering, steering, out("steering.png"))
    superposition = superposition_report(run)
    figures.draw(plot_superposition, superposition, out("superposition.png"))

    # the report's sections, in lesson order: (name in QUESTIONS, finding, figure files)
    lesson = [("activations", capture.finding(), ["activation_heatmaps.png"]),
             ("behaviour", influence.finding(), ["position_influence.png"]),
             ("probes", probes.finding(), ["probe_accuracy.png"]),
             ("selectivity", selectivity.finding(), ["neuron_selectivity.png"]),
             ("weights", weights.finding(), ["first_layer_weights.png"]),
             ("ablation", ablation.finding(), ["ablation.png"]),
             ("patching", patching.finding(), ["patching.png"]),
             ("mechanism", mechanism.finding(), ["dimensionality.png", "subspace_interventions.png"]),
             ("steering", steering.finding(), ["steering.png"]),
             ("superposition", superposition.finding(), ["superposition.png"])]
    found = {name: finding for name, finding, _ in lesson}
    log.full("\nhidden layers, captured with forward hooks:")
    log.full(found["activations"])
    log.full("\nexperiments on the trained model:")
    for name in ["behaviour", "probes", "selectivity", "weights", "ablation", "patching"]:
        log.full(found[name])
    log.full(f"  ({SEED_NOTE}.)")
    log.full("\n" + str(found["mechanism"]))
    log.full("\n" + str(found["steering"]))
    log.full(found["superposition"])
    return {"activations": capture,
            "interpretability": {"position_influence": influence, "probe_accuracy": probes,
                                 "neuron_selectivity": selectivity, "first_layer_weights": weights,
                                 "neuron_ablation": ablation, "patching": patching},
            "mechanism": mechanism,
            "features": {"steering": steering, "superposition": superposition}}, lesson


def transformer_experiments(run, figures, out, log):
    """The transformer's lesson: behaviour, probes on its residual stream, then its attention pattern, the QK and OV
    circuits read from the weights, interventions on the head, whether this seed's circuit is the clean one, and
    steering along the residual stream's letter directions. Prints and returns as mlp_experiments does."""
    influence = position_influence(run)
    figures.draw(plot_influence, influence, out("position_influence.png"))
    # the same probes as the MLP's, on the residual stream before and after the attention layer
    probes = probe_accuracy(run)
    figures.draw(plot_probes, probes, out("probe_accuracy.png"))
    attention = attention_experiments(run)
    # path patching: the head's share split by key, and the pattern's by query and key path
    paths = path_patching(run.model, run.sequences, run.vocab, attention["interventions"]["patching"])
    figures.draw(plot_path_patching, paths, out("path_patching.png"))
    # steering the residual stream along class-mean directions, at the input's position and at its mirror's
    steering = steering_experiment(run)
    figures.draw(plot_steering, steering, out("steering.png"))
    figures.draw(plot_patterns, attention["patterns"], out("attention_patterns.png"))
    figures.draw(plot_circuits, attention["qk"], attention["ov"], run.vocab, out("circuits.png"), detail=log.verbose)
    figures.draw(plot_interventions, attention["interventions"], out("attention_interventions.png"))
    log.full("\nexperiments on the trained transformer:")
    log.full(influence.finding())
    log.full(probes.finding())
    log.full(attention.finding())  # its headline is the report's summary; its parts are the report's steps below
    log.full("\n" + str(paths.finding()))
    log.full("\n" + str(steering.finding()))
    lesson = [("behaviour", influence.finding(), ["position_influence.png"]),
             ("probes", probes.finding(), ["probe_accuracy.png"]),
             ("attention_patterns", attention["patterns"].finding(), ["attention_patterns.png"]),
             ("circuits", attention["qk"].finding() + attention["ov"].finding(), ["circuits.png"]),
             ("interventions", attention["interventions"].finding(), ["attention_interventions.png"]),
             ("path_patching", paths.finding(), ["path_patching.png"]),
             ("verdict", attention["verdict"].finding(), []),
             ("steering", steering.finding(), ["steering.png"])]
    return {"interpretability": {"position_influence": influence, "probe_accuracy": probes,
                                 "path_patching": paths},
            "attention": attention, "features": {"steering": steering}}, lesson


if __name__ == "__main__":
    stop_quietly_when_the_reader_goes()  # python demo.py | head: no traceback when head stops reading
    remove_stale_temp_files(CFG.out)  # what a killed run (kill -9) was writing when it died
    main(ARGS, CFG)
    quick_exit()  # everything is written: skip Python's slow teardown of torch
