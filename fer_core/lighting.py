"""Bring a camera's face crop to the lighting of the faces a model learnt from.

The development copy of FER2013 is histogram-equalised: equalising its faces again changes
78-79 % of them by under 3 grey levels on average (median 1.2), its pixels are spread evenly
over 0-255, and half its faces have a mean brightness within 128-131. A webcam crop is not: in
dim or washed-out light it is darker or flatter than anything the net saw. So a crop whose face
box is far from equalised (equalising it would move its pixels by over 20 grey levels on
average) gets the box's equalisation, applied to the whole crop.

Measured with ``python -m fer_core bench-lighting`` (Live's classifier, quantised with flip TTA,
on PublicTest faces in three kinds of light; "as seen" -> "matched"):

- each face as the whole crop: as they are 67.6 -> 67.2 %; dim 64.0 -> 65.7; washed out
  63.3 -> 65.9; random gain, offset and gamma 64.0 -> 65.6;
- each face on a plain grey wall, cropped as Live does: 62.8 -> 62.5; dim 59.8 -> 61.3; washed
  out 59.4 -> 60.9; random 60.5 -> 61.5.

Gains of 1.0-2.6 points in other light for 0.3-0.4 on faces already lit like the dataset's,
which a camera does not give. A first version equalised the whole crop from its own histogram
at a threshold of 8: on the plain wall it cost 5.8 points on the faces as they are.

Whether a model wants this depends on its training faces, so it is decided per model: publish
records the share of the selection split's faces that are already equalised, and a training
run's dataset is measured when its model is first used live.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

NEAR_EQUALISED = 3.0  # mean grey-level change under which a face counts as already equalised
FAR_FROM_EQUALISED = 20.0  # crops whose face box equalisation changes more than this are equalised
MOSTLY = 0.5  # a dataset whose faces are mostly equalised: its models get equalised crops
SHARE_KEY = "dataset_equalised_share"


def _equalised(face: np.ndarray) -> tuple[np.ndarray, float]:
    """A uint8 face histogram-equalised, and the mean absolute grey-level change that made."""
    equalised = cv2.equalizeHist(face)
    return equalised, float(np.abs(equalised.astype(np.int16) - face).mean())


def equalisation_change(face: np.ndarray) -> float:
    """Mean absolute grey-level change that histogram equalisation makes to a uint8 face."""
    return _equalised(face)[1]


def equalised_share(faces: np.ndarray) -> float:
    """Share of (N, 48, 48) uint8 faces that equalisation leaves nearly as they are."""
    if not len(faces):
        return 0.0
    return float(np.mean([equalisation_change(face) < NEAR_EQUALISED for face in faces]))


def matched_to_equalised(crop: np.ndarray, face_fraction: float = 1.0) -> np.ndarray:
    """The crop equalised when its face is far from equalised, else unchanged.

    The grey-level mapping comes from the face box alone (the central ``face_fraction`` of the
    crop; the rest is the margin ``crop_face`` adds) and is applied to the whole crop: a plain
    wall in the margin would otherwise take over the histogram.
    """
    side = crop.shape[0]
    inner = round(side * face_fraction)
    start = (side - inner) // 2
    face = crop[start : start + inner, start : start + inner]
    counts = np.bincount(face.ravel(), minlength=256).cumsum()
    lowest = counts[np.flatnonzero(counts)[0]]
    if counts[-1] == lowest:  # one grey level: nothing to spread
        return crop
    mapping = np.round((counts - lowest) * 255 / (counts[-1] - lowest)).clip(0, 255).astype(np.uint8)
    change = np.abs(mapping[face].astype(np.int16) - face).mean()
    return mapping[crop] if change > FAR_FROM_EQUALISED else crop


def _dim(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # noqa: ARG001 - every shift takes one
    return 0.15 + 0.45 * faces


def _washed_out(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # noqa: ARG001
    return 0.45 + 0.5 * faces


def _random_camera(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain, offset, gamma = (rng.uniform(low, high, (len(faces), 1, 1)) for low, high in ((0.35, 0.9), (0.0, 0.4), (0.6, 1.7)))
    return offset + gain * faces**gamma


# Monotonic changes of light on [0, 1] pixels, as a camera in other light would see the same face.
LIGHTING_SHIFTS = {"dim": _dim, "washed out": _washed_out, "random gain, offset and gamma": _random_camera}


def shifted_lighting(faces: np.ndarray, shift: str, seed: int = 0) -> np.ndarray:
    """(N, 48, 48) uint8 faces as seen in another light (one of ``LIGHTING_SHIFTS``)."""
    unit = faces.astype(np.float32) / 255
    shifted = LIGHTING_SHIFTS[shift](unit, np.random.default_rng(seed))
    return np.clip(np.round(shifted * 255), 0, 255).astype(np.uint8)


def framed_on_plain_wall(faces: np.ndarray, margin: float, wall: int = 110, size: int = 200) -> np.ndarray:
    """Each face pasted at ``size`` px into a 640x480 frame of one grey and cropped as Live does,
    with the face as the detector's box: the margin then shows nothing but wall."""
    from fer_core.predictor import crop_face  # the predictor imports this module

    crops = []
    for face in faces:
        frame = np.full((480, 640), wall, np.uint8)
        top, left = (480 - size) // 2, (640 - size) // 2
        frame[top : top + size, left : left + size] = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
        crops.append(crop_face(frame, (left, top, size, size), margin))
    return np.stack(crops)


def wants_equalised_crops(model_path: Path) -> bool:
    """Whether the faces a model learnt from were mostly histogram-equalised.

    A published model's ``metrics.json`` says so; a run's model is judged by its dataset's
    selection split (the same file it was fitted on). A model with neither, or whose dataset is
    gone, gets its crops as the camera gives them.
    """
    folder = Path(model_path).parent
    try:
        share = json.loads((folder / "metrics.json").read_text()).get(SHARE_KEY)
    except (OSError, ValueError, AttributeError):
        share = None
    if share is None:
        share = _run_dataset_share(folder)
    return share is not None and share > MOSTLY


def _run_dataset_share(run_dir: Path) -> float | None:
    from fer_core.config import TrainConfig
    from fer_core.data import load_dataset
    from fer_core.errors import FerError

    try:
        config = TrainConfig.load(run_dir / "config.json")
        dataset = load_dataset(config.data)
        return equalised_share(dataset.split(config.val_split).images)
    except (FerError, OSError):
        return None
