"""Abstaining below a confidence: what it buys on a split, and how Live draws a face it is not sure of."""

import numpy as np
import pytest

from fer_core.evaluation.metrics import selective_accuracy
from fer_core.inference.drawing import UNSURE_COLOUR, annotate
from fer_core.inference.predictor import FaceResult
from fer_core.labels import CLASS_COLOURS, CLASS_NAMES, hex_to_bgr


def confident(label: int, share: float) -> np.ndarray:
    row = np.full(len(CLASS_NAMES), (1 - share) / (len(CLASS_NAMES) - 1))
    row[label] = share
    return row


def test_selective_accuracy_counts_only_the_faces_answered() -> None:
    labels = np.array([0, 1, 2, 3])
    probabilities = np.stack([confident(0, 0.9), confident(1, 0.6), confident(0, 0.55), confident(0, 0.3)])  # right, right, wrong, wrong
    table = selective_accuracy(labels, probabilities, thresholds=[0.0, 0.5, 0.58, 0.8, 0.95])
    assert table["faces"].tolist() == [4, 3, 2, 1, 0]
    assert table["coverage"].tolist() == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert table["accuracy"].tolist()[:4] == pytest.approx([0.5, 2 / 3, 1.0, 1.0]) and np.isnan(table["accuracy"].iloc[4])


def test_the_default_thresholds_run_from_zero_in_steps_of_five_points() -> None:
    table = selective_accuracy(np.array([3]), confident(3, 0.5)[None])
    assert table["threshold"].tolist() == pytest.approx([i / 20 for i in range(20)])


def test_a_face_below_the_line_is_drawn_grey_and_says_not_sure() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    face = FaceResult((100, 100, 80, 80), confident(3, 0.4).astype(np.float32), np.zeros((48, 48), np.uint8))
    sure = annotate(frame, [face])
    unsure = annotate(frame, [face], unsure_below=0.5)
    assert tuple(int(v) for v in sure[140, 100]) == hex_to_bgr(CLASS_COLOURS["happy"])  # the box's left edge
    assert tuple(int(v) for v in unsure[140, 100]) == UNSURE_COLOUR
    assert tuple(int(v) for v in annotate(frame, [face], unsure_below=0.4)[140, 100]) == hex_to_bgr(CLASS_COLOURS["happy"])  # at the line: sure
