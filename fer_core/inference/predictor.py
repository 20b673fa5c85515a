"""One way in for inference: an image of any size and colour layout -> faces with probabilities.

Used by the Live page's frame callback, the photo and video pages and ``predict`` CLI.
Classification calls the model directly (TFLite interpreter or a traced ``tf.function``),
never ``model.predict``, which costs ~70 ms a call for one face.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_core.files import read_metrics
from fer_core.inference.faces import (
    CROP_MARGIN,
    DEFAULT_DETECTOR,
    Box,
    Detection,
    FaceDetector,
    crop_face,
    detect_with_padding,
    make_detector,
    to_grey,
)
from fer_core.inference.lighting import matched_to_equalised, wants_equalised_crops
from fer_core.labels import CLASS_NAMES
from fer_core.nets.classifiers import classifier_for
from fer_core.nets.decision import read_rule, rule_for, with_decision
from fer_core.nets.live_variants import VARIANT_FILES, variant_tta
from fer_core.nets.tta import TTA_LABELS, TTA_MODES, with_tta

Classifier = Callable[[np.ndarray], np.ndarray]  # (N, 48, 48) pixels -> (N, 7) probabilities


@dataclass
class FaceResult:
    box: Box
    probabilities: np.ndarray
    crop: np.ndarray = field(repr=False)  # the 48x48 grey face the model saw
    held: int | None = None  # on video, the class kept from earlier frames while a near tie lasts (see ProbabilitySmoother)

    @property
    def answer(self) -> int:
        """The class this face is labelled with: the top one, or the held one within a near tie."""
        return int(np.argmax(self.probabilities)) if self.held is None else self.held

    @property
    def label(self) -> str:
        return CLASS_NAMES[self.answer]

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.answer])

    def to_dict(self) -> dict:
        return {
            "box": [int(v) for v in self.box],
            "label": self.label,
            "probabilities": {name: round(float(p), 6) for name, p in zip(CLASS_NAMES, self.probabilities, strict=True)},
        }


def _iou(a: Box, b: Box) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


class ProbabilitySmoother:
    """Exponential moving average of each face's probabilities across video frames, and one
    answer per face while two classes are within ``hold_margin`` of each other.

    Faces are tracked by box overlap with the previous frame; a face that is new (or
    moved too far) starts from its own probabilities, so smoothing never mixes people.
    On a near tie (sad 34 %, angry 35 %) the top class would flip from frame to frame, and the
    video and the page, which show different frames, would give two answers for one face: the
    tracked face keeps its previous answer until another class leads it by more than the margin.
    ``alpha = 1`` keeps only that (no averaging).
    """

    def __init__(self, alpha: float = 0.4, min_iou: float = 0.3, hold_margin: float = 0.03) -> None:
        self.alpha = alpha
        self.min_iou = min_iou
        self.hold_margin = hold_margin
        self.tracks: list[tuple[Box, np.ndarray, int]] = []

    def __call__(self, faces: list[FaceResult]) -> list[FaceResult]:
        tracks = []
        for face in faces:
            best = max(self.tracks, key=lambda t: _iou(t[0], face.box), default=None)
            if best is not None and _iou(best[0], face.box) >= self.min_iou:
                face.probabilities = self.alpha * face.probabilities + (1 - self.alpha) * best[1]
                previous = best[2]
                if face.probabilities[previous] >= face.probabilities.max() - self.hold_margin:
                    face.held = previous
            tracks.append((face.box, face.probabilities, face.answer))
        self.tracks = tracks
        return faces


class Predictor:
    """Detects faces, crops them as FER2013 faces look (48x48 grey, upright), classifies them."""

    def __init__(self, classifier: Classifier, detector: FaceDetector, *, margin: float = CROP_MARGIN, max_faces: int = 50,
                 equalise: bool = False, align: bool = True) -> None:
        self.classifier = classifier
        self.detector = detector
        self.margin = margin
        self.max_faces = max_faces  # a group photo's faces, largest first; past it the smallest are left out
        self.equalise = equalise  # bring crops to histogram-equalised training faces (fer_core.inference.lighting)
        self.align = align  # level the eye line where the detector finds eyes (fer_core.inference.faces.crop_face)

    @classmethod
    def from_model(cls, model_path: Path, detector: str = DEFAULT_DETECTOR, tta: str | None = None, decision: str = "balanced",
                   use: str = "photo", **options: float) -> Predictor:
        """``use`` ('live', 'video', 'photo') is what an ``auto`` detector is chosen for."""
        return cls(load_fast_classifier(model_path, tta, decision), make_detector(detector, use),
                   equalise=wants_equalised_crops(model_path), **options)

    def predict(self, image: np.ndarray, *, photo: bool = False) -> list[FaceResult]:
        """Faces in a BGR (or grey) uint8 image, largest first.

        ``photo=True`` is for stills: it retries detection on a padded copy and, with no
        face found, classifies the whole image as one face (a pre-cropped face photo).
        """
        grey = to_grey(image)
        margin = self.margin
        if photo:
            found = detect_with_padding(self.detector, image)
            faces = found.faces
            if found.used_whole_image:
                # The image is the face, framed as it is: widening it would shrink the face in the
                # crop (on PublicTest faces taken whole: 67.6 % without a margin, 65.4 % with 0.1).
                faces, margin = [Detection((0, 0, grey.shape[1], grey.shape[0]))], 0.0
        else:
            faces = self.detector.locate(image)
        faces = faces[: self.max_faces]
        if not faces:
            return []
        crops = np.stack([crop_face(grey, face.box, margin, face.eyes if self.align else None) for face in faces])
        if self.equalise:
            crops = np.stack([matched_to_equalised(crop, margin) for crop in crops])
        probabilities = self.classifier(crops)
        return [FaceResult(face.box, probs, crop) for face, probs, crop in zip(faces, probabilities, crops, strict=True)]


def load_fast_classifier(model_path: Path, tta: str | None = None, decision: str = "balanced") -> Classifier:
    """The live classifier for a model: the variant its ``metrics.json`` chose at publish time
    (see ``live_inference``), else a verified ``model_float.tflite`` beside it (fast, and
    untouched by Keras' global state), else the Keras model in a tf.function.

    ``tta`` overrides the chosen variant's test-time augmentation: stills can afford
    ``flip-zoom`` (six passes, ~1.2 points over flip) where video frames cannot. ``decision``
    'balanced' answers by the model's recorded decision rule (``fer_core.nets.decision``), 'raw'
    by its plain probabilities.
    """

    model_path = Path(model_path)
    choice = _published_live_choice(model_path)
    tta = tta or (variant_tta(choice) if choice else "none")
    classifier = classifier_for(model_path, choice["file"]) if choice else classifier_for(model_path)
    return with_decision(with_tta(classifier, tta), rule_for(model_path, decision))


def _published_live_choice(model_path: Path) -> dict | None:
    choice = read_metrics(model_path.parent).get("live_inference")
    trusted = isinstance(choice, dict) and choice.get("file") in VARIANT_FILES and variant_tta(choice) in TTA_MODES
    return choice if trusted else None


def describe_live_classifier(model_path: Path) -> str:
    """One line naming what ``load_fast_classifier`` runs for this model, with its measured figures."""
    choice = _published_live_choice(Path(model_path))
    if choice is None:
        return "Classifier: the model's float TFLite copy if present, else the Keras model called directly."

    mode = variant_tta(choice)
    tta = f" with {TTA_LABELS[mode]}" if mode != "none" else ""
    rule = read_rule(Path(model_path).parent)
    balanced = f" Answers rebalanced for the training split's class shares (tau {rule.tau:g})." if rule else ""
    return (f"Classifier: `{choice['file']}`{tta}, chosen at publish time: {choice['accuracy']:.1%} on PublicTest, "
            f"{choice['latency_ms']:.1f} ms per face.{balanced}")


def describe_live_classifier_plainly(model_path: Path) -> str:
    """The same in words a visitor knows: how each face is read, how fast, and that answers are balanced."""
    choice = _published_live_choice(Path(model_path))
    rule = read_rule(Path(model_path).parent)
    balanced = " Rare expressions get a fair chance: answers are balanced for how often each was in training." if rule else ""
    if choice is None:
        return "Each face is read by this model as it is." + balanced
    views = {"none": "once", "flip": "twice, as seen and mirrored", "flip-zoom": "six times (mirrored and zoomed)"}[variant_tta(choice)]
    return f"Each face is read {views}, in about {choice['latency_ms']:.0f} ms.{balanced}"
