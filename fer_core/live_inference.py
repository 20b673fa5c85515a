"""Which shipped classifier file, with or without flip averaging, the live path uses.

Chosen by measurement at publish time: every variant is scored on the validation split and
timed on one face, and the most accurate one within the single-face latency budget wins.
Averaging with the mirrored face (flip TTA) costs a second pass, which the quantised file can
afford where the float one cannot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_core.labels import IMAGE_SIZE

LATENCY_BUDGET_MS = 3.0  # one face, on the 2-core development CPU
VARIANT_FILES = ("model_float.tflite", "model_quant.tflite")


class FlipAveraged:
    """Average a classifier's probabilities over each face and its mirror image.

    FER2013 labels do not change under a horizontal flip, so the two views are two honest
    guesses; their mean is a little more accurate than either.
    """

    def __init__(self, classifier) -> None:
        self.classifier = classifier

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        # Two calls rather than one doubled batch, so a caller's batch size still bounds memory.
        faces = np.asarray(faces, np.float32).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
        return (self.classifier(faces) + self.classifier(faces[:, :, ::-1])) / 2


def measure_variants(model_dir: Path, images: np.ndarray, labels: np.ndarray, *, repeats: int = 200) -> list[dict]:
    """Accuracy on ``images`` and one-face median latency of each file, plain and flip-averaged."""
    from fer_core.bench import median_ms
    from fer_core.export import TFLiteClassifier

    one_face = np.asarray(images[:1], np.float32)
    rows = []
    for name in VARIANT_FILES:
        plain = TFLiteClassifier(model_dir / name)
        for flip in (False, True):
            classifier = FlipAveraged(plain) if flip else plain
            accuracy = float((classifier(images).argmax(1) == labels).mean())
            latency = median_ms(lambda classifier=classifier: classifier(one_face), repeats)
            rows.append({"file": name, "flip_tta": flip, "accuracy": accuracy, "latency_ms": latency})
    return rows


def choose_variant(rows: list[dict], budget_ms: float = LATENCY_BUDGET_MS) -> dict:
    """The most accurate variant within the budget (ties: the faster); if none fits, the fastest."""
    affordable = [row for row in rows if row["latency_ms"] <= budget_ms]
    if not affordable:
        return min(rows, key=lambda row: row["latency_ms"])
    return max(affordable, key=lambda row: (row["accuracy"], -row["latency_ms"]))
