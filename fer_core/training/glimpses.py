"""The same few validation faces, classified after every epoch, so a run can be watched learning.

Curves say how many faces a net gets right; watching fourteen faces change their answers epoch
by epoch shows *what* it learns. The faces are kept in the run folder, which is never committed,
so the Train page can show them without the dataset the run was trained on.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_core.files import atomic_path
from fer_core.labels import NUM_CLASSES

GLIMPSE_FILE = "glimpses.npz"
FACES_PER_CLASS = 2


@dataclass(frozen=True)
class Glimpses:
    faces: np.ndarray  # (K, 48, 48) uint8
    labels: np.ndarray  # (K,)
    epochs: np.ndarray  # (E,) 1-based epoch numbers
    probabilities: np.ndarray  # (E, K, 7)

    def at(self, epoch: int) -> np.ndarray:
        """(K, 7) probabilities after ``epoch``."""
        return self.probabilities[int(np.flatnonzero(self.epochs == epoch)[0])]


def pick_faces(labels: np.ndarray, per_class: int = FACES_PER_CLASS, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` faces of each class, in class order: every class is watched,
    disgust included, however rare."""
    order = np.random.default_rng(seed).permutation(len(labels))
    return np.concatenate([order[labels[order] == label][:per_class] for label in range(NUM_CLASSES)]).astype(int)


def read_glimpses(run_dir: Path) -> Glimpses | None:
    """The run's watched faces so far; None before the first epoch ends or if the file is unreadable."""
    try:
        with np.load(run_dir / GLIMPSE_FILE) as stored:
            return Glimpses(stored["faces"], stored["labels"], stored["epochs"], stored["probabilities"])
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def record_glimpse(run_dir: Path, classify, images: np.ndarray, labels: np.ndarray, epoch: int) -> Glimpses:
    """Classify the run's watched faces (picked from ``images`` the first time) after ``epoch``.

    ``classify`` maps (K, 48, 48, 1) float32 faces to (K, 7) probabilities. A resumed run
    re-records from its checkpoint's epoch on, replacing what a killed process left after it.
    """
    previous = read_glimpses(run_dir)
    if previous is None:
        chosen = pick_faces(labels)
        faces, face_labels = images[chosen], labels[chosen]
        epochs, probabilities = np.zeros(0, int), np.zeros((0, len(chosen), NUM_CLASSES), np.float32)
    else:
        keep = previous.epochs < epoch
        faces, face_labels = previous.faces, previous.labels
        epochs, probabilities = previous.epochs[keep], previous.probabilities[keep]
    current = np.asarray(classify(faces[..., None].astype(np.float32)), np.float32)
    glimpses = Glimpses(faces, face_labels, np.append(epochs, epoch), np.concatenate([probabilities, current[None]]))
    with atomic_path(run_dir / GLIMPSE_FILE) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, faces=glimpses.faces, labels=glimpses.labels, epochs=glimpses.epochs, probabilities=glimpses.probabilities)
    return glimpses
