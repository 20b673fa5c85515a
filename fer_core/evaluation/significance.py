"""How sure an accuracy is: Wilson intervals for one model, paired tests for two.

PublicTest holds 3,589 faces, so a single accuracy near 67 % carries about ±1.5 points of
sampling error (95 %): the gaps this project chose models by were often a few tenths. Two
models scored on the *same* faces are compared more sharply by McNemar's exact test, which
looks only at the faces where exactly one of them is right; researchers need both numbers to
tell a gain from luck.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959963984540054  # two-sided 95 % quantile of the standard normal
SIGNIFICANCE_LEVEL = 0.05


def wilson_interval(correct: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The 95 % Wilson score interval of ``correct / total``.

    Wilson rather than the textbook ±z·√(p(1−p)/n): it stays inside [0, 1] and keeps its
    coverage for the small per-class counts (disgust has 56 PublicTest faces).
    """
    if total <= 0:
        return 0.0, 1.0
    share = correct / total
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    half_width = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    # The interval always holds the observed share; min/max only undo rounding (10 of 10 gave 0.9999…).
    return max(0.0, min(share, centre - half_width)), min(1.0, max(share, centre + half_width))


@dataclass(frozen=True)
class PairedComparison:
    """Two models' answers on the same faces, reduced to what McNemar's test needs."""

    n: int
    only_a: int  # faces A gets right and B gets wrong
    only_b: int  # faces B gets right and A gets wrong
    p_value: float

    @property
    def difference(self) -> float:
        """Accuracy of A minus accuracy of B."""
        return (self.only_a - self.only_b) / self.n if self.n else 0.0

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE_LEVEL


def exact_mcnemar_p(only_a: int, only_b: int) -> float:
    """Two-sided exact p-value: under "equally good", each disagreement is a fair coin toss.

    Python's integers keep the binomial sums exact for any number of faces.
    """
    disagreements = only_a + only_b
    if disagreements == 0:
        return 1.0
    tail = sum(math.comb(disagreements, k) for k in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2**disagreements)


def paired_comparison(labels: np.ndarray, predictions_a: np.ndarray, predictions_b: np.ndarray) -> PairedComparison:
    """Compare two models' predicted classes on the same labelled faces."""
    labels, predictions_a, predictions_b = (np.asarray(array) for array in (labels, predictions_a, predictions_b))
    if not labels.shape == predictions_a.shape == predictions_b.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions_a.shape}, {predictions_b.shape} differ in shape")
    right_a, right_b = predictions_a == labels, predictions_b == labels
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    return PairedComparison(n=len(labels), only_a=only_a, only_b=only_b, p_value=exact_mcnemar_p(only_a, only_b))


def describe_interval(correct: int, total: int) -> str:
    """The interval as a caption or a CLI line shows it, e.g. "95% interval 65.4%–68.4%"."""
    low, high = wilson_interval(correct, total)
    return f"95% interval {low:.1%}–{high:.1%}"


def format_p_value(p_value: float) -> str:
    """A p-value as people read it: '< 0.001' rather than a rounded 'p = 0', which no test can give."""
    return "< 0.001" if p_value < 0.001 else f"{p_value:.3g}"


def describe_comparison(comparison: PairedComparison, name_a: str = "A", name_b: str = "B") -> str:
    """One plain sentence a student can read: who is ahead, by how much, and whether chance explains it."""
    if comparison.only_a == comparison.only_b:
        lead = f"{name_a} and {name_b} are right on the same number of faces"
    else:
        ahead, behind = (name_a, name_b) if comparison.only_a > comparison.only_b else (name_b, name_a)
        lead = f"{ahead} is ahead of {behind} by {abs(comparison.difference) * 100:.2f} percentage points"
    verdict = (
        "unlikely to be chance" if comparison.significant
        else "within what chance alone produces on this many faces"
    )
    return (
        f"{lead[0].upper()}{lead[1:]}: of {comparison.n:,} faces, {comparison.only_a:,} are right only for {name_a} and "
        f"{comparison.only_b:,} only for {name_b} (exact McNemar p {'' if comparison.p_value < 0.001 else '= '}{format_p_value(comparison.p_value)}, {verdict})."
    )
