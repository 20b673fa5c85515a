"""The live video path: one object per camera session, called from WebRTC's worker thread.

The frame callback must stay fast and must not touch Streamlit: it runs the Predictor,
draws on a copy of the frame, and leaves the latest result in a lock-protected slot that
the page's fragment reads a few times per second.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from fer_core.inference.drawing import annotate
from fer_core.inference.predictor import FaceResult, Predictor, ProbabilitySmoother
from fer_core.inference.timeline import ExpressionTimeline


@dataclass(frozen=True)
class LiveSnapshot:
    frame: np.ndarray  # the camera frame as shown (BGR; mirrored when the processor mirrors)
    annotated: np.ndarray  # the same frame with boxes and labels (BGR)
    faces: list[FaceResult]
    captured_at: float


class LiveProcessor:
    """Holds the current Predictor and the latest result; safe to reconfigure while streaming."""

    def __init__(self, predictor: Predictor, *, smoothing: bool = True, mirror: bool = False, unsure_below: float = 0.0,
                 window: int = 90) -> None:
        self._lock = threading.Lock()
        self._predictor = predictor
        self._mirror = mirror
        self._unsure_below = unsure_below
        self._smoother = ProbabilitySmoother(alpha=0.4 if smoothing else 1.0)
        self._latest: LiveSnapshot | None = None
        self._durations: deque[float] = deque(maxlen=window)
        self._arrivals: deque[float] = deque(maxlen=window)
        self.timeline = ExpressionTimeline()  # the main face over the session, for the page's chart and CSV

    def configure(self, predictor: Predictor, *, smoothing: bool, mirror: bool = False, unsure_below: float = 0.0) -> None:
        with self._lock:
            self._predictor = predictor
            self._mirror = mirror
            self._unsure_below = unsure_below
            alpha = 0.4 if smoothing else 1.0  # off: no averaging, but still one answer per face on a near tie
            if self._smoother.alpha != alpha:
                self._smoother = ProbabilitySmoother(alpha=alpha)

    def process(self, frame_bgr: np.ndarray) -> np.ndarray:
        """Detect, classify and draw; returns the annotated copy to send back to the browser.

        ``mirror`` flips the frame first, as a selfie camera shows it: people expect to move
        left and see themselves move left. Flipping before drawing keeps the labels readable,
        and costs the model nothing (flip TTA sees both ways anyway).
        """
        started = time.perf_counter()
        with self._lock:
            predictor, smoother, mirror, unsure_below = self._predictor, self._smoother, self._mirror, self._unsure_below
        if mirror:
            frame_bgr = cv2.flip(frame_bgr, 1)  # 0.03 ms at 640x480; numpy's reversed copy took 1.1 ms
        faces = predictor.predict(frame_bgr)
        faces = smoother(faces)
        annotated = annotate(frame_bgr, faces, unsure_below=unsure_below)
        self.timeline.record(faces)
        finished = time.perf_counter()
        with self._lock:
            self._latest = LiveSnapshot(frame_bgr, annotated, faces, time.time())
            self._durations.append(finished - started)
            self._arrivals.append(finished)
        return annotated

    def latest(self) -> LiveSnapshot | None:
        with self._lock:
            return self._latest

    def timing(self) -> dict[str, float]:
        """Median callback milliseconds and frames per second over the recent window."""
        with self._lock:
            durations, arrivals = list(self._durations), list(self._arrivals)
        if not durations:
            return {"median_ms": 0.0, "p90_ms": 0.0, "fps": 0.0, "frames": 0}
        span = arrivals[-1] - arrivals[0]
        return {
            "median_ms": float(np.median(durations) * 1000),
            "p90_ms": float(np.percentile(durations, 90) * 1000),
            "fps": (len(arrivals) - 1) / span if span > 0 else 0.0,
            "frames": len(durations),
        }
