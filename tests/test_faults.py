"""Faults: bad model files, a failing disk during training, the demo time limit, upload names."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import random_faces, write_fer_csv

from fer_core.data.sources import safe_upload_name
from fer_core.errors import FerError
from fer_core.nets.classifiers import load_classifier
from fer_core.training.config import TrainConfig
from fer_core.training.runs import create_run, read_status

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [("garbage.keras", b"\x00" * 1000, "not a valid .keras file"), ("truncated.keras", None, "truncated.keras: "),
     ("model.h5", b"x", "expected a Keras 3")],
)
def test_corrupt_and_truncated_model_files_are_refused(tmp_path: Path, tiny_model_file: Path, name: str, content: bytes | None, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content if content is not None else tiny_model_file.read_bytes()[:2000])
    with pytest.raises(FerError, match=message):
        load_classifier(path)


def test_a_model_with_a_lambda_layer_is_refused(tmp_path: Path) -> None:
    import keras

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    outputs = keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x))
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(FerError, match="refused, the model contains Python code"):
        load_classifier(path)


def test_a_model_for_other_images_is_refused(tmp_path: Path) -> None:
    import keras

    inputs = keras.Input((64, 64, 3))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.GlobalAveragePooling2D()(inputs))
    path = tmp_path / "other.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(FerError, match=r"incompatible model: takes \(None, 64, 64, 3\)"):
        load_classifier(path)


def test_publishing_a_broken_run_leaves_the_current_default_untouched(tmp_path: Path, finished_run: Path) -> None:
    from fer_core.nets.publish import publish_default_model

    target = tmp_path / "default"
    target.mkdir()
    (target / "model.keras").write_bytes(b"the current default")
    (finished_run / "best.keras").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(FerError):
        publish_default_model(finished_run, target)
    assert (target / "model.keras").read_bytes() == b"the current default"


def test_a_full_disk_while_publishing_leaves_the_default_and_no_staging(tmp_path: Path, finished_run: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from fer_core.nets import publish as export

    target = tmp_path / "default"
    target.mkdir()
    (target / "model.keras").write_bytes(b"the current default")

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export, "export_tflite", full_disk)
    with pytest.raises(FerError, match=r"could not write the default model beside .*default: \[Errno 28\] No space left on device"):
        export.publish_default_model(finished_run, target)
    assert (target / "model.keras").read_bytes() == b"the current default"
    assert sorted(p.name for p in tmp_path.iterdir() if "default" in p.name) == ["default"]  # no staging, no backup


def test_a_failed_swap_puts_the_current_default_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fer_core.nets import publish as export

    target, staging = tmp_path / "default", tmp_path / ".default.staging"
    target.mkdir()
    (target / "model.keras").write_bytes(b"the current default")
    staging.mkdir()
    real_rename = Path.rename

    def rename(self: Path, destination):
        if self == staging:
            raise OSError("the disk went away")
        return real_rename(self, destination)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="the disk went away"):
        export._swap_in(staging, target)
    assert (target / "model.keras").read_bytes() == b"the current default"


def _tiny_data(tmp_path: Path) -> Path:
    labels = np.tile(np.arange(7), 6)
    return write_fer_csv(tmp_path / "tiny.csv", random_faces(42), labels, ["Training"] * 35 + ["PublicTest"] * 7)


def test_disk_full_while_checkpointing_fails_the_run_with_a_clear_status(tmp_path: Path, monkeypatch) -> None:
    from fer_core.training import loop as training

    run_dir = create_run(TrainConfig(data=str(_tiny_data(tmp_path)), arch="tiny", epochs=3, batch_size=16))

    def full_disk(model, path: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(training, "save_model_atomic", full_disk)
    with pytest.raises(FerError, match="No space left on device"):
        training.train_run(run_dir)
    status = read_status(run_dir)
    assert status["state"] == "failed" and "No space left on device" in status["message"]
    assert "failed: " in (run_dir / "train.log").read_text()


def test_the_public_demo_time_limit_cancels_a_run(tmp_path: Path) -> None:
    from fer_core.training.loop import train_run

    config = TrainConfig(data=str(_tiny_data(tmp_path)), arch="tiny", epochs=500, batch_size=4, time_limit_minutes=0.05)
    run_dir = create_run(config)
    assert train_run(run_dir) == "cancelled"
    assert "time limit" in read_status(run_dir)["message"]
    assert json.loads((run_dir / "config.json").read_text())["time_limit_minutes"] == 0.05


@pytest.mark.parametrize(("name", "expected"), [("../../etc/passwd.csv", "passwd.csv"), ("my data (1).csv.gz", "my_data_1_.csv.gz"), (".hidden.zip", "hidden.zip")])
def test_upload_names_cannot_leave_the_upload_folder(name: str, expected: str) -> None:
    assert safe_upload_name(name) == expected


def test_an_upload_that_is_not_a_dataset_is_refused_and_not_kept(tmp_path: Path, monkeypatch) -> None:
    from fer_core.data import sources as dataset_sources

    monkeypatch.setattr(dataset_sources, "UPLOAD_DIR", tmp_path / "uploads")
    with pytest.raises(FerError, match="no 'pixels' column"):
        dataset_sources.save_upload("fer2013.csv", b"a,b\n1,2\n")
    assert list((tmp_path / "uploads").iterdir()) == []
    with pytest.raises(FerError, match="upload a .csv"):
        safe_upload_name("photo.exe")
    shutil.rmtree(tmp_path / "uploads")
