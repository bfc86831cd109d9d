"""Over seeds: each headline number as a median and range, a yes-or-no one as a count of the seeds that say yes."""

from conftest import assert_finding
from reversal.studies.seeds import AcrossSeeds

ACROSS = {"seeds": [42, 43, 44],
          "numbers": {"heldout_accuracy": {"median": 1.0, "min": 0.8, "max": 1.0, "per_seed": [1.0, 0.8, 1.0]},
                      "clean": {"median": 0.0, "min": 0.0, "max": 1.0, "per_seed": [1.0, 0.0, 0.0]}}}
DESCRIPTIONS = {"heldout_accuracy": ("held-out sequences reversed", "{:.0%}"), "clean": ("clean circuit", "{:.0f}")}


def test_a_yes_or_no_number_is_counted_and_a_measured_one_gets_its_median_and_range():
    text = str(AcrossSeeds(ACROSS, {"descriptions": DESCRIPTIONS}).finding())
    assert "clean circuit: 1 of 3 seeds (42)" in text, text
    assert "held-out sequences reversed: 100% (80% to 100%)" in text, text
    assert "do not reverse every held-out sequence: 43" in text, text


def test_the_seeds_finding_is_layered():
    across = AcrossSeeds(ACROSS, {"descriptions": DESCRIPTIONS})
    assert_finding(across)
    assert across.to_json() == ACROSS, "metrics.json keeps the seeds and the numbers; the descriptions are wording"
