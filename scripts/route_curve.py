"""Accuracy against CPU-hours for each training route, as the model issue asks of the note that
publishes a model short of its goal (``fer_core/training/routes.py`` says how a route is read).

    python scripts/route_curve.py                      # every route carried in models/wip/
    python scripts/route_curve.py --every 20 long=models/wip/<stage 1>,models/wip/<stage 2>

Prints one table per route: a row every ``--every`` epochs and at each stage's end, with the best
accuracy reached so far, then its sittings (the epochs, CPU-hours and machine of each training
process) and a summary line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_core.errors import FerError
from fer_core.paths import wip_dir
from fer_core.training.routes import CurvePoint, gain_in_last_hour, route_curve, routes_in, sittings


def print_route(name: str, points: list[CurvePoint], every: int) -> None:
    """The route's table, then its totals and what its last CPU-hour bought."""
    print(f"{name}\n{'stage':>5}{'epoch':>6}{'CPU-h':>7}{'val acc':>9}{'best':>8}")
    for index, point in enumerate(points):
        stage_ends = index + 1 == len(points) or points[index + 1].stage != point.stage
        if point.epoch % every == 0 or stage_ends:
            print(f"{point.stage:>5}{point.epoch:>6}{point.hours:>7.2f}{point.accuracy:>9.2%}{point.best:>8.2%}")
    for sitting in sittings(points):
        print(f"  sitting {sitting.when}: {sitting.epochs} epoch{'s' * (sitting.epochs != 1)}, {sitting.cpu_hours:.2f} CPU-hours "
              f"on {sitting.where}, best after it {sitting.best_after:.2%}")
    gain = gain_in_last_hour(points)
    bought = f", the last CPU-hour {gain * 100:+.2f} points" if gain is not None else ""
    print(f"{name}: {len(points)} epochs, {points[-1].hours:.2f} CPU-hours, best {points[-1].best:.2%}{bought}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=10, help="print a row every N epochs of a stage (default 10)")
    parser.add_argument("routes", nargs="*", metavar="[NAME=]RUN[,RUN...]",
                        help="a route's stage folders in order (NAME defaults to the folder's name); default: the routes in models/wip/")
    args = parser.parse_args()
    if not args.routes:
        routes = routes_in(wip_dir())
        if not routes:
            print("error: no route with a finished epoch in models/wip/", file=sys.stderr)
            return 2
        for route in routes:
            print_route(" → ".join(stage.name for stage in route.stages), list(route.points), args.every)
        return 0
    for entry in args.routes:
        name, named, folders = entry.partition("=")
        if not named:  # a bare run folder: the route is that folder, named after it
            name, folders = Path(entry).name, entry
        try:
            points = route_curve([Path(folder) for folder in folders.split(",") if folder])
        except FerError as error:
            print(f"error: {name}: {error}", file=sys.stderr)
            return 2
        print_route(name, points, args.every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
