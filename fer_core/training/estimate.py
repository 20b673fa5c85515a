"""How long a run will take, before it starts: seconds per epoch from the runs already made here.

A student choosing epochs should see "about 4 min" rather than find out. The best figure is this
machine's own: the median seconds per epoch of finished runs with the same architecture on the same
amount of data; failing that, the same architecture on the other amount scaled by the number of
faces (an epoch's cost is linear in them); failing that, the figures measured on the development
machine (2 CPU cores), which say so.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from fer_core.training.runs import RunSummary

FULL_TRAINING_FACES = 28_709
# Measured on the 2-core development CPU: 30 epochs of 'tiny' on the 300-per-class sample in 1.5 min;
# the 1.77 M 'vgg' 110-140 s per epoch on all of Training.
MEASURED_HERE = {("tiny", True): 3.0, ("vgg", False): 125.0}


@dataclass(frozen=True)
class Estimate:
    seconds_per_epoch: float
    basis: str  # where the figure comes from, said beside it

    def total(self, epochs: int) -> float:
        return self.seconds_per_epoch * epochs


def describe_duration(seconds: float) -> str:
    """'about 45 s', 'about 4 min', 'about 2 h 10 min'."""
    if seconds < 90:
        return f"about {max(5, round(seconds / 5) * 5):.0f} s"
    minutes = round(seconds / 60)
    return f"about {minutes} min" if minutes < 90 else f"about {minutes // 60} h {minutes % 60:02d} min"


def estimate_epoch_seconds(arch: str, sample_per_class: int, runs: Sequence[RunSummary]) -> Estimate | None:
    """Seconds per epoch for ``arch`` on a sample of ``sample_per_class`` faces per class (0: all of Training)."""
    faces = 7 * sample_per_class if sample_per_class else FULL_TRAINING_FACES

    def faces_of(run: RunSummary) -> int:
        return 7 * run.sample_per_class if run.sample_per_class else FULL_TRAINING_FACES

    same = [run for run in runs if run.arch == arch and run.seconds_per_epoch]
    exact = [run.seconds_per_epoch for run in same if faces_of(run) == faces]
    if exact:
        return Estimate(statistics.median(exact), f"the median of {len(exact)} {arch} run{'s' if len(exact) > 1 else ''} here")
    if same:
        scaled = statistics.median(run.seconds_per_epoch * faces / faces_of(run) for run in same)
        return Estimate(scaled, f"{arch} runs here on another amount of data, scaled to {faces:,} faces")
    for (known_arch, on_sample), seconds in MEASURED_HERE.items():
        if known_arch == arch:
            known_faces = 7 * 300 if on_sample else FULL_TRAINING_FACES
            return Estimate(seconds * faces / known_faces, "measured on the project's 2-core development machine")
    return None
