"""Expression timeline of a video file: every Nth frame through the Predictor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fer_core.errors import FerError
from fer_core.inference.drawing import annotate
from fer_core.inference.predictor import Predictor, ProbabilitySmoother
from fer_core.inference.timeline import main_face_columns

MAX_ANALYSED_FRAMES = 900  # bounds the CPU one upload can cost (~30 s of work here)


@dataclass
class VideoAnalysis:
    timeline: pd.DataFrame  # time_s, frame, faces, label, one column per class (main face)
    key_frames: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (time, annotated BGR)
    fps: float = 0.0
    frames_total: int = 0
    frames_read: int = 0  # frames the file gave before it ended; fewer than frames_total: a truncated file

    @property
    def truncated(self) -> bool:
        """The file ended well before the frame count its header gives (a cut-off upload or copy)."""
        return bool(self.frames_total) and self.frames_read < 0.95 * self.frames_total

    def describe_truncation(self, name: str) -> str:
        seconds = self.frames_read / self.fps if self.fps else 0.0
        return (f"{name}: the file ends at frame {self.frames_read:,} of the {self.frames_total:,} its header promises "
                f"(cut off?); the timeline covers only its first {seconds:.1f} s")


def analyse_video(
    path: Path, predictor: Predictor, *, every_nth: int = 5, smoothing: bool = True, key_frame_count: int = 8,
    on_progress: Callable[[float], None] | None = None,
) -> VideoAnalysis:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FerError(f"{path.name}: not a readable video (try MP4/H.264, WebM or AVI)")
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        step = max(every_nth, int(np.ceil(total / MAX_ANALYSED_FRAMES)) if total else every_nth)
        smoother = ProbabilitySmoother() if smoothing else None
        rows, candidates, stride = [], [], 1  # candidates: evenly spaced analysed frames, at most 2 x key_frame_count
        index = 0
        while True:
            grabbed = capture.grab()
            if not grabbed:
                break
            if index % step == 0:
                ok, frame = capture.retrieve()
                if not ok or frame is None:
                    break
                faces = predictor.predict(frame)
                if key_frame_count and len(rows) % stride == 0:
                    # Copies taken before smoothing, which rebinds each face's probabilities: a still shows its own answer.
                    candidates.append((index / fps, frame, [replace(face) for face in faces]))
                    if len(candidates) > 2 * key_frame_count:  # keep every other one: memory stays bounded
                        candidates, stride = candidates[::2], stride * 2
                if smoother is not None:
                    faces = smoother(faces)
                row = {"time_s": index / fps, "frame": index, "faces": len(faces),
                       **main_face_columns(faces[0].probabilities if faces else None, faces[0].answer if faces else None)}
                rows.append(row)
                if len(rows) >= MAX_ANALYSED_FRAMES:
                    break
                if on_progress and total:
                    on_progress(min(index / total, 1.0))
            index += 1
    finally:
        capture.release()
    if not rows:
        raise FerError(f"{path.name}: no frames could be decoded")
    picks = np.unique(np.linspace(0, len(candidates) - 1, min(key_frame_count, len(candidates))).astype(int))
    key_frames = [(candidates[i][0], annotate(candidates[i][1], candidates[i][2])) for i in picks]
    if on_progress:
        on_progress(1.0)
    return VideoAnalysis(pd.DataFrame(rows), key_frames, fps, total or index, frames_read=index)
