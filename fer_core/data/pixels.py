"""FER2013's pixel strings ("70 80 82 ...", 2,304 per face) to uint8 faces, by byte arithmetic.

The pixels are ASCII digits and spaces, and a valid value has at most three digits, so no
general number parser is needed: in the bytes of a block of rows, a value ends where a digit is
followed by a non-digit (or by the next row), and its value is that digit plus ten times the one
before it plus a hundred times the one before that, where those are digits of the same value.
All of it is whole-array numpy work on blocks of 128 rows (about 1 MB of text, so the temporaries
stay in cache and memory stays near the faces' own size), spread over the machine's cores
(numpy releases the GIL). On the 266 MB dev CSV this takes about 0.4-0.8 s against 1.8 s for
``np.fromstring`` over one joined buffer, which also needed an int32 copy four times the faces'
size and read 4294967296 as 0.

Anything else (signs, decimals, a fourth digit, another character, the wrong count) fails the
block, and only that block's rows are then read one by one to say which row is wrong and why.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fer_core.errors import FerError
from fer_core.labels import IMAGE_SIZE

PIXELS_PER_IMAGE = IMAGE_SIZE * IMAGE_SIZE
ROWS_PER_BLOCK = 128
_ZERO, _NINE = np.uint8(ord("0")), np.uint8(9)
_SEPARATORS = tuple(np.uint8(ord(c)) for c in " \t\r\n")
_TOKEN = re.compile(r"[0-9]{1,3}")


def parse_pixel_column(column: object, *, name: str = "data.csv", first_row: int = 0) -> np.ndarray:
    """Turn a pyarrow column of space-separated pixel strings into (N, 48, 48) uint8 faces;
    ``first_row`` is the column's place in the file, for the row numbers of messages."""
    import pyarrow as pa

    strings = column.cast(pa.string())
    chunks = strings.chunks if isinstance(strings, pa.ChunkedArray) else [strings]
    total = sum(len(chunk) for chunk in chunks)
    faces = np.empty((total, PIXELS_PER_IMAGE), np.uint8)
    blocks, offset = [], first_row
    for chunk in chunks:
        if chunk.null_count:
            row = int(np.flatnonzero(chunk.is_null().to_numpy(zero_copy_only=False))[0])
            raise FerError(f"{name}: row {offset + row + 1}: the pixels field is empty")
        blocks += [(chunk, start, min(len(chunk), start + ROWS_PER_BLOCK), offset) for start in range(0, len(chunk), ROWS_PER_BLOCK)]
        offset += len(chunk)

    def parse(index: int) -> int | None:
        """Fill the block's faces; its index when it is not plain pixels."""
        chunk, start, stop, offset = blocks[index]
        offsets = np.frombuffer(chunk.buffers()[1], np.int32, count=len(chunk) + 1, offset=chunk.offset * 4)[start : stop + 1]
        text = np.frombuffer(chunk.buffers()[2], np.uint8)[offsets[0] : offsets[-1]] if chunk.buffers()[2] else np.zeros(0, np.uint8)
        parsed = _parse_block(text, offsets.astype(np.int64) - offsets[0])
        if parsed is None:
            return index
        faces[offset - first_row + start : offset - first_row + stop] = parsed
        return None

    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        failed = [index for index in pool.map(parse, range(len(blocks))) if index is not None]
    if failed:
        chunk, start, stop, offset = blocks[min(failed)]
        raise _describe_bad_row(chunk.slice(start, stop - start).to_pylist(), offset + start, name)
    return faces.reshape(total, IMAGE_SIZE, IMAGE_SIZE)


def _parse_block(text: np.ndarray, offsets: np.ndarray) -> np.ndarray | None:
    """The faces of one block of rows (``offsets`` into ``text``), or None if it is not plain pixels."""
    digit = (text - _ZERO) <= _NINE
    separator = np.zeros(len(text), bool)
    for byte in _SEPARATORS:
        separator |= text == byte
    if not np.all(digit | separator):
        return None
    row_start = np.zeros(len(text) + 1, bool)
    row_start[offsets] = True  # also marks the end of the last row
    next_is_digit = np.zeros(len(text), bool)
    next_is_digit[:-1] = digit[1:]
    ends = np.flatnonzero(digit & (~next_is_digit | row_start[1:]))
    if np.any(np.diff(np.searchsorted(ends, offsets)) != PIXELS_PER_IMAGE):
        return None
    values = text - _ZERO
    # The digit before a value's last one belongs to it only if it is a digit of the same row.
    tens = digit[ends - 1] & ~row_start[ends]
    hundreds = tens & digit[ends - 2] & ~row_start[ends - 1]
    if np.any(hundreds & digit[ends - 3] & ~row_start[ends - 2]):
        return None  # four digits or more
    pixels = values[ends].astype(np.uint16)
    pixels += np.uint16(10) * (values[ends - 1] * tens)
    pixels += np.uint16(100) * (values[ends - 2] * hundreds).astype(np.uint16)
    if np.any(pixels > 255):
        return None
    return pixels.astype(np.uint8).reshape(len(offsets) - 1, PIXELS_PER_IMAGE)


def _describe_bad_row(rows: list[str | None], first_row: int, name: str) -> FerError:
    """Say what is wrong with the first bad row of a block that failed the fast path."""
    for index, text in enumerate(rows):
        row = first_row + index + 1
        tokens = (text or "").split()
        bad = next((token for token in tokens if not _TOKEN.fullmatch(token)), None)
        if bad is not None:
            if re.fullmatch(r"[+-]?[0-9]+", bad) and not 0 <= int(bad) <= 255:
                return FerError(f"{name}: row {row}: pixel value {bad[:20]} is outside 0-255")
            return FerError(f"{name}: row {row}: pixels must be integers 0-255 written as plain digits and separated by "
                            f"spaces ({bad[:20]!r} found)")
        if len(tokens) != PIXELS_PER_IMAGE:
            return FerError(f"{name}: row {row}: {len(tokens)} pixel values, expected {PIXELS_PER_IMAGE} (48x48)")
        outside = next((token for token in tokens if int(token) > 255), None)
        if outside is not None:
            return FerError(f"{name}: row {row}: pixel value {outside} is outside 0-255")
    return FerError(f"{name}: rows {first_row + 1}-{first_row + len(rows)}: the pixels could not be read")
