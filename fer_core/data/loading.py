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
reader and ``fer_core.data.pixels`` turns the pixel strings into bytes by array arithmetic,
on all cores. Parsed arrays are cached as an ``.npz`` keyed by the file's
size, mtime and a hash of its ends, so a second load is a plain array read.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from fer_core.data.csv_reader import parse_csv_stream
from fer_core.errors import FerError, first_line
from fer_core.files import atomic_path
from fer_core.labels import CLASS_NAMES, IMAGE_SIZE
from fer_core.limits import (
    MAX_ARCHIVE_BYTES,
    MAX_ARCHIVE_MEMBERS,
    MAX_FACE_IMAGE_PIXELS,
    MAX_IMAGE_BYTES,
    MAX_TEXT_BYTES,
)
from fer_core.paths import cache_dir

SPLIT_ORDER = ("Training", "PublicTest", "PrivateTest", "Test")
MAX_SPLITS = 20  # more distinct Usage values than this is not a split column
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_CACHE_VERSION = "1"  # the cached arrays are the same whichever parser made them


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
            names = self.split_names
            listed = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
            raise FerError(f"split {str(name)[:40]!r} is not in {Path(self.source).name or 'the dataset'}; it has {listed}")
        return self.subset(self.usage == name)

    def subset(self, selector: np.ndarray) -> FerDataset:
        """Rows picked by a boolean mask or an index array, keeping the source name."""
        return FerDataset(
            images=self.images[selector],
            labels=None if self.labels is None else self.labels[selector],
            usage=self.usage[selector],
            source=self.source,
        )


def load_dataset(path: str | os.PathLike[str], *, use_cache: bool = True,
                 on_progress: Callable[[int, float], None] | None = None) -> FerDataset:
    """Load any supported FER2013 layout from a file or folder, using the parse cache.
    ``on_progress(rows, share)`` follows a CSV's first parse: rows read, share of the file read."""
    source = Path(path)
    if not source.exists():
        raise FerError(f"dataset not found: {source}")
    key = _cache_key(source) if use_cache else None
    if key is not None:
        cached = _read_cache(key, str(source))
        if cached is not None:
            return cached
    dataset = _load_uncached(source, on_progress)
    if key is not None:
        _write_cache(key, dataset)
    return dataset


def _load_uncached(source: Path, on_progress: Callable[[int, float], None] | None = None) -> FerDataset:
    if source.is_dir():
        return _dataset_from_image_entries(_folder_entries(source), str(source))
    name = source.name.lower()
    if name.endswith(".zip"):
        return _load_zip(source)
    if name.endswith((".csv", ".csv.gz", ".gz", ".txt")):
        try:
            size = max(1, source.stat().st_size)
            with source.open("rb") as handle, _maybe_gunzip(handle, name) as text:
                report = (lambda rows: on_progress(rows, min(1.0, handle.tell() / size))) if on_progress else None
                return _dataset_from_csv(text, source.name, str(source), on_rows=report)
        except OSError as exc:
            raise FerError(f"{source.name}: cannot read the file ({first_line(exc)})") from None
    raise FerError(f"{source.name}: not a supported dataset (expected .csv, .csv.gz, .zip or an image folder)")


def _maybe_gunzip(handle: BinaryIO, name: str) -> BinaryIO:
    """The text of a plain or gzipped file; gzip is decompressed as it is read (and capped there)."""
    return gzip.GzipFile(fileobj=handle) if name.lower().endswith(".gz") else contextlib.nullcontext(handle)


def _dataset_from_csv(stream: BinaryIO, name: str, source: str, on_rows: Callable[[int], None] | None = None) -> FerDataset:
    """A FER2013-style CSV, read a block at a time with the text capped at ``MAX_TEXT_BYTES``, at any nesting."""
    images, labels, usage = parse_csv_stream(stream, name=name, cap=MAX_TEXT_BYTES, on_rows=on_rows)
    if usage is None:
        default = "Test" if "test" in Path(name).stem.lower() or labels is None else "Training"
        usage = np.full(len(images), default)
    splits = np.unique(usage)
    if len(splits) > MAX_SPLITS:
        raise FerError(f"{name}: its Usage column names {len(splits):,} different splits (FER2013 has three: Training, "
                       f"PublicTest, PrivateTest), e.g. {', '.join(repr(str(v)[:20]) for v in splits[:3])}; not a split column")
    return FerDataset(images=images, labels=labels, usage=usage, source=source or name)


def _load_zip(source: Path) -> FerDataset:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FerError(f"{source.name}: not a readable zip file ({first_line(exc)})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not _is_junk(m.filename)]
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise FerError(f"{source.name}: {len(members):,} files, more than the {MAX_ARCHIVE_MEMBERS:,} a FER2013 archive could hold")
        if sum(m.file_size for m in members) > MAX_ARCHIVE_BYTES:  # the directory's word; reading is capped again
            raise FerError(f"{source.name}: more than {MAX_ARCHIVE_BYTES >> 20} MB once unzipped; not FER2013")
        locked = next((m for m in members if m.flag_bits & 0x1), None)
        if locked is not None:
            raise FerError(f"{source.name}: {locked.filename} is encrypted (password-protected); zip the dataset without a password")
        csvs = [m for m in members if m.filename.lower().endswith((".csv", ".csv.gz"))]
        if len(csvs) > 1:
            names = ", ".join(m.filename for m in csvs)
            raise FerError(f"{source.name}: holds several CSV files ({names}); zip just one")
        if csvs:
            try:
                with archive.open(csvs[0]) as member, _maybe_gunzip(member, csvs[0].filename) as text:
                    return _dataset_from_csv(text, csvs[0].filename, str(source))
            except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:
                raise FerError(f"{source.name}: cannot extract {csvs[0].filename} ({first_line(exc)})") from None
        entries = (
            (Path(m.filename).parts, _zip_reader(archive, m, source.name))
            for m in members
            if m.filename.lower().endswith(IMAGE_SUFFIXES)
        )
        return _dataset_from_image_entries(entries, str(source))


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, zip_name: str) -> bytes:
    """One image of an image-folder archive, its inflating stopped past ``MAX_IMAGE_BYTES``."""
    try:
        with archive.open(member) as handle:
            data = handle.read(MAX_IMAGE_BYTES + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:
        raise FerError(f"{zip_name}: cannot extract {member.filename} ({first_line(exc)})") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise FerError(f"{zip_name}: {member.filename} inflates past {MAX_IMAGE_BYTES >> 20} MB; not a FER2013 face")
    return data


def _zip_reader(archive: zipfile.ZipFile, member: zipfile.ZipInfo, zip_name: str) -> Callable[[], bytes]:
    return lambda: _read_member(archive, member, zip_name)


def _is_junk(name: str) -> bool:
    return "__MACOSX" in name or Path(name).name.startswith(".")


# --------------------------------------------------------------------------- CSV layouts


def parse_csv_bytes(data: bytes, *, name: str = "data.csv", source: str = "") -> FerDataset:
    """Parse the bytes of a FER2013-style CSV (any supported column layout)."""
    return _dataset_from_csv(io.BytesIO(data), name, source)


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
        content = read()
        _check_face_image_size(content, "/".join(parts))
        buffer = np.frombuffer(content, dtype=np.uint8)
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


def _check_face_image_size(content: bytes, name: str) -> None:
    """Refuse an image-folder face whose header promises more than ``MAX_FACE_IMAGE_PIXELS`` (a 937 KB PNG
    can decode to gigabytes); read from the header alone, before anything is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as opened:
            width, height = opened.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return  # OpenCV's decoder says it is unreadable, with the name
    if width * height > MAX_FACE_IMAGE_PIXELS:
        raise FerError(f"{name}: {width}x{height} pixels; a FER2013 face is 48x48 (at most {MAX_FACE_IMAGE_PIXELS:,} pixels accepted)")


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
            images, labels = archive["images"], archive["labels"]  # each access reads the member again: once each
            return FerDataset(images=images, labels=labels if labels.size == len(images) else None, usage=archive["usage"], source=source)
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

