"""A stopped run's state made small enough to commit under ``models/wip/`` and carry to the next machine.

A VGG run's ``checkpoint.keras`` holds the weights and the optimiser's slots (SGD momentum: the
same size again; Adam: twice), ``best.keras`` the weights once more: 21 MB for the 1.77 M VGG with
SGD, 28 MB with Adam, more than the ~20 MB a commit may add. Stored as float16 they take half.
Keras loads a float16 file into the model's float32 variables unchanged, so resuming needs nothing
special; what is lost is rounding (a relative 5e-4 on each value, the step counter and every other
integer untouched). Measured on the long run's checkpoint: probabilities moved by at most 0.003
and no answer changed, and a resumed tiny run matches one resumed from float32 (``tests``).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from fer_core.errors import FerError
from fer_core.files import BEST_MODEL, CHECKPOINT, atomic_path
from fer_core.training.runs import ACTIVE_STATES, read_status

WEIGHTS_ENTRY = "model.weights.h5"  # where a .keras archive keeps its variables
FLOAT16_MAX = float(np.finfo(np.float16).max)


def _halved(dataset) -> np.ndarray:  # an h5py.Dataset
    """The dataset's values, float16 when they are float32 and fit (a value past 65504 would become inf)."""
    values = dataset[()]
    if values.dtype == np.float32 and np.all(np.abs(values) <= FLOAT16_MAX):
        return values.astype(np.float16)
    return values


def _halve_weights_file(source: bytes) -> bytes:
    """A copy of an HDF5 weights file, groups and attributes as they are, float32 arrays as float16."""
    import h5py  # Keras' own dependency; only this command needs it, not every CLI start

    target = io.BytesIO()
    with h5py.File(io.BytesIO(source), "r") as original, h5py.File(target, "w") as copy:
        copy.attrs.update(original.attrs)

        def visit(name: str, item) -> None:  # an h5py.Group or h5py.Dataset
            node = copy.require_group(name) if isinstance(item, h5py.Group) else copy.create_dataset(name, data=_halved(item))
            node.attrs.update(item.attrs)

        original.visititems(visit)
    return target.getvalue()


def halve_saved_model(path: Path) -> tuple[int, int]:
    """Rewrite a ``.keras`` file with float16 variables, atomically; returns its bytes before and after."""
    before = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive, atomic_path(path) as temporary, zipfile.ZipFile(temporary, "w") as halved:
            for entry in archive.infolist():
                payload = archive.read(entry.filename)
                halved.writestr(entry, _halve_weights_file(payload) if entry.filename == WEIGHTS_ENTRY else payload)
    except (zipfile.BadZipFile, OSError, KeyError) as error:
        raise FerError(f"{path}: not a Keras model file ({error})") from error
    return before, path.stat().st_size


def halve_run_state(run_dir: Path) -> dict[str, tuple[int, int]]:
    """Halve a stopped run's checkpoint and best model in place, for a commit under ``models/wip/``.
    Refused while the run trains: it rewrites the checkpoint every epoch."""
    state = read_status(run_dir).get("state")
    if state in ACTIVE_STATES:
        raise FerError(f"{run_dir.name} is {state}; cancel it (and let it stop) before storing its state in float16")
    files = [run_dir / name for name in (CHECKPOINT, BEST_MODEL) if (run_dir / name).is_file()]
    if not files:
        raise FerError(f"{run_dir}: no checkpoint or best model to store")
    return {file.name: halve_saved_model(file) for file in files}
