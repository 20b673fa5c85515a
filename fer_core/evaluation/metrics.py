"""Honest evaluation: accuracy with its 95 % interval, per-class precision/recall/F1, confusion
matrix, and how far the model's confidence can be taken at its word (calibration error).

Optional test-time augmentation (see ``tta``) averages the probabilities over label-safe
views of each face: its mirror image (~0.8 point) or mirror and zoom (~2 points). Scoring
every mode at once reuses the six flip-zoom passes (the plain and flip views are among them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fer_core.evaluation.calibration import expected_calibration_error
from fer_core.evaluation.significance import wilson_interval
from fer_core.files import atomic_path
from fer_core.labels import CLASS_NAMES, NUM_CLASSES
from fer_core.nets.classifiers import FastClassifier, classifier_for, load_classifier
from fer_core.nets.decision import rule_for
from fer_core.nets.tta import TTA_MODES, means_by_mode, with_tta
from fer_core.paths import cache_dir

if TYPE_CHECKING:
    import pandas as pd

# 128 faces a batch: 512 made the server peak at 1.33 GB (conv activations), 128 keeps
# Evaluate within Community Cloud's budget at the same speed on a CPU.
BATCH_SIZE = 128


def predict_probabilities(model, images: np.ndarray, *, tta: str = "none", batch_size: int = BATCH_SIZE) -> np.ndarray:
    """(N, 48, 48) uint8 faces -> (N, 7) probabilities, in batches to bound memory."""

    return classify_in_batches(with_tta(FastClassifier(model), tta), images, batch_size=batch_size)


def classify_in_batches(classify, images: np.ndarray, *, batch_size: int = BATCH_SIZE,
                        on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Any faces -> probabilities callable (a Keras model's ``FastClassifier``, a TFLite file's
    classifier, Live's) over (N, 48, 48) faces in batches: (N, 7) probabilities.
    ``on_progress(done, total)`` is told after each batch, for a progress bar with an ETA."""
    outputs, done = [], 0
    for batch in _batches(images, batch_size):
        outputs.append(classify(batch))
        done += len(batch)
        if on_progress is not None:
            on_progress(done, len(images))
    return np.concatenate(outputs) if outputs else np.zeros((0, NUM_CLASSES), np.float32)


def probabilities_by_mode(classify, images: np.ndarray, *, batch_size: int = BATCH_SIZE) -> dict[str, np.ndarray]:
    """Every TTA mode's (N, 7) probabilities from one pass per flip-zoom view (six, not nine).

    ``classify`` is any faces -> probabilities callable: a Keras model's ``FastClassifier`` or
    a TFLite file's classifier.
    """

    batches = [means_by_mode(classify, batch) for batch in _batches(images, batch_size)]
    if not batches:
        return {mode: np.zeros((0, NUM_CLASSES), np.float32) for mode in TTA_MODES}
    return {mode: np.concatenate([batch[mode] for batch in batches]) for mode in TTA_MODES}


def _batches(images: np.ndarray, batch_size: int) -> list[np.ndarray]:
    return [images[start : start + batch_size].astype(np.float32) for start in range(0, len(images), batch_size)]


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    return np.bincount(labels * NUM_CLASSES + predictions, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)


def classification_report(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """Accuracy, per-class metrics and the confusion matrix as JSON-ready types."""
    predictions = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predictions)
    correct = int(np.trace(matrix))
    per_class = {}
    for index, name in enumerate(CLASS_NAMES):
        true_positive = int(matrix[index, index])
        predicted, support = int(matrix[:, index].sum()), int(matrix[index].sum())
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": support,
                           "recall_interval": list(wilson_interval(true_positive, support))}
    return {
        "n": len(labels),
        "accuracy": correct / len(labels) if len(labels) else 0.0,
        "accuracy_interval": list(wilson_interval(correct, len(labels))),
        "macro_f1": float(np.mean([m["f1"] for m in per_class.values()])),
        "mean_recall": float(np.mean([m["recall"] for m in per_class.values() if m["support"]] or [0.0])),
        "expected_calibration_error": expected_calibration_error(labels, probabilities),
        "per_class": per_class,
        "confusion": matrix.tolist(),
    }


def selective_accuracy(labels: np.ndarray, probabilities: np.ndarray, thresholds: np.ndarray | None = None) -> pd.DataFrame:
    """What the model would score if it could say "not sure": for each confidence threshold, the
    share of faces whose top probability reaches it (coverage) and the accuracy on those alone.

    Calibration says whether 80 % means 80 %; this says what abstaining buys, the trade Live's
    "Say 'not sure' below" makes. Accuracy is NaN where no face is answered.
    """
    import pandas as pd

    thresholds = np.round(np.arange(0.0, 1.0, 0.05), 2) if thresholds is None else np.asarray(thresholds)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    rows = []
    for threshold in thresholds:
        answered = confidence >= threshold
        count = int(answered.sum())
        rows.append({"threshold": float(threshold), "coverage": count / len(labels) if len(labels) else 0.0, "faces": count,
                     "accuracy": float(correct[answered].mean()) if count else float("nan")})
    return pd.DataFrame(rows)


def predictions_table(labels: np.ndarray, probabilities: np.ndarray, in_training: np.ndarray) -> pd.DataFrame:
    """One row per face (its position in the split), true and predicted class, whether the same
    image is in Training, and every class's probability: what a researcher needs to redo any
    analysis, or to compare models face by face."""
    import pandas as pd

    predictions = probabilities.argmax(axis=1)
    names = np.array(CLASS_NAMES)
    table = pd.DataFrame({
        "face": np.arange(len(labels)), "true": names[labels], "predicted": names[predictions],
        "correct": predictions == labels, "in_training": in_training, "confidence": probabilities.max(axis=1).round(4),
    })
    for index, name in enumerate(CLASS_NAMES):
        table[f"p_{name}"] = probabilities[:, index].round(4)
    return table


def training_copies_breakdown(labels: np.ndarray, probabilities: np.ndarray, in_training: np.ndarray) -> dict:
    """Accuracy on the faces whose image is also in Training and on the rest, with the rest's
    95 % interval: the rest is the fair figure, since a copy is scored on memory."""
    correct = probabilities.argmax(axis=1) == labels
    rest = ~in_training
    return {
        "faces": int(in_training.sum()),
        "accuracy_on_them": float(correct[in_training].mean()) if in_training.any() else None,
        "faces_without": int(rest.sum()),
        "accuracy_without": float(correct[rest].mean()) if rest.any() else None,
        "accuracy_without_interval": list(wilson_interval(int(correct[rest].sum()), int(rest.sum()))),
    }


def describe_training_copies(breakdown: dict) -> str:
    """One sentence for the CLI and the Evaluate page."""
    low, high = breakdown["accuracy_without_interval"]
    return (f"{breakdown['faces']:,} of these faces are also in Training, byte for byte: {breakdown['accuracy_on_them']:.1%} "
            f"right on them, {breakdown['accuracy_without']:.1%} (95% interval {low:.1%}–{high:.1%}) on the other "
            f"{breakdown['faces_without']:,}, the fairer figure.")


def evaluate_model_on_dataset(model, images: np.ndarray, labels: np.ndarray, *, tta: bool = False,
                              in_training: np.ndarray | None = None) -> dict:
    """Report for one set of faces (plain); with ``tta`` also flip (``accuracy_tta``,
    ``tta_report``) and flip-zoom (``accuracy_flip_zoom_tta``, ``flip_zoom_tta_report``).

    ``in_training`` marks faces whose image the model was trained on; where there are any, each
    report gets ``training_copies`` (``training_copies_breakdown``), the fairer figure beside it.
    """
    def report_for(probabilities: np.ndarray) -> dict:
        report = classification_report(labels, probabilities)
        if in_training is not None and in_training.any():
            report["training_copies"] = training_copies_breakdown(labels, probabilities, in_training)
        return report

    if not tta:
        return report_for(predict_probabilities(model, images))

    by_mode = probabilities_by_mode(FastClassifier(model), images)
    report = report_for(by_mode["none"])
    report["accuracy_no_tta"] = report["accuracy"]
    for mode, prefix in (("flip", ""), ("flip-zoom", "flip_zoom_")):
        augmented = report_for(by_mode[mode])
        report[f"accuracy_{prefix}tta"] = augmented["accuracy"]
        report[f"{prefix}tta_report"] = {
            k: augmented[k] for k in ("accuracy", "macro_f1", "per_class", "confusion", "expected_calibration_error", "training_copies")
            if k in augmented
        }
    return report


def most_confident(labels: np.ndarray, probabilities: np.ndarray, true_label: int, predicted_label: int, count: int) -> np.ndarray:
    """Indices of the faces of ``true_label`` predicted as ``predicted_label``, most confident
    first: the mistakes a model is surest of are the ones worth looking at (often a wrong label)."""
    cell = np.flatnonzero((labels == true_label) & (probabilities.argmax(axis=1) == predicted_label))
    return cell[np.argsort(-probabilities[cell, predicted_label], kind="stable")][:count]


def model_probabilities(model_path: Path, images: np.ndarray, *, tta: str = "none", decision: str = "balanced") -> np.ndarray:
    """A model file's probabilities for faces as it answers them: by its recorded decision rule
    (``fer_core.nets.decision``) unless ``decision`` is 'raw'."""
    probabilities = predict_probabilities(load_classifier(model_path), images, tta=tta)
    rule = rule_for(model_path, decision)
    return rule.adjust(probabilities) if rule else probabilities


def split_probabilities(model_path: Path, data_path: Path, images: np.ndarray, split: str, tta: str, *,
                        on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """A model's raw probabilities for one split, kept on disk: coming back to a model, dataset,
    split and test-time augmentation already scored is a file read, not a minute of CPU.

    Keyed by the model's files (path, size, time), the dataset file's, the split and the TTA; the
    decision rule is applied after, so both decisions share one entry. The entries hold figures
    made from FER2013 faces, so they live in the gitignored cache folder beside the parse cache.
    """
    model_path, data_path = Path(model_path), Path(data_path)
    stamp = [f"{path}|{path.stat().st_size}|{path.stat().st_mtime_ns}" for path in
             (model_path, model_path.with_name("model_float.tflite"), data_path) if path.exists()]
    key = hashlib.sha1("|".join([*stamp, split, tta, str(len(images))]).encode()).hexdigest()
    path = cache_dir() / "evaluations" / f"{key}.npy"
    try:
        cached = np.load(path)
        if cached.shape == (len(images), NUM_CLASSES):
            return cached
    except (OSError, ValueError):
        pass  # not scored yet (or a damaged entry): score again
    probabilities = classify_in_batches(with_tta(classifier_for(model_path), tta), images, on_progress=on_progress)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temporary:
            np.save(temporary, probabilities.astype(np.float32))
    except OSError:
        pass  # a read-only or full disk costs the next visit a re-score, nothing else
    return probabilities
