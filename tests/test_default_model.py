"""The shipped default model: loads safely, matches its metrics file, and beats chance clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REPO_ROOT, SHARED_CSV

from fer_core.evaluation.metrics import classification_report, predict_probabilities
from fer_core.nets.classifiers import load_classifier

DEFAULT = REPO_ROOT / "models" / "default"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    if not (DEFAULT / "model.keras").exists():
        pytest.fail("models/default/model.keras is missing: the app needs a shipped model")
    return load_classifier(DEFAULT / "model.keras")


def test_default_model_is_small_and_documented(model) -> None:
    size_mb = (DEFAULT / "model.keras").stat().st_size / 1e6
    assert size_mb <= 25
    metrics = json.loads((DEFAULT / "metrics.json").read_text())
    assert metrics["parameters"] == model.count_params()
    card = (DEFAULT / "model_card.md").read_text()
    assert f"{metrics['accuracy_no_tta']:.2%}" in card
    from fer_core.nets.model_card import accuracy_table, lighting_line, per_class_table, training_copies_line

    # The tables with 95 % intervals are written from metrics.json, never by hand.
    assert accuracy_table(metrics) in card and per_class_table(metrics["per_class"]) in card
    assert lighting_line(metrics) in card and metrics["dataset_equalised_share"] > 0.5  # Live equalises its crops
    assert metrics["training_copies"]["faces"] == 280 and training_copies_line(metrics) in card  # the fairer figure beside


def test_default_model_scores_well_above_chance_on_public_test(model) -> None:
    if not SHARED_CSV.exists():
        pytest.skip("needs the FER2013 dev copy in ../shared")
    from fer_core.data.loading import load_dataset

    public = load_dataset(SHARED_CSV).split("PublicTest")
    report = classification_report(public.labels, predict_probabilities(model, public.images))
    majority = np.bincount(public.labels).max() / len(public.labels)  # 24.9 %: always 'happy'
    assert report["accuracy"] > majority + 0.25
    metrics = json.loads((DEFAULT / "metrics.json").read_text())
    assert abs(report["accuracy"] - metrics["accuracy_no_tta"]) < 0.005  # the card's figure is reproducible


def test_the_live_classifier_reproduces_the_accuracy_it_was_chosen_for() -> None:
    """Live and Photos run the variant chosen at publish time; it must score what the card says."""
    if not SHARED_CSV.exists():
        pytest.skip("needs the FER2013 dev copy in ../shared")
    from fer_core.data.loading import load_dataset
    from fer_core.inference.predictor import load_fast_classifier

    choice = json.loads((DEFAULT / "metrics.json").read_text())["live_inference"]
    public = load_dataset(SHARED_CSV).split("PublicTest")
    predicted = load_fast_classifier(DEFAULT / "model.keras", decision="raw")(public.images).argmax(1)
    assert abs(float((predicted == public.labels).mean()) - choice["accuracy"]) < 0.005
    assert choice["latency_ms"] <= 3.0
    decision = json.loads((DEFAULT / "metrics.json").read_text()).get("decision")
    if decision:  # what Live answers: the same file by the model's decision rule, chosen with the Keras model's flip TTA
        balanced = load_fast_classifier(DEFAULT / "model.keras")(public.images).argmax(1)
        assert abs(float((balanced == public.labels).mean()) - decision["balanced"]["accuracy"]) < 0.01


def test_photo_stills_reproduce_the_flip_zoom_accuracy_the_card_gives() -> None:
    """Photos' 'Thorough stills' run the live file with six views; the card's row for it must hold."""
    if not SHARED_CSV.exists():
        pytest.skip("needs the FER2013 dev copy in ../shared")
    from fer_core.data.loading import load_dataset
    from fer_core.inference.predictor import load_fast_classifier

    metrics = json.loads((DEFAULT / "metrics.json").read_text())
    chosen = metrics["live_inference"]["file"]
    row = next(r for r in metrics["live_variants"] if r["file"] == chosen and r["tta"] == "flip-zoom")
    public = load_dataset(SHARED_CSV).split("PublicTest")
    predicted = load_fast_classifier(DEFAULT / "model.keras", "flip-zoom", decision="raw")(public.images).argmax(1)
    assert abs(float((predicted == public.labels).mean()) - row["accuracy"]) < 0.005
    assert row["accuracy"] > metrics["live_inference"]["accuracy"]  # six views beat the live setting
