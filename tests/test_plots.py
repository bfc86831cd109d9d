"""The shared figures draw, and BackgroundFigures draws in workers and passes their errors on."""

from dataclasses import replace

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from conftest import DEAD, assert_finding, assert_png
from reversal.mlp.activations import Capture, activation_figure, activation_stats, capture_all, plot_activations
from reversal.mlp.influence import plot_influence, position_influence
from reversal.report.plots import BackgroundFigures, plot_training


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_plot_training_draws_a_png(trained, tmp_path):
    path = tmp_path / "plot_training.png"
    plot_training(trained.history, path)
    assert_png(path)


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_plot_activations_draws_a_png(run, tmp_path):
    path = tmp_path / "plot_activations.png"
    plot_activations(capture_all(run), path)
    assert_png(path)


def test_the_activations_finding_is_layered(run):
    assert_finding(capture_all(run))


def made_up_capture(n_sequences, width, label_length):
    """A Capture of random activations: the figure's layout depends only on the sizes, so no training is needed."""
    rng = np.random.default_rng(0)
    labels = ["".join(rng.choice(list("abcd"), label_length)) for _ in range(n_sequences)]
    return Capture(labels=labels, heldout=rng.random(n_sequences) < 0.2, test_row=0,
                   layers={name: rng.random((n_sequences, width)) for name in ("hidden1", "hidden2")})


@pytest.mark.slow  # renders a figure: about 0.5 s
@pytest.mark.parametrize("n_sequences, width, label_length", [(9, 4, 2), (4096, 64, 6)])
def test_activation_figure_keeps_every_label_inside_the_figure(n_sequences, width, label_length):
    fig = activation_figure(made_up_capture(n_sequences, width, label_length))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # lays the figure out, as saving it does
    for text in fig.findobj(Text):
        box = text.get_window_extent(canvas.get_renderer())
        inside = fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)
        if text.get_visible() and text.get_text() and not inside:
            pytest.fail(f"{text.get_text()!r} runs off the figure ({box} outside {fig.bbox}) with {n_sequences} "
                        f"sequences and {width} neurons: is a margin fixed as a fraction of a figure that grew?")


def test_activation_figure_outlines_exactly_the_dead_neurons(run, dead_neuron_model):
    capture = capture_all(replace(run, model=dead_neuron_model))
    fig = activation_figure(capture)
    for ax in fig.axes:  # the heatmaps (each colour bar is an inset of its heatmap, not a figure axes)
        outlined = [int(patch.get_x() + 0.5) for patch in ax.patches if patch.get_edgecolor()[:3] == (1, 0, 0)]
        dead = activation_stats(capture["layers"][ax.get_title()])["dead"]
        assert DEAD in outlined and outlined == dead, \
            f"{ax.get_title()}: red outlines at {outlined}, but the dead neurons are {dead} (neuron {DEAD} on purpose)"


def fail_to_draw(path):
    raise ValueError(f"cannot draw {path}")  # module level, so a worker process can unpickle it


@pytest.mark.slow  # renders a figure: about 0.5 s
def test_background_figures_draws_a_file(run, tmp_path):
    path = tmp_path / "influence.png"
    with BackgroundFigures() as figures:
        figures.draw(plot_influence, position_influence(run), path)
    assert_png(path)  # leaving the `with` block waits for every drawing


def test_background_figures_raises_a_worker_error_in_the_caller(tmp_path):
    with pytest.raises(ValueError, match="cannot draw"):
        with BackgroundFigures() as figures:
            figures.draw(fail_to_draw, tmp_path / "never.png")


def test_a_loss_within_one_decade_keeps_its_label_and_legend_clear(tmp_path):
    from types import SimpleNamespace
    from reversal.report.plots import plot_training
    import reversal.report.plots as plots
    drawn = {}
    original = plots.save_figure
    plots.save_figure = lambda fig, path: drawn.setdefault("fig", fig)  # keep the figure to measure it
    try:
        plot_training(SimpleNamespace(loss=list(np.linspace(0.9, 0.3, 50)), heldout_accuracy=[0.5] * 50), None)
    finally:
        plots.save_figure = original
    fig = drawn["fig"]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # tick labels and the axis label find their places only when drawn
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    assert ax.yaxis.label.get_window_extent(renderer).x0 >= 0, \
        "the loss axis label starts left of the figure: are minor tick labels hidden for a loss within a decade?"
    legend = fig.legends[0].get_window_extent(renderer)
    assert legend.y1 <= ax.get_window_extent(renderer).y0, "the legend overlaps the axes, where the curves are"
