"""Where the app finds FER2013, and the Kaggle download with the deployer's token."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from conftest import write_fer_csv

from fer_core.data import sources as dataset_sources
from fer_core.errors import FerError


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setattr(dataset_sources, "DATA_DIR", folder)
    monkeypatch.setattr(dataset_sources, "UPLOAD_DIR", folder / "uploads")
    monkeypatch.setattr(dataset_sources, "KAGGLE_DIR", folder / "kaggle")
    monkeypatch.delenv("FER2013_PATH", raising=False)
    return folder


def test_env_var_then_secrets_then_data_folder(data_dir: Path, tmp_path: Path, monkeypatch, faces) -> None:
    images, labels, usage = faces
    from_env = write_fer_csv(tmp_path / "env.csv", images, labels, usage)
    from_secrets = write_fer_csv(tmp_path / "secret.csv", images, labels, usage)
    in_data = write_fer_csv(data_dir / "fer2013.csv", images, labels, usage)
    (data_dir / "README.md").write_text("not a dataset")
    monkeypatch.setenv("FER2013_PATH", str(from_env))
    found = dataset_sources.find_datasets({"FER2013_PATH": str(from_secrets)})
    assert [(s.path, s.origin) for s in found] == [(from_env, "FER2013_PATH"), (from_secrets, "secrets"), (in_data.resolve(), "data/")]


def test_nothing_found_is_an_empty_list(data_dir: Path) -> None:
    assert dataset_sources.find_datasets({"FER2013_PATH": "/does/not/exist.csv"}) == []


def test_image_folder_release_in_data_is_found(data_dir: Path) -> None:
    (data_dir / "fer2013" / "train" / "happy").mkdir(parents=True)
    assert [s.path.name for s in dataset_sources.find_datasets()] == ["fer2013"]


def _fake_kaggle(monkeypatch: pytest.MonkeyPatch, write) -> list:
    calls: list = []

    class FakeApi:
        def authenticate(self) -> None:
            calls.append("auth")

        def dataset_download_files(self, dataset: str, path: str, unzip: bool, quiet: bool) -> None:
            calls.append(dataset)
            write(Path(path))

    module = types.ModuleType("kaggle.api.kaggle_api_extended")
    module.KaggleApi = FakeApi
    for name in ("kaggle", "kaggle.api"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "kaggle.api.kaggle_api_extended", module)
    return calls


def test_kaggle_download_lands_in_data_kaggle(data_dir: Path, monkeypatch, faces) -> None:
    images, labels, usage = faces

    def write(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        write_fer_csv(folder / "fer2013.csv", images, labels, usage)

    calls = _fake_kaggle(monkeypatch, write)
    target = dataset_sources.download_from_kaggle("user", "key", "deadskull7/fer2013")
    assert calls == ["auth", "deadskull7/fer2013"]
    assert target == data_dir / "kaggle" / "fer2013.csv" and target.exists()
    assert [s.origin for s in dataset_sources.find_datasets()] == ["kaggle"]


def test_kaggle_failure_is_a_clear_error_and_leaves_nothing(data_dir: Path, monkeypatch) -> None:
    def write(folder: Path) -> None:
        raise ConnectionError("Name or service not known")

    _fake_kaggle(monkeypatch, write)
    with pytest.raises(FerError, match="Kaggle download of deadskull7/fer2013 failed: Name or service not known"):
        dataset_sources.download_from_kaggle("user", "key")
    assert not any((data_dir / "kaggle").iterdir())
