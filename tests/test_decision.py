"""The balanced decision rule: what it does to one face, how publish records it, who applies it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import random_faces, write_fer_csv
from test_cli_data import run_cli

from fer_core.data.loading import load_dataset
from fer_core.errors import FerError
from fer_core.files import read_metrics, write_json_atomic
from fer_core.nets.classifiers import TFLiteClassifier
from fer_core.nets.decision import (
    DecisionRule,
    choose_tau,
    class_prior,
    decision_entry,
    mean_class_recall,
    read_rule,
    rule_for,
)
from fer_core.nets.model_card import live_inference_section

# Training shares of FER2013's Training split (3,995 angry ... 4,965 neutral of 28,709).
FER_PRIOR = (0.139155, 0.015187, 0.142708, 0.251315, 0.16824, 0.110453, 0.172942)


def test_a_known_prior_and_tau_turn_a_near_neutral_face_into_disgust() -> None:
    face = np.array([[0.10, 0.08, 0.10, 0.10, 0.10, 0.10, 0.42]])  # raw: neutral, disgust a distant second
    assert DecisionRule(FER_PRIOR, 0.0).adjust(face).argmax() == 6  # tau 0 is the raw model
    balanced = DecisionRule(FER_PRIOR, 1.0).adjust(face)
    assert balanced.argmax() == 1  # 0.08 / 0.015 outweighs 0.42 / 0.173
    np.testing.assert_allclose(balanced.sum(), 1.0, rtol=1e-6)
    expected = np.array(face[0]) / np.array(FER_PRIOR)
    np.testing.assert_allclose(balanced[0], expected / expected.sum(), rtol=1e-5)


def test_a_rule_refuses_a_prior_it_cannot_take_the_log_of() -> None:
    with pytest.raises(FerError):
        DecisionRule((0.5, 0.5, 0, 0, 0, 0, 0), 0.5)
    with pytest.raises(FerError):
        DecisionRule((0.5, 0.5), 0.5)
    assert min(class_prior(np.array([0, 0, 3]))) > 0  # a class missing from Training counts as one face


def test_tau_is_chosen_for_mean_per_class_recall_and_recorded_with_both_figures() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(7), 20)
    probabilities = rng.dirichlet(np.ones(7), size=len(labels))
    probabilities[:, 6] += 0.35  # a model that leans to neutral, as a FER2013 net does
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    tau, table = choose_tau(probabilities, labels, FER_PRIOR)
    assert [row["tau"] for row in table] == [round(0.1 * i, 1) for i in range(11)]
    assert max(row["mean_recall"] for row in table) == pytest.approx(next(row["mean_recall"] for row in table if row["tau"] == tau))
    assert table[0]["mean_recall"] == mean_class_recall(labels, probabilities.argmax(axis=1))
    entry = decision_entry(probabilities, labels, np.repeat(np.arange(7), 3), "PublicTest")
    assert entry["raw"]["mean_recall"] == table[0]["mean_recall"] and entry["chosen_on"] == "PublicTest"
    assert DecisionRule.from_json(entry).tau == entry["tau"]


def _model_folder_with_rule(tiny_model_file: Path, folder: Path, rule: DecisionRule) -> Path:
    folder.mkdir()
    shutil.copy(tiny_model_file, folder / "model.keras")
    write_json_atomic(folder / "metrics.json", {"decision": rule.to_json()})
    return folder / "model.keras"


@pytest.mark.slow
def test_live_photos_and_cli_answer_by_the_models_rule_unless_asked_for_raw(tiny_model_file: Path, tmp_path: Path) -> None:
    from fer_core.inference.predictor import load_fast_classifier

    rule = DecisionRule((0.3, 0.001, 0.2, 0.2, 0.1, 0.1, 0.099), 1.0)  # disgust very rare: a rule that favours it
    model_path = _model_folder_with_rule(tiny_model_file, tmp_path / "published", rule)
    assert read_rule(model_path.parent) == rule and rule_for(model_path, "raw") is None
    faces = random_faces(6).astype(np.float32)
    raw = load_fast_classifier(model_path, decision="raw")(faces)
    balanced = load_fast_classifier(model_path)(faces)
    np.testing.assert_allclose(balanced, rule.adjust(raw), atol=1e-5)
    assert (balanced.argmax(axis=1) == 1).all() and not (raw.argmax(axis=1) == 1).all()

    data = write_fer_csv(tmp_path / "fer2013.csv", random_faces(14), np.repeat(np.arange(7), 2), ["PublicTest"] * 14)
    reports = {}
    for decision in ("raw", "balanced"):
        result = run_cli("evaluate", "--data", str(data), "--model", str(model_path), "--decision", decision, "--json")
        assert result.returncode == 0, result.stderr[-2000:]
        reports[decision] = json.loads(result.stdout)
    assert reports["raw"]["decision"] == "raw" and reports["balanced"]["decision"] == "balanced"
    assert np.array(reports["balanced"]["confusion"])[:, 1].sum() == 14  # every face called disgust
    assert "mean_recall" in reports["raw"]
    bad = run_cli("evaluate", "--data", str(data), "--model", str(model_path), "--decision", "fair")
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "--decision" in bad.stderr


@pytest.mark.slow
def test_a_model_without_a_recorded_rule_answers_as_before(tiny_model_file: Path, tmp_path: Path) -> None:
    from fer_core.inference.predictor import load_fast_classifier

    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copy(tiny_model_file, folder / "model.keras")
    faces = random_faces(3).astype(np.float32)
    np.testing.assert_allclose(load_fast_classifier(folder / "model.keras")(faces), load_fast_classifier(folder / "model.keras", decision="raw")(faces))


TINY_LABELS = np.array([6] * 30 + [3] * 15 + [0, 1, 2, 4, 5] * 2 + list(range(7)) * 2)  # 55 Training faces lean to neutral; 14 PublicTest


def publish_tiny_run(tiny_model_file: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A tiny run on TINY_LABELS published with the CLI: the dataset and the published folder."""
    from fer_core.training.config import TrainConfig
    from fer_core.training.runs import create_run

    usage = ["Training"] * 55 + ["PublicTest"] * 14
    data = write_fer_csv(tmp_path / "fer2013.csv", random_faces(len(TINY_LABELS), seed=5), TINY_LABELS, usage)
    run_dir = create_run(TrainConfig(data=str(data), arch="tiny", epochs=1))
    shutil.copy(tiny_model_file, run_dir / "best.keras")
    target = tmp_path / "default"
    result = run_cli("publish", str(run_dir), "--target", str(target))
    assert result.returncode == 0, result.stderr[-2000:]
    return data, target


@pytest.mark.slow
def test_publish_records_the_training_prior_and_a_tau_and_the_card_explains_it(tiny_model_file: Path, tmp_path: Path) -> None:
    data, target = publish_tiny_run(tiny_model_file, tmp_path)
    entry = read_metrics(target)["decision"]
    np.testing.assert_allclose(entry["prior"], class_prior(TINY_LABELS[:55]), atol=1e-6)
    assert entry["chosen_on"] == "PublicTest" and entry["n"] == 14 and 0 <= entry["tau"] <= 1
    assert read_rule(target) == DecisionRule(tuple(entry["prior"]), entry["tau"])
    card = (target / "model_card.md").read_text()
    assert "## Decision rule" in card and f"tau = {entry['tau']:g}" in card and "| raw (`--decision raw`) |" in card
    variants = read_metrics(target)["live_variants"]
    rule = read_rule(target)
    faces = load_dataset(data).split("PublicTest")
    quant_plain = next(v for v in variants if v["file"] == "model_quant.tflite" and v["tta"] == "none")
    answers = rule.adjust(TFLiteClassifier(target / "model_quant.tflite")(faces.images)).argmax(1)
    assert quant_plain["accuracy_balanced"] == pytest.approx(float((answers == faces.labels).mean()))
    assert "accuracy (balanced rule)" in card and "by the balanced rule Live answers with" in card


@pytest.mark.slow
def test_decision_rule_gives_an_older_model_its_rule_and_rescores_lives_variants_by_it(tiny_model_file: Path, tmp_path: Path) -> None:
    data, target = publish_tiny_run(tiny_model_file, tmp_path)
    published = read_metrics(target)
    older = {k: v for k, v in published.items() if k != "decision"}  # as before decision rules: no rule, raw-scored variants
    older["live_variants"] = [{k: v for k, v in row.items() if k != "accuracy_balanced"} for row in older["live_variants"]]
    older["live_inference"] = {k: v for k, v in older["live_inference"].items() if k != "accuracy_balanced"}
    write_json_atomic(target / "metrics.json", older)
    card_path = target / "model_card.md"
    card_path.write_text(card_path.read_text().replace(live_inference_section(published), live_inference_section(older)))
    assert "accuracy (balanced rule)" not in card_path.read_text()

    result = run_cli("decision-rule", "--data", str(data), "--target", str(target))
    assert result.returncode == 0, result.stderr[-2000:]
    metrics, rule = read_metrics(target), read_rule(target)
    assert rule is not None
    faces = load_dataset(data).split("PublicTest")
    quant_plain = next(v for v in metrics["live_variants"] if v["file"] == "model_quant.tflite" and v["tta"] == "none")
    answers = rule.adjust(TFLiteClassifier(target / "model_quant.tflite")(faces.images)).argmax(1)
    assert quant_plain["accuracy_balanced"] == pytest.approx(float((answers == faces.labels).mean()))
    assert [row["latency_ms"] for row in metrics["live_variants"]] == [row["latency_ms"] for row in older["live_variants"]]
    assert metrics["live_inference"] in metrics["live_variants"] and "accuracy_balanced" in metrics["live_inference"]
    card = card_path.read_text()
    assert card.count("## Live inference") == 1 and "accuracy (balanced rule)" in card and card.count("## Decision rule") == 1
