"""Camera crops brought to the lighting of histogram-equalised training faces."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import write_fer_csv

from fer_core.inference.faces import Detection
from fer_core.inference.lighting import (
    LIGHTING_SHIFTS,
    SHARE_KEY,
    equalised_share,
    matched_to_equalised,
    shifted_lighting,
    wants_equalised_crops,
)
from fer_core.inference.predictor import Predictor
from fer_core.training.config import TrainConfig


def smooth_faces(count: int, seed: int = 0) -> np.ndarray:
    """Blurred noise: face-like smooth grey images with a histogram far from flat."""
    noise = np.random.default_rng(seed).normal(128, 40, (count, 48, 48)).clip(0, 255).astype(np.uint8)
    return np.stack([cv2.GaussianBlur(face, (9, 9), 3) for face in noise])


def test_an_equalised_face_is_left_alone_and_a_dim_one_is_brightened_and_spread() -> None:
    face = cv2.equalizeHist(smooth_faces(1)[0])
    assert matched_to_equalised(face) is face
    dim = (20 + 0.35 * face).astype(np.uint8)
    restored = matched_to_equalised(dim)
    assert restored.std() > 1.2 * dim.std()  # contrast-limited: spread, not stretched to the full range
    order = np.argsort(dim.ravel(), kind="stable")
    assert (np.diff(restored.ravel()[order].astype(int)) >= 0).all()  # one mapping of grey levels: the face is the same


def test_large_flat_areas_are_not_stretched_into_harsh_contrast() -> None:
    drawn = np.full((48, 48), 80, np.uint8)  # two flat halves and a dark band: a drawing, not a photo
    drawn[:, 24:] = 160
    drawn[20:28, 10:38] = 30
    limited = np.abs(matched_to_equalised(drawn).astype(int) - drawn).mean()
    plain = np.abs(cv2.equalizeHist(drawn).astype(int) - drawn).mean()
    assert plain > 60 and 0 < limited < plain / 3


def test_share_counts_faces_already_equalised() -> None:
    raw = smooth_faces(4)
    mixed = np.concatenate([np.stack([cv2.equalizeHist(face) for face in raw[:3]]), raw[3:]])
    assert equalised_share(mixed) == 0.75
    assert equalised_share(np.empty((0, 48, 48), np.uint8)) == 0.0


@pytest.mark.parametrize(("share", "expected"), [(0.79, True), (0.1, False)])
def test_a_published_model_is_judged_by_its_recorded_share(tmp_path: Path, share: float, expected: bool) -> None:
    (tmp_path / "metrics.json").write_text(json.dumps({SHARE_KEY: share}))
    assert wants_equalised_crops(tmp_path / "model.keras") is expected


def test_a_run_is_judged_by_its_dataset_and_a_lost_dataset_means_no_change(tmp_path: Path) -> None:
    raw = smooth_faces(14)
    labels, usage = np.repeat(np.arange(7), 2), ["Training"] * 7 + ["PublicTest"] * 7
    for name, faces, expected in [("equalised", np.stack([cv2.equalizeHist(f) for f in raw]), True), ("raw", raw, False)]:
        run_dir = tmp_path / name
        run_dir.mkdir()
        data = write_fer_csv(tmp_path / f"{name}.csv", faces, labels, usage)
        (run_dir / "config.json").write_text(TrainConfig(data=str(data)).to_json())
        assert wants_equalised_crops(run_dir / "best.keras") is expected
    (tmp_path / "equalised.csv").unlink()
    assert wants_equalised_crops(tmp_path / "equalised" / "best.keras") is False
    assert wants_equalised_crops(tmp_path / "nowhere" / "model.keras") is False


class OneBox:
    name = "one box"

    def detect(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        return [(40, 40, 96, 96)]

    def locate(self, image: np.ndarray) -> list[Detection]:
        return [Detection(box) for box in self.detect(image)]


def test_the_predictor_equalises_crops_only_for_models_that_want_it() -> None:
    frame = np.full((200, 200), 60, np.uint8)
    frame[40:136, 40:136] = (30 + 0.3 * smooth_faces(1, seed=2)[0].repeat(2, 0).repeat(2, 1)).astype(np.uint8)

    def uniform(crops: np.ndarray) -> np.ndarray:
        return np.full((len(crops), 7), 1 / 7)

    plain = Predictor(uniform, OneBox()).predict(frame)[0].crop
    matched = Predictor(uniform, OneBox(), equalise=True).predict(frame)[0].crop
    np.testing.assert_array_equal(matched, matched_to_equalised(plain, 0.1))  # the model sees (Grad-CAM shows) this
    assert matched.std() > 1.5 * plain.std()


def test_the_face_box_alone_decides_whether_a_crop_is_matched() -> None:
    face = cv2.equalizeHist(cv2.resize(smooth_faces(1, seed=4)[0], (40, 40), interpolation=cv2.INTER_AREA))
    crop = np.full((48, 48), 110, np.uint8)  # an already equalised face framed by a plain wall
    crop[4:44, 4:44] = face
    assert matched_to_equalised(crop, margin=0.1) is crop
    assert not np.array_equal(matched_to_equalised(crop), crop)  # judged on the whole crop, the wall would have it changed
    blank = np.full((48, 48), 90, np.uint8)
    assert matched_to_equalised(blank, 0.1) is blank  # one grey level: nothing to spread


def test_shifted_lighting_is_reproducible_and_keeps_the_order_of_grey_levels() -> None:
    faces = smooth_faces(3)
    for shift in LIGHTING_SHIFTS:
        shifted = shifted_lighting(faces, shift)
        np.testing.assert_array_equal(shifted, shifted_lighting(faces, shift))  # seeded
        for face, seen in zip(faces, shifted, strict=True):
            order = np.argsort(face.ravel(), kind="stable")
            assert (np.diff(seen.ravel()[order].astype(int)) >= 0).all()  # monotonic: a change of light, not of face
    assert shifted_lighting(faces, "dim").max() < 160


@pytest.mark.slow
def test_cli_bench_lighting_scores_every_shift_as_seen_and_matched(finished_run: Path) -> None:
    from test_cli_data import run_cli

    data = json.loads((finished_run / "config.json").read_text())["data"]
    result = run_cli("bench-lighting", "--data", data, "--model", str(finished_run / "best.keras"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    lightings = ["none", *LIGHTING_SHIFTS]
    assert [(row["framing"], row["lighting"]) for row in report["results"]] == [
        (framing, lighting) for framing in ("face as the crop", "face on a plain wall") for lighting in lightings
    ] and report["n"] == 14
    none = report["results"][0]
    assert none["as_seen"] == none["matched"]  # uniform random faces are already equalised: nothing to match
