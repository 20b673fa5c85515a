"""The GPU helper's epoch planning, and one real side-by-side pair of tiny runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, random_faces, write_fer_csv

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from train_side_by_side import FINAL_EVALUATION_S, MARGIN_S, plan


def test_pace_ignores_the_compiling_first_epoch_and_a_fitting_guess_is_kept() -> None:
    choice = plan([30.0, 2.0, 2.0], since_launch=40.0, left=500.0, planned=180, max_epochs=300)
    assert choice.pace == 2.0 and choice.startup == 34.0
    assert choice.fitting == int((500 - 34 - FINAL_EVALUATION_S - MARGIN_S) // 2)  # 215
    assert choice.restart_with is None


@pytest.mark.parametrize(("planned", "expected"), [(300, 215), (100, 215), (180, None)])
def test_a_guess_that_overruns_or_wastes_time_is_restarted_with_what_fits(planned: int, expected: int | None) -> None:
    assert plan([30.0, 2.0, 2.0], since_launch=40.0, left=500.0, planned=planned, max_epochs=400).restart_with == expected


def test_restarts_respect_the_cap_and_give_up_when_nothing_fits() -> None:
    assert plan([30.0, 2.0, 2.0], since_launch=40.0, left=500.0, planned=50, max_epochs=120).restart_with == 120
    assert plan([30.0, 2.0, 2.0], since_launch=40.0, left=60.0, planned=180, max_epochs=300).restart_with is None


def test_epochs_that_seem_instant_do_not_crash_the_plan() -> None:
    """Once, epochs noticed in one poll gave a pace of zero and a ZeroDivisionError."""
    choice = plan([0.0, 0.0, 0.0], since_launch=5.0, left=100.0, planned=3, max_epochs=4)
    assert choice.pace > 0 and choice.restart_with == 4


@pytest.mark.slow
def test_two_tiny_runs_side_by_side_end_with_one_finished_run_each(tmp_path: Path) -> None:
    data = write_fer_csv(tmp_path / "fer.csv", random_faces(70, seed=3), np.tile(np.arange(7), 10),
                         ["Training"] * 56 + ["PublicTest"] * 14)
    out = tmp_path / "runs"
    result = subprocess.run(  # started outside the checkout, as the README's recipe may be
        [sys.executable, str(REPO_ROOT / "scripts" / "train_side_by_side.py"), "--data", str(data), "--out", str(out),
         "--deadline-s", "240", "--guess-epochs", "3", "--max-epochs", "4",
         "--run", "a=--arch tiny --seed 1", "--run", "b=--arch tiny --seed 2 --erasing 0.5"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for name in ("a", "b"):
        runs = [p for p in (out / name).iterdir() if p.is_dir()]
        assert len(runs) == 1 and (runs[0] / "best.keras").is_file()  # a restart leaves no abandoned run behind
        assert runs[0].name.endswith(f"-tiny-{name}")  # runs started together keep distinct ids
        epochs = len((runs[0] / "history.csv").read_text().splitlines()) - 1
        # 4 after a restart at the cap; 3 when the guess finished before the loop timed it (a busy machine)
        assert f"[{name}] exit 0, {epochs} of {epochs} epochs" in result.stdout and epochs in (3, 4)
