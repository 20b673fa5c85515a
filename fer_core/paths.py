"""Repository-relative locations, so nothing depends on the current working directory."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
MODELS_DIR = REPO_ROOT / "models"
DEFAULT_MODEL_DIR = MODELS_DIR / "default"
DEFAULT_MODEL_PATH = DEFAULT_MODEL_DIR / "model.keras"
# Microsoft's FER+ votes (MIT), row-aligned with Kaggle's fer2013.csv: shipped so that file gets them with no extra step.
FERPLUS_SHIPPED = REPO_ROOT / "vendor" / "ferplus" / "fer2013new.csv.gz"


def runs_dir() -> Path:
    """Where training runs live; ``FER_RUNS_DIR`` lets tests and deployments move it."""
    return Path(os.environ.get("FER_RUNS_DIR", MODELS_DIR / "runs"))


def wip_dir() -> Path:
    """Where long runs are carried between sittings (committed, resumable); ``FER_WIP_DIR`` moves it for tests."""
    return Path(os.environ.get("FER_WIP_DIR", MODELS_DIR / "wip"))


def cache_dir() -> Path:
    """Where parsed-dataset caches go; gitignored because they hold FER2013 pixels."""
    return Path(os.environ.get("FER_CACHE_DIR", DATA_DIR / ".cache"))
