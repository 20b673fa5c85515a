"""Files that must never be seen half-written, and the names of those a run or a model folder holds.

A training process, the app and the CLI read the same folders while another process writes
them, and a kill or a full disk can stop a write at any byte: every writer here goes through
``atomic_path`` (write beside the target, rename over it), and every reader of a folder's JSON
through ``read_json``, which treats a missing or broken file as empty rather than crashing a page.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BEST_MODEL = "best.keras"  # a run's best epoch, what publish and Evaluate load (float16 on disk once `pack`ed)
CHECKPOINT = "checkpoint.keras"  # a run's last epoch with optimiser state, what --resume loads
STATUS = "status.json"  # a run's state and progress, rewritten several times an epoch
HISTORY = "history.csv"  # a run's row per epoch
SITTINGS = "sittings.json"  # a run's machine for each training process, keyed by when it started
METRICS = "metrics.json"  # a run's or a published model's scores and what was measured
PUBLISHED_MODEL = "model.keras"  # the lean model in a published folder (models/default/)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` when the block ends
    cleanly, removed if it raises. Same folder, so the rename is atomic; the name keeps the
    target's suffixes, since Keras, numpy and the dataset loader pick the format from them."""
    temporary = path.with_name(f".tmp-{path.name}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON so a reader never sees half a file."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2))


def read_json(path: Path) -> dict:
    """A folder's JSON file as a dict; ``{}`` when it is missing, unreadable or not an object."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def read_metrics(folder: Path) -> dict:
    """``metrics.json`` of a run or a published model folder (``{}`` when there is none)."""
    return read_json(folder / METRICS)
