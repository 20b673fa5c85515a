"""Which shipped classifier file, with which test-time augmentation, the live path uses.

Chosen by measurement at publish time: every variant is scored on the validation split and
timed on one face, and the most accurate one within the single-face latency budget wins, scored
by the decision Live answers with (the model's balanced rule where it has one), since a variant
that leads on raw answers may not lead once the rule rebalances them.
Averaging with the mirrored face (flip TTA) costs a second pass, which the quantised file can
afford where the float one cannot; six passes (flip-zoom) fit only a small single net.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_core.evaluation.metrics import probabilities_by_mode
from fer_core.nets.classifiers import TFLiteClassifier
from fer_core.nets.decision import DecisionRule
from fer_core.nets.latency import median_ms
from fer_core.nets.tta import TTA_MODES, with_tta

LATENCY_BUDGET_MS = 3.0  # one face, on the 2-core development CPU
VARIANT_FILES = ("model_float.tflite", "model_quant.tflite")


def measure_variants(model_dir: Path, images: np.ndarray, labels: np.ndarray, *, rule: DecisionRule | None = None,
                     repeats: int = 200) -> list[dict]:
    """Accuracy on ``images`` and one-face median latency of each file with each TTA mode; with
    the model's decision ``rule``, also the accuracy of the answers it gives (``accuracy_balanced``)."""

    one_face = np.asarray(images[:1], np.float32)
    rows = []
    for name in VARIANT_FILES:
        plain = TFLiteClassifier(model_dir / name)
        by_mode = probabilities_by_mode(plain, images)
        for mode in TTA_MODES:
            classifier = with_tta(plain, mode)
            accuracy = float((by_mode[mode].argmax(1) == labels).mean())
            latency = median_ms(lambda classifier=classifier: classifier(one_face), repeats)
            row = {"file": name, "tta": mode, "accuracy": accuracy, "latency_ms": latency}
            if rule is not None:
                row["accuracy_balanced"] = _accuracy_by_rule(rule, by_mode[mode], labels)
            rows.append(row)
    return rows


def rescore_variants(model_dir: Path, rows: list[dict], images: np.ndarray, labels: np.ndarray, rule: DecisionRule) -> list[dict]:
    """``rows`` (as ``measure_variants`` made them) with each variant's accuracy under ``rule``
    added: for a model given its rule after publishing. Latencies are kept, not re-timed, so the
    figures stay those of the publishing machine."""
    by_file = {name: probabilities_by_mode(TFLiteClassifier(model_dir / name), images) for name in {row["file"] for row in rows}}
    return [{**row, "accuracy_balanced": _accuracy_by_rule(rule, by_file[row["file"]][variant_tta(row)], labels)} for row in rows]


def _accuracy_by_rule(rule: DecisionRule, probabilities: np.ndarray, labels: np.ndarray) -> float:
    """How often the answers ``rule`` makes of these probabilities are right: what publish and
    ``decision-rule`` both record as a variant's ``accuracy_balanced``."""
    return float((rule.adjust(probabilities).argmax(1) == labels).mean())


def variant_tta(row: dict) -> str:
    """A variant's TTA mode; models published before zoom TTA record ``flip_tta`` instead."""
    return row.get("tta") or ("flip" if row.get("flip_tta") else "none")


def answered_accuracy(row: dict) -> float:
    """A variant's accuracy as Live answers: by the balanced rule where it was scored with one
    (models published before rules, or without a training split, record only raw answers)."""
    return row.get("accuracy_balanced", row["accuracy"])


def choose_variant(rows: list[dict], budget_ms: float = LATENCY_BUDGET_MS) -> dict:
    """The most accurate variant, as Live answers, within the budget (ties: the faster); if none
    fits, the fastest."""
    affordable = [row for row in rows if row["latency_ms"] <= budget_ms]
    if not affordable:
        return min(rows, key=lambda row: row["latency_ms"])
    return max(affordable, key=lambda row: (answered_accuracy(row), -row["latency_ms"]))
