"""fer_core.data.loading: every supported layout, every refused input, the parse cache."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import CLASSES, pixel_string, random_faces, write_fer_csv

from fer_core.data import loading as data_module
from fer_core.data.loading import load_dataset, parse_csv_bytes
from fer_core.errors import FerError


def test_fer2013_layout_round_trips_pixels_labels_and_splits(tmp_path: Path, faces) -> None:
    images, labels, usage = faces
    dataset = load_dataset(write_fer_csv(tmp_path / "fer2013.csv", images, labels, usage))
    assert dataset.images.dtype == np.uint8 and dataset.images.shape == (14, 48, 48)
    np.testing.assert_array_equal(dataset.images, images)
    np.testing.assert_array_equal(dataset.labels, labels)
    assert dataset.split_names == ["Training", "PublicTest"]
    assert len(dataset.split("PublicTest")) == 4
    assert dataset.class_names[0] == "angry" and dataset.class_names[6] == "neutral"


def test_icml_layout_with_leading_spaces_in_column_names(tmp_path: Path, faces) -> None:
    images, labels, usage = faces
    dataset = load_dataset(write_fer_csv(tmp_path / "icml_face_data.csv", images, labels, usage, layout="icml"))
    np.testing.assert_array_equal(dataset.images, images)
    assert list(dataset.usage) == usage


def test_kaggle_train_csv_is_all_training(tmp_path: Path, faces) -> None:
    images, labels, _ = faces
    dataset = load_dataset(write_fer_csv(tmp_path / "train.csv", images, labels, None, layout="train"))
    assert dataset.split_names == ["Training"]
    np.testing.assert_array_equal(dataset.labels, labels)


def test_kaggle_test_csv_has_no_labels(tmp_path: Path, faces) -> None:
    images, _, _ = faces
    dataset = load_dataset(write_fer_csv(tmp_path / "test.csv", images, None, None, layout="test"))
    assert dataset.labels is None and not dataset.has_labels
    assert dataset.split_names == ["Test"]
    np.testing.assert_array_equal(dataset.images, images)


def test_gzip_and_zipped_csv(tmp_path: Path, faces) -> None:
    images, labels, usage = faces
    plain = write_fer_csv(tmp_path / "fer2013.csv", images, labels, usage)
    gz = tmp_path / "fer2013.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    archive = tmp_path / "fer2013.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(plain, "fer2013/fer2013.csv")
    for path in (gz, archive):
        np.testing.assert_array_equal(load_dataset(path).images, images)


def _write_image_tree(root: Path, images: np.ndarray, labels: np.ndarray, *, upper: bool = False) -> None:
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        split = "train" if index < 10 else "test"
        prefix = "Training" if split == "train" else "PublicTest"
        name = CLASSES[label].capitalize() if upper else CLASSES[label]
        folder = root / split / name
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{prefix}_{index}.png"), image)


def test_image_folders_with_case_insensitive_class_names(tmp_path: Path, faces) -> None:
    images, labels, _ = faces
    _write_image_tree(tmp_path / "fer", images, labels, upper=True)
    dataset = load_dataset(tmp_path / "fer")
    assert len(dataset) == 14
    assert sorted(dataset.split_names) == ["PublicTest", "Training"]
    assert np.bincount(dataset.labels).tolist() == [2] * 7
    # Order follows the sorted paths, so compare as sets of (label, image bytes).
    expected = {(int(lab), img.tobytes()) for img, lab in zip(images, labels, strict=True)}
    assert {(int(lab), img.tobytes()) for img, lab in zip(dataset.images, dataset.labels, strict=True)} == expected


def test_zipped_image_folders(tmp_path: Path, faces) -> None:
    images, labels, _ = faces
    _write_image_tree(tmp_path / "tree", images, labels)
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in (tmp_path / "tree").rglob("*.png"):
            handle.write(path, path.relative_to(tmp_path / "tree"))
    assert len(load_dataset(archive)) == 14


def test_images_of_another_size_are_resized(tmp_path: Path) -> None:
    folder = tmp_path / "train" / "happy"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "a.jpg"), np.full((96, 96, 3), 200, np.uint8))
    dataset = load_dataset(tmp_path)
    assert dataset.images.shape == (1, 48, 48)
    assert abs(int(dataset.images[0, 24, 24]) - 200) <= 2


def _row(pixels: str, label: str = "0", usage: str = "Training") -> str:
    return f"{label},{pixels},{usage}"


GOOD = pixel_string(random_faces(1)[0])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"emotion,pixels,Usage\n", "no rows"),
        (b"emotion,image\n1,2\n", "no 'pixels' column"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary"),
        (("emotion,pixels,Usage\n" + _row(GOOD) + "\n" + _row("1 2 3")).encode(), "row 2: 3 pixel values, expected 2304"),
        (("emotion,pixels,Usage\n" + _row(GOOD.replace(" ", " x ", 1))).encode(), "row 1: pixels must be integers"),
        (("emotion,pixels,Usage\n" + _row(GOOD) + "\n" + _row("nan " + GOOD.split(" ", 1)[1])).encode(), "row 2: pixels must be integers"),
        (("emotion,pixels,Usage\n" + _row("300 " + GOOD.split(" ", 1)[1])).encode(), "row 1: pixel value 300 is outside 0-255"),
        (("emotion,pixels,Usage\n" + _row("-4 " + GOOD.split(" ", 1)[1])).encode(), "row 1: pixel value -4 is outside 0-255"),
        (("emotion,pixels,Usage\n" + _row(GOOD) + "\n" + _row(GOOD, label="7")).encode(), "row 2: emotion label 7 is outside 0-6"),
        (("emotion,pixels,Usage\n" + _row(GOOD, label="happy")).encode(), "row 1: emotion label 'happy' is not an integer"),
        (("emotion,pixels,Usage\n" + _row("", label="1")).encode(), "row 1: the pixels field is empty"),
    ],
)
def test_bad_csv_is_refused_with_a_message_that_names_the_problem(body: bytes, message: str) -> None:
    with pytest.raises(FerError, match=message.replace("(", r"\(")):
        parse_csv_bytes(body, name="bad.csv")


def test_unreadable_image_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "train" / "sad"
    folder.mkdir(parents=True)
    (folder / "broken.png").write_bytes(b"not a png")
    with pytest.raises(FerError, match="broken.png: not a readable image"):
        load_dataset(tmp_path)


def test_unknown_class_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "train" / "contempt"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "a.png"), random_faces(1)[0])
    with pytest.raises(FerError, match="unknown class folder 'contempt'"):
        load_dataset(tmp_path)


def test_unsupported_file_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FerError, match="dataset not found"):
        load_dataset(tmp_path / "nope.csv")
    other = tmp_path / "faces.parquet"
    other.write_bytes(b"PAR1")
    with pytest.raises(FerError, match="not a supported dataset"):
        load_dataset(other)
    broken_zip = tmp_path / "x.zip"
    broken_zip.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(FerError, match="not a readable zip"):
        load_dataset(broken_zip)


def test_zip_bomb_is_refused_before_inflating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_module, "MAX_ARCHIVE_BYTES", 10_000)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("fer2013.csv", "0" * 1_000_000)
    with pytest.raises(FerError, match="once unzipped"):
        load_dataset(archive)


def test_second_load_comes_from_the_cache_and_a_changed_file_is_parsed_again(tmp_path: Path, faces, monkeypatch) -> None:
    images, labels, usage = faces
    path = write_fer_csv(tmp_path / "fer2013.csv", images, labels, usage)
    load_dataset(path)
    calls = []
    original = data_module._load_uncached
    monkeypatch.setattr(data_module, "_load_uncached", lambda source, *rest: calls.append(source) or original(source, *rest))
    np.testing.assert_array_equal(load_dataset(path).images, images)
    assert calls == []  # served from the .npz cache
    write_fer_csv(path, images[:7], labels[:7], usage[:7])
    assert len(load_dataset(path)) == 7 and len(calls) == 1


def test_shared_dev_csv_matches_its_readme(shared_csv: Path) -> None:
    dataset = load_dataset(shared_csv)
    assert len(dataset.split("Training")) == 28709
    assert len(dataset.split("PublicTest")) == 3589
    assert np.bincount(dataset.split("PublicTest").labels).tolist() == [467, 56, 496, 895, 653, 415, 607]
