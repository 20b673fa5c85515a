"""Test-time augmentation views and choosing the live classifier variant within the latency budget."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_faces

from fer_core.errors import FerError
from fer_core.evaluation.metrics import probabilities_by_mode
from fer_core.nets.live_variants import choose_variant, variant_tta
from fer_core.nets.tta import TTA_MODES, ViewAveraged, views, with_tta, zoomed


def row(file: str, flip: bool, accuracy: float, latency: float) -> dict:
    return {"file": file, "tta": "flip" if flip else "none", "accuracy": accuracy, "latency_ms": latency}


def test_the_most_accurate_variant_within_the_budget_wins() -> None:
    rows = [row("float", False, 0.640, 2.4), row("float", True, 0.650, 4.8), row("quant", False, 0.638, 0.6), row("quant", True, 0.647, 1.2)]
    assert choose_variant(rows, budget_ms=3.0) == rows[3]
    assert choose_variant(rows, budget_ms=5.0) == rows[1]


def test_variants_scored_with_the_models_rule_are_chosen_by_the_answers_live_gives() -> None:
    rows = [row("quant", False, 0.640, 1.2), row("quant", True, 0.647, 2.4)]
    assert choose_variant(rows, budget_ms=3.0) == rows[1]  # raw answers only: the mirror wins
    rows[0]["accuracy_balanced"], rows[1]["accuracy_balanced"] = 0.652, 0.645
    assert choose_variant(rows, budget_ms=3.0) == rows[0]  # rebalanced, the single pass answers better


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
    averaged = ViewAveraged(left_heavy, "flip")(faces)
    expected = (left_heavy(faces) + left_heavy(faces[:, :, ::-1])) / 2
    np.testing.assert_allclose(averaged, expected, rtol=1e-6)
    np.testing.assert_allclose(averaged[:, 0], 0.5, rtol=1e-6)  # mirroring swaps the halves


def test_the_live_pages_name_the_published_choice_and_fall_back_without_one(tmp_path) -> None:
    import json

    from fer_core.inference.predictor import describe_live_classifier

    model = tmp_path / "model.keras"
    assert "float TFLite copy" in describe_live_classifier(model)
    choice = row("model_quant.tflite", True, 0.6432, 1.21)
    (tmp_path / "metrics.json").write_text(json.dumps({"live_inference": choice}))
    assert describe_live_classifier(model) == (
        "Classifier: `model_quant.tflite` with flip TTA, chosen at publish time: 64.3% on PublicTest, 1.2 ms per face."
    )
    (tmp_path / "metrics.json").write_text(json.dumps({"live_inference": {**choice, "tta": "sixteen-crops"}}))
    assert "float TFLite copy" in describe_live_classifier(model)  # an unknown mode is not trusted either
    (tmp_path / "metrics.json").write_text(json.dumps({"live_inference": {**choice, "file": "../../etc/passwd"}}))
    assert "float TFLite copy" in describe_live_classifier(model)  # only the two shipped file names are trusted


def test_zoom_scales_a_face_about_its_centre() -> None:
    face = np.zeros((1, 48, 48), np.float32)
    face[0, 14:34, 14:34] = 255  # a bright 20-pixel square in the middle
    np.testing.assert_allclose(zoomed(face, 1.0), face)
    width = {scale: (zoomed(face, scale)[0, 24] > 127).sum() for scale in (0.9, 1.1)}
    assert width == {0.9: 18, 1.1: 22}
    assert (zoomed(face, 1.1)[0, 24, :24] > 127).sum() == (zoomed(face, 1.1)[0, 24, 24:] > 127).sum()  # still centred


def test_flip_zoom_averages_six_views_and_none_is_the_classifier_itself() -> None:
    faces = random_faces(2).astype(np.float32)
    six = views(faces, "flip-zoom")
    assert len(six) == 6 and len(views(faces, "flip")) == 2
    np.testing.assert_array_equal(six[0], faces)
    np.testing.assert_array_equal(six[1], faces[:, :, ::-1])
    np.testing.assert_array_equal(six[3], six[2][:, :, ::-1])

    def mean_brightness(batch: np.ndarray) -> np.ndarray:
        return np.repeat(np.asarray(batch, np.float32).mean(axis=(1, 2))[:, None], 7, axis=1)

    expected = np.mean([mean_brightness(view) for view in six], axis=0)
    np.testing.assert_allclose(with_tta(mean_brightness, "flip-zoom")(faces), expected, rtol=1e-6)
    assert with_tta(mean_brightness, "none") is mean_brightness
    with pytest.raises(FerError, match="unknown test-time augmentation"):
        with_tta(mean_brightness, "ten-crop")


def test_every_mode_from_six_passes_matches_each_mode_scored_alone() -> None:
    weights = np.random.default_rng(0).normal(size=(48 * 48, 7)).astype(np.float32) / 48 / 255
    passes = []

    def lopsided(batch: np.ndarray) -> np.ndarray:  # a linear classifier: mirror and zoom change its output
        passes.append(len(batch))
        logits = np.asarray(batch, np.float32).reshape(len(batch), -1) @ weights
        return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    faces = random_faces(5)
    by_mode = probabilities_by_mode(lopsided, faces, batch_size=3)
    assert passes == [3] * 6 + [2] * 6  # six views of each batch, whatever the modes
    for mode in TTA_MODES:
        np.testing.assert_allclose(by_mode[mode], with_tta(lopsided, mode)(faces.astype(np.float32)), rtol=1e-6)
    assert not np.allclose(by_mode["none"], by_mode["flip"]) and not np.allclose(by_mode["flip"], by_mode["flip-zoom"])


def test_models_published_before_zoom_tta_keep_their_flip_choice() -> None:
    assert variant_tta({"file": "model_quant.tflite", "flip_tta": True}) == "flip"
    assert variant_tta({"file": "model_quant.tflite", "flip_tta": False}) == "none"
    assert variant_tta(row("model_quant.tflite", True, 0.6, 1.2)) == "flip"
