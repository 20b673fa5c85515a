"""Decoding user images robustly: any format Pillow or OpenCV reads, into BGR uint8.

Defined behaviour for the awkward cases: 16-bit images are scaled to 8 bits, CMYK and
palette images converted, animated GIFs use their first frame, EXIF rotation is applied,
huge images are downscaled (faces need no more than ~2000 px), and empty, tiny or
undecodable files raise a ``FerError`` that says what is wrong.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np

from fer_core.errors import FerError
from fer_core.limits import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS

MAX_SIDE = 2000
MIN_SIDE = 16


def read_image_file(path: Path) -> bytes:
    """A photo file's bytes, read no further than ``MAX_IMAGE_BYTES`` (``/dev/zero`` or a 2 GB file is not read whole)."""
    if path.is_dir():
        raise FerError(f"{path}: a folder, not an image file")
    if not path.is_file():
        raise FerError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    with path.open("rb") as handle:
        return handle.read(MAX_IMAGE_BYTES + 1)  # one byte past the cap: decode_image then says it is too large


def decode_image(content: bytes, name: str = "image") -> np.ndarray:
    """Bytes of an image file -> BGR uint8 array, at most MAX_SIDE pixels on its long side."""
    if not content:
        raise FerError(f"{name}: the file is empty")
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(content) > MAX_IMAGE_BYTES:
        raise FerError(f"{name}: larger than {MAX_IMAGE_BYTES >> 20} MB; not a photo this app reads")
    Image.MAX_IMAGE_PIXELS = None  # checked here, from the header, for every size (Pillow only refuses above twice its own limit)
    try:
        with Image.open(io.BytesIO(content)) as opened:
            if opened.width * opened.height > MAX_IMAGE_PIXELS:
                raise FerError(f"{name}: {opened.width}x{opened.height} pixels is more than the {MAX_IMAGE_PIXELS // 1_000_000} "
                               "megapixels a photo may have here")
            opened.seek(0)  # animated GIF/WebP: the first frame
            picture = ImageOps.exif_transpose(opened)
            picture.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise FerError(f"{name}: not a readable image ({type(exc).__name__})") from None
    except MemoryError:
        raise FerError(f"{name}: not enough memory to decode this image") from None
    if picture.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(picture, dtype=np.float32)
        top = float(array.max()) or 1.0
        rgb = np.repeat((array / top * 255).astype(np.uint8)[..., None], 3, axis=2)
    else:
        rgb = np.asarray(picture.convert("RGB"))
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise FerError(f"{name}: the image is {width}x{height} pixels; too small to hold a face")
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    scale = MAX_SIDE / max(height, width)
    if scale < 1:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return bgr
