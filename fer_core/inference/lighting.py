"""Bring a camera's face crop to the lighting of the faces a model learnt from.

The development copy of FER2013 is histogram-equalised: equalising its faces again changes
78-79 % of them by under 3 grey levels on average (median 1.2), its pixels are spread evenly
over 0-255, and half its faces have a mean brightness within 128-131. A webcam crop is not: in
dim or washed-out light it is darker or flatter than anything the net saw. So a crop whose face
box is far from equalised gets the box's contrast-limited equalisation, applied to the whole crop.

Measured with ``python -m fer_core bench-lighting`` (Live's classifier, quantised with flip TTA,
on PublicTest faces in three kinds of light; "as seen" -> "matched"):

- each face as the whole crop: as they are 67.6 -> 67.6 %; dim 64.0 -> 66.7; washed out
  63.3 -> 67.5; random gain, offset and gamma 64.0 -> 66.4;
- each face on a plain grey wall, cropped as Live does: 62.8 -> 62.7; dim 59.8 -> 61.3; washed
  out 59.4 -> 61.6; random 60.5 -> 61.6.

Earlier versions, measured the same way: plain equalisation of the whole crop (threshold 8)
cost 5.8 points on the wall as the faces are (the wall set the histogram) and turned the README's
drawn smiling face "neutral"; plain equalisation of the box (threshold 20) cost 0.3-0.4 points
on faces as they are and gained up to a point less in other light than the contrast-limited one.

Whether a model wants this depends on its training faces, so it is decided per model: publish
records the share of the selection split's faces that are already equalised, and a training
run's dataset is measured when its model is first used live.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from fer_core.data.loading import load_dataset
from fer_core.errors import FerError
from fer_core.files import read_metrics
from fer_core.inference.faces import crop_face
from fer_core.training.config import TrainConfig

NEAR_EQUALISED = 3.0  # mean grey-level change under which a face counts as already equalised
FAR_FROM_EQUALISED = 20.0  # crops whose face box equalisation changes more than this are equalised
CLIP_LIMIT = 2.0  # contrast limit: a grey level's share of the face box is capped at twice the even share
MOSTLY = 0.5  # a dataset whose faces are mostly equalised: its models get equalised crops
SHARE_KEY = "dataset_equalised_share"


def equalisation_change(face: np.ndarray) -> float:
    """Mean absolute grey-level change that histogram equalisation makes to a uint8 face."""
    return float(np.abs(cv2.equalizeHist(face).astype(np.int16) - face).mean())


def equalised_share(faces: np.ndarray) -> float:
    """Share of (N, 48, 48) uint8 faces that equalisation leaves nearly as they are."""
    if not len(faces):
        return 0.0
    return float(np.mean([equalisation_change(face) < NEAR_EQUALISED for face in faces]))


def _box_mapping(face: np.ndarray, clip_limit: float | None) -> np.ndarray | None:
    """The equalising grey-level mapping (256 entries) of a face box's histogram, contrast-limited
    when ``clip_limit`` is given; None for a box of one grey level (nothing to spread)."""
    present = np.bincount(face.ravel(), minlength=256).astype(np.float64)
    counts = present
    if clip_limit is not None:
        limit = clip_limit * present.sum() / 256
        counts = np.minimum(present, limit) + np.maximum(present - limit, 0).sum() / 256
    cumulative = counts.cumsum()
    lowest = cumulative[np.flatnonzero(present)[0]]
    if cumulative[-1] - lowest < 1e-9:
        return None
    return np.round((cumulative - lowest) * 255 / (cumulative[-1] - lowest)).clip(0, 255).astype(np.uint8)


def matched_to_equalised(crop: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """The crop equalised when its face is far from equalised, else unchanged.

    The face box (the crop without the ``margin`` per side that ``crop_face`` added) decides
    and sets the mapping, which is applied to the whole crop: a
    plain wall in the margin would otherwise take over the histogram. The box counts as far
    when plain equalisation would move its pixels by over ``FAR_FROM_EQUALISED`` grey levels on
    average; the mapping applied is contrast-limited (no grey level may hold more than
    ``CLIP_LIMIT`` times its even share), so large flat areas are not stretched into harsh contrast.
    """
    side = crop.shape[0]
    inner = round(side / (1 + 2 * margin))
    start = (side - inner) // 2
    face = crop[start : start + inner, start : start + inner]
    full = _box_mapping(face, None)
    if full is None or np.abs(full[face].astype(np.int16) - face).mean() <= FAR_FROM_EQUALISED:
        return crop
    return _box_mapping(face, CLIP_LIMIT)[crop]


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
    share = read_metrics(folder).get(SHARE_KEY)
    if share is None:
        share = _run_dataset_share(folder)
    return share is not None and share > MOSTLY


def _run_dataset_share(run_dir: Path) -> float | None:
    try:
        config = TrainConfig.load(run_dir / "config.json")
        return _dataset_share(config.data, Path(config.data).stat().st_mtime, config.val_split)
    except (FerError, OSError):
        return None


@functools.lru_cache(maxsize=16)
def _dataset_share(data: str, modified: float, split: str) -> float:  # noqa: ARG001 - 'modified' keys the cache
    """Kept per dataset file and version: the sidebar and every predictor built for a run's
    model ask again, and loading the dataset is the slow part."""

    return equalised_share(load_dataset(data).split(split).images)
