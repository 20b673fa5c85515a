"""Score candidate nets side by side, as the model issue asks of each ablation: PublicTest accuracy and
mean per-class recall, raw and with the balanced rule (its tau chosen on PublicTest as ``publish`` does),
CK+48 with that same rule (reported, never tuned on), and McNemar's test against the first model.

    python scripts/score_models.py --data ../shared/data/fer2013/fer2013_dev.csv.gz \
        --ckplus ../shared/data/ckplus48/ckplus48.csv.gz base=runs/a/best.keras crowd=runs/b/best.keras

Each model is given as ``name=path.keras``; every figure uses flip TTA, as Live runs.
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
    print(f"{'model':<14}{'PT acc':>8}{'recall':>8}{'tau':>5}{'PT bal':>8}{'recall':>8}{'CK+ bal':>9}{'CK+ raw':>9}  McNemar vs first (raw; balanced)")
    for entry in args.models:
        name, _, path = entry.partition("=")
        model = load_classifier(path)
        probabilities = predict_probabilities(model, validation.images, tta="flip")
        tau, _ = choose_tau(probabilities, validation.labels, prior)
        rule = DecisionRule(prior, tau)
        raw, balanced = probabilities.argmax(1), rule.adjust(probabilities).argmax(1)
        row = (f"{name:<14}{np.mean(raw == validation.labels):>8.2%}{mean_class_recall(validation.labels, raw):>8.2%}{tau:>5.1f}"
               f"{np.mean(balanced == validation.labels):>8.2%}{mean_class_recall(validation.labels, balanced):>8.2%}")
        if posed is not None:
            posed_probabilities = predict_probabilities(model, posed.images, tta="flip")
            row += f"{np.mean(rule.adjust(posed_probabilities).argmax(1) == posed.labels):>9.2%}"
            row += f"{np.mean(posed_probabilities.argmax(1) == posed.labels):>9.2%}"
        if first:
            tests = [paired_comparison(validation.labels, first[kind], mine) for kind, mine in (("raw", raw), ("balanced", balanced))]
            row += "  " + "; ".join(f"{t.only_b} vs {t.only_a}, p {format_p_value(t.p_value)}" for t in tests)
        else:
            first = {"raw": raw, "balanced": balanced}
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except FerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
