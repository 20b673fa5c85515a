"""One loader for every FER2013 layout people actually have.

Supported inputs, all returning the same :class:`FerDataset`:

* ``fer2013.csv`` (``emotion,pixels,Usage``), ``icml_face_data.csv`` (same columns with
  leading spaces and another order), Kaggle ``train.csv`` (``emotion,pixels``) and
  ``test.csv`` (``pixels`` only, labels unknown); plain, ``.gz`` or inside a ``.zip``;
* image folders ``train/<class>/*.png|jpg`` and ``test/<class>/...`` (class names matched
  case-insensitively), as a directory or a ``.zip``.

Policy on bad rows: the whole file is refused, with a message naming the first bad row.
Silently dropping rows would change the test split and so every reported accuracy, and
FER2013 as published has no malformed rows: a bad row means a damaged or wrong file.

Parsing avoids per-pixel Python work: pyarrow reads the CSV with its multi-threaded C++
reader, the pixel strings are joined in one buffer with a sentinel number after each row,
and ``np.fromstring`` parses the lot; the sentinel positions then give every row's pixel
count without a Python loop. Parsed arrays are cached as an ``.npz`` keyed by the file's
size, mtime and a hash of its ends, so a second load is a plain array read.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_core.errors import FerError, first_line
from fer_core.files import atomic_path
from fer_core.labels import CLASS_NAMES, IMAGE_SIZE, NUM_CLASSES
from fer_core.paths import cache_dir

PIXELS_PER_IMAGE = IMAGE_SIZE * IMAGE_SIZE
SPLIT_ORDER = ("Training", "PublicTest", "PrivateTest", "Test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# An uncompressed FER2013 CSV is ~300 MB; anything far beyond that is not FER2013 (or is a
# zip/gzip bomb), so decompression stops there instead of filling memory.
MAX_UNCOMPRESSED_BYTES = 1 << 30
_CACHE_VERSION = "1"
_ROW_SENTINEL = 30000  # not a valid pixel, fits int16: marks the end of each row's pixels


@dataclass(frozen=True)
class FerDataset:
    """Faces as uint8 arrays with their labels and split names, in FER class order."""

    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray | None  # (N,) int64 in 0..6, or None when the source has no labels
    usage: np.ndarray  # (N,) str: Training / PublicTest / PrivateTest / Test
    source: str = ""
    class_names: tuple[str, ...] = field(default=CLASS_NAMES)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def has_labels(self) -> bool:
        return self.labels is not None

    @property
    def split_names(self) -> list[str]:
        """Splits present, in the canonical FER order (Training first)."""
        present = set(np.unique(self.usage).tolist())
        ordered = [name for name in SPLIT_ORDER if name in present]
        return ordered + sorted(present - set(ordered))

    def split(self, name: str) -> FerDataset:
        """The rows of one split; an unknown name is an error that lists the real ones."""
        if name not in self.split_names:
            raise FerError(f"split {name!r} is not in {self.source or 'the dataset'}; it has {', '.join(self.split_names)}")
        return self.subset(self.usage == name)

    def subset(self, selector: np.ndarray) -> FerDataset:
        """Rows picked by a boolean mask or an index array, keeping the source name."""
        return FerDataset(
            images=self.images[selector],
            labels=None if self.labels is None else self.labels[selector],
            usage=self.usage[selector],
            source=self.source,
        )


def load_dataset(path: str | os.PathLike[str], *, use_cache: bool = True) -> FerDataset:
    """Load any supported FER2013 layout from a file or folder, using the parse cache."""
    source = Path(path)
    if not source.exists():
        raise FerError(f"dataset not found: {source}")
    key = _cache_key(source) if use_cache else None
    if key is not None:
        cached = _read_cache(key, str(source))
        if cached is not None:
            return cached
    dataset = _load_uncached(source)
    if key is not None:
        _write_cache(key, dataset)
    return dataset


def _load_uncached(source: Path) -> FerDataset:
    if source.is_dir():
        return _dataset_from_image_entries(_folder_entries(source), str(source))
    name = source.name.lower()
    if name.endswith(".zip"):
        return _load_zip(source)
    if name.endswith((".csv", ".csv.gz", ".gz", ".txt")):
        return parse_csv_bytes(_read_capped(source), name=source.name, source=str(source))
    raise FerError(f"{source.name}: not a supported dataset (expected .csv, .csv.gz, .zip or an image folder)")


def _read_capped(source: Path) -> bytes:
    """Read a file, gunzipping ``.gz``, refusing anything that inflates past the cap."""
    import pyarrow as pa

    compression = "gzip" if source.name.lower().endswith(".gz") else None
    try:
        with pa.input_stream(str(source), compression=compression) as stream:
            data = stream.read(MAX_UNCOMPRESSED_BYTES + 1)
    except (OSError, pa.ArrowException) as exc:
        raise FerError(f"{source.name}: cannot read the file ({first_line(exc)})") from None
    if len(data) > MAX_UNCOMPRESSED_BYTES:
        raise FerError(f"{source.name}: more than {MAX_UNCOMPRESSED_BYTES >> 20} MB once decompressed; not FER2013")
    return data


def _load_zip(source: Path) -> FerDataset:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FerError(f"{source.name}: not a readable zip file ({first_line(exc)})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not _is_junk(m.filename)]
        if sum(m.file_size for m in members) > MAX_UNCOMPRESSED_BYTES:
            raise FerError(f"{source.name}: more than {MAX_UNCOMPRESSED_BYTES >> 20} MB once unzipped; not FER2013")
        csvs = [m for m in members if m.filename.lower().endswith((".csv", ".csv.gz"))]
        if len(csvs) > 1:
            names = ", ".join(m.filename for m in csvs)
            raise FerError(f"{source.name}: holds several CSV files ({names}); zip just one")
        if csvs:
            data = _read_member(archive, csvs[0], source.name)
            if csvs[0].filename.lower().endswith(".gz"):
                import gzip

                data = gzip.decompress(data)
            return parse_csv_bytes(data, name=csvs[0].filename, source=str(source))
        entries = (
            (Path(m.filename).parts, _zip_reader(archive, m, source.name))
            for m in members
            if m.filename.lower().endswith(IMAGE_SUFFIXES)
        )
        return _dataset_from_image_entries(entries, str(source))


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, zip_name: str) -> bytes:
    try:
        with archive.open(member) as handle:
            data = handle.read(MAX_UNCOMPRESSED_BYTES + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:
        raise FerError(f"{zip_name}: cannot extract {member.filename} ({first_line(exc)})") from None
    if len(data) > MAX_UNCOMPRESSED_BYTES:
        raise FerError(f"{zip_name}: {member.filename} inflates past {MAX_UNCOMPRESSED_BYTES >> 20} MB; not FER2013")
    return data


def _zip_reader(archive: zipfile.ZipFile, member: zipfile.ZipInfo, zip_name: str) -> Callable[[], bytes]:
    return lambda: _read_member(archive, member, zip_name)


def _is_junk(name: str) -> bool:
    return "__MACOSX" in name or Path(name).name.startswith(".")


# --------------------------------------------------------------------------- CSV layouts


def parse_csv_bytes(data: bytes, *, name: str = "data.csv", source: str = "") -> FerDataset:
    """Parse the bytes of a FER2013-style CSV (any supported column layout)."""
    import pyarrow as pa

    try:
        return _parse_csv_table(data, name, source)
    except (pa.ArrowException, UnicodeDecodeError) as exc:  # e.g. invalid UTF-8 in a header or the pixels
        raise FerError(f"{name}: not a valid FER2013 CSV ({first_line(exc)})") from None


def _parse_csv_table(data: bytes, name: str, source: str) -> FerDataset:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not data.strip():
        raise FerError(f"{name}: the file is empty")
    if b"\x00" in data[:4096]:
        raise FerError(f"{name}: not a CSV file (it contains binary data)")
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
    except pa.ArrowException as exc:
        raise FerError(f"{name}: not a valid CSV ({first_line(exc)})") from None
    columns = {col.strip().lower(): col for col in table.column_names}
    if "pixels" not in columns:
        found = ", ".join(c.strip() for c in table.column_names[:6]) or "none"
        raise FerError(f"{name}: no 'pixels' column (found: {found}); expected FER2013 columns emotion,pixels[,Usage]")
    if table.num_rows == 0:
        raise FerError(f"{name}: the file has a header but no rows")
    images = parse_pixel_column(table.column(columns["pixels"]), name=name)
    labels = _parse_labels(table.column(columns["emotion"]), name) if "emotion" in columns else None
    if "usage" in columns:
        usage = _parse_usage(table.column(columns["usage"]), name)
    else:
        default = "Test" if "test" in Path(name).stem.lower() or labels is None else "Training"
        usage = np.full(len(images), default)
    return FerDataset(images=images, labels=labels, usage=usage, source=source or name)


def parse_pixel_column(column: object, *, name: str = "data.csv") -> np.ndarray:
    """Turn a column of space-separated pixel strings into (N, 48, 48) uint8 images."""
    import pyarrow as pa
    import pyarrow.compute as pc

    strings = pc.cast(column, pa.string()).combine_chunks() if isinstance(column, pa.ChunkedArray) else pc.cast(column, pa.string())
    n_rows = len(strings)
    if strings.null_count:
        first = int(np.flatnonzero(strings.is_null().to_numpy(zero_copy_only=False))[0])
        raise FerError(f"{name}: row {first + 1}: the pixels field is empty")
    marked = pc.binary_join_element_wise(strings, f" {_ROW_SENTINEL} ", "")
    offsets = np.frombuffer(marked.buffers()[1], dtype=np.int32, count=n_rows + 1, offset=marked.offset * 4)
    text = marked.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # older numpy only warns where it stops early
            values = np.fromstring(text, dtype=np.int32, sep=" ")
    except (ValueError, DeprecationWarning):
        raise _describe_bad_row(strings, name) from None
    ends = np.flatnonzero(values == _ROW_SENTINEL)
    if len(ends) != n_rows:
        raise _describe_bad_row(strings, name)
    counts = np.diff(np.concatenate(([-1], ends))) - 1
    wrong = np.flatnonzero(counts != PIXELS_PER_IMAGE)
    if len(wrong):
        row = int(wrong[0])
        raise FerError(f"{name}: row {row + 1}: {counts[row]} pixel values, expected {PIXELS_PER_IMAGE} (48x48)")
    pixels = values.reshape(n_rows, PIXELS_PER_IMAGE + 1)[:, :PIXELS_PER_IMAGE]
    bad_rows = np.flatnonzero(((pixels < 0) | (pixels > 255)).any(axis=1))
    if len(bad_rows):
        row = int(bad_rows[0])
        value = pixels[row][(pixels[row] < 0) | (pixels[row] > 255)][0]
        raise FerError(f"{name}: row {row + 1}: pixel value {value} is outside 0-255")
    return pixels.astype(np.uint8).reshape(n_rows, IMAGE_SIZE, IMAGE_SIZE)


def _describe_bad_row(strings: object, name: str) -> FerError:
    """Slow path, run only once a file is known to be bad: find and describe the first bad row."""
    for row, text in enumerate(strings.to_pylist()):
        tokens = (text or "").split()
        bad = next((token for token in tokens if not re.fullmatch(r"[+-]?[0-9]+", token)), None)
        if bad is not None:
            return FerError(f"{name}: row {row + 1}: pixels must be integers 0-255 separated by spaces ({bad[:20]!r} found)")
        if len(tokens) != PIXELS_PER_IMAGE:
            return FerError(f"{name}: row {row + 1}: {len(tokens)} pixel values, expected {PIXELS_PER_IMAGE} (48x48)")
        outside = next((token for token in tokens if not 0 <= int(token) <= 255), None)
        if outside is not None:
            return FerError(f"{name}: row {row + 1}: pixel value {outside[:20]} is outside 0-255")
    return FerError(f"{name}: the pixels column could not be parsed")


def _parse_labels(column: object, name: str) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count:
        first = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise FerError(f"{name}: row {first + 1}: the emotion label is empty")
    if not pa.types.is_integer(column.type):
        values = column.to_pylist()
        for row, value in enumerate(values):
            if not re.fullmatch(r"\s*[+-]?[0-9]+\s*", str(value)):
                raise FerError(f"{name}: row {row + 1}: emotion label {str(value)[:20]!r} is not an integer 0-6")
        column = pc.cast(pc.utf8_trim_whitespace(column), pa.int64())
    labels = column.to_numpy().astype(np.int64)
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if len(bad):
        raise FerError(f"{name}: row {bad[0] + 1}: emotion label {labels[bad[0]]} is outside 0-6")
    return labels


def _parse_usage(column: object, name: str) -> np.ndarray:
    # A column with invalid UTF-8 arrives as bytes; split names are ASCII in every release.
    values = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in column.to_pylist()]
    usage = np.array(values, dtype=object)
    if any(value is None for value in usage):
        first = next(i for i, value in enumerate(usage) if value is None)
        raise FerError(f"{name}: row {first + 1}: the Usage field is empty")
    return np.char.strip(usage.astype(str))


# --------------------------------------------------------------------------- image folders

ImageEntry = tuple[tuple[str, ...], Callable[[], bytes]]


def _folder_entries(root: Path) -> Iterator[ImageEntry]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not _is_junk(str(path.relative_to(root))):
            yield path.relative_to(root).parts, path.read_bytes


def _dataset_from_image_entries(entries: Iterator[ImageEntry], source: str) -> FerDataset:
    """Build a dataset from ``…/<train|test>/<class>/<file>`` entries."""
    import cv2

    images, labels, usage = [], [], []
    for parts, read in entries:
        if len(parts) < 3:
            continue
        split_folder, class_folder, filename = parts[-3].lower(), parts[-2].strip().lower(), parts[-1]
        if class_folder not in CLASS_NAMES:
            raise FerError(f"{'/'.join(parts)}: unknown class folder {parts[-2]!r}; expected {', '.join(CLASS_NAMES)}")
        buffer = np.frombuffer(read(), dtype=np.uint8)
        image = cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE) if buffer.size else None
        if image is None:
            raise FerError(f"{'/'.join(parts)}: not a readable image")
        if image.shape != (IMAGE_SIZE, IMAGE_SIZE):
            image = cv2.resize(image, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
        images.append(image)
        labels.append(CLASS_NAMES.index(class_folder))
        usage.append(_split_for_file(split_folder, filename))
    if not images:
        raise FerError(f"{Path(source).name}: no images found in train/<class>/ or test/<class>/ folders")
    return FerDataset(
        images=np.stack(images).astype(np.uint8),
        labels=np.array(labels, dtype=np.int64),
        usage=np.array(usage),
        source=source,
    )


def _split_for_file(split_folder: str, filename: str) -> str:
    """The release names files ``PublicTest_123.jpg``; otherwise the folder decides."""
    prefix = filename.split("_", 1)[0]
    if prefix in ("Training", "PublicTest", "PrivateTest"):
        return prefix
    return "Training" if split_folder.startswith("train") else "Test"


# --------------------------------------------------------------------------- cache


def _cache_key(source: Path) -> str | None:
    """Identify the file's content cheaply: size, mtime and a hash of its first/last MiB."""
    digest = hashlib.sha1(f"{_CACHE_VERSION}|{source.resolve()}".encode())
    try:
        if source.is_dir():
            for path in sorted(source.rglob("*")):
                stat = path.stat()
                digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        else:
            stat = source.stat()
            digest.update(f"{stat.st_size}|{stat.st_mtime_ns}".encode())
            with source.open("rb") as handle:
                digest.update(handle.read(1 << 20))
                handle.seek(max(0, stat.st_size - (1 << 20)))
                digest.update(handle.read())
    except OSError:
        return None
    return digest.hexdigest()


def _read_cache(key: str, source: str) -> FerDataset | None:
    path = cache_dir() / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as archive:
            labels = archive["labels"]
            return FerDataset(
                images=archive["images"],
                labels=labels if labels.size == len(archive["images"]) else None,
                usage=archive["usage"],
                source=source,
            )
    except (OSError, KeyError, ValueError):
        return None  # missing or damaged cache: parse again


def _write_cache(key: str, dataset: FerDataset) -> None:
    """Best effort: a read-only disk only costs the next load its speed."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / f"{key}.npz") as temporary:
            np.savez(
                temporary,
                images=dataset.images,
                labels=dataset.labels if dataset.labels is not None else np.empty(0, np.int64),
                usage=dataset.usage.astype(str),
            )
    except OSError:
        pass

