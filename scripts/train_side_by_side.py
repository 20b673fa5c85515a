"""Train several ``fer_core train`` runs side by side on one GPU, all ending before a deadline.

Why: a lent GPU machine is held for minutes, not hours, and one small CNN leaves most of
the GPU idle, so several runs share it. Each run is the project's own CLI
(``python -m fer_core train ...``, Keras on JAX there: that machine has no TensorFlow), in its
own runs folder (the one-run-at-a-time lock is per folder). This script only chooses the
epoch count, which fixes the cosine schedule and so cannot change mid-run: it starts each run
with a guess, times the first epochs while all run together, and restarts a run whose guess
would overrun the deadline by more than a tenth of its epochs or leave more than a fifth of the
time unused (the abandoned start is deleted, so each NAME folder ends with one run); at the
deadline every run still going is cancelled (its best model stays).

    python scripts/train_side_by_side.py --data fer2013.csv --out runs --deadline-s 480 \\
        --run "wide1=--arch vgg_wide --seed 11" --run "vgg1=--arch vgg --seed 13"
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from fer_core.training.runs import request_cancel  # noqa: E402

TIMED_EPOCHS = 3  # epoch 1 includes compilation; epochs 2-3 give the steady pace
FINAL_EVALUATION_S = 20.0  # the run's own PublicTest evaluation (plain, flip, flip-zoom) after the last epoch
MARGIN_S = 15.0
TAIL_SHARE = 0.1  # the share of a cosine schedule's last epochs that a deadline may cut instead of a restart


@dataclass
class Run:
    name: str
    args: list[str]
    root: Path
    epochs: int = 0
    process: subprocess.Popen | None = None
    launched: float = 0.0
    decided: bool = False

    def run_dir(self) -> Path | None:
        folders = sorted(p for p in self.root.glob("*/") if (p / "config.json").exists())
        return folders[-1] if folders else None

    def epoch_seconds(self) -> list[float]:
        """Each finished epoch's duration as the run itself measured it (``history.csv``).

        The run's own figures, not the times this loop notices new rows: the loop can be held up
        (waiting for a cancelled run to exit) while several epochs end, which once gave a pace of
        zero and a crash.
        """
        folder = self.run_dir()
        history = folder / "history.csv" if folder else None
        if history is None or not history.exists():
            return []
        with history.open(newline="") as handle:
            return [float(row["seconds"]) for row in csv.DictReader(handle) if row.get("seconds")]


@dataclass(frozen=True)
class Plan:
    pace: float  # seconds per steady epoch (the first one also compiles)
    startup: float  # what a restart pays before its steady epochs: process start and compilation
    fitting: int  # epochs that a run restarted now would fit before the deadline
    restart_with: int | None  # the epoch count to restart with, or None to keep the run going


def plan(seconds: list[float], *, since_launch: float, left: float, planned: int, max_epochs: int) -> Plan:
    """Keep a run whose ``planned`` epochs end near the deadline (``left`` seconds away), or restart it.

    A small overrun only loses the cosine schedule's last epochs, at ~1 % of the peak learning
    rate, to the deadline's cancel; a restart would pay the start-up and compilation again. So a
    run restarts only if it would overrun by more than a tenth of its epochs or leave more than a
    fifth of the fitting epochs unused, and only if a restart still fits a few epochs.
    """
    pace = max(sum(seconds[1:TIMED_EPOCHS]) / (TIMED_EPOCHS - 1), 1e-3)
    startup = max(0.0, since_launch - len(seconds) * pace)
    fitting = int((left - startup - FINAL_EVALUATION_S - MARGIN_S) // pace)
    target = min(fitting, max_epochs)
    overrun_epochs = ((planned - len(seconds)) * pace + FINAL_EVALUATION_S - (left - MARGIN_S)) / pace
    keep = (overrun_epochs <= TAIL_SHARE * planned and planned >= 0.8 * target) or target < TIMED_EPOCHS
    return Plan(pace, startup, fitting, None if keep else target)


def launch(run: Run, data: str, epochs: int) -> None:
    run.epochs, run.decided = epochs, False
    # fer_core from this checkout wherever the command is started (``-m`` looks in the working folder only).
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    env = {**os.environ, "FER_RUNS_DIR": str(run.root), "PYTHONPATH": python_path}
    # Runs started in the same second would share a run id; the NAME keeps them apart in later listings.
    label = [] if "--name" in run.args else ["--name", run.name]
    command = [sys.executable, "-m", "fer_core", "train", "--data", data, "--out", str(run.root), "--epochs", str(epochs),
               *label, *run.args]
    print(f"[{run.name}] {shlex.join(command[1:])}", flush=True)
    log = (run.root / "stdout.txt").open("a")
    run.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    run.launched = time.time()


def cancel(run: Run) -> None:
    """Stop a run at once: at the deadline an epoch's end may be minutes away."""
    folder = run.run_dir()
    if folder is not None and run.process is not None and run.process.poll() is None:
        request_cancel(folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--deadline-s", required=True, type=float, help="every run ends within this many seconds from now")
    parser.add_argument("--guess-epochs", type=int, default=120)
    parser.add_argument("--max-epochs", type=int, default=250)
    parser.add_argument("--run", action="append", required=True, help="NAME=extra train arguments")
    args = parser.parse_args()
    deadline = time.time() + args.deadline_s
    runs = []
    for spec in args.run:
        name, _, extra = spec.partition("=")
        root = args.out / name
        root.mkdir(parents=True, exist_ok=True)
        runs.append(Run(name, shlex.split(extra), root))
    for run in runs:
        launch(run, args.data, args.guess_epochs)

    while any(run.process.poll() is None for run in runs):
        time.sleep(0.5)
        now = time.time()
        for run in runs:
            seconds = run.epoch_seconds()
            if run.decided or len(seconds) < TIMED_EPOCHS or run.process.poll() is not None:
                continue
            run.decided = True
            choice = plan(seconds, since_launch=now - run.launched, left=deadline - now, planned=run.epochs,
                          max_epochs=args.max_epochs)
            print(f"[{run.name}] {choice.pace:.2f} s/epoch, start-up {choice.startup:.0f} s: "
                  f"{choice.fitting} epochs would fit; "
                  + (f"keeping {run.epochs}" if choice.restart_with is None else f"restarting with {choice.restart_with}"), flush=True)
            if choice.restart_with is None:
                continue
            abandoned = run.run_dir()
            cancel(run)
            run.process.wait()
            if abandoned is not None:  # a few epochs of a schedule that did not fit: only the restart is a candidate
                shutil.rmtree(abandoned)
            launch(run, args.data, choice.restart_with)
            run.decided = True
        if now > deadline - MARGIN_S:
            for run in runs:
                cancel(run)
    failed = [run.name for run in runs if run.process.returncode != 0]
    for run in runs:
        print(f"[{run.name}] exit {run.process.returncode}, {len(run.epoch_seconds())} of {run.epochs} epochs, in {run.run_dir()}")
        if run.process.returncode != 0:
            lines = (run.root / "stdout.txt").read_text(errors="replace").strip().splitlines()
            print(f"[{run.name}] its last output line: {lines[-1] if lines else '(none)'}")
    return 1 if len(failed) == len(runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
