"""Reading a Prometheus text exposition as Prometheus stores it: series names exactly as written.

prometheus_client's parser is not used for names: it renames a counter's samples to `..._total`
whether or not the text says so, which would hide a query on a name Prometheus never stores.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_TYPE = re.compile(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$")

Samples = dict[str, list[tuple[dict[str, str], float]]]


@dataclass
class Exposition:
    """Samples by series name (each with its labels and value) and the declared families."""

    samples: Samples = field(default_factory=dict)
    families: dict[str, str] = field(default_factory=dict)

    def names(self) -> set[str]:
        """Every name a query may select: series names, and families declared without samples."""
        return set(self.samples) | set(self.families)

    def labels(self, name: str) -> set[str]:
        """The label names a series is exported with."""
        return {label for labels, _ in self.samples.get(name, []) for label in labels}

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include these."""
        return sum(
            value
            for sample_labels, value in self.samples.get(name, [])
            if labels.items() <= sample_labels.items()
        )


def parse_exposition(text: str) -> Exposition:
    """Parse the text format; a line that is neither a comment nor a sample fails the test."""
    samples: Samples = defaultdict(list)
    families: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            declared = _TYPE.match(line)
            if declared:
                families[declared.group(1)] = declared.group(2)
            continue
        sample = _SAMPLE.match(line)
        assert sample, f"not a Prometheus sample line: {line!r}"
        name, labels, value = sample.groups()
        samples[name].append((dict(_LABEL.findall(labels or "")), float(value)))
    return Exposition(dict(samples), families)
