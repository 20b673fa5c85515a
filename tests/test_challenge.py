"""The expression challenge, fed by hand a few times a second as the Live page feeds it."""

import numpy as np
import pytest

from fer_core.inference.challenge import ExpressionChallenge
from fer_core.labels import CLASS_NAMES


def showing(name: str, share: float) -> np.ndarray:
    probabilities = np.full(len(CLASS_NAMES), (1 - share) / (len(CLASS_NAMES) - 1))
    probabilities[CLASS_NAMES.index(name)] = share
    return probabilities


def started(seed: int = 0, **settings) -> ExpressionChallenge:
    challenge = ExpressionChallenge(seed=seed, **settings)
    assert challenge.update(None, now=0.0) is None
    assert challenge.current is not None and challenge.current.target in CLASS_NAMES
    return challenge


def test_an_expression_held_above_the_threshold_wins_after_the_hold() -> None:
    challenge = started(threshold=0.6, hold_s=1.0)
    target = challenge.current.target
    assert challenge.update(showing(target, 0.7), now=2.0) is None  # reached, not yet held
    assert challenge.update(showing(target, 0.8), now=2.6) is None
    won = challenge.update(showing(target, 0.7), now=3.0)
    assert won is not None and won.seconds == 3.0 and won.best == pytest.approx(0.8) and not won.gave_up
    assert challenge.current is None  # the next call starts the next target
    challenge.update(None, now=3.3)
    assert challenge.current.target != target


def test_a_dip_below_the_threshold_restarts_the_hold() -> None:
    challenge = started(threshold=0.6, hold_s=1.0)
    target = challenge.current.target
    challenge.update(showing(target, 0.7), now=1.0)
    challenge.update(showing(target, 0.5), now=1.5)  # lost it
    assert challenge.update(showing(target, 0.7), now=2.1) is None  # 1.1 s after the first reach, but held only since 2.1
    assert challenge.update(showing(target, 0.7), now=3.1) is not None


def test_another_expression_or_no_face_never_counts_and_the_limit_gives_up() -> None:
    challenge = started(limit_s=20.0)
    target = challenge.current.target
    other = next(name for name in CLASS_NAMES if name != target)
    for step in range(1, 80):
        result = challenge.update(showing(other, 0.9) if step % 2 else None, now=step * 0.3)
        if result is not None:
            break
    assert result is not None and result.gave_up and result.seconds is None and step * 0.3 >= 20.0
    assert result.best < 0.6


def test_a_round_asks_for_each_expression_once_and_the_next_does_not_open_with_the_last() -> None:
    challenge = started(seed=3)
    now = 0.0
    for _ in range(7 * 20 - 1):
        now += 1.0
        challenge.skip(now)
    targets = [attempt.target for attempt in challenge.attempts]
    rounds = [targets[i:i + 7] for i in range(0, len(targets), 7)]
    assert all(sorted(r) == sorted(CLASS_NAMES) for r in rounds)
    assert all(rounds[i][-1] != rounds[i + 1][0] for i in range(len(rounds) - 1))


def test_progress_and_summary_read_as_a_person_would() -> None:
    challenge = started(seed=1, threshold=0.6, hold_s=0.0)
    first = challenge.current.target
    assert challenge.progress(showing(first, 0.3)) == pytest.approx(0.5)
    assert challenge.progress(None) == 0.0
    challenge.update(showing(first, 0.9), now=1.5)
    challenge.update(None, now=1.6)
    second = challenge.current.target
    challenge.update(showing(second, 0.31), now=2.0)
    challenge.skip(now=3.0)
    assert challenge.summary() == f"1 of 2 made, fastest {first} 1.5 s; not granted: {second} (best 31%)"
    assert ExpressionChallenge().summary() == ""
