"""Speed figures for the live path, printed by ``python -m fer_core bench``.

Times are medians over many runs on a 640x480 frame holding one face (a FER2013 face
scaled up, when a dataset is found; otherwise a synthetic blob, so detectors may find none).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from fer_core.data.loading import load_dataset
from fer_core.data.sources import find_datasets
from fer_core.inference.faces import make_detector
from fer_core.inference.predictor import Predictor, load_fast_classifier
from fer_core.labels import IMAGE_SIZE
from fer_core.nets.classifiers import load_classifier
from fer_core.nets.latency import median_ms


def benchmark_frame() -> np.ndarray:
    """640x480 BGR frame with one 192-pixel face in the middle."""

    face = None
    for source in find_datasets({"FER2013_PATH": os.environ.get("FER2013_PATH", "")}):
        try:
            dataset = load_dataset(source.path)
            face = dataset.images[int(np.flatnonzero(dataset.labels == 3)[0]) if dataset.labels is not None else 0]
            break
        except Exception:  # noqa: BLE001 - any unusable dataset: fall back to the synthetic face
            continue
    if face is None:
        rng = np.random.default_rng(0)
        face = cv2.GaussianBlur(rng.integers(60, 200, (IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8), (5, 5), 0)
    frame = np.full((480, 640, 3), 100, np.uint8)
    frame[144:336, 224:416] = cv2.resize(face, (192, 192), interpolation=cv2.INTER_CUBIC)[..., None]
    return frame


def run_benchmark(model_path: Path, detectors: list[str], repeats: int = 100) -> dict:
    frame = benchmark_frame()
    classifier = load_fast_classifier(model_path)
    face = np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    keras_model = load_classifier(model_path)
    figures: dict = {
        "frame": "640x480",
        "classifier": type(classifier).__name__,
        "classify_ms": median_ms(lambda: classifier(face), repeats),
        "keras_predict_ms": median_ms(lambda: keras_model.predict(face[..., None], verbose=0), max(5, repeats // 10)),
        "detectors": {},
    }
    for name in detectors:
        detector = make_detector(name)
        predictor = Predictor(classifier, detector)
        figures["detectors"][name] = {
            "detect_ms": median_ms(lambda d=detector: d.detect(frame), repeats),
            "frame_ms": median_ms(lambda p=predictor: p.predict(frame), repeats),
            "faces": len(predictor.predict(frame)),
        }
    return figures
