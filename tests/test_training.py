"""Training runs end to end on a tiny fixture: CLI, resume after SIGKILL, cancel, one run at a time."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import random_faces, write_fer_csv
from test_cli_data import run_cli

from fer_core.errors import FerError
from fer_core.training.config import TrainConfig, portable_path
from fer_core.training.runs import list_runs, read_history, read_status, request_cancel, resume_run, run_dir_for, start_new_run

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """Seven classes with a learnable signal: each class has its own brightness."""
    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(7), 24)
    images = np.clip(random_faces(len(labels)) // 4 + (labels * 30)[:, None, None], 0, 255).astype(np.uint8)
    usage = ["Training"] * 140 + ["PublicTest"] * 28
    order = rng.permutation(len(labels))
    return write_fer_csv(tmp_path / "tiny.csv", images[order], labels[order], [usage[i] for i in range(len(usage))])


def wait_for(condition, timeout: float = 120, interval: float = 0.2) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {condition}")


def test_cli_train_writes_every_file_then_evaluates(tiny_dataset: Path) -> None:
    result = run_cli("train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "2", "--batch-size", "32")
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = Path(os.environ["FER_RUNS_DIR"]) / result.stdout.split("run folder: ")[1].split()[0].split("/")[-1]
    for name in ("config.json", "history.csv", "status.json", "train.log", "checkpoint.keras", "best.keras", "metrics.json"):
        assert (run_dir / name).is_file(), name
    with zipfile.ZipFile(run_dir / "checkpoint.keras") as checkpoint, zipfile.ZipFile(run_dir / "best.keras") as best:
        assert "optimizer" in checkpoint.read("config.json").decode()  # resuming needs the optimizer's state ...
        assert "optimizer" not in best.read("config.json").decode()  # ... what Evaluate and Live load does not
    assert read_status(run_dir)["state"] == "finished"
    history = read_history(run_dir)
    assert [row["epoch"] for row in history] == [1.0, 2.0]
    assert all(row["cpu_seconds"] > 0 and row["cores"] == len(os.sched_getaffinity(0)) for row in history)  # the route's CPU-hours
    assert history[0]["sitting"] == history[1]["sitting"] > 0  # one process, one sitting
    assert TrainConfig.load(run_dir / "config.json").arch == "tiny"
    assert json.loads((run_dir / "metrics.json").read_text())["backend"] == "tensorflow"
    log = (run_dir / "train.log").read_text()
    assert "float32 on tensorflow (oneDNN on)" in log  # asked for on AMD CPUs too, where TF leaves it off
    from fer_core.training.sittings import read_sittings

    machines = read_sittings(run_dir)  # where the sitting ran, keyed as its history rows name it, for the route's curve
    assert list(machines) == [history[0]["sitting"]]
    assert f", {len(os.sched_getaffinity(0))} core" in machines[history[0]["sitting"]] and machines[history[0]["sitting"]] in log

    from fer_core.nets.classifiers import load_classifier
    from fer_core.training.glimpses import read_glimpses

    glimpses = read_glimpses(run_dir)  # the watched validation faces, classified after each epoch
    assert glimpses.epochs.tolist() == [1, 2] and glimpses.labels.tolist() == [c for c in range(7) for _ in range(2)]
    last_epoch = load_classifier(run_dir / "checkpoint.keras")(glimpses.faces[..., None].astype(np.float32), training=False)
    np.testing.assert_allclose(glimpses.at(2), np.asarray(last_epoch), atol=1e-5)

    evaluation = run_cli("evaluate", "--data", str(tiny_dataset), "--model", str(run_dir / "best.keras"), "--json", "--tta")
    assert evaluation.returncode == 0, evaluation.stderr[-2000:]
    report = json.loads(evaluation.stdout)
    assert report["n"] == 28 and report["tta"] == "flip"  # a bare --tta keeps its old meaning
    assert set(report["per_class"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert np.array(report["confusion"]).shape == (7, 7) and np.array(report["confusion"]).sum() == 28
    assert set(report["per_class"]["angry"]) == {"precision", "recall", "f1", "support", "recall_interval"}
    assert report["accuracy_interval"][0] <= report["accuracy"] <= report["accuracy_interval"][1]

    listing = run_cli("runs")
    assert run_dir.name in listing.stdout and "finished" in listing.stdout
    final = json.loads((run_dir / "metrics.json").read_text())
    assert f"flip-zoom {final['accuracy_flip_zoom_tta']:.4f}" in listing.stdout  # the run's final TTA scores are listed


def test_evaluate_with_a_corrupt_model_is_one_error_line(tiny_dataset: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    result = run_cli("evaluate", "--data", str(tiny_dataset), "--model", str(broken), "--json")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: broken.keras:") and "Traceback" not in result.stderr


def test_sigkill_mid_training_reads_as_interrupted_and_resume_continues_the_same_run(tiny_dataset: Path) -> None:
    config = TrainConfig(data=str(tiny_dataset), arch="tiny", epochs=40, batch_size=8, sample_per_class=0)
    run_dir = start_new_run(config)
    wait_for(lambda: len(read_history(run_dir)) >= 2)
    os.kill(read_status(run_dir)["pid"], signal.SIGKILL)
    wait_for(lambda: read_status(run_dir)["state"] == "interrupted", timeout=10)
    done_before = len(read_history(run_dir))

    # Resume with fewer total epochs so the test stays short; the epoch count carries on.
    config.epochs = done_before + 2
    (run_dir / "config.json").write_text(config.to_json())
    resume_run(run_dir)
    wait_for(lambda: read_status(run_dir)["state"] in ("finished", "failed"), timeout=180)
    assert read_status(run_dir)["state"] == "finished", (run_dir / "train.log").read_text()[-2000:]
    epochs = [int(row["epoch"]) for row in read_history(run_dir)]
    assert epochs == list(range(1, done_before + 3))


def test_cancel_stops_within_seconds_and_keeps_the_checkpoint(tiny_dataset: Path) -> None:
    run_dir = start_new_run(TrainConfig(data=str(tiny_dataset), arch="tiny", epochs=200, batch_size=8))
    wait_for(lambda: len(read_history(run_dir)) >= 1)
    asked = time.time()
    request_cancel(run_dir)
    wait_for(lambda: read_status(run_dir)["state"] == "cancelled", timeout=15)
    assert time.time() - asked < 15
    assert (run_dir / "checkpoint.keras").is_file()
    assert read_status(run_dir)["message"] == "cancelled by the user"


def test_a_cancel_after_the_epoch_lets_the_epoch_under_way_finish_and_be_saved(
        tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fer_core.training.loop as loop
    from fer_core.training.runs import create_run

    run_dir = create_run(TrainConfig(data=str(tiny_dataset), arch="tiny", epochs=5, batch_size=8))
    eta = loop.estimate_eta

    def asked_during_the_first_epoch(*args, **kwargs):  # the monitor's first status write, in epoch 1's first batch
        if not read_history(run_dir):
            request_cancel(run_dir, after_epoch=True)
        return eta(*args, **kwargs)

    monkeypatch.setattr(loop, "estimate_eta", asked_during_the_first_epoch)
    assert loop.train_run(run_dir) == "cancelled"
    assert len(read_history(run_dir)) == 1  # a plain cancel here would have thrown epoch 1 away
    assert read_status(run_dir)["message"] == "stopped after epoch 1, as asked" and read_status(run_dir)["epoch"] == 1
    assert (run_dir / "checkpoint.keras").is_file()


def test_a_plain_cancel_overrides_a_pending_cancel_after_the_epoch_never_the_reverse(tmp_path: Path) -> None:
    from fer_core.training.runs import AFTER_EPOCH, CANCEL_NOW, cancel_request

    assert cancel_request(tmp_path) is None
    request_cancel(tmp_path, after_epoch=True)
    assert cancel_request(tmp_path) == AFTER_EPOCH
    request_cancel(tmp_path)
    request_cancel(tmp_path, after_epoch=True)
    assert cancel_request(tmp_path) == CANCEL_NOW
    (tmp_path / "cancel").write_text("")  # as an older version, or `touch`, leaves it
    assert cancel_request(tmp_path) == CANCEL_NOW


def test_cli_cancel_after_the_epoch_waits_for_the_process_then_the_run_packs(tiny_dataset: Path) -> None:
    run_dir = start_new_run(TrainConfig(data=str(tiny_dataset), arch="tiny", epochs=200, batch_size=8))
    wait_for(lambda: len(read_history(run_dir)) >= 1)
    stopped = run_cli("cancel", str(run_dir), "--after-epoch", "--wait")
    assert stopped.returncode == 0, stopped.stderr
    epochs = len(read_history(run_dir))
    assert f"{run_dir.name}: cancelled after epoch {epochs}" in stopped.stdout
    assert read_status(run_dir)["message"] == f"stopped after epoch {epochs}, as asked"
    assert run_cli("pack", str(run_dir)).returncode == 0  # the process is gone: nothing writes the state any more
    again = run_cli("cancel", str(run_dir))
    assert again.returncode == 0 and "is not training (cancelled): nothing to stop" in again.stdout


def test_two_simultaneous_starts_give_exactly_one_run(tiny_dataset: Path) -> None:
    config = TrainConfig(data=str(tiny_dataset), arch="tiny", epochs=50, batch_size=8)
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def start() -> None:
        barrier.wait()
        try:
            outcomes.append(start_new_run(config))
        except FerError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [o for o in outcomes if isinstance(o, FerError)]
    assert len(errors) == 1 and "already in progress" in str(errors[0])
    assert len(list_runs()) == 1  # the refused start created no folder
    started = list_runs()[0].path
    with pytest.raises(FerError, match="already in progress"):
        start_new_run(config)
    request_cancel(started)
    wait_for(lambda: read_status(started)["state"] in ("cancelled", "finished", "failed", "interrupted"), timeout=60)
    assert read_status(started)["state"] == "cancelled"


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", "..", ".hidden", "x" * 80, ""])
def test_run_ids_cannot_escape_the_runs_folder(bad_id: str) -> None:
    with pytest.raises(FerError, match="invalid run id"):
        run_dir_for(bad_id)


def test_publish_writes_a_verified_default_with_metrics_and_card(finished_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "default"
    result = run_cli("publish", str(finished_run), "--target", str(target))
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("model.keras", "model_float.tflite", "model_quant.tflite", "metrics.json", "config.json", "model_card.md"):
        assert (target / name).is_file(), name
    metrics = json.loads((target / "metrics.json").read_text())
    assert metrics["n"] == 14 and 0 <= metrics["accuracy_tta"] <= 1
    assert metrics["exports"]["model_float.tflite"]["max_probability_difference"] < 1e-4
    card = (target / "model_card.md").read_text()
    assert "Accuracy on FER2013 PublicTest (14 faces" in card and "python -m fer_core train" in card
    variants = metrics["live_variants"]
    modes = ("none", "flip", "flip-zoom")
    assert {(v["file"], v["tta"]) for v in variants} == {(f, t) for f in ("model_float.tflite", "model_quant.tflite") for t in modes}
    assert metrics["live_inference"] in variants and "Live and videos use" in card
    assert 0 <= metrics["accuracy_flip_zoom_tta"] <= 1 and "| flip-zoom TTA" in card
    assert metrics["dataset_equalised_share"] > 0.9 and "crops that are far from it are equalised" in card  # random pixels: flat histograms
    calibration = [metrics[k]["expected_calibration_error"] for k in ("tta_report", "flip_zoom_tta_report")]
    for error in [metrics["expected_calibration_error"], *calibration]:
        assert 0 <= error <= 1 and f"| {error:.1%} |" in card

    from fer_core.inference.predictor import load_fast_classifier

    classifier = load_fast_classifier(target / "model.keras")
    assert getattr(classifier, "mode", "none") == metrics["live_inference"]["tta"]
    assert classifier(np.zeros((2, 48, 48), np.float32)).shape == (2, 7)
    assert load_fast_classifier(target / "model.keras", "flip-zoom").mode == "flip-zoom"  # what photo stills use


def test_publishing_keeps_the_replaced_default_and_restore_swaps_them(finished_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "default"
    nothing = run_cli("restore-default", "--target", str(target))
    assert nothing.returncode == 2 and nothing.stderr.strip().endswith("nothing to restore") and "Traceback" not in nothing.stderr
    target.mkdir()  # the default a mistaken publish would have destroyed
    (target / "model.keras").write_bytes(b"the earlier default")
    (target / "metrics.json").write_text(json.dumps({"accuracy": 0.669, "split": "PublicTest", "run_id": "earlier"}))

    published = run_cli("publish", str(finished_run), "--target", str(target))
    assert published.returncode == 0, published.stderr[-2000:]
    previous = tmp_path / "default.previous"
    assert "(earlier: 66.9% on PublicTest, published ?) is kept in" in published.stdout and "restore-default" in published.stdout
    assert (previous / "model.keras").read_bytes() == b"the earlier default"

    restored = run_cli("restore-default", "--target", str(target))
    assert restored.returncode == 0 and restored.stdout.startswith("restored the earlier default model (earlier: 66.9%")
    assert (target / "model.keras").read_bytes() == b"the earlier default"
    assert json.loads((previous / "metrics.json").read_text())["run_id"] == finished_run.name
    assert run_cli("restore-default", "--target", str(target)).returncode == 0  # again: undoes the restore
    assert json.loads((target / "metrics.json").read_text())["run_id"] == finished_run.name


def test_the_card_scores_the_model_without_validation_faces_copied_from_training(finished_run: Path, tmp_path: Path) -> None:
    images = random_faces(70, seed=3)
    images[56:59] = images[:3]  # three PublicTest faces are byte-identical copies of Training faces, as 280 are in FER2013
    labels = np.tile(np.arange(7), 10)
    data = write_fer_csv(tmp_path / "with-copies.csv", images, labels, ["Training"] * 56 + ["PublicTest"] * 14)
    config = TrainConfig.load(finished_run / "config.json")
    config.data = str(data)
    (finished_run / "config.json").write_text(config.to_json())

    target = tmp_path / "default"
    result = run_cli("publish", str(finished_run), "--target", str(target))
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((target / "metrics.json").read_text())
    copies = metrics["training_copies"]
    assert (copies["faces"], copies["faces_without"]) == (3, 11)
    assert all(metrics[report]["training_copies"]["faces"] == 3 for report in ("tta_report", "flip_zoom_tta_report"))
    card = (target / "model_card.md").read_text()
    assert "| | accuracy | 95% interval | without the 3 faces also in Training | macro F1 | calibration error |" in card
    low, high = copies["accuracy_without_interval"]
    assert f"| {copies['accuracy_without']:.1%} ({low:.1%}–{high:.1%}) |" in card
    assert f"3 of these faces are byte-identical copies of Training faces (FER2013's own duplicates), which the model learnt: " \
           f"it gets {copies['accuracy_on_them']:.1%} of them right" in card


def test_a_continued_models_card_lists_the_earlier_stage_with_its_score(finished_run: Path, tmp_path: Path) -> None:
    from fer_core.training.lineage import write_lineage

    first = tmp_path / "first"
    assert run_cli("publish", str(finished_run), "--target", str(first)).returncode == 0
    first_command = TrainConfig.load(finished_run / "config.json").command()
    config = TrainConfig.load(finished_run / "config.json")
    config.init_from = str(first / "model.keras")
    config.teachers = [str(first / "model.keras")]
    (finished_run / "config.json").write_text(config.to_json())
    write_lineage(finished_run, config)  # what the trainer does when a run starts from a model

    second = tmp_path / "second"
    result = run_cli("publish", str(finished_run), "--target", str(second))
    assert result.returncode == 0, result.stderr[-2000:]
    stages = json.loads((second / "lineage.json").read_text())
    assert [stage["command"] for stage in stages] == [first_command]
    card = (second / "model_card.md").read_text()
    first_accuracy = json.loads((first / "metrics.json").read_text())["accuracy_no_tta"]
    assert f"1. `{first_command}` — {first_accuracy:.2%} on PublicTest" in card
    first_model = portable_path(str(first / "model.keras"))  # as the card shows it (relative where beside the repo)
    assert f"--init-from {first_model}" in card
    assert f"teachers=[{first_model}], teacher_weight=0.5" in card and f"--teacher {first_model}" in card
    assert "teacher" not in (first / "model_card.md").read_text()  # a run without teachers does not mention them


def test_mini_xception_trains_despite_the_onednn_depthwise_bug(tiny_dataset: Path) -> None:
    result = run_cli("train", "--data", str(tiny_dataset), "--arch", "mini_xception", "--epochs", "1", "--batch-size", "32")
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
    assert "finished" in result.stdout


def test_a_run_can_start_from_an_existing_model(tiny_dataset: Path, tiny_model_file: Path) -> None:
    result = run_cli("train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "1", "--init-from", str(tiny_model_file))
    assert result.returncode == 0, result.stderr[-1500:]
    missing = run_cli("train", "--data", str(tiny_dataset), "--init-from", "/nope.keras")
    assert missing.returncode == 2 and "model to start from not found: /nope.keras" in missing.stderr


def test_a_distilled_run_records_its_teacher_and_learns_from_its_predictions(tiny_dataset: Path, tiny_model_file: Path) -> None:
    from fer_core.evaluation.metrics import predict_probabilities
    from fer_core.nets.classifiers import load_classifier
    from fer_core.training.loop import load_training_data

    result = run_cli("train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "1", "--teacher", str(tiny_model_file),
                     "--teacher-weight", "0.7", "--precision", "bfloat16")
    assert result.returncode == 0, result.stderr[-1500:]
    run_dir = Path(os.environ["FER_RUNS_DIR"]) / result.stdout.split("run folder: ")[1].split()[0].split("/")[-1]
    config = TrainConfig.load(run_dir / "config.json")
    teacher = portable_path(str(tiny_model_file))  # the command shows paths relative where they lie beside the repo
    assert config.teachers == [str(tiny_model_file)] and config.command().endswith(f"--teacher {teacher} --teacher-weight 0.7")
    assert "teachers predicted 140 training faces" in (run_dir / "train.log").read_text()
    taught = np.load(run_dir / "teacher_targets.npy")
    (images, _), _ = load_training_data(config)
    expected = predict_probabilities(load_classifier(tiny_model_file), images, tta="flip")
    np.testing.assert_allclose(taught, expected, atol=1e-5)  # the teacher ran in float32 although the run is bf16
    missing = run_cli("train", "--data", str(tiny_dataset), "--teacher", str(tiny_model_file), "/nope.keras")
    assert missing.returncode == 2 and "teacher model not found: /nope.keras" in missing.stderr
    assert "invalid training config: teacher weight" in run_cli("train", "--data", str(tiny_dataset), "--teacher", str(tiny_model_file),
                                                                  "--teacher-weight", "0").stderr


def test_distillation_targets_mix_labels_with_the_teachers_flip_predictions(tmp_path: Path, tiny_model_file: Path) -> None:
    from fer_core.evaluation.metrics import predict_probabilities
    from fer_core.nets.classifiers import load_classifier
    from fer_core.training.loop import training_targets
    from fer_core.training.runs import RunLog

    images, labels = random_faces(9), np.arange(9) % 7
    teacher = tmp_path / "teacher.keras"
    teacher.write_bytes(tiny_model_file.read_bytes())
    config = TrainConfig(data="unused", teachers=[str(teacher)], teacher_weight=0.25)
    log = RunLog(tmp_path, stdout_is_log=True)
    targets = training_targets(tmp_path, config, images, labels, log)
    expected = 0.75 * np.eye(7)[labels] + 0.25 * predict_probabilities(load_classifier(teacher), images, tta="flip")
    np.testing.assert_allclose(targets, expected, atol=1e-6)
    teacher.unlink()  # a resumed run reads the teachers' predictions from its folder
    np.testing.assert_allclose(training_targets(tmp_path, config, images, labels, log), targets)
    assert np.array_equal(training_targets(tmp_path, TrainConfig(data="unused"), images, labels, log), np.eye(7)[labels])


def test_a_teacher_that_always_says_the_same_gives_exactly_that_share_of_the_targets(tmp_path: Path) -> None:
    """A known teacher (a net whose answer is fixed by its bias) gives known soft targets, mirrored or not."""
    import keras

    from fer_core.training.loop import training_targets
    from fer_core.training.runs import RunLog

    answer = np.array([0.05, 0.05, 0.1, 0.5, 0.1, 0.1, 0.1])
    inputs = keras.Input((48, 48, 1))
    dense = keras.layers.Dense(7, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(np.log(answer)))
    teacher = tmp_path / "teacher.keras"
    keras.Model(inputs, keras.layers.Softmax()(dense(keras.layers.Flatten()(inputs)))).save(teacher)
    images, labels = random_faces(6), np.array([0, 1, 2, 3, 4, 5])
    config = TrainConfig(data="unused", teachers=[str(teacher)], teacher_weight=0.7)
    targets = training_targets(tmp_path, config, images, labels, RunLog(tmp_path, stdout_is_log=True))
    np.testing.assert_allclose(targets, 0.3 * np.eye(7)[labels] + 0.7 * answer, atol=1e-6)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-6)


def test_starting_from_a_model_copies_its_weights_under_new_dropout(tiny_model_file: Path) -> None:
    from fer_core.nets.architectures import build_model
    from fer_core.nets.classifiers import load_classifier
    from fer_core.training.run_models import copy_weights_by_name

    source = load_classifier(tiny_model_file)
    target = build_model("tiny", augment=False, dropout=0.1)
    assert copy_weights_by_name(source, target) > 0
    faces = random_faces(4)[..., None].astype("float32")
    # Dropout and augmentation are inactive at inference, so the two nets must agree exactly.
    np.testing.assert_allclose(target(faces, training=False), source(faces, training=False), atol=1e-6)
    assert target.get_layer("head_dropout").rate == 0.1


def test_starting_from_a_model_of_another_architecture_is_refused(tiny_model_file: Path) -> None:
    from fer_core.nets.architectures import build_model
    from fer_core.nets.classifiers import load_classifier
    from fer_core.training.run_models import copy_weights_by_name

    with pytest.raises(FerError, match="does not match architecture 'vgg'"):
        copy_weights_by_name(load_classifier(tiny_model_file), build_model("vgg"))


def test_a_bfloat16_run_trains_in_bf16_and_saves_a_float32_best_model(tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    from fer_core.training.loop import train_run
    from fer_core.training.runs import create_run

    monkeypatch.setattr("fer_core.training.loop.cpu_lacks_bfloat16", lambda: True)  # as on an AVX2-only CPU

    config = TrainConfig(data=str(tiny_dataset), arch="tiny", epochs=2, batch_size=32, precision="bfloat16")
    run_dir = create_run(config, name="bf16")
    assert train_run(run_dir) == "finished"
    checkpoint_policies = {layer.dtype_policy.name for layer in keras.models.load_model(run_dir / "checkpoint.keras").layers}
    best = keras.models.load_model(run_dir / "best.keras")
    assert "mixed_bfloat16" in checkpoint_policies  # the run really trained in bf16 ...
    assert keras.mixed_precision.global_policy().name == "float32"  # the process gets its policy back
    assert {layer.dtype_policy.name for layer in best.layers} == {"float32"}  # ... and what others load is float32
    assert best(random_faces(2)[..., None].astype("float32")).dtype == "float32"
    assert "--precision bfloat16" in TrainConfig.load(run_dir / "config.json").command()
    assert "bf16 is emulated here, about ten times slower than float32. Cancel and train with --precision float32." \
        in (run_dir / "train.log").read_text()
    assert json.loads((run_dir / "metrics.json").read_text())["n"] == 28


def test_a_cpu_without_bfloat16_units_is_recognised_from_its_flags(tmp_path: Path) -> None:
    from fer_core.training.hardware import cpu_lacks_bfloat16

    info = tmp_path / "cpuinfo"
    info.write_text("processor : 0\nflags : fpu sse2 avx avx2 fma\n")
    assert cpu_lacks_bfloat16(info)
    info.write_text("processor : 0\nflags : fpu avx2 avx512f avx512_bf16\n")
    assert not cpu_lacks_bfloat16(info)
    assert not cpu_lacks_bfloat16(tmp_path / "missing")


def test_bfloat16_units_are_unknown_rather_than_guessed_without_cpu_flags(tmp_path: Path) -> None:
    from fer_core.training.hardware import bfloat16_units

    info = tmp_path / "cpuinfo"
    info.write_text("processor : 0\nflags : fpu avx2 amx_bf16\n")
    assert bfloat16_units(info) is True
    info.write_text("processor : 0\nflags : fpu avx2\n")
    assert bfloat16_units(info) is False
    info.write_text("processor : 0\nFeatures : fp asimd\n")  # an ARM kernel's cpuinfo: no x86 flags to read
    assert bfloat16_units(info) is None and bfloat16_units(tmp_path / "missing") is None


def test_a_gpu_is_seen_through_the_driver_unless_cuda_hides_it(tmp_path: Path) -> None:
    from fer_core.training.hardware import nvidia_gpu_visible

    gpus = tmp_path / "gpus"
    assert not nvidia_gpu_visible(gpus, {})  # no NVIDIA driver
    gpus.mkdir()
    assert not nvidia_gpu_visible(gpus, {})  # a driver without GPUs
    (gpus / "0000:01:00.0").mkdir()
    assert nvidia_gpu_visible(gpus, {})
    assert nvidia_gpu_visible(gpus, {"CUDA_VISIBLE_DEVICES": "0"})
    assert not nvidia_gpu_visible(gpus, {"CUDA_VISIBLE_DEVICES": "-1"})
    assert not nvidia_gpu_visible(gpus, {"CUDA_VISIBLE_DEVICES": ""})


def test_the_log_names_the_cpu_a_sitting_ran_on(tmp_path: Path) -> None:
    from fer_core.training.hardware import cpu_model

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\nflags\t: avx2\n")
    assert cpu_model(info) == "AMD EPYC 9R14"
    info.write_text("processor\t: 0\nflags\t: avx2\n")  # no model name (some ARM kernels): still a name, never an error
    assert cpu_model(info) and cpu_model(tmp_path / "missing")


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(FerError, match="precision must be one of float32, bfloat16"):
        TrainConfig(data="x.csv", precision="float16").validate()


def test_off_tensorflow_training_gets_one_hot_arrays_that_keras_batches() -> None:
    """JAX/PyTorch (the GPU machine has no TensorFlow) get arrays; TensorFlow keeps tf.data."""
    from fer_core.training.loop import fit_inputs, one_hot

    images = random_faces(10)
    labels = np.arange(10) % 7
    config = TrainConfig(data="unused", batch_size=4)
    arrays = fit_inputs((images, one_hot(labels)), (images[:3], labels[:3]), config, backend="jax", seed=0)
    assert arrays["x"].shape == (10, 48, 48, 1) and arrays["x"].dtype == np.float32
    assert np.array_equal(arrays["y"].argmax(1), labels) and arrays["y"].sum() == 10
    assert arrays["batch_size"] == 4 and arrays["shuffle"] is True
    assert arrays["validation_data"][1].shape == (3, 7)
    pipeline = fit_inputs((images, one_hot(labels)), None, config, backend="tensorflow", seed=0)
    batch_x, batch_y = next(iter(pipeline["x"]))
    assert tuple(batch_x.shape) == (4, 48, 48, 1) and tuple(batch_y.shape) == (4, 7)
    assert pipeline["validation_data"] is None


def test_on_jax_the_augmenting_model_is_jit_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras calls RandomZoom/RandomTranslation XLA-unsafe, which on JAX left the whole step
    un-jitted (~3.3 s a batch instead of milliseconds); training declares them safe there."""
    import keras

    from fer_core.nets.architectures import build_model
    from fer_core.training.loop import compile_model, jit_on_jax

    config = TrainConfig(data="unused")
    model = build_model("tiny")
    compile_model(model, config, steps_per_epoch=2)
    assert not all(layer.supports_jit for layer in model.layers)  # TensorFlow: Keras' own flags stand
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    model = build_model("tiny")
    compile_model(model, config, steps_per_epoch=2)
    assert all(layer.supports_jit for layer in model.layers)  # what Keras' jit_compile="auto" checks
    resumed = keras.models.clone_model(model)  # like a checkpoint loaded on resume: flags not saved
    resumed.compile(optimizer="adam", loss="categorical_crossentropy")
    assert resumed.jit_compile is False
    jit_on_jax(resumed)
    assert resumed.jit_compile is True


@pytest.mark.parametrize("arch", ["tiny", "mini_xception", "vgg", "vgg_wide", "resnet"])
def test_every_architecture_takes_faces_and_gives_seven_probabilities(arch: str) -> None:
    from fer_core.nets.architectures import ARCHITECTURES, build_model
    from fer_core.nets.classifiers import FastClassifier

    assert arch in ARCHITECTURES
    probabilities = FastClassifier(build_model(arch))(random_faces(2))
    assert probabilities.shape == (2, 7)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_vgg_wide_is_the_vgg_with_one_and_a_half_times_the_filters() -> None:
    from fer_core.nets.architectures import build_model

    narrow, wide = build_model("vgg"), build_model("vgg_wide")
    assert [layer.filters for layer in narrow.layers if hasattr(layer, "filters")] == [32, 32, 64, 64, 128, 128, 256, 256]
    assert [layer.filters for layer in wide.layers if hasattr(layer, "filters")] == [48, 48, 96, 96, 192, 192, 384, 384]
    assert 3.4e6 < wide.count_params() < 3.7e6


def test_resnet_halves_the_map_at_each_stage_with_projected_shortcuts_there_only() -> None:
    from fer_core.nets.architectures import build_model

    net = build_model("resnet")
    outputs = {layer.name: tuple(layer.output.shape[1:]) for layer in net.layers}
    assert [outputs[f"s{stage}b1_out"] for stage in range(4)] == [(48, 48, 32), (24, 24, 64), (12, 12, 128), (6, 6, 256)]
    assert sorted(name for name in outputs if name.endswith("_skip")) == ["s1b0_skip", "s2b0_skip", "s3b0_skip"]
    assert not any("Depthwise" in type(layer).__name__ or "Separable" in type(layer).__name__ for layer in net.layers)
    assert 2.7e6 < net.count_params() < 2.9e6


def test_random_erasing_blanks_a_patch_on_that_share_of_training_faces_only() -> None:
    import keras

    from fer_core.nets.architectures import build_model

    assert "aug_erase" not in [layer.name for layer in build_model("vgg").layers]  # off: older models rebuild as they were
    layer = build_model("tiny", erasing=0.5).get_layer("aug_erase")
    faces = np.full((400, 48, 48, 1), 128.0, np.float32)
    erased = (np.abs(keras.ops.convert_to_numpy(layer(faces, training=True)) - 128) > 0.5).reshape(400, -1)
    assert 0.4 < erased.any(axis=1).mean() < 0.6
    assert erased[erased.any(axis=1)].mean() < 0.5  # a patch, not the whole face
    assert np.array_equal(keras.ops.convert_to_numpy(layer(faces, training=False)), faces)


def test_erasing_is_in_the_command_and_bounded() -> None:
    assert "--erasing 0.25" in TrainConfig(data="d.csv", erasing=0.25).command()
    assert "--erasing" not in TrainConfig(data="d.csv").command()
    with pytest.raises(FerError, match="random erasing"):
        TrainConfig(data="d.csv", erasing=1.5).validate()
    with pytest.raises(FerError, match="needs augmentation"):
        TrainConfig(data="d.csv", erasing=0.5, augment=False).validate()


def test_mixup_blends_each_face_and_its_target_by_the_same_share() -> None:
    from fer_core.training.mixup import mix_batch

    faces = np.stack([np.full((48, 48, 1), value, np.float32) for value in (0.0, 100.0, 200.0)])
    targets = np.eye(7, dtype=np.float32)[[0, 3, 5]]
    mixed, blended = mix_batch(faces, targets, np.array([0.75, 1.0, 0.5]), np.array([1, 0, 0]))
    assert mixed[:, 0, 0, 0].tolist() == [25.0, 100.0, 100.0]  # 0.75 of 0 + 0.25 of 100; face 1 kept whole
    assert blended[0, [0, 3]].tolist() == [0.75, 0.25] and blended[1, 3] == 1 and blended[2, [0, 5]].tolist() == [0.5, 0.5]
    np.testing.assert_allclose(blended.sum(axis=1), 1)


def test_mixup_batches_show_every_face_once_an_epoch_each_keeping_at_least_half_of_itself() -> None:
    from fer_core.training.mixup import MixupBatches

    faces = np.arange(50, dtype=np.uint8)[:, None, None] * np.ones((1, 48, 48), np.uint8)
    targets = np.eye(7, dtype=np.float32)[np.arange(50) % 7]
    batches = MixupBatches(faces, targets, batch_size=16, alpha=1.0, seed=3)
    assert len(batches) == 4

    def epoch() -> list[int]:
        shown = []
        for index in range(len(batches)):
            mixed, blended = batches[index]
            assert mixed.shape[1:] == (48, 48, 1) and mixed.dtype == np.float32
            np.testing.assert_allclose(blended.sum(axis=1), 1, atol=1e-6)
            shown += [int(i) for i in batches.order[index * 16 : (index + 1) * 16]]
            own = targets[batches.order[index * 16 : (index + 1) * 16]].argmax(axis=1)
            assert (blended[np.arange(len(own)), own] >= 0.5 - 1e-6).all()  # each face stays the larger share of its target
        return shown

    first = epoch()
    assert sorted(first) == list(range(50))
    assert np.any(batches[0][0] != faces[batches.order[:16]][..., None])  # the faces are blended, not passed through
    batches.on_epoch_end()
    second = epoch()
    assert sorted(second) == list(range(50)) and second != first  # a new order each epoch


def test_mixup_trains_end_to_end_and_is_in_the_command_and_bounded(tiny_dataset: Path) -> None:
    result = run_cli("train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "2", "--batch-size", "32", "--mixup", "0.2")
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = Path(os.environ["FER_RUNS_DIR"]) / result.stdout.split("run folder: ")[1].split()[0].split("/")[-1]
    config = TrainConfig.load(run_dir / "config.json")
    assert config.mixup == 0.2 and "--mixup 0.2" in config.command()
    assert [row["epoch"] for row in read_history(run_dir)] == [1.0, 2.0] and read_status(run_dir)["state"] == "finished"
    assert "--mixup" not in TrainConfig(data="d.csv").command()
    with pytest.raises(FerError, match="mixup's alpha"):
        TrainConfig(data="d.csv", mixup=-0.2).validate()
    with pytest.raises(FerError, match="mixup feeds each machine"):
        TrainConfig(data="d.csv", mixup=0.2, workers=["a:1", "b:2"]).validate()


def test_a_stage_trained_off_tensorflow_carries_its_backend_in_the_command(tmp_path: Path) -> None:
    from fer_core.training.lineage import stages_before

    config = TrainConfig(data="d.csv", arch="vgg_wide", epochs=200)
    (tmp_path / "config.json").write_text(config.to_json())
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy_no_tta": 0.66, "split": "PublicTest", "backend": "jax"}))
    (stage,) = stages_before(str(tmp_path / "best.keras"))
    assert stage["command"] == f"KERAS_BACKEND=jax {config.command()}" and stage["accuracy"] == 0.66
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy_no_tta": 0.66, "split": "PublicTest"}))
    assert stages_before(str(tmp_path / "best.keras"))[0]["command"] == config.command()  # TensorFlow: as before


def test_the_eta_projects_later_epochs_from_whole_ones_not_from_a_burst_of_slow_batches() -> None:
    from fer_core.training.loop import estimate_eta

    assert estimate_eta([0.5, 0.5], [], batches_left=10, steps_per_epoch=100, epochs_left=3) is None  # still tracing
    assert estimate_eta([0.5] * 5, [], batches_left=10, steps_per_epoch=100, epochs_left=3) == pytest.approx(10 * 0.55 + 3 * 55)
    steady = estimate_eta([0.5] * 5, [60.0, 61.0, 62.0], batches_left=10, steps_per_epoch=100, epochs_left=30)
    busy = estimate_eta([1.0] * 5, [60.0, 61.0, 62.0], batches_left=10, steps_per_epoch=100, epochs_left=30)
    assert steady == pytest.approx(10 * 0.55 + 30 * 61) and busy - steady == pytest.approx(10 * 0.55)  # the burst moves only this epoch


def test_the_eta_of_a_resumed_run_goes_by_this_sittings_epochs_not_another_machines(
        tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fer_core.training.loop as loop
    from fer_core.training.runs import create_run

    run_dir = create_run(TrainConfig(data=str(tiny_dataset), arch="tiny", epochs=1, batch_size=8))
    assert loop.train_run(run_dir) == "finished"
    config = TrainConfig.load(run_dir / "config.json")
    config.epochs = 3
    (run_dir / "config.json").write_text(config.to_json())
    history = (run_dir / "history.csv").read_text().splitlines()
    row = history[1].split(",")
    row[history[0].split(",").index("seconds")], row[-1] = "9999.0", "1.0"  # epoch 1: a slow machine, an earlier sitting
    (run_dir / "history.csv").write_text("\n".join([history[0], ",".join(row)]) + "\n")
    seen: list[list[float]] = []
    eta = loop.estimate_eta
    monkeypatch.setattr(loop, "estimate_eta", lambda batches, epochs, **kw: seen.append(list(epochs)) or eta(batches, epochs, **kw))
    assert loop.train_run(run_dir, resume=True) == "finished"
    assert seen and all(9999.0 not in epochs for epochs in seen)
    assert [] in seen and any(len(epochs) == 1 for epochs in seen)  # epoch 2 had none to go by, epoch 3 had epoch 2


def test_a_resumed_run_rerecords_its_watched_faces_from_the_checkpoint_on(tmp_path: Path) -> None:
    from fer_core.training.glimpses import pick_faces, read_glimpses, record_glimpse

    labels = np.tile(np.arange(7), 5)
    images = random_faces(len(labels), seed=1)
    for epoch, value in [(1, 0.1), (2, 0.2), (3, 0.3)]:
        record_glimpse(tmp_path, lambda faces, v=value: np.full((len(faces), 7), v), images, labels, epoch)
    record_glimpse(tmp_path, lambda faces: np.full((len(faces), 7), 0.9), images, labels, 3)  # resumed from epoch 2's checkpoint
    glimpses = read_glimpses(tmp_path)
    assert glimpses.epochs.tolist() == [1, 2, 3] and glimpses.at(3)[0, 0] == pytest.approx(0.9)
    assert np.array_equal(glimpses.faces, images[pick_faces(labels)]) and len(glimpses.faces) == 14  # picked once, then kept


@pytest.mark.parametrize("content", [b"not a numpy file", b"PK\x03\x04 a zip cut short"])
def test_an_unreadable_glimpses_file_reads_as_none(tmp_path: Path, content: bytes) -> None:
    from fer_core.training.glimpses import GLIMPSE_FILE, read_glimpses

    (tmp_path / GLIMPSE_FILE).write_bytes(content)
    assert read_glimpses(tmp_path) is None


def test_run_progress_reads_a_status_as_the_monitor_shows_it() -> None:
    from fer_core.training.runs import run_progress

    running = run_progress({"state": "running", "epoch": 2, "epochs": 4, "batch": 50, "batches": 100, "batch_loss": 1.2, "batch_accuracy": 0.4})
    assert running.describe() == "running — epoch 3/4, batch 50/100"
    assert running.fraction == pytest.approx(2.5 / 4)
    assert running.running_point == {"epoch": 2.5, "loss": 1.2, "accuracy": 0.4}
    cancelled = run_progress({"state": "cancelled", "epoch": 2, "epochs": 4, "batch": 50, "batches": 100, "batch_loss": 1.2})
    assert cancelled.describe() == "cancelled — epoch 2/4" and cancelled.running_point is None
    assert run_progress({}).describe() == "unknown — epoch 0/0" and run_progress({}).fraction == 0.0


def test_a_run_committed_to_models_wip_mid_training_resumes_on_another_checkout(tiny_dataset: Path, tmp_path: Path) -> None:
    """What ``models/wip/<run-id>/`` carries between sessions: the run folder as git keeps it
    (without the gitignored watched faces), checked out elsewhere, its status still 'running' from
    a process that is gone. Resuming continues the epoch count and the schedule from the checkpoint."""
    import shutil
    import subprocess

    from fer_core.paths import REPO_ROOT
    from fer_core.training.loop import train_run
    from fer_core.training.runs import create_run

    config = TrainConfig(data=str(tiny_dataset), arch="tiny", epochs=1, batch_size=8)
    run_dir = create_run(config)
    assert train_run(run_dir) == "finished"
    config.epochs = 2  # the long run's total; the first sitting stopped after one epoch
    (run_dir / "config.json").write_text(config.to_json())

    copy = tmp_path / "checkout" / "models" / "wip" / run_dir.name
    ignored = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=REPO_ROOT, text=True, capture_output=True,
                             input="\n".join(f"models/wip/{run_dir.name}/{p.name}" for p in run_dir.iterdir())).stdout.split()
    assert f"models/wip/{run_dir.name}/glimpses.npz" in ignored  # FER2013 faces never reach a commit
    shutil.copytree(run_dir, copy, ignore=lambda _, names: [n for n in names if f"models/wip/{run_dir.name}/{n}" in ignored])
    status = json.loads((copy / "status.json").read_text())
    (copy / "status.json").write_text(json.dumps({**status, "state": "running", "pid": 2**22 + 12345}))  # a pid no process has
    assert read_status(copy)["state"] == "interrupted"

    assert train_run(copy, resume=True) == "finished"
    assert [int(row["epoch"]) for row in read_history(copy)] == [1, 2]
    assert (copy / "best.keras").is_file() and (copy / "glimpses.npz").is_file()  # the watched faces start again from the data


def test_a_second_stage_resumes_after_the_first_stages_weights_were_dropped(tiny_dataset: Path) -> None:
    """A carried-over route keeps only its latest stage's weights in ``models/wip/``: resuming the
    second stage loads its own checkpoint and never needs the file it started from, while a start
    without a checkpoint still needs it."""
    from fer_core.training.loop import train_run
    from fer_core.training.runs import create_run

    first = create_run(TrainConfig(data=str(tiny_dataset), arch="tiny", epochs=1, batch_size=8))
    assert train_run(first) == "finished"
    config = TrainConfig(data=str(tiny_dataset), arch="tiny", epochs=1, batch_size=8, init_from=str(first / "best.keras"))
    second = create_run(config)
    assert train_run(second) == "finished"
    config.epochs = 2
    (second / "config.json").write_text(config.to_json())
    (first / "best.keras").unlink()

    with pytest.raises(FerError, match="model to start from not found"):
        config.validate()
    assert train_run(second, resume=True) == "finished"
    assert [int(row["epoch"]) for row in read_history(second)] == [1, 2]


def test_a_run_packed_in_float16_resumes_as_its_float32_state_does(tiny_dataset: Path, tmp_path: Path) -> None:
    """``pack`` halves what a carried-over run commits; resuming from it must train on as the
    float32 state would, in float32 again, and a run still training is left alone."""
    import shutil
    import zipfile

    import h5py

    from fer_core.training.carry_over import halve_run_state
    from fer_core.training.loop import train_run
    from fer_core.training.runs import create_run

    config = TrainConfig(data=str(tiny_dataset), arch="tiny", epochs=1, batch_size=8)
    run_dir = create_run(config)
    assert train_run(run_dir) == "finished"
    config.epochs = 2
    (run_dir / "config.json").write_text(config.to_json())
    plain, packed = (shutil.copytree(run_dir, tmp_path / name) for name in ("plain", "packed"))

    sizes = run_cli("pack", str(packed))
    assert sizes.returncode == 0, sizes.stderr
    assert "checkpoint.keras: " in sizes.stdout and "best.keras: " in sizes.stdout
    assert (packed / "checkpoint.keras").stat().st_size < 0.6 * (plain / "checkpoint.keras").stat().st_size

    def weight_dtypes(model_file: Path) -> set[str]:
        with zipfile.ZipFile(model_file) as archive, h5py.File(archive.open("model.weights.h5"), "r") as weights:
            found: set[str] = set()
            weights.visititems(lambda _, item: found.add(str(item.dtype)) if isinstance(item, h5py.Dataset) else None)
            return found

    assert "float32" not in weight_dtypes(packed / "checkpoint.keras") and "int64" in weight_dtypes(packed / "checkpoint.keras")

    assert train_run(plain, resume=True) == "finished" and train_run(packed, resume=True) == "finished"
    first, second = read_history(plain)[1], read_history(packed)[1]
    assert second["learning_rate"] == first["learning_rate"]  # the step counter, and with it the schedule, survived
    assert second["loss"] == pytest.approx(first["loss"], abs=2e-3)
    assert second["val_loss"] == pytest.approx(first["val_loss"], abs=2e-3)
    assert "float16" not in weight_dtypes(packed / "checkpoint.keras")  # it trains on, and saves, in float32

    (plain / "status.json").write_text(json.dumps({"state": "running", "pid": os.getpid()}))
    with pytest.raises(FerError, match="cancel it"):
        halve_run_state(plain)


def test_a_float32_run_resumed_in_bf16_keeps_its_schedule_and_optimiser_state(tiny_dataset: Path) -> None:
    """A checkpoint reloads in the precision it was saved in, so a route could not move to the
    faster bf16 mid-schedule; ``--resume --precision bfloat16`` rebuilds the net in bf16 and
    carries weights, step counter and AdamW's moments over."""
    import keras

    from fer_core.training.loop import compile_model, train_run
    from fer_core.training.run_models import build_configured_model, saved_precision
    from fer_core.training.runs import create_run

    config = TrainConfig(data=str(tiny_dataset), arch="tiny", epochs=1, batch_size=8, optimiser="adamw")
    run_dir = create_run(config)
    assert train_run(run_dir) == "finished"
    config.epochs = 3
    (run_dir / "config.json").write_text(config.to_json())
    assert saved_precision(keras.models.load_model(run_dir / "checkpoint.keras")) == "float32"

    switched = run_cli("train", "--resume", str(run_dir), "--precision", "bfloat16")
    assert switched.returncode == 0, switched.stderr[-2000:]
    assert TrainConfig.load(run_dir / "config.json").precision == "bfloat16"
    assert "precision float32 -> bfloat16 from epoch 2" in (run_dir / "train.log").read_text()
    after = keras.models.load_model(run_dir / "checkpoint.keras")
    assert saved_precision(after) == "bfloat16"  # it trained on in bf16 ...
    steps = 18  # 140 training faces in batches of 8
    assert int(after.optimizer.iterations) == 3 * steps  # ... counting on from epoch 1's steps, not from zero
    schedule = build_configured_model(config)
    compile_model(schedule, config, steps)
    for row in read_history(run_dir)[1:]:
        schedule.optimizer.iterations.assign(int(row["epoch"]) * steps)
        assert row["learning_rate"] == pytest.approx(float(schedule.optimizer.learning_rate))
    assert {layer.dtype_policy.name for layer in keras.models.load_model(run_dir / "best.keras").layers} == {"float32"}


def test_resuming_in_another_precision_records_it_before_the_run_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Train page's "Resume in float32" for a bf16 run on a CPU that emulates bf16."""
    from fer_core.training import runs
    from fer_core.training.runs import create_run

    run_dir = create_run(TrainConfig(data=str(tmp_path / "faces.csv"), arch="tiny", epochs=3, precision="bfloat16"))
    (run_dir / "status.json").write_text(json.dumps({"state": "cancelled", "epoch": 1, "epochs": 3}))
    spawned = []
    monkeypatch.setattr(runs, "_spawn", lambda folder, fd, resume: spawned.append(TrainConfig.load(folder / "config.json").precision) or 1)
    resume_run(run_dir)
    resume_run(run_dir, precision="float32")
    assert spawned == ["bfloat16", "float32"]  # a plain resume keeps the run's precision


def test_carrying_training_state_copies_every_optimiser_variable_into_the_other_precision() -> None:
    import keras

    from fer_core.training.loop import compile_model
    from fer_core.training.run_models import build_configured_model, carry_training_state, saved_precision

    config = TrainConfig(arch="tiny", epochs=4, optimiser="adamw", augment=False)
    trained = build_configured_model(config)
    compile_model(trained, config, steps_per_epoch=2)
    faces, targets = random_faces(8)[..., None].astype("float32"), np.eye(7, dtype="float32")[np.arange(8) % 7]
    trained.fit(faces, targets, batch_size=4, epochs=1, verbose=0)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_configured_model(config)
        compile_model(model, config, steps_per_epoch=2)
        carry_training_state(trained, model)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert int(model.optimizer.iterations) == 2
    for target, source in zip(model.optimizer.variables, trained.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(target), np.asarray(source))
    for target, source in zip(model.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(target, source)
    assert saved_precision(model) == "bfloat16" and saved_precision(trained) == "float32"


def test_an_epoch_whose_loss_is_not_a_number_stops_the_run_before_it_is_saved(tmp_path: Path) -> None:
    """bf16 under JAX on this CPU made a vgg predict NaN from its first step, and Keras trained on
    with accuracy at chance; a NaN training loss would also have overwritten the last good checkpoint."""
    import keras

    from fer_core.files import CHECKPOINT, HISTORY
    from fer_core.training.loop import _make_monitor, refuse_broken_losses

    refuse_broken_losses(3, {"loss": 1.2, "val_loss": 1.3}, 2)  # finite: nothing to say
    with pytest.raises(FerError, match="epoch 1: the training loss is not a number .*no epoch was saved"):
        refuse_broken_losses(1, {"loss": float("inf"), "val_loss": 1.0}, 0)

    monitor = _make_monitor(tmp_path, TrainConfig(data="d.csv", epochs=5), 1, {}, time.time(), lambda message: None)
    monitor.set_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    monitor.on_epoch_begin(0)
    with pytest.raises(FerError, match="epoch 1: the validation loss is not a number"):
        monitor.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5, "val_loss": float("nan"), "val_accuracy": 1 / 7})
    assert not (tmp_path / CHECKPOINT).exists() and not (tmp_path / HISTORY).exists()
