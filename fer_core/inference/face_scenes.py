"""Synthetic photos with labelled faces, for measuring face detectors on pictures anyone can rebuild.

No photo of several people can be shipped here with its faces labelled, and no FER2013 or CK+ face
may be, so the scenes are composites: the shipped public-domain portrait (``ui/assets/astronaut.jpg``,
its face box labelled by hand below) pasted at many sizes, turned in the image plane, mirrored, lit
darker or brighter, blurred or grey, onto cluttered backgrounds, several faces to a scene. The same
seed gives the same scenes on any machine. One identity, frontal, is what this measures: it says how
detectors compare on face *size*, tilt and light, not on pose, age or skin tone, and the README's
figures say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fer_core.inference.faces import Box
from fer_core.paths import REPO_ROOT

PORTRAIT = REPO_ROOT / "ui" / "assets" / "astronaut.jpg"
PORTRAIT_FACE: Box = (174, 66, 102, 108)  # brows to chin, ear to ear, labelled by hand on the 512x512 portrait
CONTEXT = 1.9  # the pasted patch is this many face boxes wide: hair, neck and a little suit come along
SIZE_BUCKETS = ((16, 24), (24, 40), (40, 80), (80, 160), (160, 400))  # face width in pixels


@dataclass(frozen=True)
class Scene:
    """A BGR picture, the boxes of the faces pasted into it (around the face as turned) and each face's own width."""

    image: np.ndarray
    faces: list[Box]
    widths: list[int]


def size_bucket(side: int) -> str:
    """'40-80 px' for a face 52 px wide."""
    for low, high in SIZE_BUCKETS:
        if low <= side < high:
            return f"{low}-{high} px"
    return f"{SIZE_BUCKETS[-1][1]}+ px" if side >= SIZE_BUCKETS[-1][1] else f"<{SIZE_BUCKETS[0][0]} px"


def _portrait_patch() -> tuple[np.ndarray, tuple[float, float, float]]:
    """The portrait's face with its context as a square patch, and the face's centre and width in it."""
    portrait = cv2.imread(str(PORTRAIT))
    if portrait is None:
        raise FileNotFoundError(f"the shipped portrait is missing: {PORTRAIT}")
    x, y, w, h = PORTRAIT_FACE
    side = round(max(w, h) * CONTEXT)
    cx, cy = x + w / 2, y + h / 2
    x1, y1 = round(cx - side / 2), round(cy - side / 2)
    padded = cv2.copyMakeBorder(portrait, side, side, side, side, cv2.BORDER_REFLECT)
    patch = padded[y1 + side : y1 + 2 * side, x1 + side : x1 + 2 * side]
    return patch, (cx - x1, cy - y1, float(w))


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Smooth light gradients, blotches and straight-edged clutter: enough texture to tempt a detector."""
    small = rng.uniform(40, 220, (4, 4, 3)).astype(np.float32)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(rng.integers(6, 16)):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            cv2.rectangle(image, (x, y), (x + int(rng.integers(10, width // 3)), y + int(rng.integers(10, height // 3))), colour, -1)
        else:
            cv2.circle(image, (x, y), int(rng.integers(5, min(width, height) // 6)), colour, -1)
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _render_face(patch: np.ndarray, face: tuple[float, float, float], side: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, Box]:
    """The patch scaled so the face is ``side`` px wide, turned, mirrored, relit; with its blending mask and face box."""
    cx, cy, width = face
    scale = side / width
    size = max(8, round(patch.shape[0] * scale))
    angle = float(rng.uniform(-30, 30)) if rng.random() < 0.6 else 0.0
    image = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    fx, fy = cx * scale, cy * scale
    if rng.random() < 0.5:
        image, fx = image[:, ::-1].copy(), size - fx
    turn = cv2.getRotationMatrix2D((fx, fy), angle, 1.0)
    image = cv2.warpAffine(image, turn, (size, size), borderMode=cv2.BORDER_REFLECT)
    gamma = float(rng.uniform(0.55, 1.8))
    image = np.clip(255 * (image / 255.0) ** gamma * rng.uniform(0.75, 1.15), 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        image = cv2.GaussianBlur(image, (0, 0), max(0.6, side / 80))
    if rng.random() < 0.3:
        image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(mask, (round(fx), round(fy)), (round(size * 0.42), round(size * 0.48)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, size / 25))[..., None]
    # The face box turned with the face: the axis-aligned box around the turned rectangle.
    cos, sin = abs(np.cos(np.radians(angle))), abs(np.sin(np.radians(angle)))
    w, h = side, side * PORTRAIT_FACE[3] / PORTRAIT_FACE[2]
    bw, bh = w * cos + h * sin, w * sin + h * cos
    return image, mask, (round(fx - bw / 2), round(fy - bh / 2), round(bw), round(bh))


def _overlaps(a: tuple[int, int, int], placed: list[tuple[int, int, int]]) -> bool:
    x, y, size = a
    return any(x < px + ps and px < x + size and y < py + ps and py < y + size for px, py, ps in placed)


def make_scene(rng: np.random.Generator, width: int, height: int, sides: list[int]) -> Scene:
    """One scene with a face of each width in ``sides`` (a face that finds no free place is left out)."""
    patch, face = _portrait_patch()
    image = _background(rng, width, height).astype(np.float32)
    placed: list[tuple[int, int, int]] = []
    boxes: list[Box] = []
    widths: list[int] = []
    for side in sorted(sides, reverse=True):
        rendered, mask, (bx, by, bw, bh) = _render_face(patch, face, side, rng)
        size = rendered.shape[0]
        if size >= min(width, height):
            continue
        for _ in range(40):
            x, y = int(rng.integers(0, width - size)), int(rng.integers(0, height - size))
            if not _overlaps((x, y, size), placed):
                break
        else:
            continue
        region = image[y : y + size, x : x + size]
        image[y : y + size, x : x + size] = region * (1 - mask) + rendered * mask
        placed.append((x, y, size))
        boxes.append((x + bx, y + by, bw, bh))
        widths.append(side)
    return Scene(np.clip(image, 0, 255).astype(np.uint8), boxes, widths)


def benchmark_scenes(seed: int = 0, frames: int = 40, group_photos: int = 20) -> list[Scene]:
    """Webcam-sized frames (640x480, one to three faces of 40-260 px) and group photos (1600x1200,
    six to twelve faces of 16-160 px): the two kinds of picture the app reads."""
    rng = np.random.default_rng(seed)
    scenes = [make_scene(rng, 640, 480, [int(v) for v in rng.uniform(40, 260, int(rng.integers(1, 4)))]) for _ in range(frames)]
    scenes += [make_scene(rng, 1600, 1200, [int(v) for v in np.exp(rng.uniform(np.log(16), np.log(160), int(rng.integers(6, 13))))])
               for _ in range(group_photos)]
    return scenes
