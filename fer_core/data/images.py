"""Decoding user images robustly: any format Pillow or OpenCV reads, into BGR uint8.

Defined behaviour for the awkward cases: 16-bit images are scaled to 8 bits, CMYK and
palette images converted, animated GIFs use their first frame, EXIF rotation is applied,
huge images are downscaled (faces need no more than ~2000 px), and empty, tiny or
undecodable files raise a ``FerError`` that says what is wrong.
"""

from __future__ import annotations

import io

import cv2
import numpy as np

from fer_core.errors import FerError

MAX_SIDE = 2000
MIN_SIDE = 16
MAX_PIXELS = 120_000_000  # refuse decompression bombs before decoding


def decode_image(content: bytes, name: str = "image") -> np.ndarray:
    """Bytes of an image file -> BGR uint8 array, at most MAX_SIDE pixels on its long side."""
    if not content:
        raise FerError(f"{name}: the file is empty")
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(content)) as opened:
            opened.seek(0)  # animated GIF/WebP: the first frame
            picture = ImageOps.exif_transpose(opened)
            picture.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise FerError(f"{name}: not a readable image ({type(exc).__name__})") from None
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
