"""FER2013-style CSV text to faces, labels and splits, a block at a time.

pyarrow's streaming reader hands over the file in blocks of a few MB; each block's pixels are
turned into uint8 faces (``fer_core.data.pixels``) and the block's text is dropped, so memory
follows the faces kept (2.3 KB each) rather than the text (about 8 KB a face), and a file that
inflates without end (a gzip bomb) is stopped at a byte cap while it is being read. Every column
is read as text and checked here, row by row where it fails: the label '0.0', '0x3' or 'NaN', a
second 'pixels' column, a line too long for any face are each refused with the row they are on.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Callable
from typing import BinaryIO

import numpy as np

from fer_core.data.pixels import parse_pixel_column
from fer_core.errors import FerError, first_line
from fer_core.labels import NUM_CLASSES

BLOCK_BYTES = 1 << 23  # 8 MB: about 900 faces; a line longer than this is no FER2013 row (about 9 KB)
_HEADER_BYTES = 1 << 16
_LABEL = r"^\s*[0-9]{1,3}\s*$"


class CappedReader(io.RawIOBase):
    """A binary stream that refuses to give more than ``cap`` bytes: the check happens while
    decompressing, before the bytes exist, so a small file that inflates to gigabytes costs nothing."""

    def __init__(self, stream: BinaryIO, cap: int, describe: str) -> None:
        self.stream, self.cap, self.describe, self.given, self.exceeded = stream, cap, describe, 0, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:
        data = self.stream.read(min(len(buffer), self.cap + 1 - self.given))
        self.given += len(data)
        if self.given > self.cap:
            self.exceeded = True
            raise FerError(f"{self.describe}: more than {self.cap >> 20} MB of text; not FER2013")
        buffer[: len(data)] = data
        return len(data)


def parse_csv_stream(stream: BinaryIO, *, name: str, cap: int,
                     on_rows: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Faces (N, 48, 48) uint8, labels (N,) int64 or None, usage (N,) str from a CSV stream;
    ``on_rows(rows)`` after each block, for a progress bar."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    reader = CappedReader(stream, cap, name)
    buffered = io.BufferedReader(reader, buffer_size=1 << 20)
    try:
        head = buffered.peek(_HEADER_BYTES)[:_HEADER_BYTES]
    except (OSError, EOFError, ValueError, zlib.error) as exc:  # a damaged gzip stream fails on its first read
        raise FerError(f"{name}: cannot read the file ({first_line(exc)})") from None
    if not head.strip():
        raise FerError(f"{name}: the file is empty")
    if b"\x00" in head[:4096]:
        raise FerError(f"{name}: not a CSV file (it contains binary data)")
    names = _header(head, name)
    columns = {column.strip().lower(): column for column in names}
    if "pixels" not in columns:
        found = ", ".join(column.strip() for column in names[:6]) or "none"
        raise FerError(f"{name}: no 'pixels' column (found: {found}); expected FER2013 columns emotion,pixels[,Usage]")
    faces, labels, usage, rows = [], [], [], 0
    try:
        batches = pacsv.open_csv(
            buffered,
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES, use_threads=True),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True,
                                                 null_values=[""], quoted_strings_can_be_null=True),
        )
        for batch in batches:
            faces.append(parse_pixel_column(batch.column(columns["pixels"]), name=name, first_row=rows))
            if "emotion" in columns:
                labels.append(_parse_labels(batch.column(columns["emotion"]), name, rows))
            if "usage" in columns:
                usage.append(_parse_usage(batch.column(columns["usage"]), name, rows))
            rows += batch.num_rows
            if on_rows is not None:
                on_rows(rows)
    except pa.ArrowException as exc:
        if reader.exceeded:
            raise FerError(f"{name}: more than {cap >> 20} MB of text; not FER2013") from None
        message = first_line(exc)
        if "straddling" in message or "block size" in message:
            raise FerError(f"{name}: row {rows + 1} or near it is longer than {BLOCK_BYTES >> 20} MB: not a FER2013 row "
                           "(a face is about 9 KB of text)") from None
        raise FerError(f"{name}: not a valid CSV near row {rows + 1} ({message})") from None
    except (OSError, EOFError, ValueError, zlib.error) as exc:  # the stream itself failed mid-file (a truncated gzip)
        raise FerError(f"{name}: cannot read the file past row {rows} ({first_line(exc)})") from None
    except MemoryError:
        raise FerError(f"{name}: not enough memory to read it (at row {rows + 1})") from None
    if rows == 0:
        raise FerError(f"{name}: the file has a header but no rows")
    return np.concatenate(faces), np.concatenate(labels) if labels else None, np.concatenate(usage) if usage else None


def _header(head: bytes, name: str) -> list[str]:
    """The column names; two with the same name ('pixels' and 'Pixels') are refused: which holds the faces is a guess."""
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        names = next(csv.reader([line.decode("utf-8-sig")]))
    except (UnicodeDecodeError, csv.Error, StopIteration) as exc:
        raise FerError(f"{name}: the header is not valid CSV text ({first_line(exc)})") from None
    seen: dict[str, str] = {}
    for column in names:
        key = column.strip().lower()
        if key in seen:
            raise FerError(f"{name}: columns {seen[key]!r} and {column!r} are the same column twice; which one holds the data is unclear")
        seen[key] = column
    return names


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _parse_labels(column: object, name: str, first_row: int) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count:
        row = _first(column.is_null().to_numpy(zero_copy_only=False))
        raise FerError(f"{name}: row {first_row + row + 1}: the emotion label is empty")
    plain = pc.match_substring_regex(column, _LABEL).to_numpy(zero_copy_only=False)
    if not plain.all():
        row = _first(~plain)
        raise FerError(f"{name}: row {first_row + row + 1}: emotion label {str(column[row].as_py())[:20]!r} is not an integer 0-6")
    labels = pc.cast(pc.utf8_trim_whitespace(column), pa.int64()).to_numpy()
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if len(bad):
        raise FerError(f"{name}: row {first_row + bad[0] + 1}: emotion label {labels[bad[0]]} is outside 0-6")
    return labels


def _parse_usage(column: object, name: str, first_row: int) -> np.ndarray:
    import pyarrow.compute as pc

    if column.null_count:
        row = _first(column.is_null().to_numpy(zero_copy_only=False))
        raise FerError(f"{name}: row {first_row + row + 1}: the Usage field is empty")
    return np.asarray(pc.utf8_trim_whitespace(column).to_numpy(zero_copy_only=False)).astype(str)

