"""How many faces each detector finds, by face size, and at what cost: ``python -m fer_core bench-detect``.

Scored on the synthetic scenes of ``face_scenes.py`` (rebuilt from a seed, so anyone can check the
figures). A face counts as found when a detection's centre lies inside its box and the detection is
0.45-2.5 times the face's width (detectors box a face differently: HAAR wider, BlazeFace tighter);
each detection finds at most one face, and one that finds none is a false detection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from fer_core.inference.face_scenes import SIZE_BUCKETS, Scene, benchmark_scenes, size_bucket
from fer_core.inference.faces import Box, FaceDetector, make_detector

LARGE_FACE = 40  # px wide: the size from which the recall is counted (a 48x48 crop needs about that)


@dataclass
class DetectorScore:
    """One detector's row of the table."""

    name: str
    found: dict[str, list[bool]] = field(default_factory=dict)  # size bucket -> found or not, per face
    false_detections: int = 0
    scenes: int = 0
    frame_ms: list[float] = field(default_factory=list)  # 640x480 frames
    photo_ms: list[float] = field(default_factory=list)  # larger group photos

    def recall(self, min_width: int = LARGE_FACE) -> float:
        hits = [hit for bucket, faces in self.found.items() if _bucket_low(bucket) >= min_width for hit in faces]
        return float(np.mean(hits)) if hits else float("nan")

    def as_dict(self) -> dict:
        return {
            "detector": self.name,
            "recall_by_size": {bucket: {"found": int(sum(hits)), "faces": len(hits)} for bucket, hits in self.found.items()},
            f"recall_from_{LARGE_FACE}_px": self.recall(),
            "false_detections_per_image": self.false_detections / max(1, self.scenes),
            "ms_per_640x480_frame": float(np.median(self.frame_ms)) if self.frame_ms else None,
            "ms_per_group_photo": float(np.median(self.photo_ms)) if self.photo_ms else None,
        }


def _bucket_low(bucket: str) -> int:
    return int(bucket.split("-")[0].strip("<+ px"))


def match_faces(boxes: list[Box], scene: Scene) -> tuple[list[bool], int]:
    """Which of the scene's faces the boxes found, and how many boxes found none."""
    used: set[int] = set()
    found = []
    for face, width in zip(scene.faces, scene.widths, strict=True):
        hit = next((j for j, box in enumerate(boxes) if j not in used and _finds(box, face, width)), None)
        if hit is not None:
            used.add(hit)
        found.append(hit is not None)
    return found, len(boxes) - len(used)


def _finds(box: Box, face: Box, width: int) -> bool:
    x, y, w, h = box
    fx, fy, fw, fh = face
    return fx <= x + w / 2 <= fx + fw and fy <= y + h / 2 <= fy + fh and 0.45 <= w / width <= 2.5


def score_detector(detector: FaceDetector, scenes: list[Scene]) -> DetectorScore:
    score = DetectorScore(detector.name, {f"{low}-{high} px": [] for low, high in SIZE_BUCKETS})
    detector.detect(scenes[0].image)  # the first call allocates the interpreter's tensors: not a frame's cost
    for scene in scenes:
        started = time.perf_counter()
        boxes = detector.detect(scene.image)
        elapsed = (time.perf_counter() - started) * 1000
        (score.frame_ms if scene.image.shape[:2] == (480, 640) else score.photo_ms).append(elapsed)
        found, false = match_faces(boxes, scene)
        for width, hit in zip(scene.widths, found, strict=True):
            score.found.setdefault(size_bucket(width), []).append(hit)
        score.false_detections += false
        score.scenes += 1
    return score


def run_detection_benchmark(names: list[str], *, seed: int = 0, frames: int = 40, group_photos: int = 20) -> list[DetectorScore]:
    scenes = benchmark_scenes(seed, frames, group_photos)
    return [score_detector(make_detector(name), scenes) for name in names]


def format_table(scores: list[DetectorScore]) -> str:
    """The table ``bench-detect`` prints and the README quotes."""
    buckets = list(scores[0].found)
    header = f"{'detector':16s}" + "".join(f"{bucket:>11s}" for bucket in buckets) + f"{'>=40 px':>9s}{'false/img':>10s}{'ms 640x480':>11s}{'ms photo':>9s}"
    faces = f"{'(faces)':16s}" + "".join(f"{len(scores[0].found[bucket]):>11d}" for bucket in buckets)
    rows = [header, faces]
    for score in scores:
        figures = score.as_dict()
        cells = "".join(f"{np.mean(score.found[bucket]) if score.found[bucket] else float('nan'):>11.0%}" for bucket in buckets)
        rows.append(f"{score.name:16s}{cells}{score.recall():>9.1%}{figures['false_detections_per_image']:>10.2f}"
                    f"{figures['ms_per_640x480_frame'] or float('nan'):>11.1f}{figures['ms_per_group_photo'] or float('nan'):>9.0f}")
    return "\n".join(rows)
