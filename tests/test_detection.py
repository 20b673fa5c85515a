"""Detector choice, full range and tiles, eye keypoints and the upright crop, on pictures made here
(the shipped public-domain portrait and composites of it: no dataset needed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_core.inference.detection_bench import match_faces
from fer_core.inference.face_scenes import PORTRAIT, PORTRAIT_FACE, Scene, benchmark_scenes, make_scene, size_bucket
from fer_core.inference.faces import (
    AUTO_CHOICE,
    DETECTOR_CHOICES,
    MIN_TILT_DEGREES,
    Detection,
    _tile_starts,
    crop_face,
    eye_tilt,
    make_detector,
    to_grey,
)


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    return cv2.imread(str(PORTRAIT))


def turned(image: np.ndarray, degrees: float, centre: tuple[float, float]) -> np.ndarray:
    """The image turned clockwise as seen by ``degrees`` about ``centre`` (OpenCV turns anticlockwise for positive angles)."""
    return cv2.warpAffine(image, cv2.getRotationMatrix2D(centre, -degrees, 1.0), image.shape[1::-1], borderMode=cv2.BORDER_REFLECT)


def test_auto_picks_the_detector_by_the_kind_of_picture() -> None:
    assert {use: make_detector("auto", use).name for use in ("live", "video", "photo")} == AUTO_CHOICE
    assert AUTO_CHOICE == {"live": "blazeface", "video": "blazeface-full", "photo": "blazeface-tiled"}
    assert DETECTOR_CHOICES[0] == "auto" and set(DETECTOR_CHOICES) == {"auto", "blazeface", "blazeface-full", "blazeface-tiled", "haar"}


def test_blazeface_gives_the_eyes_inside_the_face_box(portrait: np.ndarray) -> None:
    for name in ("blazeface", "blazeface-full"):
        face = make_detector(name).locate(portrait)[0]
        x, y, w, h = face.box
        (ax, ay), (bx, by) = face.eyes
        assert x < min(ax, bx) < max(ax, bx) < x + w and y < min(ay, by) < y + h / 2  # both eyes in the upper half
        assert 0 < face.score <= 1
        assert 4 < eye_tilt(face.eyes) < 11  # the portrait's head leans ~7 degrees (its right eye lower)
    assert make_detector("haar").locate(portrait)[0].eyes is None


@pytest.mark.parametrize("degrees", [-25, 20])
def test_the_eye_line_follows_a_turned_face(portrait: np.ndarray, degrees: float) -> None:
    x, y, w, h = PORTRAIT_FACE
    upright_tilt = eye_tilt(make_detector("blazeface").locate(portrait)[0].eyes)
    face = make_detector("blazeface").locate(turned(portrait, degrees, (x + w / 2, y + h / 2)))[0]
    assert eye_tilt(face.eyes) == pytest.approx(upright_tilt + degrees, abs=4)


def test_the_crop_of_a_turned_face_is_turned_upright(portrait: np.ndarray) -> None:
    x, y, w, h = PORTRAIT_FACE
    grey = to_grey(portrait)
    detector = make_detector("blazeface")
    upright = detector.locate(portrait)[0]
    reference = crop_face(grey, upright.box, eyes=upright.eyes).astype(float)  # levelled from its own 7 degrees
    leaning = turned(portrait, 25, (x + w / 2, y + h / 2))
    face = detector.locate(leaning)[0]
    aligned = crop_face(to_grey(leaning), face.box, eyes=face.eyes).astype(float)
    as_boxed = crop_face(to_grey(leaning), face.box).astype(float)
    assert np.abs(aligned - reference).mean() < 0.75 * np.abs(as_boxed - reference).mean()  # measured: 36 against 55 grey levels


def test_a_near_upright_face_and_a_face_without_eyes_are_cropped_as_boxed(portrait: np.ndarray) -> None:
    grey = to_grey(portrait)
    box = (174, 66, 102, 108)
    plain = crop_face(grey, box)
    level = ((200.0, 100.0), (250.0, 100.0 + 50 * np.tan(np.radians(MIN_TILT_DEGREES / 2))))
    np.testing.assert_array_equal(crop_face(grey, box, eyes=level), plain)
    np.testing.assert_array_equal(crop_face(grey, box, eyes=None), plain)
    steep = ((200.0, 100.0), (250.0, 150.0))  # 45 degrees: turned
    assert not np.array_equal(crop_face(grey, box, eyes=steep), plain)
    assert crop_face(grey, box, eyes=steep).shape == (48, 48)


def test_eye_tilt_is_clockwise_positive_whichever_eye_comes_first() -> None:
    assert eye_tilt(((0.0, 0.0), (10.0, 10.0))) == pytest.approx(45)
    assert eye_tilt(((10.0, 10.0), (0.0, 0.0))) == pytest.approx(45)
    assert eye_tilt(((0.0, 10.0), (10.0, 0.0))) == pytest.approx(-45)


def test_tiles_overlap_by_half_and_end_flush_with_the_image() -> None:
    assert _tile_starts(640, 640) == [0] and _tile_starts(480, 640) == [0]
    assert _tile_starts(640, 320) == [0, 160, 320]
    assert _tile_starts(1000, 400) == [0, 200, 400, 600]


def test_the_full_range_and_tiled_detectors_find_small_faces_the_short_range_one_misses() -> None:
    scene = make_scene(np.random.default_rng(7), 1600, 1200, [110, 100, 90, 80, 70, 60])
    found = {name: sum(match_faces(make_detector(name).detect(scene.image), scene)[0]) for name in ("blazeface", "blazeface-tiled")}
    assert found["blazeface-tiled"] == len(scene.faces) == 6 and found["blazeface"] < 3


def test_a_tile_reports_eyes_and_boxes_in_the_whole_images_pixels(portrait: np.ndarray) -> None:
    canvas = np.full((1200, 1600, 3), 90, np.uint8)
    small = cv2.resize(portrait, (256, 256), interpolation=cv2.INTER_AREA)  # the face 51 px wide: found in a tile only
    canvas[700:956, 1100:1356] = small
    assert make_detector("blazeface").locate(canvas) == []
    centre = (1100 + (PORTRAIT_FACE[0] + PORTRAIT_FACE[2] / 2) / 2, 700 + (PORTRAIT_FACE[1] + PORTRAIT_FACE[3] / 2) / 2)
    faces = [face for face in make_detector("blazeface-tiled").locate(canvas)
             if face.box[0] < centre[0] < face.box[0] + face.box[2] and face.box[1] < centre[1] < face.box[1] + face.box[3]]
    assert len(faces) == 1
    bx, by, bw, bh = faces[0].box
    assert 40 < bw < 65 and all(bx < ex < bx + bw and by < ey < by + bh / 2 for ex, ey in faces[0].eyes)


def test_a_huge_photo_gets_no_more_than_four_levels_of_tiles() -> None:
    detector = make_detector("blazeface-tiled")
    calls: list[tuple[int, int]] = []
    original = detector.base.locate
    detector.base.locate = lambda image: calls.append(image.shape[:2]) or original(image)
    detector.locate(np.full((6000, 8000, 3), 128, np.uint8))
    assert max(calls) == (6000, 8000) and min(side for shape in calls for side in shape) == 1000  # 8000 / 8
    assert len(calls) == 1 + 3 * 2 + 7 * 5 + 15 * 11


def test_scenes_are_the_same_for_a_seed_and_label_every_face() -> None:
    first, again = benchmark_scenes(seed=5, frames=2, group_photos=1), benchmark_scenes(seed=5, frames=2, group_photos=1)
    assert all(np.array_equal(a.image, b.image) and a.faces == b.faces for a, b in zip(first, again, strict=True))
    assert [scene.image.shape for scene in first] == [(480, 640, 3), (480, 640, 3), (1200, 1600, 3)]
    assert all(len(scene.faces) == len(scene.widths) >= 1 for scene in first)
    assert size_bucket(52) == "40-80 px" and size_bucket(10) == "<16 px" and size_bucket(500) == "400+ px"


def test_matching_counts_each_detection_once_and_the_rest_as_false() -> None:
    scene = Scene(np.zeros((10, 10, 3), np.uint8), [(0, 0, 100, 100), (200, 0, 100, 100)], [100, 100])
    found, false = match_faces([(10, 10, 80, 80), (20, 20, 70, 70), (500, 500, 50, 50), (210, 10, 10, 10)], scene)
    assert found == [True, False] and false == 3  # the second box on face 1 is a duplicate; the tiny one too small


def test_a_photo_without_a_face_still_says_so() -> None:
    assert make_detector("blazeface-tiled").locate(np.full((900, 1200, 3), 128, np.uint8)) == []
    assert Detection((0, 0, 1, 1)).eyes is None
