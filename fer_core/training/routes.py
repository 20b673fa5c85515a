"""Training routes: chains of runs continued stage after stage, and their accuracy against CPU-hours.

A long run outlives a sitting by being carried in ``models/wip/`` and resumed; a route also
continues as a new stage started from an earlier stage's model (``--init-from``). What a route
bought is its validation accuracy against the hours spent, summed over its stages from their
``history.csv``: the process's CPU seconds per epoch, over all its threads (a route on two cores
counts both), or wall-clock seconds for epochs trained before that column existed (those long runs
trained on one core each, so wall time was their CPU time). A CPU-hour buys different amounts on
different machines, so each sitting also names its machine (``sittings.json``). The model issue
asks for this curve for every route tried, and the Train page draws it for the runs carried in
``models/wip/``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fer_core.errors import FerError
from fer_core.training.config import TrainConfig
from fer_core.training.runs import read_history, read_status
from fer_core.training.sittings import read_sittings


@dataclass(frozen=True)
class CurvePoint:
    """One epoch of a route: where it stood after this many hours."""

    stage: int
    epoch: int
    hours: float
    accuracy: float
    best: float
    sitting: float = 0.0  # when the process that trained this epoch started (Unix time; 0: before it was recorded)
    cpu_hours: float = 0.0  # this epoch's own CPU-hours
    cores: int = 1  # the cores that process could use
    machine: str = ""  # what that process ran on (CPU, bf16 units, precision, backend); "" before it was recorded


@dataclass(frozen=True)
class Sitting:
    """The epochs one training process added to a route: the log of CPU-hours per sitting."""

    started: float  # Unix time; 0 for epochs trained before sittings were recorded
    epochs: int
    cpu_hours: float
    cores: int
    best_after: float
    machine: str = ""

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.started)) if self.started else "before sittings were logged"

    @property
    def where(self) -> str:
        """The machine, or only its cores for a sitting from before machines were recorded."""
        return self.machine or f"{self.cores} core{'s' * (self.cores > 1)}"


@dataclass(frozen=True)
class Route:
    """A chain of run folders, first stage first; named after its last stage."""

    stages: tuple[Path, ...]
    points: tuple[CurvePoint, ...]

    @property
    def name(self) -> str:
        return self.stages[-1].name

    def summary(self) -> dict:
        """One row of the Train page's table of long runs."""
        last, gain = self.points[-1], gain_in_last_hour(self.points)
        return {"route (last stage)": self.name, "stages": len(self.stages), "epochs": len(self.points),
                "CPU-hours": round(last.hours, 1), "best validation accuracy": f"{last.best:.1%}",
                "gain in the last CPU-hour": f"{gain * 100:+.2f} points" if gain is not None else "—",
                "last stage": read_status(self.stages[-1]).get("state", "unknown")}


def sitting_rows(route: Route) -> list[dict]:
    """The route's sittings for the Train page: when and where each ran, and what it bought."""
    return [{"route": route.name, "sitting": sitting.when, "epochs": sitting.epochs, "CPU-hours": round(sitting.cpu_hours, 2),
             "machine": sitting.where, "best after it": f"{sitting.best_after:.1%}"} for sitting in sittings(route.points)]


def gain_in_last_hour(points: Sequence[CurvePoint]) -> float | None:
    """Best accuracy now minus the best one CPU-hour earlier: what the latest hour bought, the
    plainest guide to what more hours would (None for a route shorter than an hour)."""
    last = points[-1]
    earlier = [point.best for point in points if point.hours <= last.hours - 1]
    return last.best - earlier[-1] if earlier else None


def route_curve(stage_folders: list[Path]) -> list[CurvePoint]:
    """The route's epochs in order, hours accumulated over its stages."""
    if not stage_folders:
        raise FerError("no stage folders given: name at least one run folder")
    histories = [read_history(folder) for folder in stage_folders]
    for folder, history in zip(stage_folders, histories, strict=True):
        if not history:
            raise FerError(f"{folder}: no readable history.csv (not a run folder, or no epoch finished)")
    return _curve(histories, [read_sittings(folder) for folder in stage_folders])


def _curve(histories: list[list[dict]], machines: list[dict[float, str]]) -> list[CurvePoint]:
    """Each stage's history rows in turn, the hours and the best accuracy carried across stages."""
    points: list[CurvePoint] = []
    hours = best = 0.0
    for stage, (history, machine_of) in enumerate(zip(histories, machines, strict=True), start=1):
        for row in history:
            own = row.get("cpu_seconds", row["seconds"]) / 3600
            hours += own
            best = max(best, row["val_accuracy"])
            sitting = row.get("sitting", 0.0)
            points.append(CurvePoint(stage, int(row["epoch"]), hours, row["val_accuracy"], best, sitting, own,
                                     int(row.get("cores", 1)), machine_of.get(sitting, "")))
    return points


def sittings(points: Sequence[CurvePoint]) -> list[Sitting]:
    """The route's epochs grouped by the process that trained them, in order."""
    groups: list[list[CurvePoint]] = []
    for point in points:
        if groups and groups[-1][-1].sitting == point.sitting:
            groups[-1].append(point)
        else:
            groups.append([point])
    return [Sitting(group[0].sitting, len(group), sum(p.cpu_hours for p in group), max(p.cores for p in group), group[-1].best,
                    group[0].machine) for group in groups]


def _started_from(run_dir: Path, siblings: dict[str, Path]) -> Path | None:
    """The sibling run this one was started from: ``init_from`` names a file in another run's
    folder, by an absolute path from the machine it started on, so the folder's name decides."""
    try:
        init_from = TrainConfig.load(run_dir / "config.json").init_from
    except FerError:
        return None
    return siblings.get(Path(init_from).parent.name) if init_from else None


def routes_in(folder: Path) -> list[Route]:
    """Every route whose stages are run folders in ``folder`` (e.g. ``models/wip/``), longest first;
    a stage without a finished epoch (one just started) is left out, the stages before it are not."""
    runs = {path.name: path for path in sorted(folder.iterdir()) if (path / "config.json").is_file()} if folder.is_dir() else {}
    parents = {name: _started_from(path, runs) for name, path in runs.items()}
    continued = {parent.name for parent in parents.values() if parent is not None}
    routes = []
    for name in runs:
        if name in continued:
            continue
        chain = [runs[name]]
        while (parent := parents[chain[0].name]) is not None and parent not in chain:
            chain.insert(0, parent)
        read = [(stage, history) for stage in chain if (history := read_history(stage))]  # each history read once
        if read:
            stages = tuple(stage for stage, _ in read)
            routes.append(Route(stages, tuple(_curve([history for _, history in read], [read_sittings(stage) for stage in stages]))))
    return sorted(routes, key=lambda route: -route.points[-1].hours)
