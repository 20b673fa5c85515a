"""Prediction commands: photos, videos, Kaggle's test.csv, live-path timings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer_core.cli.common import (
    DECISION_ARGUMENT,
    DETECTOR_ARGUMENT,
    TTA_ARGUMENT,
    chosen_model_path,
    positive_int,
    print_json,
    write_csv,
)
from fer_core.data.images import decode_image, read_image_file
from fer_core.data.loading import load_dataset
from fer_core.errors import FerError
from fer_core.evaluation.metrics import (
    model_probabilities,
)
from fer_core.inference.bench import run_benchmark
from fer_core.inference.detection_bench import format_table, run_detection_benchmark
from fer_core.inference.faces import DETECTORS
from fer_core.inference.predictor import Predictor
from fer_core.inference.timeline import expression_shares, shares_line
from fer_core.inference.video import analyse_video
from fer_core.nets.tta import TTA_MODES


def register(sub: argparse._SubParsersAction) -> None:
    """Add the inference commands to ``python -m fer_core``."""
    predict = sub.add_parser("predict", help="find faces in images and classify them")
    predict.set_defaults(handler=_predict)
    predict.add_argument("images", nargs="+")
    predict.add_argument("--model")
    predict.add_argument("--decision", **DECISION_ARGUMENT)
    predict.add_argument("--detector", **DETECTOR_ARGUMENT)
    predict.add_argument("--tta", default="flip-zoom", choices=TTA_MODES,
                         help="test-time augmentation per face (default flip-zoom, six passes, as the Photos page's stills)")
    predict.add_argument("--json", action="store_true")

    predict_video = sub.add_parser("predict-video", help="the main face's expression through a video file, as a timeline CSV")
    predict_video.set_defaults(handler=_predict_video)
    predict_video.add_argument("video")
    predict_video.add_argument("--out", help="write the timeline here (time_s, frame, faces, label, seven probabilities)")
    predict_video.add_argument("--every", type=positive_int, default=5, help="analyse every Nth frame (default %(default)s, as the app)")
    predict_video.add_argument("--no-smoothing", action="store_true", help="raw per-frame probabilities (default: smoothed, as the app)")
    predict_video.add_argument("--model")
    predict_video.add_argument("--decision", **DECISION_ARGUMENT)
    predict_video.add_argument("--detector", **DETECTOR_ARGUMENT)

    predict_csv = sub.add_parser("predict-csv", help="predict labels for a Kaggle-style test.csv (pixels only)")
    predict_csv.set_defaults(handler=_predict_csv)
    predict_csv.add_argument("--data", required=True)
    predict_csv.add_argument("--out", required=True)
    predict_csv.add_argument("--model")
    predict_csv.add_argument("--tta", **TTA_ARGUMENT)
    predict_csv.add_argument("--decision", **DECISION_ARGUMENT)

    bench = sub.add_parser("bench", help="median detection / classification / whole-frame milliseconds at 640x480")
    bench.set_defaults(handler=_bench)
    bench.add_argument("--model")
    bench.add_argument("--detector", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    bench.add_argument("--runs", type=positive_int, default=100)
    bench.add_argument("--json", action="store_true")

    bench_detect = sub.add_parser("bench-detect", help="faces found by size, false detections and time per frame, for each detector, "
                                                       "on synthetic group photos rebuilt from a seed")
    bench_detect.set_defaults(handler=_bench_detect)
    bench_detect.add_argument("--detector", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    bench_detect.add_argument("--seed", type=int, default=0)
    bench_detect.add_argument("--frames", type=positive_int, default=40, help="640x480 frames with 1-3 faces (default %(default)s)")
    bench_detect.add_argument("--group-photos", type=positive_int, default=20, help="1600x1200 photos with 6-12 faces (default %(default)s)")
    bench_detect.add_argument("--json", action="store_true")


def _predict(args: argparse.Namespace) -> int:
    predictor = Predictor.from_model(chosen_model_path(args), detector=args.detector, tta=args.tta, decision=args.decision)
    results, failures = [], 0
    for name in args.images:
        try:
            image = decode_image(read_image_file(Path(name)), Path(name).name)
        except (FerError, OSError) as exc:
            print(f"error: {exc if isinstance(exc, FerError) else f'{name}: {exc.strerror}'}", file=sys.stderr)
            failures += 1
            continue
        faces = predictor.predict(image, photo=True)
        results.append({"path": name, "faces": [face.to_dict() for face in faces]})
    if args.json:
        print_json(results)
    else:
        for result in results:
            summary = ", ".join(f"{f['label']} {max(f['probabilities'].values()):.0%} at {f['box']}" for f in result["faces"]) or "no face"
            print(f"{result['path']}: {summary}")
    return 2 if failures else 0


def _predict_video(args: argparse.Namespace) -> int:
    video = Path(args.video)
    if video.is_dir():
        raise FerError(f"{video}: a folder, not a video file")
    if not video.is_file():
        raise FerError(f"{video}: no such file")
    predictor = Predictor.from_model(chosen_model_path(args), detector=args.detector, decision=args.decision, use="video")
    analysis = analyse_video(video, predictor, every_nth=args.every, smoothing=not args.no_smoothing, key_frame_count=0)
    timeline = analysis.timeline
    with_face = int((timeline["faces"] > 0).sum())
    print(f"{video.name}: {len(timeline)} frames analysed of {analysis.frames_total} ({analysis.fps:.0f} fps); a face in {with_face}")
    if with_face:
        print("leading expression: " + shares_line(expression_shares(timeline)))
    if args.out:
        write_csv(timeline, Path(args.out))
        print(f"wrote the timeline to {args.out}")
    if analysis.truncated:  # what was read is written, but the command did not do what was asked
        raise FerError(analysis.describe_truncation(video.name))
    return 0


def _predict_csv(args: argparse.Namespace) -> int:
    import pandas as pd

    dataset = load_dataset(args.data, use_cache=False)
    predictions = model_probabilities(chosen_model_path(args), dataset.images, tta=args.tta, decision=args.decision).argmax(axis=1)
    out = Path(args.out)
    write_csv(pd.DataFrame({"emotion": predictions}), out)
    print(f"wrote {len(predictions)} predictions to {out}")
    return 0


def _bench_detect(args: argparse.Namespace) -> int:
    scores = run_detection_benchmark(args.detector, seed=args.seed, frames=args.frames, group_photos=args.group_photos)
    print_json([score.as_dict() for score in scores]) if args.json else print(format_table(scores))
    return 0


def _bench(args: argparse.Namespace) -> int:
    figures = run_benchmark(chosen_model_path(args), detectors=args.detector, repeats=args.runs)
    if args.json:
        print_json(figures)
    else:
        for name, values in figures["detectors"].items():
            print(f"{name:10s} detect {values['detect_ms']:.1f} ms, whole frame {values['frame_ms']:.1f} ms, faces found {values['faces']}")
        print(f"classify one face: {figures['classify_ms']:.2f} ms ({figures['classifier']}); Keras model.predict: {figures['keras_predict_ms']:.1f} ms")
    return 0
