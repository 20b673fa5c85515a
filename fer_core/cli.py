"""``python -m fer_core``: the command-line face of every feature.

Every user error (bad file, bad model, bad argument) prints one ``error: ...`` line to
stderr and exits with code 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from fer_core.data.images import decode_image
from fer_core.data.loading import load_dataset
from fer_core.data.stats import dataset_summary, training_copies
from fer_core.errors import FerError
from fer_core.evaluation.metrics import (
    classification_report,
    classify_in_batches,
    describe_training_copies,
    predict_probabilities,
    predictions_table,
    probabilities_by_mode,
    selective_accuracy,
    training_copies_breakdown,
)
from fer_core.evaluation.significance import describe_comparison, paired_comparison
from fer_core.inference.bench import run_benchmark
from fer_core.inference.faces import CROP_MARGIN, DEFAULT_DETECTOR, DETECTORS
from fer_core.inference.lighting import LIGHTING_SHIFTS, framed_on_plain_wall, matched_to_equalised, shifted_lighting
from fer_core.inference.predictor import Predictor, load_fast_classifier
from fer_core.inference.timeline import expression_shares, shares_line
from fer_core.inference.video import analyse_video
from fer_core.nets.architectures import ARCHITECTURES
from fer_core.nets.classifiers import FastClassifier, load_classifier
from fer_core.nets.ensemble import compare_subsets, member_model_path
from fer_core.nets.publish import (
    describe_published,
    previous_default_dir,
    publish_default_model,
    publish_ensemble,
    restore_previous_default,
)
from fer_core.nets.tta import TTA_LABELS, TTA_MODES
from fer_core.paths import DEFAULT_MODEL_DIR, DEFAULT_MODEL_PATH
from fer_core.training.config import OPTIMISERS, PRECISIONS, SCHEDULES, TrainConfig, portable_path
from fer_core.training.loop import load_training_data, train_run
from fer_core.training.runs import create_run, list_runs, request_cancel, resolve_run_dir

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def decorator(function: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = function
        return function

    return decorator


def _print_json(payload: object) -> None:
    print(json.dumps(payload, indent=2))


# --------------------------------------------------------------------------- data


@command("info")
def _info(args: argparse.Namespace) -> int:

    summary = dataset_summary(load_dataset(args.path))
    if args.json:
        _print_json(summary)
        return 0
    print(f"{summary['source']}: {summary['rows']} faces, labels: {'yes' if summary['labelled'] else 'no'}")
    for split, counts in summary["splits"].items():
        per_class = ", ".join(f"{name} {count}" for name, count in counts["per_class"].items())
        print(f"  {split}: {counts['rows']} ({per_class})")
    duplicates = summary["duplicates"]
    print(f"  exact duplicate images: {duplicates['within_splits']} within splits, {duplicates['across_splits']} across splits; "
          f"blank images (one grey level): {duplicates['blank_images']}")
    return 0


@command("bench-data")
def _bench_data(args: argparse.Namespace) -> int:
    import tempfile
    import time


    with tempfile.TemporaryDirectory() as cache:
        os.environ["FER_CACHE_DIR"] = cache  # a fresh cache, so 'cold' really parses
        start = time.perf_counter()
        dataset = load_dataset(args.path)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        load_dataset(args.path)
        cached = time.perf_counter() - start
    result = {"path": str(args.path), "rows": len(dataset), "cold_s": round(cold, 3), "cached_s": round(cached, 3)}
    _print_json(result) if args.json else print(f"{result['rows']} rows: cold parse {cold:.2f} s, cached load {cached:.3f} s")
    return 0


@command("bench-lighting")
def _bench_lighting(args: argparse.Namespace) -> int:
    import numpy as np


    rows = _labelled_split(args.data, args.usage)
    model_path = _model_path(args)
    classifier = load_fast_classifier(model_path)  # what Live runs for this model

    def accuracy(faces: np.ndarray) -> float:
        return float((classify_in_batches(classifier, faces).argmax(axis=1) == rows.labels).mean())

    framings = {"face as the crop": lambda faces: faces,
                "face on a plain wall": lambda faces: framed_on_plain_wall(faces, CROP_MARGIN)}
    results = []
    for framing, frame in framings.items():
        for shift in ["none", *LIGHTING_SHIFTS]:
            crops = frame(rows.images if shift == "none" else shifted_lighting(rows.images, shift))
            matched = np.stack([matched_to_equalised(crop, CROP_MARGIN) for crop in crops])
            results.append({"framing": framing, "lighting": shift, "as_seen": accuracy(crops), "matched": accuracy(matched)})
    if args.json:
        _print_json({"model": str(model_path), "split": args.usage, "n": len(rows), "results": results})
        return 0
    print(f"{model_path} on {args.usage} ({len(rows)} faces), Live's classifier; 'matched': crops whose face box is far "
          "from histogram-equalised are equalised (fer_core/inference/lighting.py)")
    for row in results:
        print(f"  {row['framing']:21s} {row['lighting']:30s} as seen {row['as_seen']:.4f}  matched {row['matched']:.4f}")
    return 0


# --------------------------------------------------------------------------- training


@command("train")
def _train(args: argparse.Namespace) -> int:

    if args.resume or args.run:
        run_dir = resolve_run_dir(args.resume or args.run)
        state = train_run(run_dir, resume=bool(args.resume))
    else:
        if not args.data:
            raise FerError("train needs --data PATH (or --resume RUN_DIR)")
        if not Path(args.data).exists():
            raise FerError(f"dataset not found: {args.data}")
        config = TrainConfig(
            data=str(Path(args.data).resolve()),
            arch=args.arch,
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimiser=args.optimiser,
            learning_rate=args.lr,
            label_smoothing=args.label_smoothing,
            augment=not args.no_augment,
            class_weighting=args.class_weighting,
            seed=args.seed,
            sample_per_class=args.sample_per_class,
            init_from=str(Path(args.init_from).resolve()) if args.init_from else "",
            precision=args.precision,
            erasing=args.erasing,
            teachers=[str(member_model_path(teacher).resolve()) for teacher in args.teacher],
            teacher_weight=args.teacher_weight,
            schedule=args.schedule,
            swa_epochs=args.swa_epochs,
            **({"dropout": args.dropout} if args.dropout is not None else {}),
        )
        run_dir = create_run(config, name=args.name)
        print(f"run folder: {run_dir}", flush=True)
        state = train_run(run_dir)
    print(f"{run_dir.name}: {state}")
    return 0 if state == "finished" else 1


@command("runs")
def _runs(args: argparse.Namespace) -> int:
    from dataclasses import asdict


    runs = list_runs()
    if args.json:
        _print_json([{**asdict(run), "path": str(run.path)} for run in runs])
        return 0
    if not runs:
        print("no runs yet")
    for run in runs:
        best = f"{run.best_val_accuracy:.4f}" if run.best_val_accuracy is not None else "-"
        tta = "".join(f"  {label} {value:.4f}" for label, value in (("flip", run.flip_accuracy), ("flip-zoom", run.flip_zoom_accuracy))
                      if value is not None)
        print(f"{run.run_id:40s} {run.state:12s} {run.arch:14s} epoch {run.epochs_done}/{run.epochs}  best val acc {best}{tta}")
    return 0


@command("cancel")
def _cancel(args: argparse.Namespace) -> int:

    request_cancel(resolve_run_dir(args.run))
    return 0


# --------------------------------------------------------------------------- models


def _model_path(args: argparse.Namespace) -> Path:

    return Path(args.model) if args.model else DEFAULT_MODEL_PATH


def _labelled_dataset(path: str):

    dataset = load_dataset(path)
    if not dataset.has_labels:
        raise FerError(f"{Path(path).name} has no labels to score a model against")
    return dataset


def _labelled_split(path: str, split: str):
    """One split of a dataset that has labels to score against."""
    return _labelled_dataset(path).split(split)


def _scored_split(path: str, split: str, *, without_training_copies: bool):
    """A labelled split and, for each of its faces, whether the same image is in Training;
    ``without_training_copies`` leaves those faces out."""
    import numpy as np


    dataset = _labelled_dataset(path)
    rows, in_training = dataset.split(split), training_copies(dataset, split)
    if without_training_copies:
        rows, in_training = rows.subset(np.flatnonzero(~in_training)), np.zeros(int((~in_training).sum()), dtype=bool)
    return rows, in_training


def _write_csv(table, out: Path) -> None:
    """Write beside the target and rename, so a failed write never leaves half a file in its place."""
    temporary = out.with_name(f".{out.name}.tmp")
    try:
        table.to_csv(temporary, index=False)
    except OSError as exc:
        raise FerError(f"cannot write {out}: {exc.strerror or exc}") from exc
    os.replace(temporary, out)


@command("evaluate")
def _evaluate(args: argparse.Namespace) -> int:

    rows, in_training = _scored_split(args.data, args.usage, without_training_copies=args.without_training_copies)
    model = load_classifier(_model_path(args))
    probabilities = predict_probabilities(model, rows.images, tta=args.tta)
    report = classification_report(rows.labels, probabilities)
    report = {"model": str(_model_path(args)), "split": args.usage, "tta": args.tta,
              "without_training_copies": args.without_training_copies, **report}
    if in_training.any():
        report["training_copies"] = training_copies_breakdown(rows.labels, probabilities, in_training)
    report["not_sure"] = [  # None, not NaN, where no face reaches the threshold: NaN is not JSON
        {**row, "accuracy": row["accuracy"] if row["faces"] else None}
        for row in selective_accuracy(rows.labels, probabilities, thresholds=[0.5, 0.7]).to_dict(orient="records")
    ]
    if args.predictions:
        _write_csv(predictions_table(rows.labels, probabilities, in_training), Path(args.predictions))
    if args.json:
        _print_json(report)
    else:
        tta = f", {TTA_LABELS[args.tta]}" if args.tta != "none" else ""
        leaving = ", leaving out faces also in Training" if args.without_training_copies else ""
        low, high = report["accuracy_interval"]
        print(f"{report['model']} on {args.usage} ({report['n']} faces{tta}{leaving}): accuracy {report['accuracy']:.4f} "
              f"(95% interval {low:.4f}-{high:.4f}), calibration error {report['expected_calibration_error']:.4f}")
        if "training_copies" in report:
            print(f"  {describe_training_copies(report['training_copies'])} (--without-training-copies scores only those)")
        for row in report["not_sure"]:
            if row["faces"]:
                print(f"  saying 'not sure' below {row['threshold']:.0%}: answers {row['coverage']:.1%} of faces, "
                      f"{row['accuracy']:.4f} of those right")
        for name, values in report["per_class"].items():
            print(f"  {name:9s} precision {values['precision']:.3f} recall {values['recall']:.3f} f1 {values['f1']:.3f} n={values['support']}")
    return 0


@command("compare")
def _compare(args: argparse.Namespace) -> int:

    rows, _ = _scored_split(args.data, args.usage, without_training_copies=args.without_training_copies)
    paths = [DEFAULT_MODEL_PATH if source == "default" else member_model_path(source) for source in (args.a, args.b)]
    probabilities = [predict_probabilities(load_classifier(path), rows.images, tta=args.tta) for path in paths]
    reports = [classification_report(rows.labels, model_probabilities) for model_probabilities in probabilities]
    comparison = paired_comparison(rows.labels, *(model_probabilities.argmax(axis=1) for model_probabilities in probabilities))
    if args.json:
        _print_json({
            "split": args.usage, "tta": args.tta, "n": comparison.n, "models": [str(path) for path in paths],
            "accuracy": [report["accuracy"] for report in reports],
            "accuracy_interval": [report["accuracy_interval"] for report in reports],
            "only_a": comparison.only_a, "only_b": comparison.only_b, "p_value": comparison.p_value,
        })
        return 0
    tta = f", {TTA_LABELS[args.tta]}" if args.tta != "none" else ""
    print(f"{args.usage} ({comparison.n} faces{tta}):")
    for name, path, report in zip("AB", paths, reports, strict=True):
        low, high = report["accuracy_interval"]
        print(f"  {name} {report['accuracy']:.4f} (95% interval {low:.4f}-{high:.4f})  {path}")
    print(describe_comparison(comparison))
    return 0


@command("predict-csv")
def _predict_csv(args: argparse.Namespace) -> int:
    import pandas as pd


    dataset = load_dataset(args.data, use_cache=False)
    model = load_classifier(_model_path(args))
    predictions = predict_probabilities(model, dataset.images, tta=args.tta).argmax(axis=1)
    out = Path(args.out)
    _write_csv(pd.DataFrame({"emotion": predictions}), out)
    print(f"wrote {len(predictions)} predictions to {out}")
    return 0


@command("publish")
def _publish(args: argparse.Namespace) -> int:

    run_dir = resolve_run_dir(args.run)
    config = TrainConfig.load(run_dir / "config.json")
    (training_images, _), val = load_training_data(config)
    target = publish_default_model(run_dir, Path(args.target) if args.target else DEFAULT_MODEL_DIR, val, training_images)
    print(f"published {run_dir.name} to {target}")
    _say_where_the_replaced_default_is(target)
    return 0


def _say_where_the_replaced_default_is(target: Path) -> None:

    previous = previous_default_dir(target)
    if previous.is_dir():
        print(f"the default it replaced ({describe_published(previous)}) is kept in {previous}; "
              "`python -m fer_core restore-default` puts it back")


@command("restore-default")
def _restore_default(args: argparse.Namespace) -> int:

    target = restore_previous_default(Path(args.target) if args.target else DEFAULT_MODEL_DIR)
    print(f"restored the earlier default model ({describe_published(target)}); "
          f"the one it replaced ({describe_published(previous_default_dir(target))}) is kept in its place")
    return 0


@command("ensemble")
def _ensemble(args: argparse.Namespace) -> int:

    dataset = _labelled_dataset(args.data)
    rows = dataset.split(args.split)
    training = dataset.split("Training").images if "Training" in dataset.split_names and args.split != "Training" else None
    target = publish_ensemble(args.members, args.data, Path(args.target) if args.target else DEFAULT_MODEL_DIR,
                              (rows.images, rows.labels), args.split, training)
    metrics = json.loads((target / "metrics.json").read_text())
    alone = ", ".join(f"{m['accuracy']:.4f}" for m in json.loads((target / "ensemble.json").read_text()))
    print(f"published an ensemble of {len(args.members)} models to {target}: {args.split} accuracy "
          f"{metrics['accuracy_no_tta']:.4f} ({metrics['accuracy_tta']:.4f} with flip TTA, {metrics['accuracy_flip_zoom_tta']:.4f} "
          f"flip-zoom); members alone {alone}")
    _say_where_the_replaced_default_is(target)
    return 0


@command("ensemble-search")
def _ensemble_search(args: argparse.Namespace) -> int:

    rows = _labelled_split(args.data, args.split)
    probabilities, parameters = {}, {}
    for source in args.models:
        path = member_model_path(source)
        model = load_classifier(path)
        name = portable_path(str(path))
        probabilities[name] = probabilities_by_mode(FastClassifier(model), rows.images)
        parameters[name] = model.count_params()
    ranked = compare_subsets(probabilities, rows.labels)
    for row in ranked:
        row["parameters"] = sum(parameters[name] for name in row["members"])
    if args.json:
        _print_json({"split": args.split, "n": len(rows.labels), "compared": len(ranked), "subsets": ranked})
        return 0
    print(f"{len(ranked)} subsets compared on {args.split} ({len(rows.labels)} faces); best first "
          f"(the best of many is a little flattered). A face costs one pass per member, two with flip TTA, six with flip-zoom. "
          f"p: exact McNemar test of each subset against the best with flip TTA (under 0.05: the gap is unlikely to be chance).")
    labels = {name: Path(name).parent.name if Path(name).name == "best.keras" else name for name in probabilities}
    for row in ranked[: args.top]:
        print(f"  {row['accuracy']:.4f} plain  {row['accuracy_tta']:.4f} flip  {row['accuracy_flip_zoom_tta']:.4f} flip-zoom  "
              f"p={row['p_vs_best']:<6.3g}  {row['parameters'] / 1e6:5.2f} M params  "
              + " + ".join(labels[name] for name in row["members"]))
    return 0


@command("predict")
def _predict(args: argparse.Namespace) -> int:

    predictor = Predictor.from_model(_model_path(args), detector=args.detector, tta=args.tta)
    results, failures = [], 0
    for name in args.images:
        try:
            image = decode_image(Path(name).read_bytes(), Path(name).name)
        except (FerError, OSError) as exc:
            print(f"error: {exc if isinstance(exc, FerError) else f'{name}: {exc.strerror}'}", file=sys.stderr)
            failures += 1
            continue
        faces = predictor.predict(image, photo=True)
        results.append({"path": name, "faces": [face.to_dict() for face in faces]})
    if args.json:
        _print_json(results)
    else:
        for result in results:
            summary = ", ".join(f"{f['label']} {max(f['probabilities'].values()):.0%} at {f['box']}" for f in result["faces"]) or "no face"
            print(f"{result['path']}: {summary}")
    return 2 if failures else 0


@command("predict-video")
def _predict_video(args: argparse.Namespace) -> int:

    video = Path(args.video)
    if not video.is_file():
        raise FerError(f"{video}: no such file")
    predictor = Predictor.from_model(_model_path(args), detector=args.detector)
    analysis = analyse_video(video, predictor, every_nth=args.every, smoothing=not args.no_smoothing, key_frame_count=0)
    timeline = analysis.timeline
    with_face = int((timeline["faces"] > 0).sum())
    print(f"{video.name}: {len(timeline)} frames analysed of {analysis.frames_total} ({analysis.fps:.0f} fps); a face in {with_face}")
    if with_face:
        print("leading expression: " + shares_line(expression_shares(timeline)))
    if args.out:
        _write_csv(timeline, Path(args.out))
        print(f"wrote the timeline to {args.out}")
    return 0


@command("bench")
def _bench(args: argparse.Namespace) -> int:

    figures = run_benchmark(_model_path(args), detectors=args.detector, repeats=args.runs)
    if args.json:
        _print_json(figures)
    else:
        for name, values in figures["detectors"].items():
            print(f"{name:10s} detect {values['detect_ms']:.1f} ms, whole frame {values['frame_ms']:.1f} ms, faces found {values['faces']}")
        print(f"classify one face: {figures['classify_ms']:.2f} ms ({figures['classifier']}); Keras model.predict: {figures['keras_predict_ms']:.1f} ms")
    return 0


# --------------------------------------------------------------------------- parser


WITHOUT_COPIES_HELP = "leave out faces whose image is also in Training (scored on memory, not generalisation)"


def _positive_int(text: str) -> int:
    """argparse type for counts: 0 analysed no frame (or divided by zero) and timed no run (printing nan)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


DETECTOR_ARGUMENT = {"default": DEFAULT_DETECTOR, "choices": list(DETECTORS), "help": "default: as the app (%(default)s)"}
TTA_ARGUMENT = {
    "nargs": "?", "const": "flip", "default": "none", "choices": TTA_MODES,
    "help": "test-time augmentation: flip (the default with a bare --tta) averages each face with its mirror image; "
            "flip-zoom also at 0.9x and 1.1x scale (six passes)",
}


class _OneLineErrors(argparse.ArgumentParser):
    """A usage mistake ends in one line, as every other CLI error here does (argparse printed the
    whole usage block first); ``--help`` still shows it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:

    defaults = TrainConfig()
    parser = _OneLineErrors(prog="python -m fer_core", description="FER Studio: facial expression recognition on FER2013.")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="summarise a dataset: rows per split and class, duplicates")
    info.add_argument("path")
    info.add_argument("--json", action="store_true")

    bench_data = sub.add_parser("bench-data", help="time a cold parse and a cached load of a dataset")
    bench_data.add_argument("path")
    bench_data.add_argument("--json", action="store_true")

    train = sub.add_parser("train", help="train a model (a new run, or --resume an old one)")
    train.add_argument("--data", help="dataset path (fer2013.csv, train.csv, .zip, image folder ...)")
    train.add_argument("--arch", default=defaults.arch, choices=sorted(ARCHITECTURES))
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--optimiser", default=defaults.optimiser, choices=OPTIMISERS)
    train.add_argument("--lr", type=float, default=defaults.learning_rate)
    train.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    train.add_argument("--dropout", type=float, default=None, help="head dropout (default: the config default)")
    train.add_argument("--no-augment", action="store_true")
    train.add_argument("--erasing", type=float, default=defaults.erasing,
                       help="share of training faces that get a random patch blanked (random erasing; default off)")
    train.add_argument("--class-weighting", action="store_true")
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--sample-per-class", type=int, default=0, help="train on N faces per class (quick demos)")
    train.add_argument("--init-from", metavar="MODEL", help="start from this .keras model's weights (fine-tune / continue elsewhere)")
    train.add_argument("--precision", default=defaults.precision, choices=PRECISIONS,
                       help="bfloat16: mixed precision, ~1.3x faster on CPUs with AVX512-BF16 or AMX (the saved model is float32)")
    train.add_argument("--teacher", nargs="+", default=[], metavar="MODEL",
                       help="distil these models (run ids/folders or .keras files, an ensemble too): their averaged "
                            "flip-TTA predictions on the training faces become part of the targets")
    train.add_argument("--teacher-weight", type=float, default=defaults.teacher_weight,
                       help="the teachers' share of the targets, the rest the labels (default %(default)s)")
    train.add_argument("--schedule", default=defaults.schedule, choices=SCHEDULES,
                       help="learning rate: cosine decay after a one-epoch warm-up (default), or constant")
    train.add_argument("--swa-epochs", type=int, default=defaults.swa_epochs, metavar="N",
                       help="average the weights of the last N epochs (stochastic weight averaging; default off)")
    train.add_argument("--name", default="", help="a label added to the run id")
    train.add_argument("--out", help="runs folder (default models/runs)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a cancelled/interrupted run from its last checkpoint")
    train.add_argument("--run", metavar="RUN_DIR", help=argparse.SUPPRESS)  # a prepared folder, used by the app

    runs = sub.add_parser("runs", help="list training runs with state and best accuracy")
    runs.add_argument("--out", help="runs folder (default models/runs)")
    runs.add_argument("--json", action="store_true")

    cancel = sub.add_parser("cancel", help="ask a training run to stop")
    cancel.add_argument("run", help="run id or folder")

    evaluate = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix of a model")
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--usage", default="PublicTest", help="split to evaluate on (PublicTest, PrivateTest, Training)")
    evaluate.add_argument("--model", help="a .keras file (default: the shipped default model)")
    evaluate.add_argument("--tta", **TTA_ARGUMENT)
    evaluate.add_argument("--predictions", metavar="CSV", help="also write one row per face: true, predicted, probabilities")
    evaluate.add_argument("--without-training-copies", action="store_true", help=WITHOUT_COPIES_HELP)
    evaluate.add_argument("--json", action="store_true")

    compare = sub.add_parser("compare", help="are two models really different? paired (McNemar) test on the same faces")
    compare.add_argument("a", metavar="A", help="'default', a run id/folder (its best.keras) or a .keras file")
    compare.add_argument("b", metavar="B", help="the same for the second model")
    compare.add_argument("--data", required=True)
    compare.add_argument("--usage", default="PublicTest", help="split to compare on (PublicTest, PrivateTest, Training)")
    compare.add_argument("--tta", **TTA_ARGUMENT)
    compare.add_argument("--without-training-copies", action="store_true", help=WITHOUT_COPIES_HELP)
    compare.add_argument("--json", action="store_true")

    predict_csv = sub.add_parser("predict-csv", help="predict labels for a Kaggle-style test.csv (pixels only)")
    predict_csv.add_argument("--data", required=True)
    predict_csv.add_argument("--out", required=True)
    predict_csv.add_argument("--model")
    predict_csv.add_argument("--tta", **TTA_ARGUMENT)

    predict = sub.add_parser("predict", help="find faces in images and classify them")
    predict.add_argument("images", nargs="+")
    predict.add_argument("--model")
    predict.add_argument("--detector", **DETECTOR_ARGUMENT)
    predict.add_argument("--tta", default="flip-zoom", choices=TTA_MODES,
                         help="test-time augmentation per face (default flip-zoom, six passes, as the Photos page's stills)")
    predict.add_argument("--json", action="store_true")

    predict_video = sub.add_parser("predict-video", help="the main face's expression through a video file, as a timeline CSV")
    predict_video.add_argument("video")
    predict_video.add_argument("--out", help="write the timeline here (time_s, frame, faces, label, seven probabilities)")
    predict_video.add_argument("--every", type=_positive_int, default=5, help="analyse every Nth frame (default %(default)s, as the app)")
    predict_video.add_argument("--no-smoothing", action="store_true", help="raw per-frame probabilities (default: smoothed, as the app)")
    predict_video.add_argument("--model")
    predict_video.add_argument("--detector", **DETECTOR_ARGUMENT)

    lighting = sub.add_parser("bench-lighting", help="Live's accuracy on a split in other light, with and without matching crops")
    lighting.add_argument("--data", required=True)
    lighting.add_argument("--usage", default="PublicTest")
    lighting.add_argument("--model", help="a .keras file (default: the shipped default model)")
    lighting.add_argument("--json", action="store_true")
    bench = sub.add_parser("bench", help="median detection / classification / whole-frame milliseconds at 640x480")
    bench.add_argument("--model")
    bench.add_argument("--detector", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    bench.add_argument("--runs", type=_positive_int, default=100)
    bench.add_argument("--json", action="store_true")

    publish = sub.add_parser("publish", help="make a run's best model the app's default (lean .keras + verified TFLite)")
    publish.add_argument("run", help="run id or folder")
    publish.add_argument("--target", help=argparse.SUPPRESS)
    restore = sub.add_parser("restore-default", help="put back the default model that the last publish replaced (again: undo)")
    restore.add_argument("--target", help=argparse.SUPPRESS)

    ensemble = sub.add_parser("ensemble", help="average several trained models into one and make it the app's default")
    ensemble.add_argument("members", nargs="+", metavar="MEMBER", help="run ids/folders (their best.keras) or .keras files")
    ensemble.add_argument("--data", required=True, help="dataset to score the members and the ensemble on")
    ensemble.add_argument("--split", default="PublicTest", help="the selection split (never the independent test split)")
    ensemble.add_argument("--target", help=argparse.SUPPRESS)

    search = sub.add_parser("ensemble-search", help="score every subset of candidate models averaged (plain and flip TTA)")
    search.add_argument("models", nargs="+", metavar="MODEL", help="run ids/folders (their best.keras) or .keras files")
    search.add_argument("--data", required=True, help="dataset to score on")
    search.add_argument("--split", default="PublicTest", help="the selection split (never the independent test split)")
    search.add_argument("--top", type=_positive_int, default=15, help="how many subsets to print")
    search.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "out", None) and args.command in ("train", "runs"):
        os.environ["FER_RUNS_DIR"] = str(Path(args.out).resolve())
    try:
        return COMMANDS[args.command](args)
    except (FerError, OSError) as exc:  # OSError: a full disk, a folder without write permission, the user's to fix
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
