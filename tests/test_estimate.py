"""Duration estimates for the Train form."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_core.training.estimate import describe_duration, estimate_epoch_seconds
from fer_core.training.runs import RunSummary


def _run(arch: str, sample: int, seconds: float) -> RunSummary:
    return RunSummary(run_id="r", path=Path("/r"), state="finished", arch=arch, epochs=1, epochs_done=1,
                      best_val_accuracy=0.5, seconds_per_epoch=seconds, sample_per_class=sample)


def test_runs_made_here_come_first_then_scaled_then_the_development_machine() -> None:
    runs = [_run("vgg", 300, 10.0), _run("vgg", 300, 12.0), _run("tiny", 0, 41.0)]
    assert estimate_epoch_seconds("vgg", 300, runs).seconds_per_epoch == 11.0
    scaled = estimate_epoch_seconds("vgg", 0, runs)
    assert scaled.seconds_per_epoch == pytest.approx(11.0 * 28_709 / 2_100) and "scaled" in scaled.basis
    fallback = estimate_epoch_seconds("vgg", 0, [])
    assert fallback.seconds_per_epoch == 125.0 and "development machine" in fallback.basis
    assert estimate_epoch_seconds("mini_xception", 300, []) is None  # never measured: say so rather than guess


def test_durations_read_as_people_say_them() -> None:
    assert describe_duration(42) == "about 40 s"
    assert describe_duration(250) == "about 4 min"
    assert describe_duration(3 * 3600 + 600) == "about 3 h 10 min"
