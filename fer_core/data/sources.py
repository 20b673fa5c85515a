"""Where the app finds FER2013, and how it gets a copy onto this machine.

FER2013 is never committed to this repository (its licence is research-only and the
project keeps it out of git), so the app looks, in order, at: the ``FER2013_PATH``
environment variable, the same key in Streamlit secrets (passed in by the app), files
in ``data/`` (a copy put there by hand, an upload, or a Kaggle download), and reports
exactly which one it shows.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fer_core.data.ferplus import is_votes_file
from fer_core.data.loading import load_dataset
from fer_core.errors import FerError, first_line
from fer_core.files import atomic_path
from fer_core.paths import DATA_DIR

ENV_VAR = "FER2013_PATH"
UPLOAD_DIR = DATA_DIR / "uploads"
KAGGLE_DIR = DATA_DIR / "kaggle"
DEFAULT_KAGGLE_DATASET = "deadskull7/fer2013"  # holds the original fer2013.csv
_DATASET_SUFFIXES = (".csv", ".csv.gz", ".zip")
HOW_TO_GET = (
    "FER2013 is not bundled (research licence). Get `fer2013.csv` from Kaggle "
    "(competition *challenges-in-representation-learning-facial-expression-recognition-challenge*, "
    "or the dataset *deadskull7/fer2013*), then either put it in `data/`, set `FER2013_PATH` "
    "to its path, or upload it on the Explore page. `train.csv`/`test.csv`, `icml_face_data.csv` "
    "and the image-folder release (`train/<class>/*.jpg`) work too."
)


@dataclass(frozen=True)
class DatasetSource:
    path: Path
    origin: str  # how it was found: "FER2013_PATH", "secrets", "data/", "upload", "kaggle"

    @property
    def label(self) -> str:
        return f"{self.path.name} ({self.origin})"


def _looks_like_dataset(path: Path) -> bool:
    if is_votes_file(path):  # FER+ votes beside the dataset are not a dataset
        return False
    if path.is_dir():
        return any(child.is_dir() and child.name.lower() in ("train", "test") for child in path.iterdir())
    return path.name.lower().endswith(_DATASET_SUFFIXES)


def find_datasets(secrets: Mapping[str, object] | None = None) -> list[DatasetSource]:
    """Every dataset the app can show, best first; the first one is the default."""
    found: list[DatasetSource] = []
    for origin, value in ((ENV_VAR, os.environ.get(ENV_VAR)), ("secrets", (secrets or {}).get(ENV_VAR))):
        if value and Path(str(value)).expanduser().exists():
            found.append(DatasetSource(Path(str(value)).expanduser().resolve(), origin))
    for folder, origin in ((DATA_DIR, "data/"), (UPLOAD_DIR, "upload"), (KAGGLE_DIR, "kaggle")):
        if folder.is_dir():
            candidates = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.name not in ("uploads", "kaggle"))
            found.extend(DatasetSource(p.resolve(), origin) for p in candidates if _looks_like_dataset(p))
    unique: dict[Path, DatasetSource] = {}
    for source in found:
        unique.setdefault(source.path, source)
    return list(unique.values())


def safe_upload_name(filename: str) -> str:
    """Keep an uploaded file's name readable but unable to leave ``data/uploads``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename).name).lstrip(".")
    if not name.lower().endswith(_DATASET_SUFFIXES):
        raise FerError(f"{filename}: upload a .csv, .csv.gz or .zip file")
    return name[:120]


def save_upload(filename: str, content: bytes) -> Path:
    """Store an upload after checking that it parses; a bad file leaves nothing behind.

    The bytes go to a hidden temporary name first, so a half-written or invalid upload
    never replaces a good dataset of the same name.
    """

    UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    target = UPLOAD_DIR / safe_upload_name(filename)
    # Keep the real suffix last: the loader picks the format from it.
    with atomic_path(target) as temporary:  # checked before it takes the real name
        temporary.write_bytes(content)
        load_dataset(temporary, use_cache=False)
    return target


def download_from_kaggle(username: str, key: str, dataset: str = DEFAULT_KAGGLE_DATASET) -> Path:
    """Fetch FER2013 with the deployer's Kaggle token (the only run-time download the app makes)."""
    os.environ["KAGGLE_USERNAME"], os.environ["KAGGLE_KEY"] = username, key  # read by the kaggle package
    KAGGLE_DIR.mkdir(parents=True, exist_ok=True)
    staging = KAGGLE_DIR / ".download"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        # Imported here: the package authenticates as soon as it is imported.
        from kaggle.api.kaggle_api_extended import KaggleApi

        api = KaggleApi()
        api.authenticate()
        api.dataset_download_files(dataset, path=str(staging), unzip=True, quiet=True)
    except ImportError:
        raise FerError("the 'kaggle' package is not installed; pip install kaggle") from None
    except Exception as exc:  # noqa: BLE001 - network, auth and API errors all mean "no download"
        shutil.rmtree(staging, ignore_errors=True)
        raise FerError(f"Kaggle download of {dataset} failed: {first_line(exc)}") from None
    csvs = sorted(staging.rglob("*.csv"))
    if not csvs:
        shutil.rmtree(staging, ignore_errors=True)
        raise FerError(f"Kaggle dataset {dataset} holds no CSV file")
    target = KAGGLE_DIR / csvs[0].name
    os.replace(csvs[0], target)
    shutil.rmtree(staging, ignore_errors=True)
    return target
