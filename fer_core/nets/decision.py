"""The decision rule a published model answers with: its probabilities, rebalanced for its training prior.

A net trained on FER2013 learns the training split's class shares along with the faces: it
says neutral, happy and sad readily and disgust (1.5 % of Training) almost never, so on faces
from elsewhere (a webcam, posed photos) it votes the prior. Logit adjustment (Menon et al.
2021) subtracts ``tau * log(prior)`` from the log-probabilities, which at ``tau = 1`` answers as if
every class were equally common and at ``tau = 0`` leaves the net as it is. ``publish`` records the
training prior and a ``tau`` chosen on the validation split's mean per-class recall (never on a
test split or another dataset), and every path that answers for a model (Live, Photos, video,
``predict``, ``evaluate``) applies it unless asked for the raw answer. It costs a few
floating-point operations per face.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_core.errors import FerError
from fer_core.files import read_metrics
from fer_core.labels import CLASS_NAMES, NUM_CLASSES

DECISIONS = ("balanced", "raw")  # balanced: the model's recorded rule (raw where it has none)
DECISION_KEY = "decision"  # its entry in a published model's metrics.json
TAUS = tuple(round(0.1 * step, 1) for step in range(11))  # the strengths publish tries, 0 (raw) to 1 (fully balanced)


@dataclass(frozen=True)
class DecisionRule:
    """Logit adjustment by a training prior: the class shares a model was fitted on, and how strongly to undo them."""

    prior: tuple[float, ...]
    tau: float

    def __post_init__(self) -> None:
        prior = np.asarray(self.prior, float)
        if prior.shape != (NUM_CLASSES,) or not np.all(prior > 0) or not np.isfinite(prior).all() or not 0 <= self.tau <= 2:
            raise FerError(f"a decision rule needs {NUM_CLASSES} positive class shares and 0 <= tau <= 2")

    def adjust(self, probabilities: np.ndarray) -> np.ndarray:
        """The probabilities re-weighted by ``prior ** -tau`` and renormalised: still a distribution,
        so bars, confidence and 'not sure' read them as before."""
        weighted = np.asarray(probabilities, np.float64) * np.asarray(self.prior) ** -self.tau
        return (weighted / weighted.sum(axis=-1, keepdims=True)).astype(np.float32)

    def to_json(self) -> dict:
        return {"prior": [round(share, 6) for share in self.prior], "tau": self.tau}

    @classmethod
    def from_json(cls, payload: dict) -> DecisionRule:
        try:
            return cls(tuple(float(share) for share in payload["prior"]), float(payload["tau"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise FerError(f"the recorded decision rule is unreadable ({exc})") from None


def class_prior(labels: np.ndarray) -> tuple[float, ...]:
    """Class shares of a training split; a class it lacks counts as one face, so its log stays finite."""
    counts = np.bincount(np.asarray(labels, int), minlength=NUM_CLASSES)[:NUM_CLASSES].astype(float)
    counts = np.maximum(counts, 1.0)
    return tuple(float(share) for share in counts / counts.sum())


def mean_class_recall(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Recall averaged over the classes present: every expression counts the same, however rare."""
    present = np.unique(labels)
    return float(np.mean([(predictions[labels == label] == label).mean() for label in present])) if len(present) else float("nan")


def choose_tau(probabilities: np.ndarray, labels: np.ndarray, prior: tuple[float, ...], taus: tuple[float, ...] = TAUS) -> tuple[float, list[dict]]:
    """The ``tau`` with the best mean per-class recall on these (validation) faces, the smallest on a tie,
    and every candidate's accuracy and mean recall, so the card can show the trade."""
    table = []
    for tau in taus:
        predictions = DecisionRule(prior, tau).adjust(probabilities).argmax(axis=1)
        table.append({"tau": tau, "accuracy": float((predictions == labels).mean()), "mean_recall": mean_class_recall(labels, predictions)})
    best = max(table, key=lambda row: (round(row["mean_recall"], 6), -row["tau"]))
    return best["tau"], table


def read_rule(model_dir: Path) -> DecisionRule | None:
    """The rule recorded beside a published model, or None (older models, training runs)."""
    payload = read_metrics(model_dir).get(DECISION_KEY)
    return DecisionRule.from_json(payload) if isinstance(payload, dict) else None


def rule_for(model_path: Path, decision: str) -> DecisionRule | None:
    """What ``decision`` means for this model file: its recorded rule when 'balanced', nothing when 'raw'."""
    if decision not in DECISIONS:
        raise FerError(f"unknown decision {decision!r}: choose one of {', '.join(DECISIONS)}")
    return read_rule(Path(model_path).parent) if decision == "balanced" else None


class DecidedClassifier:
    """A classifier answering by a decision rule; its test-time augmentation (``mode``) shows through."""

    def __init__(self, classifier: Callable[[np.ndarray], np.ndarray], rule: DecisionRule) -> None:
        self.classifier = classifier
        self.rule = rule

    @property
    def mode(self) -> str:
        return getattr(self.classifier, "mode", "none")

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        return self.rule.adjust(self.classifier(faces))


def with_decision(classifier: Callable[[np.ndarray], np.ndarray], rule: DecisionRule | None) -> Callable[[np.ndarray], np.ndarray]:
    """The classifier answering by ``rule`` (itself when there is none)."""
    return classifier if rule is None else DecidedClassifier(classifier, rule)


def decision_entry(probabilities: np.ndarray, labels: np.ndarray, training_labels: np.ndarray, split: str) -> dict:
    """What ``publish`` records: the training prior, the ``tau`` that gives the best mean per-class
    recall on the validation faces' probabilities (flip TTA, as Live answers), and every candidate's
    accuracy and mean recall (the first, ``tau = 0``, is the raw model)."""
    prior = class_prior(training_labels)
    tau, table = choose_tau(probabilities, labels, prior)
    chosen = next(row for row in table if row["tau"] == tau)

    def recalls(predictions: np.ndarray) -> dict[str, float]:
        return {name: float((predictions[labels == index] == index).mean()) for index, name in enumerate(CLASS_NAMES) if (labels == index).any()}

    balanced = DecisionRule(prior, tau).adjust(probabilities).argmax(axis=1)
    return {**DecisionRule(prior, tau).to_json(), "chosen_on": split, "tta": "flip", "n": len(labels),
            "raw": {**{k: table[0][k] for k in ("accuracy", "mean_recall")}, "recall": recalls(probabilities.argmax(axis=1))},
            "balanced": {**{k: chosen[k] for k in ("accuracy", "mean_recall")}, "recall": recalls(balanced)}, "candidates": table}


def decision_section(metrics: dict) -> str:
    """The model card's account of its decision rule ('' for a model without one)."""
    entry = metrics.get(DECISION_KEY)
    if not isinstance(entry, dict):
        return ""
    raw, balanced = entry["raw"], entry["balanced"]
    shares = ", ".join(f"{name} {share:.1%}" for name, share in zip(CLASS_NAMES, entry["prior"], strict=True))
    return f"""## Decision rule

Every answer this model gives in the app and the CLI (Live, Photos, video, `predict`, `evaluate`) is
rebalanced for the class shares it was trained on ({shares}): its probabilities are multiplied by
share^-tau and renormalised (logit adjustment), with **tau = {entry['tau']:g}**, the strength with the best
mean per-class recall on {entry['chosen_on']} ({entry['n']} faces, flip TTA) among 0, 0.1, …, 1. On those faces:

| decision | accuracy | mean per-class recall |
|---|---|---|
| raw (`--decision raw`) | {raw['accuracy']:.2%} | {raw['mean_recall']:.2%} |
| balanced (the default) | {balanced['accuracy']:.2%} | {balanced['mean_recall']:.2%} |

A raw model votes FER2013's prior: it rarely says disgust or fear and says neutral readily, which on
faces from elsewhere (a webcam, posed photos) costs more than on FER2013's own test faces.
"""
