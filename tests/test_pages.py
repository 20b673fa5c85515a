"""AppTest smoke tests: every page renders without an exception, with and without a dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, random_faces, write_fer_csv
from streamlit.testing.v1 import AppTest

PAGES = REPO_ROOT / "pages"


@pytest.fixture
def small_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    images = random_faces(70, seed=3)
    labels = np.tile(np.arange(7), 10)
    usage = ["Training"] * 56 + ["PublicTest"] * 14
    path = write_fer_csv(tmp_path / "fer2013.csv", images, labels, usage)
    monkeypatch.setenv("FER2013_PATH", str(path))
    return path


@pytest.fixture
def no_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FER2013_PATH", raising=False)
    monkeypatch.setattr("fer_core.dataset_sources.DATA_DIR", Path("/nonexistent"))
    monkeypatch.setattr("fer_core.dataset_sources.UPLOAD_DIR", Path("/nonexistent/uploads"))
    monkeypatch.setattr("fer_core.dataset_sources.KAGGLE_DIR", Path("/nonexistent/kaggle"))


def run_page(name: str, timeout: float = 120) -> AppTest:
    app = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=timeout)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_home_names_the_app(small_dataset: Path) -> None:
    app = run_page("home")
    assert app.title[0].value == "FER Studio"
    assert any("fer2013.csv" in s.value for s in app.success)


def test_explore_shows_charts_for_the_dataset(small_dataset: Path) -> None:
    app = run_page("explore")
    assert app.title[0].value == "Explore FER2013"
    assert len(app.get("plotly_chart")) >= 4  # balance, mean faces, differences, histogram, brightness
    assert any("fer2013.csv" in c.value and "70 faces" in c.value for c in app.sidebar.caption)


def test_explore_without_a_dataset_explains_how_to_get_one(no_dataset: None) -> None:
    app = run_page("explore")
    assert any("Kaggle" in i.value for i in app.info)


def test_explore_sample_grid_follows_the_class_choice(small_dataset: Path) -> None:
    app = run_page("explore")
    app.selectbox(key="sample_class").set_value("happy").run()
    assert not app.exception
    assert any("happy faces from Training" in str(img.proto) for img in app.get("image"))


def test_train_page_without_runs_offers_the_form(small_dataset: Path) -> None:
    app = run_page("train")
    assert any("No runs yet" in i.value for i in app.info)
    assert app.button(key="FormSubmitter:train_form-Start training") is not None


def test_train_page_start_creates_a_run_with_the_form_values(small_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = []

    def fake_start(config, name=""):
        from fer_core.runs import create_run

        started.append(config)
        return create_run(config, name)

    monkeypatch.setattr("fer_core.runs.start_new_run", fake_start)
    app = run_page("train")
    app.selectbox(key="arch").set_value("tiny")
    app.number_input(key="epochs").set_value(3)
    app.button(key="FormSubmitter:train_form-Start training").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(started) == 1 and started[0].arch == "tiny" and started[0].epochs == 3
    assert started[0].sample_per_class > 0  # the sample toggle is on by default


def test_train_page_shows_a_finished_run_with_curves(finished_run: Path, small_dataset: Path) -> None:
    app = run_page("train")
    assert app.selectbox(key="selected_run").value == finished_run.name
    assert len(app.get("plotly_chart")) == 1
    assert any(m.label == "Best validation accuracy" and m.value == "24.0%" for m in app.metric)
    assert "finished" in app.dataframe[0].value["state"].tolist()


def test_public_demo_mode_hides_delete_and_caps_epochs(finished_run: Path, small_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_PUBLIC_DEMO", "1")
    app = run_page("train")
    keys = {b.key for b in app.button}
    assert "delete" not in keys and "publish" not in keys
    assert app.number_input(key="epochs").max == 5


def test_evaluate_page_reports_metrics_for_a_run_model(finished_run: Path, small_dataset: Path) -> None:
    app = run_page("evaluate", timeout=180)
    app.sidebar.selectbox(key="model_choice").set_value(next(o for o in app.sidebar.selectbox(key="model_choice").options if finished_run.name in o)).run()
    assert not app.exception, [e.value for e in app.exception]
    labels = {m.label: m.value for m in app.metric}
    assert labels["Faces"] == "14"
    assert 0 <= float(labels["Accuracy"].rstrip("%")) <= 100
    assert len(app.get("plotly_chart")) == 2
