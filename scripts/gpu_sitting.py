"""The model route's GPU sitting as one prepared command on the lent machine, results in ``$OUT``.

Why one script: a session's whole device time is 15 minutes, starts and idle waits included,
and one command may run 10; a sitting that types its steps there loses its runs. So this script
does everything between the data arriving and the models leaving:

1. joins the parts ``scripts/gpu_data.py`` made (``data/gpu/fer-gpu.zip.partNN``, carried by
   this and earlier calls) and checks the zip before any run starts;
2. makes Keras importable: the GPU image has JAX and PyTorch but no Keras, so the wheels
   carried in ``.whl/`` (``scripts/gpu_wheels.sh`` fetches them here) go into a folder of
   their own on ``PYTHONPATH`` (nothing is installed into the image's environment);
3. trains ``RECIPES`` side by side on JAX until the deadline (``train_side_by_side.py``
   picks each run's epoch count from its first epochs' pace);
4. stores each run's best model in float16 with its config, history, log and metrics as
   ``$OUT/<name>.tar`` (the device returns at most 8 files of 16 MB: a vgg_wide's best model
   is 7 MB in float16), so this machine scores them (``scripts/score_models.py``,
   ``ensemble-search``) and publishes only what beats the default by its test.

    python3 scripts/gpu_sitting.py --deadline-s 420          # on the device, in the repo root
    python3 scripts/gpu_sitting.py --deadline-s 60 --extra "--sample-per-class 20"   # a dry run here
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO_ROOT = Path(__file__).resolve().parents[1]
PARTS_DIR = REPO_ROOT / "data" / "gpu"
WHEELS_DIR = REPO_ROOT / ".whl"
TEACHER = "models/default/model.keras"
# Candidates for the next default (docs/model.md): the wider nets the CPU cannot train long, each
# taught by the shipped pair as the CPU route's student is, one without a teacher for diversity,
# and the CPU route's own recipe at GPU length for a direct comparison. float32: under JAX on this
# CPU a jitted vgg in bf16 predicts NaN from its first step (the H200 trial of 2026-11-26 ran bf16
# without it, but a sitting cannot afford to find out), and nets this small leave a GPU idle anyway.
DISTIL = f"--teacher {TEACHER} --teacher-weight 0.7"
RECIPES = {
    "wide-distil": f"--arch vgg_wide --seed 41 {DISTIL}",
    "resnet-distil": f"--arch resnet --seed 42 {DISTIL}",
    "wide-erasing": "--arch vgg_wide --seed 43 --erasing 0.5",
    "vgg-distil": f"--arch vgg --seed 44 {DISTIL}",
}
KEPT_FILES = ("best.keras", "config.json", "history.csv", "metrics.json", "status.json", "train.log", "lineage.json")


class SittingError(Exception):
    """A step that cannot go on: one line, said before any run starts where possible."""


def join_parts(parts_dir: Path, target: Path) -> int:
    """Join ``fer-gpu.zip.partNN`` in order into ``target`` and test every member; returns its face count."""
    parts = sorted(parts_dir.glob("fer-gpu.zip.part*"))
    if not parts:
        raise SittingError(f"no data parts in {parts_dir}: carry data/gpu/fer-gpu.zip.partNN (scripts/gpu_data.py makes them)")
    with target.open("wb") as whole:
        for part in parts:
            whole.write(part.read_bytes())
    try:
        with zipfile.ZipFile(target) as archive:
            damaged = archive.testzip()
            count = len(archive.infolist())
    except zipfile.BadZipFile as error:
        names = ", ".join(part.name for part in parts)
        raise SittingError(f"the joined parts ({names}) are not a whole zip ({error}): a part is missing or cut") from None
    if damaged:
        raise SittingError(f"{damaged} is damaged in the joined zip")
    return count


def keras_path(wheels_dir: Path, site: Path, env: dict[str, str]) -> str | None:
    """A folder holding Keras unpacked from the carried wheels, or None where Keras imports already
    (with the backend the runs will use: under TensorFlow's default it would fail for want of TensorFlow)."""
    if subprocess.run([sys.executable, "-c", "import keras"], env=env, capture_output=True).returncode == 0:
        return None
    wheels = sorted(wheels_dir.glob("*.whl"))
    if not wheels:
        raise SittingError(f"Keras is not installed here and {wheels_dir} holds no wheels: run scripts/gpu_wheels.sh before the call")
    for wheel in wheels:  # a wheel is a zip laid out for site-packages
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
    return str(site)


def pack_results(runs_root: Path, out: Path) -> list[Path]:
    """Each run's best model (float16) and records as ``out/<name>.tar``."""
    from fer_core.training.carry_over import halve_saved_model

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name_dir in sorted(p for p in runs_root.iterdir() if p.is_dir()):
        for run_dir in sorted(p for p in name_dir.iterdir() if (p / "best.keras").is_file()):
            halve_saved_model(run_dir / "best.keras")
            tar_path = out / f"{name_dir.name}.tar"
            with tarfile.open(tar_path, "w") as tar:
                for file in KEPT_FILES:
                    if (run_dir / file).is_file():
                        tar.add(run_dir / file, arcname=f"{run_dir.name}/{file}")
            written.append(tar_path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deadline-s", type=float, default=420.0, help="every run ends within this many seconds")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-out")))
    parser.add_argument("--work", type=Path, default=Path("/tmp/fer-gpu"), help="where the data and runs go on the machine")
    parser.add_argument("--extra", default="", help="more train arguments for every run (a dry run: --sample-per-class 20)")
    parser.add_argument("--only", nargs="+", choices=list(RECIPES), help="run these recipes only")
    args = parser.parse_args()
    os.chdir(REPO_ROOT)  # the recipes name the teacher from the repository root
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        data = args.work / "fer-gpu.zip"
        faces = join_parts(PARTS_DIR, data)
        print(f"data: {faces} faces in {data}", flush=True)
        env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
        if extra_path := keras_path(WHEELS_DIR, args.work / "site", env):
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [extra_path, env.get("PYTHONPATH", "")]))
    except SittingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = args.only or list(RECIPES)
    # JAX takes 75 % of the GPU's memory in its first process; the others would find none left.
    env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{0.9 / len(names):.2f}")
    runs_root = args.work / "runs"
    command = [sys.executable, str(REPO_ROOT / "scripts" / "train_side_by_side.py"), "--data", str(data), "--out", str(runs_root),
               "--deadline-s", str(args.deadline_s), "--guess-epochs", "150", "--max-epochs", "400"]
    for name in names:
        command += ["--run", f"{name}={RECIPES[name]} {args.extra}".strip()]
    print(shlex.join(command[1:]), flush=True)
    trained = subprocess.run(command, env=env).returncode
    written = pack_results(runs_root, args.out) if runs_root.is_dir() else []
    print(f"side by side: exit {trained}; {len(written)} runs stored in {args.out}: {', '.join(p.name for p in written) or 'none'}")
    return 0 if written else 1  # runs cut by the deadline exit 1 and still leave their best epoch


if __name__ == "__main__":
    raise SystemExit(main())
