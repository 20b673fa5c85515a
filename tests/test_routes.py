"""Training routes: stages chained by the folder they started from, hours added up across them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from fer_core.training.config import TrainConfig
from fer_core.training.routes import gain_in_last_hour, route_curve, routes_in, sittings

HEADER = "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds\n"


def write_run(folder: Path, rows: list[tuple[int, float, float]], init_from: str = "") -> Path:
    """A run folder as the trainer leaves it: its config and a history of (epoch, val_accuracy, seconds)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(TrainConfig(data="fer2013.csv", init_from=init_from).to_json())
    lines = [f"{epoch}.0,1.0,0.5,1.0,{accuracy},0.01,{seconds}\n" for epoch, accuracy, seconds in rows]
    (folder / "history.csv").write_text(HEADER + "".join(lines))
    return folder


def test_a_second_stage_continues_the_hours_and_the_best_of_the_first(tmp_path: Path) -> None:
    first = write_run(tmp_path / "one", [(1, 0.40, 1800), (2, 0.60, 1800)])
    second = write_run(tmp_path / "two", [(1, 0.55, 3600), (2, 0.65, 3600)])
    points = route_curve([first, second])
    assert [(p.stage, p.epoch) for p in points] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert [p.hours for p in points] == pytest.approx([0.5, 1.0, 2.0, 3.0])
    assert [p.best for p in points] == pytest.approx([0.40, 0.60, 0.60, 0.65])


def test_a_stage_resumed_on_two_cores_counts_both_cores_and_logs_each_sitting(tmp_path: Path) -> None:
    """Rows from before CPU time was recorded count their wall time (one core); later rows their CPU time."""
    run = tmp_path / "route"
    run.mkdir()
    (run / "config.json").write_text(TrainConfig(data="fer2013.csv").to_json())
    (run / "history.csv").write_text(
        "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,cpu_seconds,cores,sitting\n"
        "1,1.0,0.5,1.0,0.40,0.01,3600,,,\n"  # trained on one core by an older version
        "2,1.0,0.5,1.0,0.50,0.01,1800,3600,2,1000\n"  # half an hour on two cores: one CPU-hour
        "3,1.0,0.5,1.0,0.45,0.01,1800,3600,2,1000\n"
        "4,1.0,0.5,1.0,0.55,0.01,1800,3240,2,5000\n")  # the next sitting
    points = route_curve([run])
    assert [p.hours for p in points] == pytest.approx([1.0, 2.0, 3.0, 3.9])
    logged = sittings(points)
    assert [(s.started, s.epochs, s.cores) for s in logged] == [(0.0, 1, 1), (1000.0, 2, 2), (5000.0, 1, 2)]
    assert [s.cpu_hours for s in logged] == pytest.approx([1.0, 2.0, 0.9]) and [s.best_after for s in logged] == [0.40, 0.50, 0.55]
    assert [s.machine for s in logged] == ["", "", ""]  # no sittings.json: told apart by time and cores only


def test_each_sitting_names_the_machine_it_ran_on(tmp_path: Path) -> None:
    from fer_core.training.sittings import record_sitting

    run = tmp_path / "route"
    run.mkdir()
    (run / "config.json").write_text(TrainConfig(data="fer2013.csv").to_json())
    (run / "history.csv").write_text(
        "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,cpu_seconds,cores,sitting\n"
        "1,1.0,0.5,1.0,0.40,0.01,500,900,2,1796655567.3598824\n"
        "2,1.0,0.5,1.0,0.50,0.01,250,420,2,1796665599.733318\n")
    record_sitting(run, 1796655567.3598824, "AMD EPYC, 2 cores without bf16 units, float32 on tensorflow (oneDNN on)")
    record_sitting(run, 1796665599.733318, "AMD EPYC, 2 cores with bf16 units, bfloat16 on tensorflow (oneDNN on)")
    logged = sittings(route_curve([run]))
    assert [s.machine for s in logged] == ["AMD EPYC, 2 cores without bf16 units, float32 on tensorflow (oneDNN on)",
                                           "AMD EPYC, 2 cores with bf16 units, bfloat16 on tensorflow (oneDNN on)"]
    assert [s.machine for s in sittings(routes_in(tmp_path)[0].points)] == [s.machine for s in logged]
    printed = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "route_curve.py"), f"r={run}"],
                             capture_output=True, text=True, check=False).stdout
    assert "0.12 CPU-hours on AMD EPYC, 2 cores with bf16 units, bfloat16 on tensorflow (oneDNN on)" in printed
    (run / "sittings.json").write_text("{not json")  # damaged: the curve stays, without machines
    assert [s.machine for s in sittings(route_curve([run]))] == ["", ""]


def test_routes_follow_init_from_by_folder_name_wherever_the_stage_was_started(tmp_path: Path) -> None:
    wip = tmp_path / "wip"
    write_run(wip / "a-stage1", [(1, 0.5, 3600)])
    write_run(wip / "b-stage2", [(1, 0.6, 3600), (2, 0.62, 3600)], init_from="/another/machine/models/wip/a-stage1/best.keras")
    write_run(wip / "c-alone", [(1, 0.3, 600)], init_from="/elsewhere/models/default/model.keras")
    (wip / "d-no-epoch").mkdir()
    (wip / "d-no-epoch" / "config.json").write_text(TrainConfig(data="x.csv").to_json())
    routes = routes_in(wip)
    assert [route.name for route in routes] == ["b-stage2", "c-alone"]  # longest first; the one without an epoch left out
    (wip / "e-stage3-starting").mkdir()
    (wip / "e-stage3-starting" / "config.json").write_text(TrainConfig(data="x.csv", init_from="/m/models/wip/b-stage2/best.keras").to_json())
    assert [route.name for route in routes_in(wip)] == ["b-stage2", "c-alone"]  # a stage just started hides nothing
    assert [stage.name for stage in routes[0].stages] == ["a-stage1", "b-stage2"]
    assert routes[0].points[-1].hours == pytest.approx(3.0) and routes[0].points[-1].best == pytest.approx(0.62)
    assert gain_in_last_hour(routes[0].points) == pytest.approx(0.02)  # best 0.62 at 3.0 h against 0.60 at 2.0 h
    assert gain_in_last_hour(routes[1].points) is None  # ten minutes: no hour to look back over
    assert routes_in(tmp_path / "missing") == []


def test_the_script_prints_each_route_and_a_folder_without_history_is_one_error_line(tmp_path: Path) -> None:
    script = str(REPO_ROOT / "scripts" / "route_curve.py")
    run = write_run(tmp_path / "one", [(1, 0.40, 1800), (2, 0.60, 1800)])
    printed = subprocess.run([sys.executable, script, "--every", "1", f"long={run}"], capture_output=True, text=True, check=False)
    assert printed.returncode == 0 and "long: 2 epochs, 1.00 CPU-hours, best 60.00%" in printed.stdout
    refused = subprocess.run([sys.executable, script, f"x={tmp_path}"], capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: x:") and "Traceback" not in refused.stderr


def test_a_bare_run_folder_is_a_route_named_after_it_and_no_folder_is_one_error_line(tmp_path: Path) -> None:
    script = str(REPO_ROOT / "scripts" / "route_curve.py")
    run = write_run(tmp_path / "solo", [(1, 0.40, 1800), (2, 0.60, 1800)])
    printed = subprocess.run([sys.executable, script, str(run)], capture_output=True, text=True, check=False)
    assert printed.returncode == 0 and "solo: 2 epochs, 1.00 CPU-hours, best 60.00%" in printed.stdout
    refused = subprocess.run([sys.executable, script, "empty="], capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: empty:") and "Traceback" not in refused.stderr
