"""Exporting models: a lean ``.keras`` (no optimiser state), TFLite float and quantised.

TFLite files are checked against the Keras model on a batch of faces before they are
kept, so an exporter bug cannot ship a model that silently disagrees with its source.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from fer_core.data.loading import load_dataset
from fer_core.data.stats import copies_of
from fer_core.errors import FerError
from fer_core.evaluation.metrics import evaluate_model_on_dataset, predict_probabilities
from fer_core.files import BEST_MODEL, METRICS, PUBLISHED_MODEL, atomic_path, read_metrics, write_json_atomic
from fer_core.inference.lighting import SHARE_KEY, equalised_share
from fer_core.labels import IMAGE_SIZE
from fer_core.nets.classifiers import FastClassifier, TFLiteClassifier, load_classifier
from fer_core.nets.decision import DECISION_KEY, DecisionRule, decision_entry, decision_section
from fer_core.nets.ensemble import (
    ENSEMBLE_FILE,
    build_ensemble,
    check_member_count,
    describe_member,
    ensemble_members,
    member_model_path,
)
from fer_core.nets.live_variants import choose_variant, measure_variants, rescore_variants
from fer_core.nets.model_card import live_inference_section, measure_latency, render_model_card
from fer_core.training.config import TrainConfig, portable_path
from fer_core.training.lineage import LINEAGE_FILE, read_lineage, stages_before
from fer_core.training.loop import load_training_data

FLOAT_TOLERANCE = 1e-4  # max |probability difference| for the float TFLite model
QUANTISED_MIN_AGREEMENT = 0.95  # share of faces whose top class must not change


def inference_copy(model):
    """The same network without optimiser state: a third of the file size."""
    import keras

    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    return clone


def save_inference_model(model, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        inference_copy(model).save(temporary)
    return path


def _concrete_function(model):
    import tensorflow as tf

    spec = tf.TensorSpec((1, IMAGE_SIZE, IMAGE_SIZE, 1), tf.float32, name="pixels")
    return tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)


def convert_tflite(model, *, quantise: bool) -> bytes:
    import tensorflow as tf

    function = _concrete_function(model)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], model)
    if quantise:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic-range: int8 weights, float activations
    return converter.convert()


def export_tflite(model, out_dir: Path, check_faces: np.ndarray) -> dict:
    """Write ``model_float.tflite`` and ``model_quant.tflite``, each verified against Keras."""

    out_dir.mkdir(parents=True, exist_ok=True)
    reference = FastClassifier(model)(check_faces)
    report = {}
    for name, quantise in (("model_float.tflite", False), ("model_quant.tflite", True)):
        content = convert_tflite(model, quantise=quantise)
        probabilities = TFLiteClassifier(content)(check_faces)
        max_difference = float(np.abs(probabilities - reference).max())
        agreement = float((probabilities.argmax(1) == reference.argmax(1)).mean())
        if not quantise and max_difference > FLOAT_TOLERANCE:
            raise FerError(f"float TFLite export disagrees with Keras (max difference {max_difference:.2g})")
        if quantise and agreement < QUANTISED_MIN_AGREEMENT:
            raise FerError(f"quantised TFLite export changes {1 - agreement:.0%} of predictions")
        (out_dir / name).write_bytes(content)
        report[name] = {"bytes": len(content), "max_probability_difference": max_difference, "top1_agreement": agreement}
    return report


def publish_default_model(run_dir: Path, target_dir: Path, validation: tuple[np.ndarray, np.ndarray] | None = None,
                          training: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """Make a run's best model the app's default: lean .keras, TFLite files, metrics.

    ``training``, the faces and labels it was fitted on, let the card score it without the
    validation faces that are copies of them, and give the class prior of its decision rule."""

    model = load_classifier(run_dir / BEST_MODEL)
    config = TrainConfig.load(run_dir / "config.json")
    files = {"config.json": config.to_json()}
    earlier_stages = read_lineage(run_dir) or stages_before(config.init_from)
    if earlier_stages:
        files[LINEAGE_FILE] = json.dumps(earlier_stages, indent=2)
    about = {"arch": config.arch, "run_id": run_dir.name}
    return _publish(model, target_dir, validation, split=config.val_split, about=about, command=config.command(), files=files,
                    training=training)


def publish_run(run_dir: Path, target_dir: Path) -> Path:
    """Publish a run as the CLI's ``publish`` and the Train page do: scored on its own validation
    split, with the faces it was fitted on to tell copies of them apart."""
    training, validation = load_training_data(TrainConfig.load(run_dir / "config.json"))
    return publish_default_model(run_dir, target_dir, validation, training)


def publish_ensemble(sources: list[str], data: str, target_dir: Path, validation: tuple[np.ndarray, np.ndarray], split: str,
                     training: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """Average the members' models into one and make it the app's default.

    Each member is scored alone on the same split first, so the card shows what averaging
    gained; the members' own training stages go into ``ensemble.json`` for the card.
    """

    check_member_count(len(sources))
    paths = [member_model_path(source) for source in sources]
    models = [load_classifier(path) for path in paths]
    for path, member in zip(paths, models, strict=True):
        if ensemble_members(member):
            raise FerError(f"{path} is already an ensemble: list its members instead")
    members = []
    for path, member in zip(paths, models, strict=True):
        report = evaluate_model_on_dataset(member, *validation, tta=True)
        members.append({**describe_member(path), "arch": member.name, "accuracy": report["accuracy_no_tta"],
                        "accuracy_tta": report["accuracy_tta"], "accuracy_flip_zoom_tta": report["accuracy_flip_zoom_tta"],
                        "split": split})
    arches = sorted({member["arch"] for member in members})
    about = {"arch": f"ensemble of {len(members)} ({', '.join(arches)})", "run_id": " + ".join(_member_run_id(member) for member in members)}
    command = " ".join(["python -m fer_core ensemble", f"--data {portable_path(data)}", f"--split {split}",
                        *(f"<member {number}>" for number in range(1, len(members) + 1))])
    files = {ENSEMBLE_FILE: json.dumps(members, indent=2)}
    return _publish(build_ensemble(models), target_dir, validation, split=split, about=about, command=command, files=files,
                    training=training)


def publish_ensemble_of_runs(run_dirs: list[Path], target_dir: Path) -> Path:
    """The Train page's ensemble: runs trained on one dataset, scored on their validation split.

    Runs fitted or selected on different data cannot be compared on one split, so they are refused.
    """

    check_member_count(len(run_dirs))
    configs = [TrainConfig.load(run_dir / "config.json") for run_dir in run_dirs]
    reference = configs[0]
    for run_dir, config in zip(run_dirs, configs, strict=True):
        if (config.data, config.train_split, config.val_split, config.sample_per_class) != (
            reference.data, reference.train_split, reference.val_split, reference.sample_per_class
        ):
            raise FerError(f"run {run_dir.name} was trained or validated on other data than {run_dirs[0].name}; average runs of one dataset")
    training, validation = load_training_data(reference)
    if validation is None:
        raise FerError(f"the dataset has no {reference.val_split} split to score the ensemble on")
    return publish_ensemble([str(run_dir) for run_dir in run_dirs], reference.data, target_dir, validation, reference.val_split,
                            training)


def _member_run_id(member: dict) -> str:
    stages = member["stages"]
    return (stages[-1].get("run_id") if stages else None) or Path(member["model"]).parent.name


def _publish(model, target_dir: Path, validation: tuple[np.ndarray, np.ndarray] | None, *, split: str, about: dict, command: str,
             files: dict[str, str], training: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """Write the default-model folder for ``model``: lean .keras, verified TFLite, metrics, card.

    Written to a staging folder first and swapped in whole, so a failure (a failed check, a full
    disk) leaves the current default untouched; the default it replaces is kept
    (``previous_default_dir``).
    """
    staging = target_dir.with_name(f".{target_dir.name}.staging")
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        _write_default(staging, model, validation, split=split, about=about, command=command, files=files,
                       training=training)
        _swap_in(staging, target_dir)
    except OSError as exc:
        raise FerError(f"could not write the default model beside {target_dir}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target_dir


def _swap_in(staging: Path, target_dir: Path) -> None:
    """Replace ``target_dir`` with ``staging``, keeping the replaced one; put it back if the swap fails."""
    previous = previous_default_dir(target_dir)
    if target_dir.exists():
        shutil.rmtree(previous, ignore_errors=True)
        target_dir.rename(previous)
    try:
        staging.rename(target_dir)
    except OSError:
        if previous.exists() and not target_dir.exists():
            previous.rename(target_dir)
        raise


def _write_default(staging: Path, model, validation: tuple[np.ndarray, np.ndarray] | None, *, split: str, about: dict,
                   command: str, files: dict[str, str], training: tuple[np.ndarray, np.ndarray] | None) -> None:
    """Everything a default-model folder holds, written into ``staging`` (checked exports, scores, card)."""

    if validation is not None and len(validation[0]):
        check_faces = validation[0][:256]
    else:
        check_faces = np.random.default_rng(0).integers(0, 256, (64, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    save_inference_model(model, staging / "model.keras")
    export_report = export_tflite(model, staging, check_faces)
    in_training = copies_of(training[0], validation[0]) if validation is not None and training is not None else None
    metrics = evaluate_model_on_dataset(model, *validation, tta=True, in_training=in_training) if validation is not None else {}
    metrics["split"] = split if validation is not None else None
    if validation is not None:
        rule = None
        if training is not None and len(training[1]):
            flipped = predict_probabilities(model, validation[0], tta="flip")
            metrics[DECISION_KEY] = decision_entry(flipped, validation[1], training[1], split)
            rule = DecisionRule.from_json(metrics[DECISION_KEY])
        metrics["live_variants"] = measure_variants(staging, *validation, rule=rule)
        metrics["live_inference"] = choose_variant(metrics["live_variants"])
        metrics[SHARE_KEY] = equalised_share(validation[0])  # decides Live's crop lighting (fer_core.inference.lighting)
    metrics.update(about, parameters=int(model.count_params()), published_at=time.strftime("%Y-%m-%d %H:%M:%S"), exports=export_report)
    write_json_atomic(staging / METRICS, metrics)
    for name, text in files.items():
        (staging / name).write_text(text)
    if validation is not None:  # the card reports validation figures; without them there is nothing to card

        card = render_model_card(staging, command=command, latency=measure_latency(staging))
        (staging / "model_card.md").write_text(card)


def previous_default_dir(target_dir: Path) -> Path:
    """Where a publish keeps the default it replaced.

    One click on the Train page replaces the default model; keeping the one it replaced
    makes a mistaken publish (a half-trained run, say) a click to undo, not a lost model.
    """
    return target_dir.with_name(f"{target_dir.name}.previous")


def restore_previous_default(target_dir: Path) -> Path:
    """Swap the default with the one it replaced; restoring again undoes the restore."""
    previous = previous_default_dir(target_dir)
    if not (previous / "model.keras").is_file():
        raise FerError(f"no earlier default model is kept in {previous}: nothing to restore")
    swap = target_dir.with_name(f".{target_dir.name}.swap")
    shutil.rmtree(swap, ignore_errors=True)
    if target_dir.exists():
        target_dir.rename(swap)
    previous.rename(target_dir)
    if swap.exists():
        swap.rename(previous)
    return target_dir


def describe_published(model_dir: Path) -> str | None:
    """One line naming a published model by its figures, for choosing between defaults."""
    metrics = read_metrics(model_dir)
    if not metrics:
        return None
    accuracy = f"{metrics['accuracy']:.1%} on {metrics.get('split') or 'its validation split'}" if "accuracy" in metrics else "no accuracy recorded"
    return f"{metrics.get('run_id') or metrics.get('arch', 'a model')}: {accuracy}, published {metrics.get('published_at', '?')}"


def record_decision_rule(model_dir: Path, data: str, split: str = "PublicTest") -> dict:
    """Give an already published model (one published before decision rules) the rule ``publish``
    now records: the prior of ``data``'s Training split and a tau chosen on ``split``. Rewrites its
    metrics.json and the card's decision section, and, where its Live variants were scored on
    ``split``, their accuracy under the rule and the choice made by it (latencies kept as
    published); nothing else in the folder changes."""
    if split == "Training":
        raise FerError("choose tau on a validation split, not on the faces the model was fitted on")
    dataset = load_dataset(data)
    if not dataset.has_labels or "Training" not in dataset.split_names:
        raise FerError(f"{Path(data).name} needs labels and a Training split to give the class prior")
    validation = dataset.split(split)
    probabilities = predict_probabilities(load_classifier(model_dir / PUBLISHED_MODEL), validation.images, tta="flip")
    metrics = read_metrics(model_dir)
    if not metrics:
        raise FerError(f"{model_dir} has no readable {METRICS}: publish the model first")
    metrics[DECISION_KEY] = decision_entry(probabilities, validation.labels, dataset.split("Training").labels, split)
    rescored = bool(metrics.get("live_variants")) and metrics.get("split") == split
    if rescored:  # Live answers by the rule now, so its variant is chosen again by the answers it gives
        rule = DecisionRule.from_json(metrics[DECISION_KEY])
        metrics["live_variants"] = rescore_variants(model_dir, metrics["live_variants"], validation.images, validation.labels, rule)
        metrics["live_inference"] = choose_variant(metrics["live_variants"])
    write_json_atomic(model_dir / METRICS, metrics)
    card_path = model_dir / "model_card.md"
    if card_path.is_file():
        card = card_path.read_text()
        start = card.find("## Decision rule")
        if start >= 0:
            end = card.find("\n## ", start + 1)
            card = card[:start] + card[end + 1:] if end >= 0 else card[:start]
        anchor = card.find("## Training")
        section = decision_section(metrics) + "\n"
        card = card[:anchor] + section + card[anchor:] if anchor >= 0 else card.rstrip() + "\n\n" + section
        start = card.find("\n## Live inference")
        if rescored and start >= 0:
            end = card.find("\n## ", start + 1)
            card = card[:start] + live_inference_section(metrics) + (card[end:] if end >= 0 else "")
        with atomic_path(card_path) as temporary:
            temporary.write_text(card)
    return metrics[DECISION_KEY]
