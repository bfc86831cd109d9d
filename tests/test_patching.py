"""Activation patching: a whole layer restores everything, a neuron that never fires restores nothing."""

import numpy as np
import pytest

from conftest import DEAD, assert_png
from reversal.patching import activation_patching, plot_patching


@pytest.fixture(scope="module")
def patching(trained, sequences):
    return activation_patching(trained.model, sequences, trained.data.vocab, trained.cfg.device)


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_patching_a_whole_layer_restores_the_clean_output(patching, layer):
    whole = patching[layer]["whole_layer"]
    np.testing.assert_allclose(whole, 1.0, atol=1e-5, err_msg=(
        f"patching all of {layer} from the clean run should give back the clean logits exactly: did the hook "
        f"forget to return the patched tensor, or patch from the wrong cache?"))


@pytest.mark.parametrize("layer", ["hidden1", "hidden2"])
def test_patching_a_neuron_that_never_fires_restores_nothing(dead_neuron_model, trained, sequences, layer):
    # its clean value and its corrupted value are both 0: the patch changes nothing, so nothing can come back
    patching = activation_patching(dead_neuron_model, sequences, trained.data.vocab, trained.cfg.device)
    restored = patching[layer]["neurons"][DEAD]
    np.testing.assert_allclose(restored, 0.0, atol=1e-6, err_msg=(
        f"patching {layer} neuron {DEAD}, which is 0 in every run, restored {restored}: is block n of the batched "
        f"run patching a different neuron than n?"))


def test_plot_patching_draws_a_png(patching, tmp_path):
    path = tmp_path / "plot_patching.png"
    plot_patching(patching, path)
    assert_png(path)
