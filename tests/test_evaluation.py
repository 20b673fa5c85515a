"""Prediction files a researcher takes away: per-face predictions and a Kaggle-style submission."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from test_cli_data import run_cli

from fer_core.evaluation import predictions_table
from fer_core.labels import CLASS_NAMES


def test_predictions_table_has_a_row_per_face_in_split_order() -> None:
    labels = np.array([3, 0, 6])
    probabilities = np.eye(7)[[3, 5, 6]] * 0.7 + 0.3 / 7
    table = predictions_table(labels, probabilities)
    assert list(table.columns) == ["face", "true", "predicted", "correct", "confidence", *[f"p_{name}" for name in CLASS_NAMES]]
    assert table["face"].tolist() == [0, 1, 2] and table["true"].tolist() == ["happy", "angry", "neutral"]
    assert table["predicted"].tolist() == ["happy", "surprise", "neutral"] and table["correct"].tolist() == [True, False, True]
    assert np.allclose(table[[f"p_{name}" for name in CLASS_NAMES]].sum(axis=1), 1.0, atol=1e-3)


def test_cli_evaluate_writes_predictions_that_match_its_accuracy(finished_run: Path, tmp_path: Path) -> None:
    data = json.loads((finished_run / "config.json").read_text())["data"]
    out = tmp_path / "predictions.csv"
    result = run_cli("evaluate", "--data", data, "--model", str(finished_run / "best.keras"), "--predictions", str(out), "--json")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert len(table) == 14 and table["correct"].mean() == json.loads(result.stdout)["accuracy"]
    unwritable = run_cli("evaluate", "--data", data, "--model", str(finished_run / "best.keras"),
                         "--predictions", str(tmp_path / "missing" / "p.csv"))
    assert unwritable.returncode == 2 and unwritable.stderr.startswith("error: cannot write") and len(unwritable.stderr.splitlines()) == 1


def test_cli_predict_csv_writes_one_label_per_row_and_refuses_an_unwritable_path(finished_run: Path, tmp_path: Path) -> None:
    data = json.loads((finished_run / "config.json").read_text())["data"]
    out = tmp_path / "submission.csv"
    result = run_cli("predict-csv", "--data", data, "--model", str(finished_run / "best.keras"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == ["emotion"] and len(table) == 70 and table["emotion"].between(0, 6).all()
    unwritable = run_cli("predict-csv", "--data", data, "--model", str(finished_run / "best.keras"),
                         "--out", str(tmp_path / "missing" / "submission.csv"))
    assert unwritable.returncode == 2 and unwritable.stderr.startswith("error: cannot write") and len(unwritable.stderr.splitlines()) == 1
