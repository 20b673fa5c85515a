"""Hostile and broken files: one clear error, bounded time and memory, nothing lost beside them.

Every file here is built at test time and small on disk; what it would cost unchecked is in
the comment beside it (measured before the limits in fer_core/limits.py existed).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import pixel_string, random_faces, write_fer_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from test_cli_data import run_cli

from fer_core.data import loading
from fer_core.data.images import decode_image
from fer_core.data.loading import load_dataset, parse_csv_bytes
from fer_core.errors import FerError

GOOD_ROW = pixel_string(np.zeros((48, 48), np.uint8))


def _csv(rows: list[str], header: str = "emotion,pixels,Usage") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def test_two_columns_of_the_same_name_are_refused() -> None:
    for header in ("emotion,pixels,pixels,Usage", "emotion,pixels,Pixels,Usage"):  # a KeyError traceback; the second used silently
        with pytest.raises(FerError, match="the same column twice"):
            parse_csv_bytes(_csv([f"0,{GOOD_ROW},{GOOD_ROW},Training"], header), name="dup.csv")


@pytest.mark.parametrize(("label", "message"), [("0x3", "'0x3' is not an integer"), ("0.0", "'0.0' is not an integer"),
                                                ("NaN", "'NaN' is not an integer"), ("", "the emotion label is empty")])
def test_labels_are_whole_numbers_named_by_their_own_row(label: str, message: str) -> None:
    with pytest.raises(FerError, match=f"row 2: emotion label {message}" if label else f"row 2: {message}"):
        parse_csv_bytes(_csv([f"0,{GOOD_ROW},Training", f"{label},{GOOD_ROW},Training"]), name="labels.csv")


def test_a_gzipped_csv_inside_a_zip_is_capped_while_it_inflates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loading, "MAX_TEXT_BYTES", 200_000)  # stands in for 1 GB: a 4 MB member inflating to 3 GB
    inner = gzip.compress(_csv([f"0,{GOOD_ROW},Training"] * 100))  # 460 KB of text, 1 KB zipped
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("fer2013.csv.gz", inner)
    with pytest.raises(FerError, match="more than 0 MB of text; not FER2013"):
        load_dataset(archive, use_cache=False)


def test_an_encrypted_zip_says_so(tmp_path: Path) -> None:
    archive = tmp_path / "locked.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("fer2013.csv", "emotion,pixels\n")
    data = bytearray(archive.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the 'encrypted' bit in both headers
        at = data.find(signature)
        data[at + flag_offset] |= 0x1
    archive.write_bytes(bytes(data))
    with pytest.raises(FerError, match="fer2013.csv is encrypted"):
        load_dataset(archive, use_cache=False)


def test_an_image_folder_face_that_would_decode_to_gigabytes_is_refused_from_its_header(tmp_path: Path) -> None:
    archive = tmp_path / "faces.zip"
    big = io.BytesIO()
    Image.new("L", (5000, 5000)).save(big, "PNG")  # 25 megapixels in a few KB; 15000x15000 cost 1.8 GB
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("train/happy/0.png", big.getvalue())
    with pytest.raises(FerError, match="5000x5000 pixels; a FER2013 face is 48x48"):
        load_dataset(archive, use_cache=False)


def test_a_photo_past_the_pixel_cap_is_refused_before_decoding() -> None:
    big = io.BytesIO()
    Image.new("RGB", (10000, 6000)).save(big, "PNG")  # 60 MP; 15000x15000 RGB passed Pillow's check and died in MemoryError
    with pytest.raises(FerError, match="10000x6000 pixels is more than the 50 megapixels"):
        decode_image(big.getvalue(), "wide.png")


@pytest.mark.slow
def test_predict_answers_for_the_good_photo_beside_dev_zero_and_a_folder(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.new("RGB", (200, 200), (120, 120, 120)).save(good)
    result = run_cli("predict", "/dev/zero", str(tmp_path), str(good), "--json", "--detector", "haar")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: /dev/zero: not a regular file" and lines[1] == f"error: {tmp_path}: a folder, not an image file"
    assert "good.png" in result.stdout and "Traceback" not in result.stderr  # the good photo still gets its answer


def test_a_model_archive_that_unpacks_to_gigabytes_is_refused_unopened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fer_core.nets import classifiers

    monkeypatch.setattr(classifiers, "MAX_MODEL_INFLATED_BYTES", 100_000)  # stands in for 2 GB: a 2.4 MB file took 3.7 GB
    model = tmp_path / "bomb.keras"
    with zipfile.ZipFile(model, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("model.weights.h5", b"\0" * 1_000_000)
    with pytest.raises(FerError, match="bomb.keras: unpacks to 0 MB, more than a FER model could need"):
        classifiers.load_classifier(model)


def test_an_unknown_split_lists_a_few_names_not_all(tmp_path: Path) -> None:
    usage = [f"split{i}" for i in range(30)]
    path = write_fer_csv(tmp_path / "many.csv", random_faces(30), np.zeros(30, int), usage)
    with pytest.raises(FerError, match="names 30 different splits") as refused:
        load_dataset(path, use_cache=False)
    assert len(str(refused.value)) < 300


@pytest.mark.slow
def test_predict_csv_onto_a_folder_leaves_no_temporary_file(tmp_path: Path) -> None:
    data = write_fer_csv(tmp_path / "test.csv", random_faces(3), None, None, layout="test")
    folder = tmp_path / "out"
    folder.mkdir()
    result = run_cli("predict-csv", "--data", str(data), "--out", str(folder))
    assert result.returncode == 2 and result.stderr.startswith("error: cannot write") and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "test.csv"] and not any(folder.iterdir())


@pytest.mark.slow
def test_simultaneous_starts_leave_exactly_one_run_folder(tmp_path: Path) -> None:
    """Three 'train' commands in the same second: one trains, two are refused, and a refused start
    leaves no folder ('queued' in the runs list forever)."""
    import os
    import subprocess
    import sys

    from conftest import REPO_ROOT

    data = write_fer_csv(tmp_path / "fer2013.csv", random_faces(28), np.tile(np.arange(7), 4), ["Training"] * 21 + ["PublicTest"] * 7)
    runs = tmp_path / "runs"
    env = {**os.environ, "FER_RUNS_DIR": str(runs)}
    command = [sys.executable, "-m", "fer_core", "train", "--data", str(data), "--arch", "tiny", "--epochs", "2", "--batch-size", "8"]
    barrier = threading.Barrier(3)
    results: list[subprocess.CompletedProcess] = []

    def start() -> None:
        barrier.wait()
        results.append(subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300))

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(result.returncode for result in results)
    refused = [result for result in results if result.returncode == 2]
    assert codes[-1] != 2 or len(refused) < 3, [r.stderr[-300:] for r in results]
    assert all("already in progress" in result.stderr and "Traceback" not in result.stderr for result in refused)
    folders = [p for p in runs.iterdir() if p.is_dir()]
    assert len(folders) == 3 - len(refused)  # only the runs that trained have folders


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000), st.sampled_from(["x.csv", "x.csv.gz", "x.zip", "x.txt"]))
def test_no_bytes_make_the_loader_raise_anything_but_its_own_error(tmp_path_factory: pytest.TempPathFactory, content: bytes, name: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(content)
    with contextlib.suppress(FerError):
        load_dataset(path, use_cache=False)


def test_a_line_longer_than_any_face_is_named_not_a_block_size_hint(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("emotion,pixels,Usage\n0," + "1 " * 10_000_000 + ",Training\n")  # 20 MB on one line; 500 MB said "try to increase block size?"
    with pytest.raises(FerError, match="row 1 or near it is longer than 8 MB: not a FER2013 row"):
        load_dataset(path, use_cache=False)
