"""Is a model's confidence honest? Reliability bins and the expected calibration error.

The Live bars and Photos captions show probabilities to people, who read "80 % happy" as
"right four times in five". Label smoothing, averaging members and averaging TTA views all
soften probabilities, so how far the shown confidence is from the observed accuracy has to be
measured, not assumed.
"""

from __future__ import annotations

import numpy as np

CALIBRATION_BINS = 10


def reliability_bins(labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict]:
    """Faces grouped by the confidence of their top class into equal-width bins over [0, 1]:
    each non-empty bin's count, mean confidence and accuracy."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        members = index == b
        if members.any():
            rows.append({"low": b / bins, "high": (b + 1) / bins, "count": int(members.sum()),
                         "confidence": float(confidence[members].mean()), "accuracy": float(correct[members].mean())})
    return rows


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """The gap between confidence and accuracy, averaged over bins weighted by their faces
    (0: a model that says 80 % is right 80 % of the time)."""
    rows = reliability_bins(labels, probabilities, bins)
    total = sum(row["count"] for row in rows)
    return sum(row["count"] * abs(row["confidence"] - row["accuracy"]) for row in rows) / total if total else 0.0
