"""The ablation table (``scripts/score_models.py``) on a tiny fixture: two runs of known CPU-hours
and one model file, scored on the fixture's PublicTest with the paired test against the first."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, random_faces, seeded_tiny_model, write_fer_csv

pytestmark = pytest.mark.slow


def run_folder(root: Path, name: str, model: Path, cpu_seconds: list[float]) -> Path:
    folder = root / name
    folder.mkdir()
    shutil.copy(model, folder / "best.keras")
    rows = "".join(f"{i + 1},1.9,0.2,1.9,0.2,0.001,{s / 2},{s},2,1000\n" for i, s in enumerate(cpu_seconds))
    (folder / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,cpu_seconds,cores,sitting\n" + rows)
    return folder


def test_the_table_gives_cpu_hours_accuracy_and_points_per_cpu_hour_against_the_first(tmp_path: Path) -> None:
    labels = np.tile(np.arange(7), 12)
    data = write_fer_csv(tmp_path / "fer.csv", random_faces(len(labels), seed=4), labels, ["Training"] * 56 + ["PublicTest"] * 28)
    models = []
    for seed in (1, 2):
        path = tmp_path / f"m{seed}.keras"
        seeded_tiny_model(seed).save(path)
        models.append(path)
    base = run_folder(tmp_path, "base", models[0], [1800, 1800])  # 1.00 CPU-hour
    longer = run_folder(tmp_path, "longer", models[1], [3600, 3600, 3600])  # 3.00 CPU-hours
    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "score_models.py"), "--data", str(data),
                             f"base={base}", str(longer), f"file={models[1]}"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    header, first, second, third = result.stdout.strip().splitlines()[-4:]
    assert header.split()[:3] == ["model", "CPU-h", "PT"]
    assert first.split()[:2] == ["base", "1.00"] and third.split()[:2] == ["file", "nan"]
    assert second.split()[:2] == ["longer", "3.00"]  # a bare folder is named after itself
    accuracies = [float(line.split()[2].rstrip("%")) for line in (first, second)]
    rate = float(second.split("  ")[-1].split(";")[0])
    assert rate == pytest.approx((accuracies[1] - accuracies[0]) / 2, abs=0.01)  # points over the 2 extra CPU-hours
    assert "p " in second and third.split("  ")[-1].startswith("—;")  # a file has no hours: no rate, still a paired test
    missing = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "score_models.py"), "--data", str(data),
                              f"x={tmp_path / 'nowhere.keras'}"], capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
