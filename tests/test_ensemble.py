"""Ensembles: one saved model that averages its members, published with every member's commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import random_faces, seeded_tiny_model
from test_cli_data import run_cli

from fer_core.errors import FerError

pytestmark = pytest.mark.slow


@pytest.fixture
def second_run(finished_run: Path, tmp_path: Path) -> Path:
    """Another finished run on the same data whose model has different (fresh random) weights."""
    other = finished_run.with_name(finished_run.name + "-second")
    shutil.copytree(finished_run, other)
    seeded_tiny_model(1).save(other / "best.keras")
    return other


def test_the_ensemble_outputs_the_mean_of_its_members_and_survives_saving(tmp_path: Path) -> None:
    from fer_core.nets.architectures import build_model
    from fer_core.nets.classifiers import load_classifier
    from fer_core.nets.ensemble import build_ensemble, ensemble_members

    first, second = build_model("tiny"), build_model("tiny")
    path = tmp_path / "ensemble.keras"
    build_ensemble([first, second]).save(path)
    loaded = load_classifier(path)
    faces = random_faces(5)[..., None].astype(np.float32)
    expected = (first(faces, training=False) + second(faces, training=False)) / 2
    np.testing.assert_allclose(loaded(faces, training=False), expected, atol=1e-6)
    assert len(ensemble_members(loaded)) == 2 and ensemble_members(first) == []
    with pytest.raises(FerError, match="an ensemble needs 2 to 5 models, got 1"):
        build_ensemble([first])


def test_cli_ensemble_publishes_a_default_with_each_members_commands(finished_run: Path, second_run: Path, tmp_path: Path) -> None:
    from fer_core.data.loading import load_dataset
    from fer_core.evaluation.metrics import predict_probabilities
    from fer_core.inference.predictor import load_fast_classifier
    from fer_core.nets.classifiers import load_classifier
    from fer_core.training.config import TrainConfig

    config = TrainConfig.load(finished_run / "config.json")
    target = tmp_path / "default"
    result = run_cli("ensemble", str(finished_run), str(second_run), "--data", config.data, "--target", str(target))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "published an ensemble of 2 models" in result.stdout and "members alone" in result.stdout
    for name in ("model.keras", "model_float.tflite", "model_quant.tflite", "metrics.json", "ensemble.json", "model_card.md"):
        assert (target / name).is_file(), name

    public = load_dataset(config.data).split("PublicTest")
    members = [load_classifier(run / "best.keras") for run in (finished_run, second_run)]
    mean = sum(predict_probabilities(member, public.images) for member in members) / 2
    metrics = json.loads((target / "metrics.json").read_text())
    assert metrics["accuracy_no_tta"] == pytest.approx(float((mean.argmax(1) == public.labels).mean()))
    assert metrics["arch"] == "ensemble of 2 (tiny)"
    recorded = json.loads((target / "ensemble.json").read_text())
    assert [member["stages"][-1]["command"] for member in recorded] == [config.command()] * 2
    card = (target / "model_card.md").read_text()
    assert "python -m fer_core ensemble --data" in card and card.count(f"`{config.command()}`") == 2
    assert load_fast_classifier(target / "model.keras")(np.zeros((1, 48, 48), np.float32)).shape == (1, 7)


def test_ensemble_refusals_are_one_line_errors(finished_run: Path, second_run: Path, tmp_path: Path) -> None:
    from fer_core.training.config import TrainConfig

    data = TrainConfig.load(finished_run / "config.json").data
    target = tmp_path / "default"
    alone = run_cli("ensemble", str(finished_run), "--data", data, "--target", str(target))
    assert alone.returncode == 2 and alone.stderr.strip().endswith("an ensemble needs 2 to 5 models, got 1")
    missing = run_cli("ensemble", str(finished_run), str(tmp_path / "nope.keras"), "--data", data, "--target", str(target))
    assert missing.returncode == 2 and "model file not found" in missing.stderr and "Traceback" not in missing.stderr
    assert not target.exists()  # nothing half-published

    assert run_cli("ensemble", str(finished_run), str(second_run), "--data", data, "--target", str(target)).returncode == 0
    nested = run_cli("ensemble", str(target / "model.keras"), str(second_run), "--data", data, "--target", str(tmp_path / "x"))
    assert nested.returncode == 2 and "is already an ensemble: list its members instead" in nested.stderr
    cont = run_cli("train", "--data", data, "--arch", "tiny", "--epochs", "1", "--init-from", str(target / "model.keras"))
    assert cont.returncode != 0 and "is an ensemble; start from one of its members' models instead" in cont.stderr + cont.stdout


def test_grad_cam_of_an_ensemble_is_the_mean_of_its_members_maps() -> None:
    from fer_core.explain.gradcam import grad_cam
    from fer_core.nets.architectures import build_model
    from fer_core.nets.ensemble import build_ensemble

    first, second = build_model("tiny"), build_model("tiny")
    ensemble = build_ensemble([first, second])
    face = random_faces(1)[0]
    heat = grad_cam(ensemble, face, class_index=3)
    members = (grad_cam(first, face, 3) + grad_cam(second, face, 3)) / 2
    assert heat.shape == (48, 48) and heat.min() >= 0 and heat.max() <= 1
    expected = members / members.max() if members.max() > 0 else members
    np.testing.assert_allclose(heat, expected, atol=1e-5)


def test_runs_trained_on_other_data_are_not_averaged(finished_run: Path, second_run: Path, tmp_path: Path) -> None:
    from fer_core.nets.publish import publish_ensemble_of_runs
    from fer_core.training.config import TrainConfig

    config = TrainConfig.load(second_run / "config.json")
    config.sample_per_class = 3
    (second_run / "config.json").write_text(config.to_json())
    with pytest.raises(FerError, match=f"run {second_run.name} was trained or validated on other data"):
        publish_ensemble_of_runs([finished_run, second_run], tmp_path / "default")
    assert not (tmp_path / "default").exists()


def test_subsets_are_ranked_by_flip_accuracy_and_averaging_can_beat_each_member() -> None:
    from fer_core.nets.ensemble import compare_subsets

    labels = np.array([0, 1, 2, 3])
    confident_right, unsure_wrong = np.eye(7)[[0, 1]] * 0.9 + 0.01, np.eye(7)[[5, 5]] * 0.3 + 0.1
    a = np.concatenate([confident_right, unsure_wrong])  # right on faces 0-1 only
    b = np.concatenate([unsure_wrong, np.eye(7)[[2, 3]] * 0.9 + 0.01])  # right on faces 2-3 only
    rows = compare_subsets({"a": dict.fromkeys(("none", "flip", "flip-zoom"), a), "b": dict.fromkeys(("none", "flip", "flip-zoom"), b)}, labels)
    assert [row["members"] for row in rows] == [["a", "b"], ["a"], ["b"]]
    assert rows[0]["accuracy"] == rows[0]["accuracy_tta"] == rows[0]["accuracy_flip_zoom_tta"] == 1.0 and rows[1]["accuracy"] == 0.5
    assert [row["p_vs_best"] for row in rows] == [1.0, 0.5, 0.5]  # two faces apart of four: a coin could do it
    right = np.eye(7)[labels]
    by_mode = compare_subsets({"a": {"none": a, "flip": a, "flip-zoom": right}, "b": {"none": b, "flip": right, "flip-zoom": b}}, labels)
    assert [row["members"] for row in by_mode] == [["a", "b"], ["b"], ["a"]]  # b before a: ranked by flip, the live setting
    assert [row["accuracy_flip_zoom_tta"] for row in by_mode if row["members"] == ["a"]] == [1.0]


def test_subsets_are_scored_by_the_balanced_rule_and_against_the_live_answers_to_beat() -> None:
    from fer_core.nets.decision import choose_tau
    from fer_core.nets.ensemble import compare_subsets

    # Ten faces, eight of the common class 0 and two of the rare class 1. "a" leans to class 0 on
    # the rare faces (raw 80 %); the balanced rule undoes a prior of 0.8 / 0.1 and gets them right.
    labels = np.array([0] * 8 + [1] * 2)
    a = np.full((10, 7), 0.01)
    a[:8, 0], a[8:, 0], a[8:, 1] = 0.9, 0.5, 0.4
    a /= a.sum(axis=1, keepdims=True)
    prior = (0.8, 0.1) + (0.02,) * 5
    by_mode = {"a": dict.fromkeys(("none", "flip", "flip-zoom"), a)}
    reference = np.zeros(10, int)  # the default says class 0 to every face: 8 right
    [row] = compare_subsets(by_mode, labels, prior=prior, reference=reference)
    tau, _ = choose_tau(a, labels, prior)
    assert row["accuracy_tta"] == 0.8 and row["balanced"]["tau"] == tau > 0
    assert row["balanced"]["accuracy"] == 1.0 and row["balanced"]["mean_recall"] == 1.0
    assert row["vs_reference"] == {"only_subset": 2, "only_reference": 0, "p": 0.5}
    [raw] = compare_subsets(by_mode, labels, reference=reference)  # without a prior: flip answers, no rule
    assert "balanced" not in raw and raw["vs_reference"] == {"only_subset": 0, "only_reference": 0, "p": 1.0}


def test_cli_ensemble_search_scores_every_subset(finished_run: Path, second_run: Path) -> None:
    data = json.loads((finished_run / "config.json").read_text())["data"]
    result = run_cli("ensemble-search", str(finished_run), str(second_run), "--data", data, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["compared"] == 3 and len(report["subsets"]) == 3
    assert {len(row["members"]) for row in report["subsets"]} == {1, 2}
    assert all(0 <= row["accuracy"] <= 1 and 0 <= row["accuracy_flip_zoom_tta"] <= 1 and row["parameters"] > 0 for row in report["subsets"])
    assert report["subsets"][0]["p_vs_best"] == 1.0 and all(0 < row["p_vs_best"] <= 1 for row in report["subsets"])
    assert report["against"] == "models/default/model.keras"  # the shipped default, answering by its rule
    for row in report["subsets"]:
        versus = row["vs_reference"]
        assert versus["only_subset"] >= 0 and versus["only_reference"] >= 0 and 0 < versus["p"] <= 1
        assert 0 <= row["balanced"]["tau"] <= 1 and 0 <= row["balanced"]["accuracy"] <= 1
    text = run_cli("ensemble-search", str(finished_run), str(second_run), "--data", data, "--top", "1", "--against", "none")
    assert text.returncode == 0 and text.stdout.startswith("3 subsets compared on PublicTest")
    assert len(text.stdout.strip().splitlines()) == 3 and "best.keras" not in text.stdout  # runs named by folder
    assert "balanced (tau" in text.stdout and " vs " not in text.stdout.splitlines()[-1]
    missing = run_cli("ensemble-search", str(finished_run), "nope.keras", "--data", data)
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1
