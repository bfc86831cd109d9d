"""The interpretability experiments measure what they claim, leave the model as they found it, and every figure draws.

Most tests use the session's trained default model (`trained`); the expensive results are computed once per module.
"""

import copy

import matplotlib.image
import numpy as np
import pytest
import torch

from conftest import train_model
from reversal import analysis, plots
from reversal.analysis import analysis_sequences
from reversal.config import Config
from reversal.data import add_eos, all_sequences
from reversal.model import hook_count
from reversal.train import make_model, sequence_accuracy

SWEEP_SEQ_LENS, SWEEP_WIDTHS = [2, 3], [4, 16]
SWEEP_SETTINGS = dict(epochs=30, samples=500)  # small enough to train four models in about a second
DEAD = 0  # the neuron `dead_neuron_model` switches off in each hidden layer


def is_clean_reversal(influence):
    """Each input position changes its mirrored output position (anti-diagonal) and nothing else."""
    anti_diagonal = np.eye(len(influence), dtype=bool)[::-1]
    return influence[anti_diagonal].min() >= 0.99 and (influence[~anti_diagonal] <= 0.01).all()


def assert_png(path):
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100, \
        f"{path.name} is not a real image: shape {image.shape}"


# ---------------------------------------------------------------------------------------------------------------------
# Results computed once for the module
# ---------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sequences(trained):
    return analysis_sequences(trained.cfg)  # (27, 3): every sequence of the default settings


@pytest.fixture(scope="module")
def untrained(trained):
    return make_model(trained.cfg, trained.data.vocab)  # same shape and seed, no training


@pytest.fixture(scope="module")
def dead_neuron_model(trained):
    """A copy of the trained model in which neuron DEAD of each hidden layer never fires, whatever the input.

    Built on purpose rather than searched for: which neurons training kills depends on the seed.
    """
    model = copy.deepcopy(trained.model)
    with torch.no_grad():
        for linear in (model.linear1, model.linear2):
            linear.weight[DEAD] = 0
            linear.bias[DEAD] = -1  # pre-activation -1 for every input: ReLU gives 0
    return model


@pytest.fixture(scope="module")
def ablation(trained, sequences):
    return analysis.neuron_ablation(trained.model, sequences, trained.data.vocab, trained.cfg.device,
                                    mean_over=trained.data.train_sequences)


@pytest.fixture(scope="module")
def patching(trained, sequences):
    return analysis.activation_patching(trained.model, sequences, trained.data.vocab, trained.cfg.device)


@pytest.fixture(scope="module")
def selectivity(trained, untrained, sequences):
    return analysis.neuron_selectivity(trained.model, sequences, trained.data.vocab, trained.cfg.device, untrained)


@pytest.fixture(scope="module")
def sweep():
    return analysis.capacity_sweep(Config(**SWEEP_SETTINGS), seq_lens=SWEEP_SEQ_LENS, widths=SWEEP_WIDTHS,
                                   progress=False)


# ---------------------------------------------------------------------------------------------------------------------
# Behaviour: position influence
# ---------------------------------------------------------------------------------------------------------------------

def test_trained_model_influence_is_the_anti_diagonal(trained, sequences):
    influence = analysis.position_influence(trained.model, sequences, trained.data.vocab)
    assert is_clean_reversal(influence), \
        f"a reversing model should change output L-1-i, and only it, when input i changes; got\n{influence}"


def test_untrained_model_influence_is_not_the_anti_diagonal(untrained, trained, sequences):
    influence = analysis.position_influence(untrained, sequences, trained.data.vocab)
    assert not is_clean_reversal(influence), \
        f"random weights gave a clean reversal map: is position_influence measuring the model at all?\n{influence}"


# ---------------------------------------------------------------------------------------------------------------------
# Probes
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_probes_read_every_input_letter_from_the_trained_hidden_layers(trained, layer):
    accuracy = analysis.probe_accuracy(trained.model, trained.data, trained.cfg)[layer]
    assert len(accuracy) == trained.cfg.seq_len, "expected one probe per input position"
    assert min(accuracy) >= 0.99, f"held-out probe accuracy per position in {layer}: {accuracy}"


# ---------------------------------------------------------------------------------------------------------------------
# Ablation
# ---------------------------------------------------------------------------------------------------------------------

def test_ablation_baseline_is_perfect(ablation, trained):
    assert ablation["baseline"] == [1.0] * trained.cfg.seq_len, \
        f"the unablated model should be right at every output position: {ablation['baseline']}"


@pytest.mark.parametrize("kind", ["zero", "mean"])
@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_ablating_a_whole_layer_drops_sequence_accuracy_to_chance(ablation, trained, layer, kind):
    # a constant layer gives a constant output, which is right for at most one of the 3**3 sequences
    chance = 1 / len(trained.data.vocab.letters) ** trained.cfg.seq_len
    accuracy = ablation[layer][kind]["whole_layer_sequence_accuracy"]
    assert accuracy <= chance + 1e-9, \
        f"{layer} {kind}-ablated still gets {accuracy:.1%} of sequences right (chance {chance:.1%}): " \
        f"did the ablation hook forget to return the replaced tensor?"


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_ablating_a_neuron_that_never_fires_costs_nothing(dead_neuron_model, trained, sequences, layer):
    result = analysis.neuron_ablation(dead_neuron_model, sequences, trained.data.vocab, trained.cfg.device,
                                      mean_over=trained.data.train_sequences)
    assert result[layer]["zero"]["accuracy"][DEAD] == result["baseline"], \
        f"zeroing {layer} neuron {DEAD}, already 0 everywhere, changed the accuracy: is the ablated neuron in " \
        f"row block n really neuron n?"


# ---------------------------------------------------------------------------------------------------------------------
# Activation patching
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_patching_a_whole_layer_restores_the_clean_output(patching, layer):
    whole = patching[layer]["whole_layer"]
    np.testing.assert_allclose(whole, 1.0, atol=1e-5, err_msg=(
        f"patching all of {layer} from the clean run should give back the clean logits exactly: did the hook "
        f"forget to return the patched tensor, or patch from the wrong cache?"))


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_patching_a_neuron_that_never_fires_restores_nothing(dead_neuron_model, trained, sequences, layer):
    # its clean value and its corrupted value are both 0: the patch changes nothing, so nothing can come back
    patching = analysis.activation_patching(dead_neuron_model, sequences, trained.data.vocab, trained.cfg.device)
    restored = patching[layer]["neurons"][DEAD]
    np.testing.assert_allclose(restored, 0.0, atol=1e-6, err_msg=(
        f"patching {layer} neuron {DEAD}, which is 0 in every run, restored {restored}: is block n of the batched "
        f"run patching a different neuron than n?"))


# ---------------------------------------------------------------------------------------------------------------------
# Selectivity
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_eta_squared_lies_between_0_and_1(selectivity, trained, layer):
    eta = np.array(selectivity[layer]["eta"])
    assert eta.shape == (trained.cfg.hidden, trained.cfg.seq_len), f"expected (neurons, positions), got {eta.shape}"
    assert eta.min() >= 0 and eta.max() <= 1, f"eta squared is a share of variance, got {eta.min()}..{eta.max()}"


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_eta_squared_is_0_for_a_neuron_that_never_fires(dead_neuron_model, trained, untrained, sequences, layer):
    result = analysis.neuron_selectivity(dead_neuron_model, sequences, trained.data.vocab, trained.cfg.device,
                                         untrained)
    assert result[layer]["eta"][DEAD] == [0.0] * trained.cfg.seq_len, \
        f"a neuron with no variance has none to explain; got {result[layer]['eta'][DEAD]} (0/0 not caught?)"


def test_eta_squared_of_an_activation_equal_to_the_first_letter():
    sequences = all_sequences(3, 2)  # (9, 2): every letter at every position equally often
    acts = sequences[:, :1].double()  # (9, 1): one fake neuron whose activation is the letter id at position 0
    np.testing.assert_allclose(analysis.eta_squared(acts, sequences), [[1.0, 0.0]], atol=1e-12, err_msg=(
        "the letter at position 0 explains all of this neuron's variance, the letter at position 1 none of it"))


def test_eta_squared_of_a_constant_activation_is_0():
    sequences = all_sequences(3, 2)
    eta = analysis.eta_squared(torch.full((9, 1), 2.5), sequences)
    assert (eta == 0).all(), f"a constant has no variance to explain, got {eta}"


# ---------------------------------------------------------------------------------------------------------------------
# Every analysis leaves the model as it found it
# ---------------------------------------------------------------------------------------------------------------------

ANALYSES = {
    "position_influence": lambda t, seqs: analysis.position_influence(t.model, seqs, t.data.vocab),
    "probe_accuracy": lambda t, seqs: analysis.probe_accuracy(t.model, t.data, t.cfg),
    "neuron_selectivity": lambda t, seqs: analysis.neuron_selectivity(t.model, seqs, t.data.vocab, t.cfg.device,
                                                                      copy.deepcopy(t.model)),
    "neuron_ablation": lambda t, seqs: analysis.neuron_ablation(t.model, seqs, t.data.vocab, t.cfg.device,
                                                                mean_over=t.data.train_sequences),
    "activation_patching": lambda t, seqs: analysis.activation_patching(t.model, seqs, t.data.vocab, t.cfg.device),
    "capture_all": lambda t, seqs: analysis.capture_all(t.model, t.data, t.cfg),
}


@pytest.mark.parametrize("name", ANALYSES)
def test_no_hook_is_left_registered_after(trained, sequences, name):
    ANALYSES[name](trained, sequences)
    assert hook_count(trained.model) == 0, f"{name} left a forward hook on the model: was it removed in `finally`?"


@pytest.mark.parametrize("name", ANALYSES)
def test_model_outputs_are_unchanged_after(trained, sequences, name):
    tokens = add_eos(sequences, trained.data.vocab.eos_id)
    with torch.no_grad():
        before = trained.model(tokens)
        ANALYSES[name](trained, sequences)
        after = trained.model(tokens)
    assert torch.equal(before, after), f"{name} changed the model's logits: did an intervention write into weights?"


# ---------------------------------------------------------------------------------------------------------------------
# Capacity sweep, and missing pairs
# ---------------------------------------------------------------------------------------------------------------------

def test_sweep_returns_one_accuracy_per_length_and_width(sweep):
    assert sweep.shape == (len(SWEEP_SEQ_LENS), len(SWEEP_WIDTHS))
    assert ((sweep >= 0) & (sweep <= 1)).all(), f"accuracies must lie in [0, 1]:\n{sweep}"


def test_sweep_cells_match_a_model_trained_alone_with_those_settings(sweep):
    for a, seq_len in enumerate(SWEEP_SEQ_LENS):
        for b, width in enumerate(SWEEP_WIDTHS):
            run = train_model(**SWEEP_SETTINGS, seq_len=seq_len, hidden=width)
            alone = sequence_accuracy(run.model, run.data.heldout_sequences, run.data.vocab.eos_id)
            assert sweep[a, b] == alone, \
                f"seq_len {seq_len}, hidden {width}: sweep {sweep[a, b]}, trained alone {alone}; " \
                f"does the sweep train each cell with that cell's settings?"


def test_missing_pairs_reports_letters_never_seen_together():
    every = all_sequences(3, 3)
    train = every[~((every[:, 0] == 0) & (every[:, 2] == 2))]  # no training sequence has a at 0 together with c at 2
    assert analysis.missing_pairs(torch.tensor([0, 1, 2]), train) == [(0, 2)], \
        "'abc' puts a and c at positions (0, 2), a pair no training sequence has; (0, 1) and (1, 2) both occur"


def test_missing_pairs_is_empty_for_a_training_sequence(trained):
    train = trained.data.train_sequences
    assert analysis.missing_pairs(train[0], train) == [], "a training sequence cannot lack its own pairs"


# ---------------------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def figure_inputs(trained, untrained, sequences, selectivity, ablation, patching, sweep):
    """{plot function name: its arguments before the path}."""
    probes = analysis.probe_accuracy(trained.model, trained.data, trained.cfg)
    control = analysis.probe_accuracy(untrained, trained.data, trained.cfg)
    return {
        "plot_training": (trained.history,),
        "plot_activations": (analysis.capture_all(trained.model, trained.data, trained.cfg),),
        "plot_influence": (analysis.position_influence(trained.model, sequences, trained.data.vocab),),
        "plot_probes": (probes, control),
        "plot_selectivity": (selectivity,),
        "plot_first_layer_weights": (selectivity,),
        "plot_ablation": (ablation,),
        "plot_patching": (patching,),
        "plot_sweep": (sweep, SWEEP_SEQ_LENS, SWEEP_WIDTHS),
    }


FIGURES = ["plot_training", "plot_activations", "plot_influence", "plot_probes", "plot_selectivity",
           "plot_first_layer_weights", "plot_ablation", "plot_patching", "plot_sweep"]


@pytest.mark.parametrize("name", FIGURES)
def test_figure_is_drawn(figure_inputs, tmp_path, name):
    path = tmp_path / f"{name}.png"
    getattr(plots, name)(*figure_inputs[name], path)
    assert_png(path)


def fail_to_draw(path):
    raise ValueError(f"cannot draw {path}")  # module level, so a worker process can unpickle it


def test_background_figures_draws_a_file(figure_inputs, tmp_path):
    path = tmp_path / "influence.png"
    with plots.BackgroundFigures() as figures:
        figures.draw(plots.plot_influence, *figure_inputs["plot_influence"], path)
    assert_png(path)  # leaving the `with` block waits for every drawing


def test_background_figures_raises_a_worker_error_in_the_caller(tmp_path):
    with pytest.raises(ValueError, match="cannot draw"):
        with plots.BackgroundFigures() as figures:
            figures.draw(fail_to_draw, tmp_path / "never.png")
