"""Choosing the live classifier variant: flip averaging and the latency-bounded choice."""

from __future__ import annotations

import numpy as np
from conftest import random_faces

from fer_core.live_inference import FlipAveraged, choose_variant


def row(file: str, flip: bool, accuracy: float, latency: float) -> dict:
    return {"file": file, "flip_tta": flip, "accuracy": accuracy, "latency_ms": latency}


def test_the_most_accurate_variant_within_the_budget_wins() -> None:
    rows = [row("float", False, 0.640, 2.4), row("float", True, 0.650, 4.8), row("quant", False, 0.638, 0.6), row("quant", True, 0.647, 1.2)]
    assert choose_variant(rows, budget_ms=3.0) == rows[3]
    assert choose_variant(rows, budget_ms=5.0) == rows[1]


def test_when_nothing_fits_the_budget_the_fastest_is_used() -> None:
    rows = [row("float", False, 0.64, 9.0), row("quant", False, 0.60, 4.0)]
    assert choose_variant(rows, budget_ms=3.0) == rows[1]


def test_flip_averaging_is_the_mean_over_the_face_and_its_mirror() -> None:
    def left_heavy(faces: np.ndarray) -> np.ndarray:
        """A stand-in classifier whose output depends on which half of the face is brighter."""
        faces = np.asarray(faces, np.float32)
        left = faces[:, :, :24].mean(axis=(1, 2))
        right = faces[:, :, 24:].mean(axis=(1, 2))
        p = np.zeros((len(faces), 7), np.float32)
        p[:, 0] = left / (left + right)
        p[:, 1] = right / (left + right)
        return p

    faces = random_faces(3).astype(np.float32)
    averaged = FlipAveraged(left_heavy)(faces)
    expected = (left_heavy(faces) + left_heavy(faces[:, :, ::-1])) / 2
    np.testing.assert_allclose(averaged, expected, rtol=1e-6)
    np.testing.assert_allclose(averaged[:, 0], 0.5, rtol=1e-6)  # mirroring swaps the halves


def test_the_live_pages_name_the_published_choice_and_fall_back_without_one(tmp_path) -> None:
    import json

    from fer_core.predictor import describe_live_classifier

    model = tmp_path / "model.keras"
    assert "float TFLite copy" in describe_live_classifier(model)
    choice = row("model_quant.tflite", True, 0.6432, 1.21)
    (tmp_path / "metrics.json").write_text(json.dumps({"live_inference": choice}))
    assert describe_live_classifier(model) == (
        "Classifier: `model_quant.tflite` with flip averaging, chosen at publish time: 64.3% on PublicTest, 1.2 ms per face."
    )
    (tmp_path / "metrics.json").write_text(json.dumps({"live_inference": {**choice, "file": "../../etc/passwd"}}))
    assert "float TFLite copy" in describe_live_classifier(model)  # only the two shipped file names are trusted
