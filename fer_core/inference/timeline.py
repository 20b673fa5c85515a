"""What the main face's expression did over time: the Live camera's record, and its summary.

Live shows only the current frame's bars; a person pulling faces (or a teacher showing how
the net reacts to a slow smile) wants to see the last half-minute, and a researcher wants
the session as a table. The recorder is fed from the WebRTC worker thread and read by the
page, so it is lock-protected, sampled (not every frame) and bounded.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from fer_core.labels import CLASS_NAMES

SAMPLE_EVERY_S = 0.2  # 5 points a second follow an expression and stay cheap to plot every second
KEEP_S = 600.0  # ten minutes, ~3,000 rows: a lesson's demo or an experiment's trial
GAP_S = 1.0  # no sample for this long (camera stopped, frames dropped): the lines break there


class ExpressionTimeline:
    """A bounded, sampled record of (time, number of faces, main face's probabilities)."""

    def __init__(self, *, sample_every_s: float = SAMPLE_EVERY_S, keep_s: float = KEEP_S) -> None:
        self._lock = threading.Lock()
        self._sample_every_s = sample_every_s
        self._points: deque[tuple[float, int, np.ndarray | None, int | None]] = deque(maxlen=max(1, int(keep_s / sample_every_s)))

    def record(self, faces: list, at: float | None = None) -> bool:
        """Keep this frame's main face if the last point is at least one sample step old.

        ``faces`` are the frame's FaceResults, main face first (none: a gap in the lines, but
        the row stays so the table shows when no face was seen). Returns whether it was kept.
        """
        at = time.time() if at is None else at
        with self._lock:
            if self._points and at - self._points[-1][0] < self._sample_every_s - 1e-9:  # 1e-9: float steps
                return False
            probabilities = np.asarray(faces[0].probabilities, dtype=np.float32) if faces else None
            self._points.append((at, len(faces), probabilities, faces[0].answer if faces else None))
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._points)

    def frame(self, last_s: float | None = None, *, break_gaps: bool = False) -> pd.DataFrame:
        """The record as a table, oldest first, in the video timeline's columns.

        ``time_s`` counts from the first point kept; ``utc`` is the wall time in ISO 8601 UTC (the
        server's local time would be ambiguous: a hosted app's server is rarely in the visitor's
        time zone). ``last_s``
        keeps only the most recent seconds. ``break_gaps`` (for plots, not for tables) puts a
        row of NaN probabilities where points are more than ``GAP_S`` apart, so the lines break
        there instead of running straight across a stopped camera.
        """
        with self._lock:
            points = list(self._points)
        if not points:
            return pd.DataFrame(columns=["time_s", "utc", "faces", "label", *CLASS_NAMES])
        origin = points[0][0]  # before cutting to last_s, so time_s does not shift as the window slides
        if last_s is not None:
            points = [point for point in points if point[0] >= points[-1][0] - last_s]
        rows, previous = [], None
        for at, faces, probabilities, answer in points:
            if break_gaps and previous is not None and at - previous > GAP_S:
                rows.append(_row(previous + self._sample_every_s, origin, 0, None, stamped=False))
            rows.append(_row(at, origin, faces, probabilities, answer))
            previous = at
        return pd.DataFrame(rows)


def _row(at: float, origin: float, faces: int, probabilities: np.ndarray | None, answer: int | None = None, *,
         stamped: bool = True) -> dict:
    utc = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if stamped else ""
    return {"time_s": round(at - origin, 3), "utc": utc, "faces": faces, **main_face_columns(probabilities, answer)}


def main_face_columns(probabilities: np.ndarray | None, answer: int | None = None) -> dict:
    """A timeline row's ``label`` and seven class columns for the main face's probabilities; with
    no face, an empty label and NaN, so a plot breaks its lines there (Live and video timelines).
    ``answer`` is the class the face was labelled with on screen (a held answer on a near tie), so
    the table says what the video said; by default the top class."""
    values = [np.nan] * len(CLASS_NAMES) if probabilities is None else [float(p) for p in probabilities]
    label = "" if probabilities is None else CLASS_NAMES[int(np.argmax(probabilities)) if answer is None else answer]
    return {"label": label, **dict(zip(CLASS_NAMES, values, strict=True))}


def expression_shares(timeline: pd.DataFrame) -> pd.Series:
    """Share of the rows with a face that each class led, in FER order (all seven, zeros kept).

    Empty when no row had a face: "0 % everywhere" would read as a measurement.
    """
    labels = timeline.loc[timeline["label"].astype(str) != "", "label"] if len(timeline) else pd.Series(dtype=str)
    if labels.empty:
        return pd.Series(dtype=float)
    return labels.value_counts(normalize=True).reindex(list(CLASS_NAMES), fill_value=0.0)


def shares_line(shares: pd.Series) -> str:
    """'happy 62%, neutral 30%, sad 8%': the classes that led at all, most often first."""
    leading = shares[shares >= 0.005].sort_values(ascending=False, kind="stable")
    return ", ".join(f"{name} {share:.0%}" for name, share in leading.items())
