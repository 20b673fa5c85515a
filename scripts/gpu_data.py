"""Pack a dataset's training and selection splits for a GPU machine, in parts that each fit one call.

Why: the device tool sends the working tree with each call, 64 MiB at most, tracked files
included (the shipped default alone is ~32 MB), and this machine's FER2013 copy is an 87 MB
gzipped CSV. Its histogram-equalised faces barely compress: Training and PublicTest are 74.4 MB
of pixels, 71 MB with zlib, 60 MB with xz, 59 MB as lossless WebP. So the faces go as lossless
WebP files in an uncompressed zip of the image-folder layout ``fer_core`` already reads
(``train/<class>/Training_N.webp``, ``test/<class>/PublicTest_N.webp``: the file name keeps
the split), checked here to load back bit for bit, then cut into parts of at most ``--part-mb``
that successive calls carry into ``data/gpu/`` (gitignored: these are FER2013 faces). A part
carried by an earlier call stays on the machine, so the last call joins them with ``cat``.

    python scripts/gpu_data.py --data ../shared/data/fer2013/fer2013_dev.csv.gz   # parts sized to this tree
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # fer_core from this checkout

from fer_core.data.loading import FerDataset, load_dataset
from fer_core.errors import FerError
from fer_core.labels import CLASS_NAMES

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "data" / "gpu"
ZIP_NAME = "fer-gpu.zip"
FOLDER_BY_SPLIT = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}
WEBP_LOSSLESS = 101  # OpenCV's WebP quality above 100 selects lossless
DEVICE_TREE_BYTES = 64 << 20  # what one device call may send: the working tree and what it carries
MARGIN_BYTES = 2_000_000  # the wheels in .whl/ (2.8 MB ride with the first call) and files written meanwhile


def write_face_zip(dataset: FerDataset, splits: list[str], path: Path) -> int:
    """Write ``splits`` of ``dataset`` as lossless WebP faces in an image-folder zip; returns the face count."""
    import cv2

    missing = [split for split in splits if split not in dataset.split_names]
    if missing:
        raise FerError(f"{Path(dataset.source).name} has no {', '.join(missing)} split (it has {', '.join(dataset.split_names)})")
    if dataset.labels is None:
        raise FerError(f"{Path(dataset.source).name} has no labels to train on")
    count = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:  # WebP is compressed already
        for split in splits:
            for index in np.flatnonzero(dataset.usage == split):
                ok, encoded = cv2.imencode(".webp", dataset.images[index], [cv2.IMWRITE_WEBP_QUALITY, WEBP_LOSSLESS])
                if not ok:
                    raise FerError(f"face {index} could not be encoded as WebP")
                name = f"{FOLDER_BY_SPLIT[split]}/{CLASS_NAMES[dataset.labels[index]]}/{split}_{index:05d}.webp"
                archive.writestr(name, encoded.tobytes())
                count += 1
    return count


def check_round_trip(dataset: FerDataset, splits: list[str], path: Path) -> None:
    """Refuse a pack whose faces, labels or splits differ from the source's in any way (the zip
    reads back in the order it was written, so each split compares face by face)."""
    packed = load_dataset(path, use_cache=False)
    for split in splits:
        mine, theirs = dataset.split(split), packed.split(split)
        if not (np.array_equal(mine.images, theirs.images) and np.array_equal(mine.labels, theirs.labels)):
            raise FerError(f"the packed {split} split does not load back as it was: not written")


def cut_into_parts(path: Path, part_bytes: int) -> list[Path]:
    """``path`` cut into ``path.partNN`` files of at most ``part_bytes`` each (``cat`` joins them), and removed."""
    for old in path.parent.glob(f"{path.name}.part*"):
        old.unlink()
    parts = []
    with path.open("rb") as whole:
        while chunk := whole.read(part_bytes):
            part = path.with_name(f"{path.name}.part{len(parts):02d}")
            part.write_bytes(chunk)
            parts.append(part)
    path.unlink()
    return parts


def travelling_bytes(repo: Path) -> int:
    """The bytes every device call sends anyway: tracked files and untracked ones git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                            capture_output=True, check=True).stdout.split(b"\0")
    paths = [repo / os.fsdecode(name) for name in listed if name]
    return sum(path.stat().st_size for path in paths if path.is_file())  # a deleted file is listed until staged


def room_per_call(repo: Path) -> int:
    """The largest part one call can carry beside the working tree; refused where none fits."""
    tree = travelling_bytes(repo)
    room = DEVICE_TREE_BYTES - tree - MARGIN_BYTES
    if room < 5_000_000:
        raise FerError(f"the working tree is {tree / 1e6:.1f} MB, which leaves {max(room, 0) / 1e6:.1f} MB of a device "
                       "call's 64 MiB for data; take a carried run out of git's index for the sitting (docs/training.md)")
    return room


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("FER2013_PATH", ""), help="dataset (default: FER2013_PATH)")
    parser.add_argument("--splits", nargs="+", default=["Training", "PublicTest"])
    parser.add_argument("--part-mb", type=float, help="largest part, in MB (default: what one call can carry beside this working tree)")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    try:
        if not args.data:
            raise FerError("no dataset: give --data or set FER2013_PATH")
        if args.part_mb is not None and args.part_mb <= 0:
            raise FerError("--part-mb must be positive")
        part_bytes = int(args.part_mb * 1e6) if args.part_mb else room_per_call(REPO_ROOT)
        dataset = load_dataset(args.data)
        args.out.mkdir(parents=True, exist_ok=True)
        whole = args.out / ZIP_NAME
        count = write_face_zip(dataset, args.splits, whole)
        check_round_trip(dataset, args.splits, whole)
        size = whole.stat().st_size
        parts = cut_into_parts(whole, part_bytes)
    except FerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{count} faces ({', '.join(args.splits)}), {size / 1e6:.1f} MB, checked bit for bit; {len(parts)} parts:")
    for call, part in enumerate(parts, start=1):
        shown = part.relative_to(REPO_ROOT) if part.is_relative_to(REPO_ROOT) else part
        print(f"  {shown}  {part.stat().st_size / 1e6:.1f} MB  (carry it in call {call})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
