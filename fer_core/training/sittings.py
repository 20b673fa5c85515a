"""Which machine trained each sitting of a run, so a route's CPU-hours can be read across machines.

A route carried between sittings lands on whatever machine the next one gets, and a CPU-hour
does not buy the same everywhere: a vgg_wide epoch took ~250 CPU-s in bf16 on a Xeon with AMX,
~930 in float32 on an AVX2-only EPYC and ~415 in bf16 on an EPYC with AVX512-BF16. ``history.csv``
keeps numbers only (each row names its sitting by the Unix time its process started), so the
machine of each sitting lives beside it in ``sittings.json``, written once when a process starts.
"""

from __future__ import annotations

from pathlib import Path

from fer_core.files import SITTINGS, read_json, write_json_atomic
from fer_core.training.hardware import bfloat16_units, cpu_model


def describe_machine(cores: int, precision: str, backend: str, gpus: int = 0) -> str:
    """One line for a sitting, e.g. ``AMD EPYC, 2 cores with bf16 units, bfloat16 on tensorflow (oneDNN on)``."""
    units = {True: " with bf16 units", False: " without bf16 units", None: ""}[bfloat16_units()]
    gpu = f", {gpus} GPU{'s' * (gpus > 1)}" if gpus else ""
    return f"{cpu_model()}, {cores} core{'s' * (cores > 1)}{units}{gpu}, {precision} on {backend}"


def record_sitting(run_dir: Path, started: float, machine: str) -> None:
    """Add this process's sitting; the key is the ``sitting`` value its history rows carry."""
    sittings = read_json(run_dir / SITTINGS)
    sittings[repr(started)] = machine
    write_json_atomic(run_dir / SITTINGS, sittings)


def read_sittings(run_dir: Path) -> dict[float, str]:
    """Each recorded sitting's machine by its start time; a run from before this file, or a
    damaged one, gives none (its sittings are then told apart by time and cores only)."""
    machines = {}
    for started, machine in read_json(run_dir / SITTINGS).items():
        try:
            machines[float(started)] = str(machine)
        except ValueError:
            continue
    return machines
