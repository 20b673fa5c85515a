"""Scoring commands: evaluate a model, compare two, Live's accuracy in other light."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer_core.cli.common import (
    DECISION_ARGUMENT,
    TTA_ARGUMENT,
    WITHOUT_COPIES_HELP,
    chosen_model_path,
    labelled_split,
    print_json,
    scored_split,
    write_csv,
)
from fer_core.data.ferplus import crowd_scores
from fer_core.evaluation.metrics import (
    classification_report,
    classify_in_batches,
    describe_training_copies,
    model_probabilities,
    predictions_table,
    selective_accuracy,
    training_copies_breakdown,
)
from fer_core.evaluation.significance import describe_comparison, paired_comparison
from fer_core.inference.faces import CROP_MARGIN
from fer_core.inference.lighting import LIGHTING_SHIFTS, framed_on_plain_wall, matched_to_equalised, shifted_lighting
from fer_core.inference.predictor import load_fast_classifier
from fer_core.nets.decision import rule_for
from fer_core.nets.ensemble import member_model_path
from fer_core.nets.tta import TTA_LABELS
from fer_core.paths import DEFAULT_MODEL_PATH


def register(sub: argparse._SubParsersAction) -> None:
    """Add the evaluation commands to ``python -m fer_core``."""
    evaluate = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix of a model")
    evaluate.set_defaults(handler=_evaluate)
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--usage", default="PublicTest", help="split to evaluate on (PublicTest, PrivateTest, Training)")
    evaluate.add_argument("--model", help="a .keras file (default: the shipped default model)")
    evaluate.add_argument("--tta", **TTA_ARGUMENT)
    evaluate.add_argument("--decision", **DECISION_ARGUMENT)
    evaluate.add_argument("--ferplus", metavar="VOTES", help="also score against the FER+ crowd: Microsoft's fer2013new.csv "
                          "(or a copy aligned with --data); it must have the dataset's rows and splits")
    evaluate.add_argument("--predictions", metavar="CSV", help="also write one row per face: true, predicted, probabilities")
    evaluate.add_argument("--without-training-copies", action="store_true", help=WITHOUT_COPIES_HELP)
    evaluate.add_argument("--json", action="store_true")

    compare = sub.add_parser("compare", help="are two models really different? paired (McNemar) test on the same faces")
    compare.set_defaults(handler=_compare)
    compare.add_argument("a", metavar="A", help="'default', a run id/folder (its best.keras) or a .keras file")
    compare.add_argument("b", metavar="B", help="the same for the second model")
    compare.add_argument("--data", required=True)
    compare.add_argument("--usage", default="PublicTest", help="split to compare on (PublicTest, PrivateTest, Training)")
    compare.add_argument("--tta", **TTA_ARGUMENT)
    compare.add_argument("--decision", **DECISION_ARGUMENT)
    compare.add_argument("--without-training-copies", action="store_true", help=WITHOUT_COPIES_HELP)
    compare.add_argument("--json", action="store_true")

    lighting = sub.add_parser("bench-lighting", help="Live's accuracy on a split in other light, with and without matching crops")
    lighting.set_defaults(handler=_bench_lighting)
    lighting.add_argument("--data", required=True)
    lighting.add_argument("--usage", default="PublicTest")
    lighting.add_argument("--model", help="a .keras file (default: the shipped default model)")
    lighting.add_argument("--json", action="store_true")


def _evaluate(args: argparse.Namespace) -> int:
    rows, in_training, votes = scored_split(args.data, args.usage, without_training_copies=args.without_training_copies,
                                            ferplus=args.ferplus)
    model_path = chosen_model_path(args)
    probabilities = model_probabilities(model_path, rows.images, tta=args.tta, decision=args.decision)
    report = classification_report(rows.labels, probabilities)
    decision = args.decision if rule_for(model_path, args.decision) else "raw"
    report = {"model": str(model_path), "split": args.usage, "tta": args.tta, "decision": decision,
              "without_training_copies": args.without_training_copies, **report}
    if votes is not None:
        report["ferplus"] = crowd_scores(votes, probabilities)
    if in_training.any():
        report["training_copies"] = training_copies_breakdown(rows.labels, probabilities, in_training)
    report["not_sure"] = [  # None, not NaN, where no face reaches the threshold: NaN is not JSON
        {**row, "accuracy": row["accuracy"] if row["faces"] else None}
        for row in selective_accuracy(rows.labels, probabilities, thresholds=[0.5, 0.7]).to_dict(orient="records")
    ]
    if args.predictions:
        write_csv(predictions_table(rows.labels, probabilities, in_training), Path(args.predictions))
    if args.json:
        print_json(report)
    else:
        tta = f", {TTA_LABELS[args.tta]}" if args.tta != "none" else ""
        leaving = ", leaving out faces also in Training" if args.without_training_copies else ""
        low, high = report["accuracy_interval"]
        rule = ", balanced decision rule" if decision == "balanced" else ""
        print(f"{report['model']} on {args.usage} ({report['n']} faces{tta}{rule}{leaving}): accuracy {report['accuracy']:.4f} "
              f"(95% interval {low:.4f}-{high:.4f}), mean per-class recall {report['mean_recall']:.4f}, "
              f"calibration error {report['expected_calibration_error']:.4f}")
        if "training_copies" in report:
            print(f"  {describe_training_copies(report['training_copies'])} (--without-training-copies scores only those)")
        if "ferplus" in report:
            crowd = report["ferplus"]
            against = f"accuracy {crowd['accuracy']:.4f} on the {crowd['n']} faces with a FER+ majority" if crowd["n"] else "no face has a FER+ majority"
            probability = f", mean probability given to the crowd's votes {crowd['crowd_probability']:.4f}" if crowd["crowd_probability"] is not None else ""
            print(f"  against the FER+ crowd: {against}{probability}")
        for row in report["not_sure"]:
            if row["faces"]:
                print(f"  saying 'not sure' below {row['threshold']:.0%}: answers {row['coverage']:.1%} of faces, "
                      f"{row['accuracy']:.4f} of those right")
        for name, values in report["per_class"].items():
            print(f"  {name:9s} precision {values['precision']:.3f} recall {values['recall']:.3f} f1 {values['f1']:.3f} n={values['support']}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    rows, _, _ = scored_split(args.data, args.usage, without_training_copies=args.without_training_copies)
    paths = [DEFAULT_MODEL_PATH if source == "default" else member_model_path(source) for source in (args.a, args.b)]
    probabilities = [model_probabilities(path, rows.images, tta=args.tta, decision=args.decision) for path in paths]
    reports = [classification_report(rows.labels, model_probabilities) for model_probabilities in probabilities]
    comparison = paired_comparison(rows.labels, *(model_probabilities.argmax(axis=1) for model_probabilities in probabilities))
    if args.json:
        print_json({
            "split": args.usage, "tta": args.tta, "decision": args.decision, "n": comparison.n, "models": [str(path) for path in paths],
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


def _bench_lighting(args: argparse.Namespace) -> int:
    import numpy as np

    rows = labelled_split(args.data, args.usage)
    model_path = chosen_model_path(args)
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
        print_json({"model": str(model_path), "split": args.usage, "n": len(rows), "results": results})
        return 0
    print(f"{model_path} on {args.usage} ({len(rows)} faces), Live's classifier; 'matched': crops whose face box is far "
          "from histogram-equalised are equalised (fer_core/inference/lighting.py)")
    for row in results:
        print(f"  {row['framing']:21s} {row['lighting']:30s} as seen {row['as_seen']:.4f}  matched {row['matched']:.4f}")
    return 0
