"""Prediction files a researcher takes away: per-face predictions and a Kaggle-style submission."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import random_faces, write_fer_csv
from test_cli_data import run_cli

from fer_core.data.loading import FerDataset
from fer_core.data.stats import training_copies
from fer_core.evaluation.metrics import describe_training_copies, predictions_table, training_copies_breakdown
from fer_core.labels import CLASS_NAMES


def test_predictions_table_has_a_row_per_face_in_split_order() -> None:
    labels = np.array([3, 0, 6])
    probabilities = np.eye(7)[[3, 5, 6]] * 0.7 + 0.3 / 7
    table = predictions_table(labels, probabilities, np.array([False, True, False]))
    assert list(table.columns) == ["face", "true", "predicted", "correct", "in_training", "confidence",
                                   *[f"p_{name}" for name in CLASS_NAMES]]
    assert table["in_training"].tolist() == [False, True, False]
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


def test_faces_also_in_training_are_found_and_scored_apart(tmp_path: Path) -> None:
    images = random_faces(12, seed=5)
    images[9], images[10] = images[0], images[3]  # two PublicTest faces copied from Training
    dataset = FerDataset(images, np.arange(12) % 7, np.array(["Training"] * 8 + ["PublicTest"] * 4))
    in_training = training_copies(dataset, "PublicTest")
    assert in_training.tolist() == [False, True, True, False]
    assert not training_copies(dataset, "Training").any()  # a split is not a leak of itself
    labels = dataset.split("PublicTest").labels
    probabilities = np.eye(7)[[labels[0], labels[1], labels[2], (labels[3] + 1) % 7]]  # right, right, right, wrong
    breakdown = training_copies_breakdown(labels, probabilities, in_training)
    assert breakdown["faces"] == 2 and breakdown["accuracy_on_them"] == 1.0
    assert breakdown["faces_without"] == 2 and breakdown["accuracy_without"] == 0.5
    assert describe_training_copies(breakdown).startswith("2 of these faces are also in Training, byte for byte: 100.0% right")


def test_cli_evaluate_reports_and_can_leave_out_faces_also_in_training(tmp_path: Path, tiny_model_file: Path) -> None:
    images = random_faces(70, seed=3)
    images[60:64] = images[:4]  # four PublicTest faces are Training faces
    data = write_fer_csv(tmp_path / "fer.csv", images, np.tile(np.arange(7), 10), ["Training"] * 56 + ["PublicTest"] * 14)
    full = run_cli("evaluate", "--data", str(data), "--model", str(tiny_model_file), "--json", "--predictions", str(tmp_path / "p.csv"))
    assert full.returncode == 0, full.stderr
    report = json.loads(full.stdout)
    assert report["n"] == 14 and report["training_copies"]["faces"] == 4 and report["training_copies"]["faces_without"] == 10
    assert [row["threshold"] for row in report["not_sure"]] == [0.5, 0.7]
    assert all((row["accuracy"] is None) == (row["faces"] == 0) for row in report["not_sure"])  # JSON null, never NaN
    assert pd.read_csv(tmp_path / "p.csv")["in_training"].sum() == 4
    text = run_cli("evaluate", "--data", str(data), "--model", str(tiny_model_file))
    assert "4 of these faces are also in Training" in text.stdout
    clean = json.loads(run_cli("evaluate", "--data", str(data), "--model", str(tiny_model_file), "--json",
                               "--without-training-copies").stdout)
    assert clean["n"] == 10 and "training_copies" not in clean
    assert clean["accuracy"] == pytest.approx(report["training_copies"]["accuracy_without"])


def test_most_confident_lists_one_cell_of_the_confusion_matrix_surest_first() -> None:
    from fer_core.evaluation.metrics import most_confident

    labels = np.array([2, 2, 2, 3, 2])
    probabilities = np.full((5, 7), 0.05)
    probabilities[[0, 1, 3, 4], 4] = [0.6, 0.9, 0.95, 0.3]  # faces 0, 1 and 3 are called sad (4); face 4 is not
    probabilities[4, 2] = 0.7
    assert most_confident(labels, probabilities, 2, 4, 10).tolist() == [1, 0]  # face 3 is happy, not fear
    assert most_confident(labels, probabilities, 2, 4, 1).tolist() == [1]
