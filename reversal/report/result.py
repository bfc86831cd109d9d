"""What a technique returns: its measurements, and a finding that says what they mean, in layers.

    probes = probe_accuracy(run)
    probes["trained"]["letters"]       # a measurement, read like a dict
    probes.to_json()                   # what metrics.json keeps: numbers and lists, no prose
    finding = probes.finding()         # the wording, computed from the measurements
    finding.headline                   # one sentence, at most about 40 words
    finding.numbers                    # the few numbers to look at, by name
    print(finding)                     # headline, evidence and caveats: the full printout

A printer cuts a finding to the size it needs: a short log prints the headlines, a verbose one everything.
"""

from dataclasses import dataclass, field

import numpy as np

HEADLINE_WORDS = 40  # a headline longer than this is a paragraph: move the rest into evidence


@dataclass
class Finding:
    headline: str  # one sentence, computed from the run
    numbers: dict = field(default_factory=dict)  # name -> number: the few a reader should look at
    evidence: list = field(default_factory=list)  # lines: the measurements behind the headline
    caveats: list = field(default_factory=list)  # lines: the controls' limits, and what this does not show

    def lines(self):
        """The full printout, one string a line."""
        return [self.headline, *self.evidence, *self.caveats]

    def __str__(self):
        return "\n".join(self.lines())

    def __add__(self, other):
        """Two findings told as one: the first's headline, then both's evidence and caveats, the second's headline
        as evidence."""
        return Finding(self.headline, {**self.numbers, **other.numbers},
                       self.evidence + [other.headline] + other.evidence, self.caveats + other.caveats)


class Result:
    """A technique's measurements. `values` go to metrics.json; `arrays` are kept for the figure and the sentences
    only (large, or numpy); both read as result[key]. A technique subclasses this and writes finding()."""

    def __init__(self, values, arrays=None):
        self.values = values
        self.arrays = arrays or {}

    def __getitem__(self, key):
        return self.values[key] if key in self.values else self.arrays[key]

    def __contains__(self, key):
        return key in self.values or key in self.arrays

    def get(self, key, default=None):
        return self[key] if key in self else default

    def keys(self):
        return self.values.keys()

    def to_json(self):
        """The values, numbers and lists all the way down (numpy arrays become lists, nested results their json)."""
        return jsonable(self.values)

    def finding(self):
        raise NotImplementedError(f"{type(self).__name__} says nothing yet: write its finding()")

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(self.values)})"


def jsonable(value):
    if isinstance(value, Result):
        return value.to_json()
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
