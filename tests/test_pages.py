"""AppTest smoke tests: every page renders without an exception, with and without a dataset."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT, random_faces, seeded_tiny_model, write_fer_csv
from streamlit.testing.v1 import AppTest
from test_routes import write_run

from fer_core.inference.captures import captures_zip
from fer_core.labels import CLASS_NAMES, WHAT_IT_READS
from fer_core.paths import DEFAULT_MODEL_PATH
from fer_core.training.config import TrainConfig

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
    monkeypatch.setattr("fer_core.data.sources.DATA_DIR", Path("/nonexistent"))
    monkeypatch.setattr("fer_core.data.sources.UPLOAD_DIR", Path("/nonexistent/uploads"))
    monkeypatch.setattr("fer_core.data.sources.KAGGLE_DIR", Path("/nonexistent/kaggle"))


def run_model_label(run_dir: Path) -> str:
    """The model selector's value for a run (the sidebar shows it shortened)."""
    from ui.models import model_choices

    return next(label for label in model_choices() if run_dir.name in label)


def run_page(name: str, timeout: float = 120) -> AppTest:
    app = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=timeout)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_home_names_the_app_and_links_where_to_start(small_dataset: Path) -> None:
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)  # through the navigation, as page links need
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value == "FER Studio"
    assert [link.proto.page for link in app.get("page_link")] == ["photos", "live", "train", "evaluate"]
    assert WHAT_IT_READS in {c.value for c in app.caption}
    shipped = json.loads((DEFAULT_MODEL_PATH.parent / "metrics.json").read_text())
    assert "one FER2013 test face in three" in WHAT_IT_READS and abs((1 - shipped["accuracy"]) - 1 / 3) < 0.05  # still true
    assert any("fer2013.csv" in s.value for s in app.success)
    accuracy = next(m for m in app.metric if m.label == "PublicTest accuracy")
    assert "95% interval" in accuracy.proto.help and "3,589 faces" in accuracy.proto.help
    assert "Without the 280 faces that are also in Training (scored on memory): 65.3%." in accuracy.proto.help
    live = next(m for m in app.metric if m.label == "Live, per face")
    assert live.value.endswith(" ms") and "TTA" in live.proto.help
    arch = json.loads((DEFAULT_MODEL_PATH.parent / "metrics.json").read_text())["arch"]
    assert any(c.value.startswith(f"{arch} · ") and "parameters" in c.value for c in app.caption)


def test_explore_shows_charts_for_the_dataset(small_dataset: Path) -> None:
    app = run_page("explore")
    assert app.title[0].value == "Explore FER2013"
    assert len(app.get("plotly_chart")) >= 4  # balance, mean faces, differences, histogram, brightness
    assert any("fer2013.csv" in c.value and "70 faces" in c.value for c in app.sidebar.caption)
    lighting = next(c.value for c in app.caption if "of all these faces are already histogram-equalised" in c.value)
    assert lighting.startswith("97%") and "Live and Photos equalise camera crops" in lighting  # uniform random pixels: flat


def test_explore_balance_table_follows_the_percent_toggle(small_dataset: Path) -> None:
    app = run_page("explore")
    assert app.dataframe[0].value["Training"].tolist() == [8] * 7  # counts: 56 Training faces, 8 per class
    assert json.loads(app.dataframe[0].proto.columns)["Training"]["type_config"]["format"] == "localized"  # 3,995
    app.toggle(key="balance_percent").set_value(True).run()
    shares = app.dataframe[0].value
    assert json.loads(app.dataframe[0].proto.columns)["Training"]["type_config"]["format"] == "percent"
    assert shares["Training"].tolist() == pytest.approx([1 / 7] * 7) and shares["PublicTest"].sum() == pytest.approx(1)


def test_explore_without_a_dataset_explains_how_to_get_one(no_dataset: None) -> None:
    app = run_page("explore")
    assert any("Kaggle" in i.value for i in app.info)


def test_explore_sample_grid_follows_the_class_choice(small_dataset: Path) -> None:
    app = run_page("explore")
    app.selectbox(key="sample_class").set_value("happy").run()
    assert not app.exception
    assert any(c.value == "8 faces from Training, labelled happy" for c in app.caption)
    app.selectbox(key="sample_class").set_value("any").run()  # every face says its class, whatever was asked for
    captions = [image.caption for image in app.get("image")[0].proto.imgs]
    assert captions and set(captions) <= set(CLASS_NAMES) and len(set(captions)) > 1


@pytest.fixture
def small_dataset_with_votes(small_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Votes for the 70 faces: the crowd calls every fear face (FER label 2) neutral, and agrees elsewhere."""
    from fer_core.data.ferplus import TO_FER, VOTE_COLUMNS

    column_of = {fer: column for column, fer in enumerate(TO_FER)}
    labels, rows = np.tile(np.arange(7), 10), []
    for index, label in enumerate(labels):
        votes = [0] * len(VOTE_COLUMNS)
        votes[column_of[6 if label == 2 else int(label)]] = 8
        votes[8] = 2  # two 'unknown'
        rows.append(f"{'Training' if index < 56 else 'PublicTest'},fer{index:07d}.png," + ",".join(map(str, votes)))
    path = tmp_path / "fer2013new.csv"
    path.write_text("Usage,Image name," + ",".join(VOTE_COLUMNS) + "\n" + "\n".join(rows) + "\n")
    monkeypatch.setenv("FERPLUS_PATH", str(path))
    return path


def test_explore_shows_the_crowds_votes_and_opens_a_cell_of_the_disagreement_matrix(small_dataset_with_votes: Path) -> None:
    app = run_page("explore")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Faces with votes"] == "70" and metrics["FER's label = the crowd's"] == "85.7%"  # 60 of 70 agree
    app.selectbox(key="crowd_fer").set_value("fear").run()
    app.selectbox(key="crowd_says").set_value("neutral").run()
    assert not app.exception
    shown = [[image.caption for image in element.proto.imgs] for element in app.get("image")]
    assert any(len(captions) == 10 and all(c.endswith(": neutral 8 · unknown 2") for c in captions) for captions in shown)  # the ten fear faces
    app.selectbox(key="crowd_says").set_value("fear").run()
    assert any("No face that FER labels fear has the crowd's answer 'fear'" in i.value for i in app.info)
    app.toggle(key="sample_votes").set_value(True).run()
    assert not app.exception


def test_evaluate_scores_against_the_crowd_when_asked(finished_run: Path, small_dataset_with_votes: Path) -> None:
    app = run_page("evaluate")
    app.toggle(key="eval_ferplus").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    metrics = {m.label: m for m in app.metric}
    assert "14 faces have a FER+ majority" in metrics["Accuracy against the FER+ majority"].proto.help
    assert metrics["Against FER's labels (above)"].value == metrics["Accuracy"].value


def test_explore_without_votes_says_where_they_come_from(small_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FERPLUS_PATH", raising=False)
    app = run_page("explore")
    assert any("No FER+ votes fit this dataset" in i.value and "35,887 rows" in i.value for i in app.info)


def test_train_page_without_runs_offers_the_form(small_dataset: Path) -> None:
    app = run_page("train")
    assert any("No runs yet" in i.value for i in app.info)
    assert app.button(key="FormSubmitter:train_form-Start training") is not None


def test_train_page_draws_the_long_runs_carried_in_wip_against_cpu_hours(small_dataset: Path) -> None:
    wip = Path(os.environ["FER_WIP_DIR"])
    write_run(wip / "20261201-000000-vgg-long", [(1, 0.50, 3600), (2, 0.60, 3600)])
    write_run(wip / "20261202-000000-vgg-long-stage2", [(1, 0.64, 1800)], init_from="/elsewhere/models/wip/20261201-000000-vgg-long/best.keras")
    app = run_page("train")
    assert not app.exception, [e.value for e in app.exception]
    assert any(e.label == "Long runs carried between sessions (1)" for e in app.expander)
    table = app.dataframe[0].value
    assert table.to_dict("records") == [{"route (last stage)": "20261202-000000-vgg-long-stage2", "stages": 2, "epochs": 3,
                                         "CPU-hours": 2.5, "best validation accuracy": "64.0%",
                                         "gain in the last CPU-hour": "+14.00 points", "last stage": "unknown"}]
    assert [row["machine"] for row in app.dataframe[1].value.to_dict("records")] == ["1 core"]  # epochs from before sittings were logged
    assert len(app.get("plotly_chart")) == 1


def test_train_page_names_the_machine_of_each_sitting_of_a_long_run(small_dataset: Path) -> None:
    from fer_core.training.sittings import record_sitting

    run = Path(os.environ["FER_WIP_DIR"]) / "20261207-000000-vgg_wide-mixup"
    run.mkdir(parents=True)
    (run / "config.json").write_text(TrainConfig(data="fer2013.csv").to_json())
    (run / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,cpu_seconds,cores,sitting\n"
                                     "1,1.0,0.5,1.0,0.40,0.01,500,900,2,1796665599.5\n")
    record_sitting(run, 1796665599.5, "AMD EPYC, 2 cores with bf16 units, bfloat16 on tensorflow (oneDNN on)")
    app = run_page("train")
    assert app.dataframe[1].value.to_dict("records") == [{
        "route": "20261207-000000-vgg_wide-mixup", "sitting": "2026-12-07 17:46 UTC", "epochs": 1, "CPU-hours": 0.25,
        "machine": "AMD EPYC, 2 cores with bf16 units, bfloat16 on tensorflow (oneDNN on)", "best after it": "40.0%"}]


def test_train_page_start_creates_a_run_with_the_form_values(small_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = []

    def fake_start(config, name=""):
        from fer_core.training.runs import create_run

        started.append(config)
        return create_run(config, name)

    monkeypatch.setattr("fer_core.training.runs.start_new_run", fake_start)
    app = run_page("train")
    app.selectbox(key="arch").set_value("tiny")
    app.number_input(key="epochs").set_value(3)
    app.toggle(key="bfloat16").set_value(True)
    app.select_slider(key="erasing").set_value(0.25)
    app.select_slider(key="mixup").set_value(0.2)
    app.toggle(key="distil").set_value(True)
    app.selectbox(key="schedule").set_value("constant")
    app.number_input(key="swa_epochs").set_value(2)
    app.button(key="FormSubmitter:train_form-Start training").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(started) == 1 and started[0].arch == "tiny" and started[0].epochs == 3
    assert started[0].precision == "bfloat16" and started[0].erasing == 0.25 and started[0].mixup == 0.2
    assert started[0].teachers == [str(DEFAULT_MODEL_PATH)]  # distils the shipped model
    assert started[0].schedule == "constant" and started[0].swa_epochs == 2
    assert started[0].sample_per_class > 0  # the sample toggle is on by default


def test_train_page_shows_a_finished_run_with_curves(finished_run: Path, small_dataset: Path) -> None:
    (finished_run / "metrics.json").write_text('{"accuracy_tta": 0.25, "accuracy_flip_zoom_tta": 0.3125}')  # as a run's end writes it
    app = run_page("train")
    assert app.selectbox(key="selected_run").value == finished_run.name
    assert len(app.get("plotly_chart")) == 1
    assert any(m.label == "Best validation accuracy" and m.value == "24.0%" for m in app.metric)
    assert "finished" in app.dataframe[0].value["state"].tolist()
    assert app.dataframe[0].value[["flip TTA", "flip-zoom TTA"]].values.tolist() == [[0.25, 0.3125]]
    assert app.code[0].value.startswith("python -m fer_core train --data ") and "--arch tiny --epochs 2" in app.code[0].value
    assert not any("Weight average" in caption.value for caption in app.caption)

    (finished_run / "swa.json").write_text('{"epochs": [2, 2], "val_accuracy": 0.26, "best_epoch_val_accuracy": 0.24, "kept_as_best": true}')
    app.run()
    assert any(caption.value.startswith("Weight average of epochs 2–2: 26.00% on validation against the best epoch's 24.00%; kept")
               for caption in app.caption)


@pytest.mark.parametrize(("cpu_lacks_bf16", "gpu"), [(True, False), (False, False), (True, True)])
def test_train_page_resumes_a_bf16_run_in_float32_where_bf16_is_emulated(
        finished_run: Path, small_dataset: Path, monkeypatch: pytest.MonkeyPatch, cpu_lacks_bf16: bool, gpu: bool) -> None:
    resumed = []
    monkeypatch.setattr("fer_core.training.hardware.cpu_lacks_bfloat16", lambda: cpu_lacks_bf16)
    monkeypatch.setattr("fer_core.training.hardware.nvidia_gpu_visible", lambda: gpu)  # a GPU takes bf16 in hardware
    emulated = cpu_lacks_bf16 and not gpu
    monkeypatch.setattr("fer_core.training.runs.resume_run", lambda run_dir, precision=None: resumed.append(precision) or 1)
    config = TrainConfig.load(finished_run / "config.json")
    config.precision = "bfloat16"
    (finished_run / "config.json").write_text(config.to_json())
    (finished_run / "status.json").write_text(json.dumps({"state": "cancelled", "epoch": 1, "epochs": 2}))
    app = run_page("train")
    button = app.button(key="resume_run")
    assert button.label == ("Resume in float32" if emulated else "Resume")
    assert ("bf16 is emulated here" in app.toggle(key="bfloat16").help) == emulated
    button.click().run()
    assert resumed == (["float32"] if emulated else [None])


def test_train_page_names_the_workers_of_a_multi_worker_run_only(finished_run: Path, small_dataset: Path) -> None:
    app = run_page("train")
    assert not any("workers" in caption.value for caption in app.caption)  # a one-machine run: nothing new
    config = TrainConfig.load(finished_run / "config.json")
    config.workers = ["10.0.0.1:2222", "10.0.0.2:2222"]
    (finished_run / "config.json").write_text(config.to_json())
    app.run()
    assert any(caption.value.startswith("Trained on 2 workers (10.0.0.1:2222, 10.0.0.2:2222)") for caption in app.caption)
    assert "--workers 10.0.0.1:2222,10.0.0.2:2222 --worker-index N" in app.code[0].value


def test_train_page_says_when_a_run_ended_at_chance_level(finished_run: Path, small_dataset: Path) -> None:
    (finished_run / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds\n1,1.9,0.2,1.9,0.1,0.001,3.0\n")
    app = run_page("train")
    assert any("ended at chance level: 10.0% on validation" in w.value and "14.3%" in w.value for w in app.warning)


def test_train_page_estimates_the_duration_from_the_runs_made_here(finished_run: Path, small_dataset: Path) -> None:
    app = run_page("train")
    app.toggle(key="use_sample").set_value(False).run()
    app.selectbox(key="arch").set_value("tiny").run()
    app.number_input(key="epochs").set_value(20).run()
    estimate = next(c.value for c in app.caption if c.value.startswith("Estimated duration"))
    assert "about 60 s" in estimate and "3 s per epoch, from the median of 1 tiny run here" in estimate  # its epochs took 3.0 and 3.1 s


def test_train_page_shows_the_watched_faces_after_the_chosen_epoch(finished_run: Path, small_dataset: Path) -> None:
    from fer_core.training.glimpses import record_glimpse

    labels = np.tile(np.arange(7), 2)
    faces = random_faces(14, seed=5)
    record_glimpse(finished_run, lambda batch: np.tile(np.eye(7)[3], (len(batch), 1)), faces, labels, 1)  # 'happy' for all
    record_glimpse(finished_run, lambda batch: np.eye(7)[np.repeat(np.arange(7), 2)], faces, labels, 2)  # all right (kept in class order)
    app = run_page("train")
    slider = next(s for s in app.slider if s.label.startswith("Watch it learn"))
    assert slider.value == 2 and any(c.value.startswith("14 of 14 validation faces right after epoch 2") for c in app.caption)
    slider.set_value(1).run()
    assert any(c.value.startswith("2 of 14 validation faces right after epoch 1") for c in app.caption)
    captions = [str(image.proto) for image in app.get("image")]
    assert sum("✗ happy 100%" in c for c in captions) == 12 and sum("✓ 100%" in c for c in captions) == 2


def test_train_page_overlays_the_curves_of_the_runs_chosen(finished_run: Path, small_dataset: Path) -> None:
    import shutil

    second = finished_run.with_name(finished_run.name + "-second")
    shutil.copytree(finished_run, second)
    (second / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds\n1,1.7,0.3,1.6,0.35,0.001,3.0\n")
    app = run_page("train")
    assert sorted(app.multiselect(key="compare_runs").value) == sorted([finished_run.name, second.name])
    def curves() -> tuple[dict, dict]:
        import base64

        figure = json.loads(app.get("plotly_chart")[-1].proto.spec)
        values = {trace["name"]: np.frombuffer(base64.b64decode(trace["y"]["bdata"]), trace["y"]["dtype"]).tolist()
                  for trace in figure["data"]}  # plotly sends arrays as typed binary
        return values, figure["layout"]

    values, layout = curves()
    assert values == {finished_run.name: [0.21, 0.24], second.name: [0.35]} and layout["yaxis"]["title"]["text"] == "validation accuracy"
    app.selectbox(key="compare_metric").set_value("loss").run()
    values, layout = curves()
    assert values == {finished_run.name: [1.9, 1.8], second.name: [1.7]} and layout["yaxis"]["title"]["text"] == "training loss"


def test_train_page_averages_two_runs_into_the_default_model(finished_run: Path, small_dataset: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import shutil

    second = finished_run.with_name(finished_run.name + "-second")
    shutil.copytree(finished_run, second)
    seeded_tiny_model(1).save(second / "best.keras")
    target = tmp_path / "default"
    monkeypatch.setattr("fer_core.paths.DEFAULT_MODEL_DIR", target)
    app = run_page("train")
    assert app.button(key="publish_ensemble").disabled  # fewer than two runs chosen
    app.multiselect(key="ensemble_runs").set_value([finished_run.name, second.name]).run()
    app.button(key="publish_ensemble").click().run(timeout=300)
    assert not app.exception, [e.value for e in app.exception]
    metrics = json.loads((target / "metrics.json").read_text())
    assert metrics["arch"] == "ensemble of 2 (tiny)"
    assert any(f"{metrics['accuracy_no_tta']:.1%} on PublicTest" in s.value and "the best run alone" in s.value for s in app.success)


def test_train_page_publishes_only_ended_runs_and_can_restore_the_replaced_default(
        finished_run: Path, small_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    target = tmp_path / "default"
    target.mkdir()
    (target / "model.keras").write_bytes(b"the shipped default")
    (target / "metrics.json").write_text(json.dumps({"accuracy": 0.669, "split": "PublicTest", "run_id": "shipped"}))
    monkeypatch.setattr("fer_core.paths.DEFAULT_MODEL_DIR", target)
    status = finished_run / "status.json"
    status.write_text(json.dumps({"state": "running", "epoch": 1, "epochs": 2, "pid": os.getpid()}))
    app = run_page("train")
    assert app.button(key="publish").disabled  # its best model may still change
    assert "restore_default" not in {b.key for b in app.button}  # nothing replaced yet
    assert any(c.value.startswith("Default model now: shipped: 66.9% on PublicTest") for c in app.caption)

    status.write_text(json.dumps({"state": "finished", "epoch": 2, "epochs": 2}))
    app.run()
    app.button(key="publish").click().run(timeout=300)
    assert not app.exception, [e.value for e in app.exception]
    assert any("Restore the previous default" in s.value for s in app.success)
    assert json.loads((target / "metrics.json").read_text())["run_id"] == finished_run.name
    app.button(key="restore_default").click().run()
    assert (target / "model.keras").read_bytes() == b"the shipped default"
    assert json.loads((tmp_path / "default.previous" / "metrics.json").read_text())["run_id"] == finished_run.name


def test_train_page_gives_the_seconds_per_epoch_of_the_last_sitting(finished_run: Path, small_dataset: Path) -> None:
    (finished_run / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,cpu_seconds,cores,sitting\n"
                                              "1,1.0,0.5,1.0,0.40,0.01,900,1700,2,1000.0\n"  # another machine
                                              "2,1.0,0.5,1.0,0.45,0.01,200,400,2,5000.0\n"
                                              "3,1.0,0.5,1.0,0.47,0.01,220,420,2,5000.0\n")
    app = run_page("train")
    assert [m.value for m in app.metric if m.label == "Seconds per epoch"] == ["210"]


def test_train_page_stops_a_run_after_the_epoch_under_way(finished_run: Path, small_dataset: Path) -> None:
    from fer_core.training.runs import AFTER_EPOCH, CANCEL_NOW, cancel_request

    (finished_run / "status.json").write_text(json.dumps({"state": "running", "epoch": 1, "epochs": 2, "pid": os.getpid()}))
    app = run_page("train")
    app.button(key="stop_after_epoch").click().run()
    assert cancel_request(finished_run) == AFTER_EPOCH  # a request the trainer reads at the epoch's end, not a cancel now
    app.run()  # the next refresh says it is pending
    assert "stop_after_epoch" not in {b.key for b in app.button}
    assert any(c.value.startswith("Stops once epoch 2 has been saved") for c in app.caption)
    app.button(key="cancel_run").click().run()
    assert cancel_request(finished_run) == CANCEL_NOW  # Cancel still stops it at once


def test_public_demo_mode_hides_delete_and_caps_epochs(finished_run: Path, small_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_PUBLIC_DEMO", "1")
    app = run_page("train")
    keys = {b.key for b in app.button}
    assert "delete" not in keys and "publish" not in keys and "publish_ensemble" not in keys
    assert app.number_input(key="epochs").max == 30 and app.number_input(key="epochs").value == 20


def test_evaluate_page_reports_metrics_for_a_run_model(finished_run: Path, small_dataset: Path) -> None:
    app = run_page("evaluate", timeout=180)
    app.sidebar.selectbox(key="model_choice").set_value(run_model_label(finished_run)).run()
    assert not app.exception, [e.value for e in app.exception]
    labels = {m.label: m.value for m in app.metric}
    assert labels["Faces"] == "14"
    assert 0 <= float(labels["Accuracy"].rstrip("%")) <= 100
    assert len(app.get("plotly_chart")) == 4  # per class, confusion, reliability, not sure
    assert any("Answering only when at least 50 % sure" in c.value or c.value == "No face reaches 50 % confidence." for c in app.caption)
    assert 0 <= float(labels["Calibration error (ECE)"].rstrip("%")) <= 100
    assert {"download_metrics", "download_predictions"} <= {b.key for b in app.get("download_button")}
    assert any("95% interval" in c.value for c in app.caption)
    app.selectbox(key="eval_tta").set_value("flip-zoom").run()
    assert not app.exception and any("with flip-zoom TTA" in c.value for c in app.caption)


def test_evaluate_page_compares_two_models_on_the_same_faces(finished_run: Path, small_dataset: Path) -> None:
    app = run_page("evaluate", timeout=180)
    chooser = app.sidebar.selectbox(key="model_choice")
    chooser.set_value(run_model_label(finished_run)).run()
    assert "p-value (exact McNemar)" not in {m.label for m in app.metric}  # nothing compared until asked
    app.selectbox(key="eval_compare").set_value("default model").run()
    assert not app.exception, [e.value for e in app.exception]
    metrics = {m.label: m.value for m in app.metric}
    assert 0 < float(metrics["p-value (exact McNemar)"]) <= 1
    sentence = next(m.value for m in app.markdown if "exact McNemar" in m.value)
    assert "of 14 faces" in sentence


def test_evaluate_page_shows_where_the_model_looked_for_a_mistake(finished_run: Path, small_dataset: Path) -> None:
    from fer_core.data.loading import load_dataset
    from fer_core.evaluation.metrics import predict_probabilities
    from fer_core.labels import CLASS_NAMES
    from fer_core.nets.classifiers import load_classifier

    public = load_dataset(small_dataset).split("PublicTest")
    predicted = predict_probabilities(load_classifier(finished_run / "best.keras"), public.images).argmax(axis=1)
    wrong = np.flatnonzero(predicted != public.labels)
    assert len(wrong), "an untrained net on 14 random faces gets some wrong"
    true_name, predicted_name = CLASS_NAMES[public.labels[wrong[0]]], CLASS_NAMES[predicted[wrong[0]]]
    app = run_page("evaluate", timeout=180)
    chooser = app.sidebar.selectbox(key="model_choice")
    chooser.set_value(run_model_label(finished_run))
    app.selectbox(key="mistake_true").set_value(true_name)
    app.selectbox(key="mistake_pred").set_value(predicted_name).run()
    assert "mistake_pick" not in {s.key for s in app.selectbox}  # no Grad-CAM until asked
    app.toggle(key="mistake_inspect").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    captions = {picture.caption for image in app.get("image") for picture in image.proto.imgs}
    assert {f"Grad-CAM for '{predicted_name}' (predicted)", f"Grad-CAM for '{true_name}' (true)", f"true: {true_name}"} <= captions
    assert len(app.get("plotly_chart")) == 5  # per class, confusion, reliability, not sure, and this face's bars


def test_evaluate_page_averages_grad_cam_per_class_when_asked(finished_run: Path, small_dataset: Path) -> None:
    app = run_page("evaluate", timeout=180)
    chooser = app.sidebar.selectbox(key="model_choice")
    chooser.set_value(run_model_label(finished_run)).run()
    right = [int(m.group(1)) for image in app.get("image") for picture in image.proto.imgs
             if (m := re.search(r": \d+ of its (\d+) correct faces", picture.caption))]
    assert right == []  # nothing computed until asked
    app.toggle(key="class_attention").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    captions = [picture.caption for image in app.get("image") for picture in image.proto.imgs if "correct faces" in picture.caption]
    assert [caption.split(":")[0] for caption in captions] == list(CLASS_NAMES)
    labels = {m.label: m.value for m in app.metric}
    shown = sum(int(re.search(r": (\d+) of", caption).group(1)) for caption in captions)
    assert shown == round(float(labels["Accuracy"].rstrip("%")) / 100 * 14)  # every correct face of 14 (under 48 a class)


def test_evaluate_page_can_leave_out_faces_also_in_training(finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = random_faces(70, seed=3)
    images[60:64] = images[:4]  # four PublicTest faces are Training faces
    data = write_fer_csv(tmp_path / "leaky.csv", images, np.tile(np.arange(7), 10), ["Training"] * 56 + ["PublicTest"] * 14)
    monkeypatch.setenv("FER2013_PATH", str(data))
    app = run_page("evaluate", timeout=180)
    chooser = app.sidebar.selectbox(key="model_choice")
    chooser.set_value(run_model_label(finished_run)).run()
    assert any(c.value.startswith("4 of these faces are also in Training") for c in app.caption)
    assert {m.label: m.value for m in app.metric}["Faces"] == "14"

    from fer_core.data.loading import load_dataset
    from fer_core.evaluation.metrics import predict_probabilities
    from fer_core.labels import CLASS_NAMES
    from fer_core.nets.classifiers import load_classifier

    public = load_dataset(data).split("PublicTest")
    predicted = predict_probabilities(load_classifier(finished_run / "best.keras"), public.images).argmax(axis=1)
    app.selectbox(key="mistake_true").set_value(CLASS_NAMES[public.labels[4]])  # PublicTest face 4 is a Training face
    app.selectbox(key="mistake_pred").set_value(CLASS_NAMES[predicted[4]]).run()
    assert any(" · in Training" in str(image.proto) for image in app.get("image"))
    assert any(c.value.startswith("'in Training': the same image is also in the Training split") for c in app.caption)

    app.toggle(key="eval_without_copies").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    assert {m.label: m.value for m in app.metric}["Faces"] == "10"
    assert any("without the faces also in Training" in c.value for c in app.caption)
    app.selectbox(key="eval_compare").set_value("default model").run()  # the second model is scored on the same 10
    assert not app.exception and any("of 10 faces" in m.value for m in app.markdown if "exact McNemar" in m.value)

    position = next(i for i in range(8, 14) if predicted[i] != public.labels[i])  # a mistake after the left-out copies
    app.selectbox(key="mistake_true").set_value(CLASS_NAMES[public.labels[position]])
    app.selectbox(key="mistake_pred").set_value(CLASS_NAMES[predicted[position]])
    app.toggle(key="mistake_inspect").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(f"face {position} of PublicTest" in option for option in app.selectbox(key="mistake_pick").options)


class FakeStreamState:
    playing = False
    signalling = False


class FakeStreamContext:
    state = FakeStreamState()


@pytest.fixture
def camera_stand_in(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Replaces webrtc_streamer (which crashes under AppTest) and records how the page drives it."""
    calls: list[dict] = []

    def fake_camera(key: str, *, playing: bool, callback, ice: list[dict]):
        calls.append({"key": key, "playing": playing, "callback": callback, "ice": ice})
        return FakeStreamContext()

    monkeypatch.setattr("ui.webrtc.live_camera", fake_camera)
    monkeypatch.setattr("ui.webrtc.RESTART_PAUSE_S", 0.0)  # the stand-in browser is always quiet
    monkeypatch.setattr("ui.webrtc.NO_CAMERA_S", 3600.0)  # ... and never signals: no test is slow enough to give up
    return calls


def feed_a_face(camera_stand_in: list[dict], face: np.ndarray):
    """One camera frame with a face through the page's frame callback, as WebRTC would send it."""
    import av
    from conftest import paste_face

    frame = np.full((480, 640, 3), 100, np.uint8)
    paste_face(frame, face, 220, 140, 200)
    return camera_stand_in[-1]["callback"](av.VideoFrame.from_ndarray(frame, format="bgr24"))


def test_live_page_start_and_stop_drive_the_stream(finished_run: Path, camera_stand_in: list[dict]) -> None:
    app = run_page("live", timeout=180)
    assert camera_stand_in[-1]["playing"] is False and camera_stand_in[-1]["ice"] == []
    note = next(m for m in app.sidebar.markdown if "Each face is read" in m.value)  # in words a visitor knows
    assert "equalised first" in note.proto.help  # the details on hover: the shipped model learnt from equalised faces
    assert app.button(key="capture").disabled and app.button(key="stop").disabled
    assert any("No webcam? **Photos & video** has an example photo" in info.value for info in app.info)
    assert WHAT_IT_READS in {c.value for c in app.sidebar.caption}
    assert not app.get("download_button")  # no timeline before a camera ever ran
    app.button(key="start").click().run()
    assert camera_stand_in[-1]["playing"] is True
    assert not app.button(key="stop").disabled and not app.button(key="capture").disabled
    app.button(key="stop").click().run()
    assert camera_stand_in[-1]["playing"] is False


def test_a_start_right_after_a_stop_waits_for_the_browser_to_be_quiet(finished_run: Path, camera_stand_in: list[dict],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ui.webrtc.RESTART_PAUSE_S", 3600.0)
    app = run_page("live", timeout=180)
    app.button(key="start").click().run()
    assert camera_stand_in[-1]["playing"] is False, "started before the browser was quiet"
    assert app.button(key="start").disabled and not app.button(key="stop").disabled
    assert any("Starting the camera" in info.value for info in app.info)
    app.button(key="stop").click().run()
    assert not app.button(key="start").disabled


def test_a_camera_the_browser_stays_silent_about_is_stopped_with_advice(finished_run: Path, camera_stand_in: list[dict],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ui.webrtc.NO_CAMERA_S", 0.0)
    app = run_page("live", timeout=180)
    app.button(key="start").click().run()  # the stand-in never signals, as a browser with the camera blocked
    assert not app.exception, [e.value for e in app.exception]
    assert camera_stand_in[-1]["playing"] is False and not app.button(key="start").disabled
    assert any(e.value.startswith("The camera did not start: the browser may have blocked it") for e in app.error)


def test_live_callback_annotates_frames_and_capture_fills_the_gallery(finished_run: Path, camera_stand_in: list[dict], real_faces) -> None:
    app = run_page("live", timeout=180)
    app.button(key="start").click().run()
    out = feed_a_face(camera_stand_in, real_faces[0])
    assert out.to_ndarray(format="bgr24").shape == (480, 640, 3)
    app.button(key="capture").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("Captures (1)" in h.value for h in app.subheader)
    assert any(m.value == "**The last 30 seconds**" for m in app.markdown)  # the frame reached the timeline
    assert any(c.value.startswith("Leading expression") for c in app.caption)
    assert [b.proto.label for b in app.get("download_button") if "timeline" in b.proto.label] == ["This session's timeline (CSV)"]
    # Space and the button together capture the same frame twice: each capture keeps its own widgets.
    app.button(key="capture").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("Captures (2)" in h.value for h in app.subheader)
    assert "captures_zip" in {b.key for b in app.get("download_button")}
    with zipfile.ZipFile(io.BytesIO(captures_zip(app.session_state["captures"]))) as bundle:
        names = bundle.namelist()
        faces = pd.read_csv(bundle.open("faces.csv"))
    assert sorted(n for n in names if n.endswith(".png")) == [n for n in names if n.startswith("capture-00")] and len(names) == 3
    assert faces["capture"].tolist() == [1, 2] and set(faces["image"]) <= set(names)
    assert faces["utc"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert list(faces.columns[-7:]) == list(CLASS_NAMES) and faces[list(CLASS_NAMES)].sum(axis=1).round(3).eq(1).all()


def test_live_says_not_sure_below_the_chosen_confidence(finished_run: Path, camera_stand_in: list[dict], real_faces) -> None:
    app = run_page("live", timeout=180)
    app.slider(key="live_unsure").set_value(90).run()  # the untrained test net is never 90 % sure
    app.button(key="start").click().run()
    feed_a_face(camera_stand_in, real_faces[0])
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(re.fullmatch(r"## not sure \((" + "|".join(CLASS_NAMES) + r") \d+%\)", m.value) for m in app.markdown)


def test_live_challenge_names_an_expression_and_skip_moves_on(finished_run: Path, camera_stand_in: list[dict], real_faces) -> None:
    app = run_page("live", timeout=180)
    app.toggle(key="live_challenge").set_value(True).run()
    app.button(key="start").click().run()
    feed_a_face(camera_stand_in, real_faces[0])
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    asked = [m.value for m in app.markdown if m.value.startswith("### Show **")]
    assert len(asked) == 1 and len(app.get("progress")) == 1
    first = app.session_state["challenge"].current.target
    feed_a_face(camera_stand_in, real_faces[0])  # a fresh frame for the next run
    app.button(key="challenge_skip").click().run()
    game = app.session_state["challenge"]
    assert game.attempts[0].target == first and game.attempts[0].gave_up and game.current.target != first
    assert any(c.value.startswith("0 of 1 made; not granted: " + first) for c in app.caption)
    game.limit_s = 0.0  # the next target runs out of time at once
    feed_a_face(camera_stand_in, real_faces[0])
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert [t.value for t in app.toast] == [f"**{game.attempts[1].target}** not granted this time (best {game.attempts[1].best:.0%})."]
    app.toggle(key="live_challenge").set_value(False).run()
    assert "challenge" not in app.session_state and not [m for m in app.markdown if m.value.startswith("### Show")]


def test_live_page_reads_turn_servers_from_the_environment(finished_run: Path, camera_stand_in: list[dict], monkeypatch) -> None:
    monkeypatch.setenv("TURN_URLS", "turn:turn.example.org:3478")
    monkeypatch.setenv("TURN_USERNAME", "user")
    monkeypatch.setenv("TURN_CREDENTIAL", "secret")
    run_page("live", timeout=180)
    assert camera_stand_in[-1]["ice"] == [{"urls": ["turn:turn.example.org:3478"], "username": "user", "credential": "secret"}]


def test_photos_page_renders_its_three_tabs(finished_run: Path) -> None:
    app = run_page("photos", timeout=180)
    assert [t.label for t in app.tabs] == ["Upload photos", "Camera snapshot", "Video file"]
    stills, video = app.session_state["photo_predictor"][1], app.session_state["video_predictor"][1]
    assert stills.classifier.mode == "flip-zoom" and getattr(video.classifier, "mode", "none") != "flip-zoom"
    assert stills.equalise and video.equalise  # the shipped model's crops are brought to its training faces' lighting
    app.sidebar.toggle(key="photo_thorough").set_value(False).run()
    assert getattr(app.session_state["photo_predictor"][1].classifier, "mode", "none") != "flip-zoom"  # the live setting


def test_photos_page_offers_an_example_photo_to_visitors_without_one() -> None:
    app = run_page("photos", timeout=180)
    app.toggle(key="photo_example").set_value(True).run(timeout=180)
    assert not app.exception, [e.value for e in app.exception]
    caption = next(str(image.proto) for image in app.get("image") if "astronaut.jpg:" in str(image.proto))
    assert re.search(r"astronaut\.jpg: happy \d+%", caption) and not re.search(r"astronaut\.jpg: [^\"]*, ", caption)  # one face (HAAR also boxed a patch of backdrop)
    assert not app.warning
    assert not [toggle for toggle in app.toggle if toggle.label == "Inside the network"]  # the full network waits to be asked for
    looked = [toggle for toggle in app.toggle if toggle.label == "Where it looked"]
    assert len(looked) == 1 and not any("Grad-CAM for" in str(image.proto) for image in app.get("image"))
    looked[0].set_value(True).run(timeout=180)
    assert any("Grad-CAM for" in str(image.proto) and "happy" in str(image.proto) for image in app.get("image"))
    inside = [toggle for toggle in app.toggle if toggle.label == "Inside the network"]
    assert len(inside) == 1 and not any("block 1 (" in str(image.proto) for image in app.get("image"))  # off until asked
    inside[0].set_value(True).run(timeout=180)
    assert not app.exception, [e.value for e in app.exception]
    blocks = [re.search(r"block \d \(\w+\): (\d+)×\1 pixels", str(image.proto)) for image in app.get("image")]
    assert [int(found.group(1)) for found in blocks if found] == [48, 24, 12, 6]  # the shipped VGG's four blocks
    assert any(c.value.startswith("Maps of the first of the ensemble's 2 nets") for c in app.caption)
