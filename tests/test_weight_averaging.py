"""Stochastic weight averaging: the running mean, its resume, batch-norm statistics, the CLI run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import seeded_tiny_model
from test_cli_data import run_cli
from test_training import tiny_dataset  # noqa: F401 - a fixture

from fer_core.errors import FerError
from fer_core.training.config import TrainConfig
from fer_core.training.runs import RunLog
from fer_core.training.weight_averaging import RunningMean, make_weight_averager, recompute_batch_norm_statistics


def test_the_running_mean_is_the_mean_of_what_was_folded_in_and_survives_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "swa_weights.npz"
    mean = RunningMean(path)
    samples = [[np.full((2, 3), value), np.array([value, -value])] for value in (1.0, 2.0, 6.0)]
    for weights in samples:
        mean.fold_in(weights)
    reloaded = RunningMean(path)
    assert reloaded.count == 3
    np.testing.assert_allclose(reloaded.means[0], np.full((2, 3), 3.0))
    np.testing.assert_allclose(reloaded.means[1], [3.0, -3.0])
    with pytest.raises(FerError, match="another architecture"):
        reloaded.fold_in([np.zeros((3, 3)), np.zeros(2)])
    path.write_bytes(b"not a numpy archive")
    with pytest.raises(FerError, match="unreadable"):
        RunningMean(path)


def test_a_resume_folds_in_the_checkpoint_of_an_epoch_killed_before_its_average_was_saved(tmp_path: Path) -> None:
    import keras

    model = seeded_tiny_model(1)
    config = TrainConfig(data="d.csv", arch="tiny", epochs=5, swa_epochs=3)  # epochs 3, 4, 5 are averaged
    log = RunLog(tmp_path, stdout_is_log=False)
    averager = make_weight_averager(tmp_path, config, initial_epoch=3, log=log)  # epoch 3 done, never folded in
    averager.set_model(model)
    averager.on_train_begin()
    stored = RunningMean(tmp_path / "swa_weights.npz")
    assert stored.count == 1
    for mean, variable in zip(stored.means, model.trainable_variables, strict=True):
        np.testing.assert_allclose(mean, keras.ops.convert_to_numpy(variable))
    averager.on_epoch_end(3)
    assert RunningMean(tmp_path / "swa_weights.npz").count == 2
    before = make_weight_averager(tmp_path, config, initial_epoch=1, log=log)  # still before the averaged epochs
    before.set_model(model)
    before.on_train_begin()
    before.on_epoch_end(1)
    assert RunningMean(tmp_path / "swa_weights.npz").count == 2


def test_batch_norm_statistics_become_the_mean_over_the_faces_and_the_momentum_is_restored() -> None:
    import keras

    inputs = keras.Input((48, 48, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.9, name="bn")(pooled))
    rng = np.random.default_rng(0)
    brightness = rng.uniform(0, 255, 96)  # each face one flat grey level
    faces = np.repeat(brightness, 48 * 48).reshape(96, 48, 48)
    recompute_batch_norm_statistics(model, faces, batch_size=32)
    norm = model.get_layer("bn")
    batches = brightness.reshape(3, 32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_mean), [batches.mean(axis=1).mean()], rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_variance), [batches.var(axis=1).mean()], rtol=1e-4)
    assert norm.momentum == 0.9


def test_weight_averaged_epochs_are_in_the_command_and_bounded() -> None:
    config = TrainConfig(data="d.csv", epochs=12, learning_rate=3e-4, schedule="constant", swa_epochs=10)
    assert "--schedule constant --swa-epochs 10" in config.command()
    assert "--swa-epochs" not in TrainConfig(data="d.csv").command()
    with pytest.raises(FerError, match="weight-averaged epochs"):
        TrainConfig(data="d.csv", epochs=5, swa_epochs=6).validate()


@pytest.mark.slow
def test_a_weight_averaged_run_keeps_the_better_of_average_and_best_epoch_and_finishes_on_resume(tiny_dataset: Path) -> None:  # noqa: F811
    from fer_core.evaluation.metrics import predict_probabilities
    from fer_core.nets.classifiers import load_classifier
    from fer_core.training.loop import load_training_data

    result = run_cli("train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "3", "--batch-size", "32",
                     "--schedule", "constant", "--swa-epochs", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = Path(os.environ["FER_RUNS_DIR"]) / result.stdout.split("run folder: ")[1].split()[0].split("/")[-1]
    report = json.loads((run_dir / "swa.json").read_text())
    assert report["epochs"] == [2, 3] and RunningMean(run_dir / "swa_weights.npz").count == 2
    assert report["kept_as_best"] == (report["val_accuracy"] > report["best_epoch_val_accuracy"])
    (_, _), (images, labels) = load_training_data(TrainConfig.load(run_dir / "config.json"))
    best_accuracy = np.mean(predict_probabilities(load_classifier(run_dir / "best.keras"), images).argmax(axis=1) == labels)
    assert best_accuracy == pytest.approx(max(report["val_accuracy"], report["best_epoch_val_accuracy"]))
    assert "weight average of epochs 2-3" in (run_dir / "train.log").read_text()
    assert (run_dir / "best_epoch.keras").is_file() == report["kept_as_best"]  # a replaced best epoch is kept

    (run_dir / "swa.json").unlink()  # as if killed while averaging: a resume finishes the job
    (run_dir / "swa.keras").unlink()
    resumed = run_cli("train", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (run_dir / "swa.keras").is_file() and json.loads((run_dir / "swa.json").read_text())["epochs"] == [2, 3]


def test_a_runs_weight_average_named_as_a_model_is_described_by_its_own_score(tmp_path: Path) -> None:
    from fer_core.nets.model_card import _stage_list
    from fer_core.training.lineage import stages_before

    (tmp_path / "config.json").write_text(TrainConfig(data="d.csv", epochs=12, swa_epochs=12).to_json())
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy_no_tta": 0.65, "split": "PublicTest"}))
    (tmp_path / "swa.json").write_text(json.dumps({"epochs": [1, 12], "val_accuracy": 0.64, "best_epoch_val_accuracy": 0.65,
                                                   "kept_as_best": False}))
    average = stages_before(str(tmp_path / "swa.keras"))[-1]
    assert average["model"] == "swa.keras" and average["accuracy"] == 0.64
    best = stages_before(str(tmp_path / "best.keras"))[-1]
    assert "model" not in best and best["accuracy"] == 0.65
    assert _stage_list([average], "").endswith("--swa-epochs 12` (its `swa.keras`) — 64.00% on PublicTest")
