"""The GPU sitting's data path: faces packed losslessly in parts that fit a device call, joined there."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, random_faces, write_fer_csv

from fer_core.data.loading import load_dataset
from fer_core.errors import FerError

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from gpu_data import DEVICE_TREE_BYTES, MARGIN_BYTES, ZIP_NAME, check_round_trip, cut_into_parts, room_per_call, write_face_zip
from gpu_sitting import SittingError, join_parts, pack_results


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    usage = ["Training"] * 40 + ["PublicTest"] * 14 + ["PrivateTest"] * 7
    return write_fer_csv(tmp_path / "fer.csv", random_faces(61, seed=5), np.arange(61) % 7, usage)


def test_parts_joined_on_the_machine_load_as_the_faces_they_were_made_from(small_csv: Path, tmp_path: Path) -> None:
    source = load_dataset(small_csv, use_cache=False)
    whole = tmp_path / "out" / ZIP_NAME
    whole.parent.mkdir()
    assert write_face_zip(source, ["Training", "PublicTest"], whole) == 54  # PrivateTest stays behind
    check_round_trip(source, ["Training", "PublicTest"], whole)
    parts = cut_into_parts(whole, 40_000)
    assert len(parts) > 1 and not whole.exists() and all(part.stat().st_size <= 40_000 for part in parts)

    assert join_parts(whole.parent, tmp_path / "joined.zip") == 54
    joined = load_dataset(tmp_path / "joined.zip", use_cache=False)
    assert joined.split_names == ["Training", "PublicTest"]
    for split in joined.split_names:  # lossless: every pixel, label and split as in the CSV
        assert np.array_equal(joined.split(split).images, source.split(split).images)
        assert np.array_equal(joined.split(split).labels, source.split(split).labels)


def test_a_missing_part_is_named_before_any_run_starts(small_csv: Path, tmp_path: Path) -> None:
    whole = tmp_path / "out" / ZIP_NAME
    whole.parent.mkdir()
    write_face_zip(load_dataset(small_csv, use_cache=False), ["Training"], whole)
    parts = cut_into_parts(whole, 20_000)
    parts[-1].unlink()  # the call that should have carried the last part did not
    with pytest.raises(SittingError, match="not a whole zip"):
        join_parts(whole.parent, tmp_path / "joined.zip")
    with pytest.raises(SittingError, match="no data parts"):
        join_parts(tmp_path, tmp_path / "joined.zip")


def test_the_packer_refuses_a_split_the_dataset_lacks_with_one_error_line(small_csv: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "gpu_data.py"), "--data", str(small_csv), "--splits", "Training", "Test",
         "--out", str(tmp_path / "gpu"), "--part-mb", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "no Test split" in result.stderr and not list((tmp_path / "gpu").glob("*.part*"))


def test_each_run_comes_back_as_one_tar_with_its_best_model_in_float16(tmp_path: Path) -> None:
    import keras

    run = tmp_path / "runs" / "wide-distil" / "20261207-000000-vgg_wide-wide-distil"
    run.mkdir(parents=True)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(run / "best.keras")
    (run / "history.csv").write_text("epoch,val_accuracy\n1,0.5\n")
    (run / "checkpoint.keras").write_bytes(b"optimiser state the sitting does not bring back")
    (written,) = pack_results(tmp_path / "runs", tmp_path / "out")
    with tarfile.open(written) as tar:
        assert sorted(tar.getnames()) == [f"{run.name}/best.keras", f"{run.name}/history.csv"]
    back = keras.models.load_model(run / "best.keras")
    assert {weight.dtype for weight in back.weights} == {"float32"}  # float16 on disk, loaded into float32 variables
    assert np.allclose(back.get_weights()[0], model.get_weights()[0], atol=1e-2)


def test_parts_are_sized_to_what_a_call_carries_beside_the_working_tree(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("ignored.bin\n")
    with (tmp_path / "ignored.bin").open("wb") as handle:  # ignored: stays behind, whatever its size
        handle.truncate(200_000_000)
    (tmp_path / "code.py").write_bytes(b"x" * 1_000_000)
    assert room_per_call(tmp_path) == DEVICE_TREE_BYTES - 1_000_000 - len("ignored.bin\n") - MARGIN_BYTES
    with (tmp_path / "carried-run.keras").open("wb") as handle:  # untracked and not ignored: it travels
        handle.truncate(62_000_000)
    with pytest.raises(FerError, match=r"the working tree is 63\.0 MB"):
        room_per_call(tmp_path)
