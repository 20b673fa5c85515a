"""The Live page's expression challenge: the app names an expression, you make it.

A game for the hosted demo and the classroom, and a lesson in disguise: the net reaches
"happy" in a second and may never grant "fear" or "disgust", which is its per-class recall
felt from the other side of the camera. The logic is here (no Streamlit, no clock of its
own) so it can be tested frame by frame; the page feeds it the main face a few times a second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from fer_core.labels import CLASS_NAMES

THRESHOLD = 0.6  # the target's probability that counts as "made it"
HOLD_S = 1.0  # ... held this long, so one lucky frame does not count
LIMIT_S = 20.0  # then the challenge moves on: some expressions this net rarely grants


@dataclass
class Attempt:
    target: str
    started_at: float
    best: float = 0.0  # the target's highest probability seen
    seconds: float | None = None  # time to success; None while going or after giving up
    gave_up: bool = False

    @property
    def finished(self) -> bool:
        return self.seconds is not None or self.gave_up


class ExpressionChallenge:
    """Rounds of the seven expressions in a shuffled order, each held for ``hold_s`` above
    ``threshold`` within ``limit_s``."""

    def __init__(self, *, seed: int | None = None, threshold: float = THRESHOLD, hold_s: float = HOLD_S,
                 limit_s: float = LIMIT_S) -> None:
        self.threshold, self.hold_s, self.limit_s = threshold, hold_s, limit_s
        self._random = random.Random(seed)
        self._queue: list[str] = []
        self.attempts: list[Attempt] = []
        self.held_since: float | None = None

    @property
    def current(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts and not self.attempts[-1].finished else None

    def update(self, probabilities: np.ndarray | None, now: float) -> Attempt | None:
        """Feed the main face's probabilities (None: no face) at time ``now``.

        Returns the attempt that just finished (won or given up), else None. The first call
        and every call after a finished attempt start the next target.
        """
        attempt = self.current
        if attempt is None:
            self._start(now)
            return None
        score = self.score(probabilities)
        attempt.best = max(attempt.best, score)
        if score >= self.threshold:
            self.held_since = now if self.held_since is None else self.held_since
            if now - self.held_since >= self.hold_s:
                attempt.seconds = round(now - attempt.started_at, 1)
                return attempt
        else:
            self.held_since = None
        if now - attempt.started_at >= self.limit_s:
            attempt.gave_up = True
            return attempt
        return None

    def skip(self, now: float) -> None:
        """Give up on the current target and start the next one."""
        if self.current is not None:
            self.current.gave_up = True
        self._start(now)

    def score(self, probabilities: np.ndarray | None) -> float:
        """The current target's probability (0 with no face or no target)."""
        if self.current is None or probabilities is None:
            return 0.0
        return float(probabilities[CLASS_NAMES.index(self.current.target)])

    def progress(self, probabilities: np.ndarray | None) -> float:
        """How far the current target is towards the threshold, 0..1 (for a progress bar)."""
        return min(1.0, self.score(probabilities) / self.threshold)

    def _start(self, now: float) -> None:
        if not self._queue:
            previous = self.attempts[-1].target if self.attempts else None
            self._queue = list(CLASS_NAMES)
            while True:  # a new round never opens with the expression that closed the last one
                self._random.shuffle(self._queue)
                if self._queue[-1] != previous:
                    break
        self.held_since = None
        self.attempts.append(Attempt(self._queue.pop(), now))

    def summary(self) -> str:
        """'4 of 6 made, fastest happy 1.2 s; not granted: fear (best 31%), disgust (best 12%)'."""
        done = [a for a in self.attempts if a.finished]
        if not done:
            return ""
        made = sorted((a for a in done if a.seconds is not None), key=lambda a: a.seconds)
        missed = [a for a in done if a.gave_up]
        parts = [f"{len(made)} of {len(done)} made"]
        if made:
            parts.append(f"fastest {made[0].target} {made[0].seconds:.1f} s")
        text = ", ".join(parts)
        if missed:
            text += "; not granted: " + ", ".join(f"{a.target} (best {a.best:.0%})" for a in missed)
        return text
