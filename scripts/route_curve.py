"""Accuracy against CPU-hours for each training route, as the model issue asks of the note that
publishes a model short of its goal: a route is a chain of run folders (stages continued with
``--init-from`` or ``--resume``), and its curve is the validation accuracy after each epoch against
the hours spent so far, summed over the stages from their ``history.csv`` (wall-clock seconds of
each epoch; the runs here train on one core each, so these are CPU-hours).

    python scripts/route_curve.py --every 20 long=models/wip/<stage 1>,models/wip/<stage 2>

Prints one table per route: a row every ``--every`` epochs and at each stage's end, with the best
accuracy reached so far, then a summary line.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_core.training.runs import read_history


@dataclass(frozen=True)
class CurvePoint:
    """One epoch of a route: where it stands after this many hours."""

    stage: int
    epoch: int
    hours: float
    accuracy: float
    best: float


def route_curve(stage_folders: list[Path]) -> list[CurvePoint]:
    """The route's epochs in order, hours accumulated over its stages."""
    points: list[CurvePoint] = []
    hours = best = 0.0
    for stage, folder in enumerate(stage_folders, start=1):
        history = read_history(folder)
        if not history:
            raise ValueError(f"{folder}: no readable history.csv (not a run folder, or no epoch finished)")
        for row in history:
            hours += row["seconds"] / 3600
            best = max(best, row["val_accuracy"])
            points.append(CurvePoint(stage, int(row["epoch"]), hours, row["val_accuracy"], best))
    return points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=10, help="print a row every N epochs of a stage (default 10)")
    parser.add_argument("routes", nargs="+", metavar="NAME=RUN[,RUN...]")
    args = parser.parse_args()
    for entry in args.routes:
        name, _, folders = entry.partition("=")
        try:
            points = route_curve([Path(folder) for folder in folders.split(",") if folder])
        except (KeyError, ValueError) as error:
            print(f"error: {name}: {error}", file=sys.stderr)
            return 2
        print(f"{name}\n{'stage':>5}{'epoch':>6}{'CPU-h':>7}{'val acc':>9}{'best':>8}")
        for index, point in enumerate(points):
            stage_ends = index + 1 == len(points) or points[index + 1].stage != point.stage
            if point.epoch % args.every == 0 or stage_ends:
                print(f"{point.stage:>5}{point.epoch:>6}{point.hours:>7.2f}{point.accuracy:>9.2%}{point.best:>8.2%}")
        last = points[-1]
        print(f"{name}: {len(points)} epochs, {last.hours:.2f} CPU-hours, best {last.best:.2%}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
