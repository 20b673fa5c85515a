"""Image decoding: defined behaviour for awkward files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fer_core.data.images import MAX_SIDE, decode_image
from fer_core.errors import FerError


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def test_rgb_png_becomes_bgr() -> None:
    image = decode_image(encode(Image.new("RGB", (64, 48), (255, 0, 0)), "PNG"))
    assert image.shape == (48, 64, 3) and tuple(image[0, 0]) == (0, 0, 255)


def test_16_bit_greyscale_is_scaled_to_8_bits() -> None:
    array = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    image = decode_image(encode(Image.fromarray(array), "PNG"))
    assert image.dtype == np.uint8 and image.max() == 255 and image.min() == 0


def test_cmyk_jpeg_is_converted() -> None:
    image = decode_image(encode(Image.new("CMYK", (64, 64), (0, 0, 0, 0)), "JPEG"))
    assert image.shape == (64, 64, 3) and image.mean() > 240  # no ink = white


def test_animated_gif_uses_its_first_frame() -> None:
    frames = [Image.new("L", (40, 40), value) for value in (10, 250)]
    content = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = decode_image(content)
    assert image.shape == (40, 40, 3) and image.mean() < 50


def test_huge_image_is_downscaled() -> None:
    image = decode_image(encode(Image.new("L", (7000, 7000), 90), "PNG"))  # 49 megapixels: under the cap
    assert max(image.shape[:2]) == MAX_SIDE


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "the file is empty"), (b"GIF89a not really", "not a readable image"), (b"\x00" * 100, "not a readable image")],
)
def test_unreadable_files_are_clear_errors(content: bytes, message: str) -> None:
    with pytest.raises(FerError, match=message):
        decode_image(content, "upload.bin")


def test_one_pixel_image_is_too_small() -> None:
    with pytest.raises(FerError, match="1x1 pixels; too small"):
        decode_image(encode(Image.new("RGB", (1, 1)), "PNG"), "dot.png")
