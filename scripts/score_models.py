"""Score candidate nets side by side, as the model issue asks of each ablation: PublicTest accuracy and
mean per-class recall, raw and with the balanced rule (its tau chosen on PublicTest as ``publish`` does),
CK+48 with that same rule (reported, never tuned on), the CPU-hours each took, and McNemar's test and
the points gained per CPU-hour against the first model.

    python scripts/score_models.py --data ../shared/data/fer2013/fer2013_dev.csv.gz \
        --ckplus ../shared/data/ckplus48/ckplus48.csv.gz base=models/runs/<a> wide=models/runs/<b> other=x.keras

Each model is given as ``name=RUN_FOLDER`` (its best.keras, and its CPU-hours from its history) or
``name=path.keras`` (no hours), or as the bare path, named after it; every figure uses flip TTA, as Live runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_core.data.loading import load_dataset
from fer_core.errors import FerError
from fer_core.evaluation.metrics import predict_probabilities
from fer_core.evaluation.significance import format_p_value, paired_comparison
from fer_core.nets.classifiers import load_classifier
from fer_core.nets.decision import DecisionRule, choose_tau, class_prior, mean_class_recall
from fer_core.training.routes import route_curve


def model_and_hours(path: Path) -> tuple[Path, float | None]:
    """A run folder's best model and the CPU-hours of its epochs, or a model file and no hours."""
    if path.is_dir():
        return path / "best.keras", route_curve([path])[-1].hours
    return path, None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="FER2013 with Training and PublicTest")
    parser.add_argument("--ckplus", help="CK+48 (its PrivateTest rows are scored)")
    parser.add_argument("models", nargs="+", metavar="NAME=MODEL")
    args = parser.parse_args()

    dataset = load_dataset(args.data)
    validation = dataset.split("PublicTest")
    prior = class_prior(dataset.split("Training").labels)
    posed = None
    if args.ckplus:
        ckplus = load_dataset(args.ckplus)
        posed = ckplus.split("PrivateTest") if "PrivateTest" in ckplus.split_names else ckplus
    first: dict[str, np.ndarray] = {}
    first_accuracy, first_hours = 0.0, None
    ckplus_columns = f"{'CK+ bal':>9}{'CK+ raw':>9}" if posed is not None else ""
    print(f"{'model':<14}{'CPU-h':>7}{'PT acc':>8}{'recall':>8}{'tau':>5}{'PT bal':>8}{'recall':>8}{ckplus_columns}"
          "  vs first: points per CPU-hour; McNemar (raw; balanced)")
    for entry in args.models:
        name, _, path = entry.partition("=") if "=" in entry else (Path(entry).name, "", entry)  # a bare path names itself
        model_path, hours = model_and_hours(Path(path))
        model = load_classifier(model_path)
        probabilities = predict_probabilities(model, validation.images, tta="flip")
        tau, _ = choose_tau(probabilities, validation.labels, prior)
        rule = DecisionRule(prior, tau)
        raw, balanced = probabilities.argmax(1), rule.adjust(probabilities).argmax(1)
        accuracy = float(np.mean(raw == validation.labels))
        row = (f"{name:<14}{hours if hours is not None else float('nan'):>7.2f}"
               f"{accuracy:>8.2%}{mean_class_recall(validation.labels, raw):>8.2%}{tau:>5.1f}"
               f"{np.mean(balanced == validation.labels):>8.2%}{mean_class_recall(validation.labels, balanced):>8.2%}")
        if posed is not None:
            posed_probabilities = predict_probabilities(model, posed.images, tta="flip")
            row += f"{np.mean(rule.adjust(posed_probabilities).argmax(1) == posed.labels):>9.2%}"
            row += f"{np.mean(posed_probabilities.argmax(1) == posed.labels):>9.2%}"
        if first:
            extra = hours - first_hours if hours is not None and first_hours is not None else None
            rate = f"{(accuracy - first_accuracy) * 100 / extra:+.2f}" if extra else "—"
            tests = [paired_comparison(validation.labels, first[kind], mine) for kind, mine in (("raw", raw), ("balanced", balanced))]
            row += f"  {rate}; " + "; ".join(f"{t.only_b} vs {t.only_a}, p {format_p_value(t.p_value)}" for t in tests)
        else:
            first, first_accuracy, first_hours = {"raw": raw, "balanced": balanced}, accuracy, hours
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except FerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
