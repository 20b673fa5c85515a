"""Reliability bins and the expected calibration error."""

from __future__ import annotations

import numpy as np
import pytest

from fer_core.evaluation.calibration import expected_calibration_error, reliability_bins


def _confident(top: float, labels_predicted: np.ndarray) -> np.ndarray:
    """Probabilities that put ``top`` on the predicted class and share the rest evenly."""
    probabilities = np.full((len(labels_predicted), 7), (1 - top) / 6)
    probabilities[np.arange(len(labels_predicted)), labels_predicted] = top
    return probabilities


def test_a_model_right_as_often_as_it_claims_has_no_calibration_error() -> None:
    labels = np.zeros(10, int)
    predicted = np.r_[np.zeros(8, int), np.ones(2, int)]  # right on 8 of 10 at 80 % confidence
    assert expected_calibration_error(labels, _confident(0.8, predicted)) == pytest.approx(0.0)


def test_overconfidence_is_the_gap_weighted_by_faces() -> None:
    labels = np.zeros(20, int)
    sure_half_right = _confident(0.95, np.r_[np.zeros(5, int), np.ones(5, int)])  # says 95 %, right 50 %
    modest_all_right = _confident(0.55, np.zeros(10, int))  # says 55 %, right 100 %
    probabilities = np.concatenate([sure_half_right, modest_all_right])
    bins = reliability_bins(labels, probabilities)
    assert [(row["low"], row["count"]) for row in bins] == [(0.5, 10), (0.9, 10)]  # empty bins are left out
    assert [row["accuracy"] for row in bins] == [1.0, 0.5]
    assert expected_calibration_error(labels, probabilities) == pytest.approx((0.45 + 0.45) / 2)


def test_full_confidence_falls_in_the_last_bin_and_no_faces_mean_no_error() -> None:
    bins = reliability_bins(np.array([0]), np.eye(7)[[0]])
    assert len(bins) == 1 and bins[0]["high"] == 1.0 and bins[0]["count"] == 1
    assert expected_calibration_error(np.zeros(0, int), np.zeros((0, 7))) == 0.0
