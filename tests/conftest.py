"""Shared fixtures: tiny FER2013-style files built at test time (no FER2013 rows are committed)."""

from __future__ import annotations

import os
from pathlib import Path

# Before anything imports TensorFlow: pylibsrtp (aiortc) segfaults when imported after it,
# and the page AppTests import aiortc through ui.bootstrap (see ui/bootstrap.py).
import aiortc  # noqa: F401
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_CSV = REPO_ROOT.parent / "shared" / "data" / "fer2013" / "fer2013_dev.csv.gz"
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def random_faces(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, 48, 48), dtype=np.uint8)


def pixel_string(image: np.ndarray) -> str:
    return " ".join(map(str, image.ravel().tolist()))


def write_fer_csv(path: Path, images: np.ndarray, labels: np.ndarray | None, usage: list[str] | None, *, layout: str = "fer2013") -> Path:
    """Write faces in one of the Kaggle layouts: fer2013, train, test or icml."""
    lines = []
    if layout == "fer2013":
        lines.append("emotion,pixels,Usage")
        lines += [f"{lab},{pixel_string(img)},{use}" for img, lab, use in zip(images, labels, usage, strict=True)]
    elif layout == "icml":
        lines.append("emotion, Usage, pixels")
        lines += [f"{lab},{use},{pixel_string(img)}" for img, lab, use in zip(images, labels, usage, strict=True)]
    elif layout == "train":
        lines.append("emotion,pixels")
        lines += [f"{lab},\"{pixel_string(img)}\"" for img, lab in zip(images, labels, strict=True)]
    elif layout == "test":
        lines.append("pixels")
        lines += [pixel_string(img) for img in images]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def faces() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """14 random faces, two per class, the first 10 in Training and the rest in PublicTest."""
    images = random_faces(14)
    labels = np.repeat(np.arange(7), 2)
    usage = ["Training"] * 10 + ["PublicTest"] * 4
    return images, labels, usage


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Caches and runs go to temporary folders so tests never touch the repo's data/, models/runs/ or
    models/wip/ (whose committed long runs would otherwise appear on every Train page test)."""
    base = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("FER_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("FER_RUNS_DIR", str(base / "runs"))
    monkeypatch.setenv("FER_WIP_DIR", str(base / "wip"))
    monkeypatch.delenv("FER_PUBLIC_DEMO", raising=False)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def shared_csv() -> Path:
    if not SHARED_CSV.exists():
        pytest.skip(f"the FER2013 dev copy is not at {SHARED_CSV}")
    return SHARED_CSV


def seeded_tiny_model(seed: int):
    """An untrained 'tiny' model with seeded weights.

    Untrained nets give near-tied probabilities, so whether quantisation flips a top class
    (which publish refuses above 5 %) depends on the draw: seeding keeps each test's draw fixed.
    """
    import keras

    from fer_core.nets.architectures import build_model

    keras.utils.set_random_seed(seed)
    return build_model("tiny")


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 'tiny' model saved as .keras (architecture and I/O are what matter here)."""
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    seeded_tiny_model(0).save(path)
    return path


@pytest.fixture
def finished_run(tiny_model_file: Path, tmp_path: Path) -> Path:
    """A run folder as a finished training leaves it, without the cost of training."""
    import json
    import shutil

    from fer_core.training.config import TrainConfig
    from fer_core.training.runs import create_run

    images = random_faces(70, seed=3)
    labels = np.tile(np.arange(7), 10)
    data = write_fer_csv(tmp_path / "fer2013.csv", images, labels, ["Training"] * 56 + ["PublicTest"] * 14)
    run_dir = create_run(TrainConfig(data=str(data), arch="tiny", epochs=2))
    shutil.copy(tiny_model_file, run_dir / "best.keras")
    shutil.copy(tiny_model_file, run_dir / "checkpoint.keras")
    (run_dir / "history.csv").write_text(
        "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds\n1,1.9,0.2,1.9,0.21,0.001,3.0\n2,1.8,0.25,1.85,0.24,0.0005,3.1\n"
    )
    (run_dir / "status.json").write_text(json.dumps({"state": "finished", "epoch": 2, "epochs": 2}))
    return run_dir


def paste_face(frame: np.ndarray, face: np.ndarray, x: int, y: int, size: int) -> tuple[int, int, int, int]:
    """Paste a 48x48 grey face scaled to ``size`` into a BGR frame; returns its box."""
    import cv2

    frame[y : y + size, x : x + size] = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)[..., None]
    return x, y, size, size


@pytest.fixture(scope="session")
def real_faces() -> np.ndarray:
    """Frontal FER2013 PublicTest faces, read from ../shared at test time (never committed)."""
    if not SHARED_CSV.exists():
        pytest.skip(f"the FER2013 dev copy is not at {SHARED_CSV}")
    from fer_core.data.loading import load_dataset

    public = load_dataset(SHARED_CSV).split("PublicTest")
    happy_and_neutral = np.flatnonzero(np.isin(public.labels, (3, 6)))
    return public.images[happy_and_neutral[:40]]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Expose each phase's report on the test item, so fixtures can react to failures (screenshots)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
