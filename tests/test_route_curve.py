"""The route curve script: hours add up across a route's stages, and a folder that is not a run is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from route_curve import route_curve

HEADER = "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds\n"


def write_history(folder: Path, rows: list[tuple[int, float, float]]) -> Path:
    """A run folder whose history holds (epoch, val_accuracy, seconds) rows, as the trainer writes them."""
    folder.mkdir()
    lines = [f"{epoch}.0,1.0,0.5,1.0,{accuracy},0.01,{seconds}\n" for epoch, accuracy, seconds in rows]
    (folder / "history.csv").write_text(HEADER + "".join(lines))
    return folder


def test_a_second_stage_continues_the_hours_and_the_best_of_the_first(tmp_path: Path) -> None:
    first = write_history(tmp_path / "one", [(1, 0.40, 1800), (2, 0.60, 1800)])
    second = write_history(tmp_path / "two", [(1, 0.55, 3600), (2, 0.65, 3600)])
    points = route_curve([first, second])
    assert [(p.stage, p.epoch) for p in points] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert [p.hours for p in points] == pytest.approx([0.5, 1.0, 2.0, 3.0])
    assert [p.best for p in points] == pytest.approx([0.40, 0.60, 0.60, 0.65])


def test_a_folder_without_history_is_one_error_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "route_curve.py"), f"x={tmp_path}"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: x:") and "Traceback" not in result.stderr
