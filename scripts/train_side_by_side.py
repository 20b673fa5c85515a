"""Train several ``fer_core train`` runs side by side on one GPU, all ending before a deadline.

Why: a lent GPU machine is held for minutes, not hours, and one small CNN leaves most of
the GPU idle, so several runs share it. Each run is the project's own CLI
(``python -m fer_core train ...``, Keras on JAX there: that machine has no TensorFlow), in its
own runs folder (the one-run-at-a-time lock is per folder). This script only chooses the
epoch count, which fixes the cosine schedule and so cannot change mid-run: it starts each run
with a guess, times the first epochs while all run together, and restarts a run whose guess
would overrun the deadline by more than a tenth of its epochs or leave more than a fifth of the
time unused; at the deadline every run still going is cancelled (its best model stays).

    python scripts/train_side_by_side.py --data fer2013.csv --out runs --deadline-s 480 \\
        --run "wide1=--arch vgg_wide --seed 11" --run "vgg1=--arch vgg --seed 13"
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

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
    epoch_ends: list[float] = field(default_factory=list)
    decided: bool = False

    def run_dir(self) -> Path | None:
        folders = sorted(p for p in self.root.glob("*/") if (p / "config.json").exists())
        return folders[-1] if folders else None

    def epochs_done(self) -> int:
        folder = self.run_dir()
        history = folder / "history.csv" if folder else None
        if history is None or not history.exists():
            return 0
        return max(0, len(history.read_text().splitlines()) - 1)


def launch(run: Run, data: str, epochs: int) -> None:
    run.epochs, run.epoch_ends, run.decided = epochs, [], False
    env = {**os.environ, "FER_RUNS_DIR": str(run.root)}
    command = [sys.executable, "-m", "fer_core", "train", "--data", data, "--out", str(run.root), "--epochs", str(epochs), *run.args]
    print(f"[{run.name}] {shlex.join(command[1:])}", flush=True)
    log = (run.root / "stdout.txt").open("a")
    run.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    run.launched = time.time()


def cancel(run: Run) -> None:
    folder = run.run_dir()
    if folder is not None and run.process is not None and run.process.poll() is None:
        (folder / "cancel").touch()


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
            done = run.epochs_done()
            while len(run.epoch_ends) < done:
                run.epoch_ends.append(now)
            if run.decided or len(run.epoch_ends) < TIMED_EPOCHS or run.process.poll() is not None:
                continue
            run.decided = True
            pace = (run.epoch_ends[-1] - run.epoch_ends[0]) / (TIMED_EPOCHS - 1)
            startup = run.epoch_ends[0] - run.launched - pace
            finish = now + (run.epochs - TIMED_EPOCHS) * pace + FINAL_EVALUATION_S
            fitting = int((deadline - now - startup - FINAL_EVALUATION_S - MARGIN_S) // pace)
            target = min(fitting, args.max_epochs)
            print(f"[{run.name}] {pace:.2f} s/epoch, start-up {startup:.0f} s: {fitting} epochs would fit", flush=True)
            overrun_epochs = (finish - (deadline - MARGIN_S)) / pace
            # A small overrun only loses the schedule's last epochs, at ~1 % of the peak learning
            # rate, to the deadline's cancel; a restart would lose the compile time again.
            if overrun_epochs <= TAIL_SHARE * run.epochs and run.epochs >= 0.8 * target:
                continue
            if target < TIMED_EPOCHS:
                print(f"[{run.name}] too little time left for a restart; keeping {run.epochs} epochs", flush=True)
                continue
            cancel(run)
            run.process.wait()
            launch(run, args.data, target)
            run.decided = True
        if now > deadline - MARGIN_S:
            for run in runs:
                cancel(run)
    failed = [run.name for run in runs if run.process.returncode != 0]
    for run in runs:
        print(f"[{run.name}] exit {run.process.returncode}, {run.epochs_done()} of {run.epochs} epochs, in {run.run_dir()}")
    return 1 if len(failed) == len(runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
