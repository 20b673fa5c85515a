"""Accuracy intervals and the paired test that tells two models apart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import seeded_tiny_model
from test_cli_data import run_cli

from fer_core.evaluation.significance import (
    describe_comparison,
    exact_mcnemar_p,
    format_p_value,
    paired_comparison,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("correct", "total", "expected"),
    [(5, 10, (0.2366, 0.7634)), (0, 10, (0.0, 0.2775)), (10, 10, (0.7225, 1.0)), (2402, 3589, (0.6538, 0.6845))],
)
def test_wilson_interval_matches_published_values(correct: int, total: int, expected: tuple[float, float]) -> None:
    low, high = wilson_interval(correct, total)
    assert low == pytest.approx(expected[0], abs=1e-4) and high == pytest.approx(expected[1], abs=1e-4)
    assert low <= correct / total <= high


def test_wilson_interval_narrows_as_faces_grow_and_knows_nothing_of_no_faces() -> None:
    widths = [np.subtract(*wilson_interval(n * 2 // 3, n)[::-1]) for n in (56, 467, 3589)]
    assert widths[0] > widths[1] > widths[2] > 0
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_exact_mcnemar_p_is_the_two_sided_binomial_tail() -> None:
    assert exact_mcnemar_p(0, 0) == 1.0
    assert exact_mcnemar_p(10, 0) == exact_mcnemar_p(0, 10) == pytest.approx(2 / 1024)
    assert exact_mcnemar_p(3, 7) == pytest.approx(2 * (1 + 10 + 45 + 120) / 1024)
    assert exact_mcnemar_p(5, 5) == 1.0
    assert exact_mcnemar_p(126, 80) == pytest.approx(0.00165, rel=0.01)  # large counts stay exact integers


def test_paired_comparison_counts_only_the_faces_where_one_model_is_right() -> None:
    labels = np.array([0, 1, 2, 3, 4, 5])
    a = np.array([0, 1, 2, 0, 0, 0])  # right on 0, 1, 2
    b = np.array([0, 0, 0, 3, 4, 0])  # right on 0, 3, 4
    comparison = paired_comparison(labels, a, b)
    assert (comparison.n, comparison.only_a, comparison.only_b) == (6, 2, 2)
    assert comparison.difference == 0 and comparison.p_value == 1.0 and not comparison.significant
    assert "the same number of faces" in describe_comparison(comparison)
    with pytest.raises(ValueError, match="differ in shape"):
        paired_comparison(labels, a[:5], b)


def test_describe_comparison_names_the_leader_and_the_verdict() -> None:
    labels = np.zeros(40, int)
    better, worse = np.zeros(40, int), np.r_[np.ones(12, int), np.zeros(28, int)]
    text = describe_comparison(paired_comparison(labels, worse, better), "old", "new")
    assert text.startswith("New is ahead of old by 30.00 percentage points") and "0 are right only for old and 12 only for new" in text
    assert "unlikely to be chance" in text and "p < 0.001" in text  # 0.00049 is not 'p = 0'
    assert format_p_value(0.0312) == "0.0312" and format_p_value(1e-9) == "< 0.001"
    close = describe_comparison(paired_comparison(labels, np.r_[1, np.zeros(39, int)], better), "old", "new")
    assert "within what chance alone produces" in close


def test_cli_compare_reports_both_models_and_the_paired_test(finished_run: Path, tmp_path: Path) -> None:
    data = json.loads((finished_run / "config.json").read_text())["data"]
    other = tmp_path / "other.keras"
    seeded_tiny_model(1).save(other)
    result = run_cli("compare", str(finished_run), str(other), "--data", data, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 14 and report["models"][1] == str(other)
    assert report["accuracy"][0] - report["accuracy"][1] == pytest.approx((report["only_a"] - report["only_b"]) / 14)
    assert report["p_value"] == pytest.approx(exact_mcnemar_p(report["only_a"], report["only_b"]))
    assert all(low <= accuracy <= high for accuracy, (low, high) in zip(report["accuracy"], report["accuracy_interval"], strict=True))
    text = run_cli("compare", str(finished_run), str(other), "--data", data, "--tta")
    assert text.returncode == 0 and "flip TTA" in text.stdout and "exact McNemar p " in text.stdout
    missing = run_cli("compare", str(finished_run), "no-such-run", "--data", data)
    assert missing.returncode == 2 and missing.stderr.strip() == "error: no-such-run is neither a .keras file nor a training run"
