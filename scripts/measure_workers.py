"""Seconds per training step with one worker and with N local workers (MultiWorkerMirroredStrategy on
127.0.0.1), the same net, data and global batch: what ``docs/training.md`` reports.

    python scripts/measure_workers.py --data ../shared/data/fer2013/fer2013_dev.csv.gz [--workers 2]

Each setting trains ``--epochs`` epochs on a stratified sample in a temporary folder; the step time is
the last epoch's wall time over its steps (the first epoch includes tracing). Local workers share this
machine's cores, so they show the cost of the collectives, not a speed-up: that needs machines of their own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer_core.training.runs import read_history, read_status  # noqa: E402
from testkit.network import free_ports  # noqa: E402


def seconds_per_step(args: argparse.Namespace, workers: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        common = [sys.executable, "-m", "fer_core", "train", "--data", args.data, "--arch", args.arch, "--epochs", str(args.epochs),
                  "--batch-size", str(args.batch_size), "--sample-per-class", str(args.sample_per_class), "--out", out, "--name", "measure"]
        if workers == 1:
            processes = [subprocess.Popen(common, cwd=ROOT, stdout=subprocess.DEVNULL)]
        else:
            addresses = ",".join(f"127.0.0.1:{port}" for port in free_ports(workers))
            processes = [subprocess.Popen([*common, "--workers", addresses, "--worker-index", str(index)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}) for index in range(workers)]
        if any(process.wait() != 0 for process in processes):
            raise SystemExit(f"error: the {workers}-worker run failed")
        run = Path(out) / "measure" if workers > 1 else next(Path(out).glob("*-measure"))
        return read_history(run)[-1]["seconds"] / read_status(run)["batches"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--arch", default="vgg")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--sample-per-class", type=int, default=200)
    args = parser.parse_args()
    one = seconds_per_step(args, 1)
    several = seconds_per_step(args, args.workers)
    print(f"{args.arch}, global batch {args.batch_size}, on {os.cpu_count()} cores: one worker {one:.2f} s a step, "
          f"{args.workers} local workers {several:.2f} s a step ({several / one:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
