"""The training stages behind a model that was started from another model (``--init-from``).

A model continued across sessions is only reproducible with every stage's command, so each
stage is recorded next to the model: the run folder's ``lineage.json`` lists the stages
before it, and publishing copies that list to the default model's folder for its card.
"""

from __future__ import annotations

import json
from pathlib import Path

from fer_core.errors import FerError
from fer_core.files import METRICS
from fer_core.training.config import TrainConfig
from fer_core.training.weight_averaging import MODEL_FILE, read_weight_average

LINEAGE_FILE = "lineage.json"


def read_lineage(folder: Path) -> list[dict]:
    path = folder / LINEAGE_FILE
    if not path.is_file():
        return []
    try:
        stages = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FerError(f"{path}: unreadable ({exc})") from None
    return stages if isinstance(stages, list) else []


def stages_before(init_from: str) -> list[dict]:
    """The stages that produced ``init_from``: its folder's own lineage plus the stage whose
    ``config.json`` (and, when present, ``metrics.json``) sit beside it. A bare model file
    with no config contributes a stage that only names the file."""
    if not init_from:
        return []
    folder = Path(init_from).parent
    stages = read_lineage(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        return [*stages, {"command": f"(a model file without its training config: {Path(init_from).name})"}]
    config = TrainConfig.load(config_path)
    stage: dict = {"command": config.command(), "arch": config.arch, "epochs": config.epochs}
    metrics_path = folder / METRICS
    if metrics_path.is_file():
        try:
            metrics = json.loads(metrics_path.read_text())
        except (OSError, ValueError) as exc:
            raise FerError(f"{metrics_path}: unreadable ({exc})") from None
        stage.update(accuracy=metrics.get("accuracy_no_tta", metrics.get("accuracy")), split=metrics.get("split"),
                     run_id=metrics.get("run_id"))
        backend = metrics.get("backend", "tensorflow")
        if backend != "tensorflow":  # e.g. trained with JAX on a GPU machine: the command needs it to repeat
            stage["command"] = f"KERAS_BACKEND={backend} {stage['command']}"
    return [*stages, {**stage, **_weight_average_stage(Path(init_from))}]


def _weight_average_stage(model_path: Path) -> dict:
    """For a run's weight average that was not kept as its best model (``swa.keras``), which
    file the stage means and that file's own score; ``metrics.json`` describes ``best.keras``."""

    if model_path.name != MODEL_FILE:
        return {}
    report = read_weight_average(model_path.parent) or {}
    return {"model": MODEL_FILE, "accuracy": report.get("val_accuracy")}


def write_lineage(run_dir: Path, config: TrainConfig) -> None:
    """Record, at the start of a run, the stages its starting model came from (they may be
    overwritten later, e.g. when the default model is replaced by this very run)."""
    stages = stages_before(config.init_from)
    if stages:
        (run_dir / LINEAGE_FILE).write_text(json.dumps(stages, indent=2))
