"""Run folders: the interface between a training process and whoever watches it.

``models/runs/<run-id>/`` holds ``config.json``, ``history.csv`` (one row per epoch),
``status.json`` (written atomically), ``train.log``, ``checkpoint.keras`` (after every
epoch, with optimiser state) and ``best.keras``. The trainer writes; the UI and CLI read.

Only one run trains at a time. The rule is an exclusive ``flock`` on ``runs/.train.lock``
taken *before* a process is started and inherited by it, so two simultaneous start
requests cannot both pass the check: the loser gets a clear error and nothing is created.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fer_core.errors import FerError
from fer_core.files import HISTORY, STATUS, atomic_path, read_metrics, write_json_atomic
from fer_core.paths import REPO_ROOT, runs_dir
from fer_core.training.config import TrainConfig

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LOCK_FD_ENV = "FER_TRAIN_LOCK_FD"
ACTIVE_STATES = ("queued", "running")
RESUMABLE_STATES = ("cancelled", "failed", "interrupted")
CANCEL = "cancel"  # the file that asks a run to stop
CANCEL_NOW = "now"  # its content when the run is to stop at once (the batch under way is lost)
AFTER_EPOCH = "after-epoch"  # its content when the run is to finish the epoch it is in first


def run_dir_for(run_id: str) -> Path:
    """The folder of a run id, refusing anything that could escape the runs folder."""
    if not RUN_ID_PATTERN.match(run_id) or run_id in (".", ".."):
        raise FerError(f"invalid run id {run_id!r}: use letters, digits, '-', '_' and '.' only")
    root = runs_dir().resolve()
    path = (root / run_id).resolve()
    if path.parent != root:
        raise FerError(f"invalid run id {run_id!r}")
    return path


def resolve_run_dir(value: str | Path) -> Path:
    """Accept a run id or a path to a run folder (the CLI takes either)."""
    path = Path(value)
    if path.is_dir() and (path / "config.json").exists():
        return path.resolve()
    return run_dir_for(str(value))


def new_run_id(arch: str, name: str = "") -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:32]
    return f"{stamp}-{arch}" + (f"-{slug}" if slug else "")


def create_run(config: TrainConfig, name: str = "") -> Path:
    """Make a new run folder holding its config and a 'queued' status."""
    config.validate()
    root = runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id(config.arch, name)
    path = run_dir_for(run_id)
    suffix = 1
    while path.exists():
        suffix += 1
        path = run_dir_for(f"{run_id}.{suffix}")
    path.mkdir()
    return _write_new_run(path, config)


def create_worker_run(config: TrainConfig, path: Path) -> Path:
    """A multi-worker run's folder at the path every worker's command names (a run id with a time stamp
    would differ from machine to machine); refused if a run is already there, so a typo cannot restart one."""
    config.validate()
    if (path / "config.json").exists():
        raise FerError(f"{path} already holds a run; continue it with --resume {path} (same --workers and --worker-index)")
    path.mkdir(parents=True, exist_ok=True)  # a worker's folder may already be inside it, made by that worker
    return _write_new_run(path, config)


def _write_new_run(path: Path, config: TrainConfig) -> Path:
    (path / "config.json").write_text(config.to_json())
    write_json_atomic(path / STATUS, {"state": "queued", "epoch": 0, "epochs": config.epochs, "updated_at": time.time()})
    return path


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this process is dead for our purposes
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether another process's child has exited and waits to be reaped: a run started by the
    Streamlit server stays a zombie until the server next looks, and ``cancel --wait`` in a shell
    must not wait for that."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False  # not Linux, or gone this instant: the caller's kill(pid, 0) has the last word


def read_status(run_dir: Path) -> dict:
    """The run's status; a 'running' run whose process is gone reads as 'interrupted'."""
    try:
        status = json.loads((run_dir / STATUS).read_text())
    except (OSError, ValueError):
        return {"state": "unknown", "epoch": 0}
    if status.get("state") in ACTIVE_STATES and status.get("pid") and not _pid_alive(status["pid"]):
        status["state"] = "interrupted"
        status.setdefault("message", "the training process stopped without finishing (killed or machine restarted)")
    return status


@dataclass(frozen=True)
class RunProgress:
    """Where a run stands, read from its ``status.json``: what the Train page's monitor shows."""

    state: str
    epoch: int  # the epoch in training (1-based) while the run is active, the last finished one after
    epochs: int
    batch: int
    batches: int
    fraction: float  # of all batches of all epochs, 0..1
    running_point: dict | None  # the current epoch's running loss and accuracy, drawn ahead of the curves

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def describe(self) -> str:
        """'running — epoch 3/40, batch 120/225' or 'cancelled — epoch 2/40'."""
        return f"{self.state} — epoch {self.epoch}/{self.epochs}" + (f", batch {self.batch}/{self.batches}" if self.active and self.batches else "")


def run_progress(status: dict) -> RunProgress:
    """The monitor's view of a status dict, tolerant of the fields a queued or old run lacks."""
    state = status.get("state", "unknown")
    epochs, finished = int(status.get("epochs", 0) or 0), int(status.get("epoch", 0) or 0)
    batches, batch = int(status.get("batches", 0) or 0), int(status.get("batch", 0) or 0)
    fraction = min(1.0, (finished + (batch / batches if batches else 0)) / epochs) if epochs else 0.0
    fraction = 1.0 if state == "finished" else fraction  # the last status may predate the final epoch's count
    active = state in ACTIVE_STATES
    running_point = None
    if active and batch and status.get("batch_loss") is not None:
        running_point = {"epoch": finished + batch / max(batches, 1), "loss": status["batch_loss"], "accuracy": status.get("batch_accuracy")}
    return RunProgress(state, min(finished + 1, epochs) if active else finished, epochs, batch, batches, fraction, running_point)


def read_history(run_dir: Path) -> list[dict]:
    """Per-epoch metrics as dicts of floats (empty before the first epoch ends); a column added after
    a row was written (``cpu_seconds`` in a run resumed across versions) is left out of that row."""
    try:
        with (run_dir / HISTORY).open(newline="") as handle:
            return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(handle)]
    except (OSError, ValueError):
        return []


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    path: Path
    state: str
    arch: str
    epochs_done: int
    epochs: int
    best_val_accuracy: float | None
    seconds_per_epoch: float | None
    sample_per_class: int
    flip_accuracy: float | None = None  # the best model's, with flip TTA; written when the run ends
    flip_zoom_accuracy: float | None = None  # the same with flip-zoom TTA (runs before it existed: None)


def summarise_run(path: Path) -> RunSummary:
    status = read_status(path)
    try:
        config = TrainConfig.load(path / "config.json")
    except FerError:
        config = TrainConfig()
    history = read_history(path)
    accuracies = [row["val_accuracy"] for row in history if "val_accuracy" in row]
    durations = [row["seconds"] for row in history if "seconds" in row]
    final = read_metrics(path)
    return RunSummary(
        run_id=path.name,
        path=path,
        state=status.get("state", "unknown"),
        arch=config.arch,
        epochs_done=len(history),
        epochs=config.epochs,
        best_val_accuracy=max(accuracies) if accuracies else None,
        seconds_per_epoch=sum(durations) / len(durations) if durations else None,
        sample_per_class=config.sample_per_class,
        flip_accuracy=final.get("accuracy_tta"),
        flip_zoom_accuracy=final.get("accuracy_flip_zoom_tta"),
    )


def list_runs() -> list[RunSummary]:
    """Every run folder, newest first."""
    root = runs_dir()
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and (p / "config.json").exists()]
    return [summarise_run(p) for p in sorted(folders, key=lambda p: p.name, reverse=True)]


# --------------------------------------------------------------------------- one run at a time


def acquire_training_lock(run_id: str, root: Path | None = None) -> int:
    """Take the training lock of ``root`` (the runs folder: one run at a time) or raise; returns the fd
    that holds it. A multi-worker run's other workers lock their own folders instead."""
    root = root or runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".train.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another run"
        os.close(fd)
        raise FerError(f"a training run is already in progress ({holder}); cancel it or wait for it to finish") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, run_id.encode(), 0)
    return fd


def create_locked_run(config: TrainConfig, name: str = "") -> tuple[Path, int]:
    """A new run folder, created only once the training lock is held (returned with its fd): a start
    refused because another run trains leaves no folder behind ('queued' forever in the runs list)."""
    config.validate()
    fd = acquire_training_lock(f"new {config.arch} run")
    try:
        run_dir = create_run(config, name)
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, run_dir.name.encode(), 0)
    return run_dir, fd


def start_new_run(config: TrainConfig, name: str = "") -> Path:
    """Create a run folder and start training it in the background; refused while another trains.

    The lock is taken before the folder exists, so a refused start leaves nothing behind.
    """
    run_dir, fd = create_locked_run(config, name)
    try:
        _spawn(run_dir, fd, resume=False)
        return run_dir
    finally:
        os.close(fd)  # the child holds its inherited copy for its whole life


def switch_precision(run_dir: Path, precision: str) -> None:
    """Record the precision a resumed run trains in from now on: the loop rebuilds the net in it
    and carries the checkpoint's weights and optimiser state over (a float32 route goes on in
    bf16, ~1.5x faster for the vgg_wide on a Xeon with AMX; a bf16 route goes on in float32 on a
    CPU without bf16 units, where bf16 is emulated), without restarting its schedule."""
    config = TrainConfig.load(run_dir / "config.json")
    if config.precision != precision:
        config.precision = precision
        with atomic_path(run_dir / "config.json") as temporary:
            temporary.write_text(config.to_json())


def resume_run(run_dir: Path, precision: str | None = None) -> int:
    """Continue a cancelled, failed or interrupted run from its last checkpoint, in the background,
    in ``precision`` from now on where one is given."""
    status = read_status(run_dir)
    if status.get("state") not in RESUMABLE_STATES:
        raise FerError(f"run {run_dir.name} is {status.get('state')}; only cancelled, failed or interrupted runs resume")
    fd = acquire_training_lock(run_dir.name)
    try:
        if precision:  # under the lock: no process of this run is training now
            switch_precision(run_dir, precision)
        return _spawn(run_dir, fd, resume=True)
    finally:
        os.close(fd)


def _spawn(run_dir: Path, lock_fd: int, *, resume: bool) -> int:
    """Start ``python -m fer_core train`` for a run folder in its own process and session.

    The child inherits the lock fd, so the check and the start are one step, and it
    outlives the Streamlit script (and a closed browser tab).
    """
    (run_dir / CANCEL).unlink(missing_ok=True)
    with (run_dir / "train.log").open("ab") as log:
        env = {**os.environ, LOCK_FD_ENV: str(lock_fd), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "fer_core", "train", "--resume" if resume else "--run", str(run_dir)]
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            pass_fds=(lock_fd,), start_new_session=True,
        )
    state = read_status(run_dir)
    state.update(state="queued", pid=process.pid, updated_at=time.time())
    state.pop("message", None)
    write_json_atomic(run_dir / STATUS, state)
    return process.pid


def request_cancel(run_dir: Path, after_epoch: bool = False) -> None:
    """Ask a run to stop; the trainer checks for the file before and between batches.

    A file rather than a signal: it works at any moment of the child's start-up (a
    signal before its handler is installed would kill it outright, losing the message)
    and it survives until the trainer has seen it. ``after_epoch`` lets the epoch in
    progress finish and be saved first: a vgg_wide epoch is 4 to 15 minutes on a CPU, which
    a plain cancel throws away, and a sitting that carries a route must stop at an epoch's
    end anyway. A plain request overrides a pending ``after_epoch``, never the reverse.
    """
    if after_epoch and cancel_request(run_dir) == CANCEL_NOW:
        return
    (run_dir / CANCEL).write_text(AFTER_EPOCH if after_epoch else CANCEL_NOW)


def wait_until_stopped(run_dir: Path, poll_seconds: float = 2.0) -> str:
    """Block until the run's process has ended and return its final state, so a script can pack
    and commit the run next (``pack`` refuses a run that is still writing)."""
    while (status := read_status(run_dir)).get("state") in ACTIVE_STATES or _pid_alive(status.get("pid")):
        time.sleep(poll_seconds)
    return status.get("state", "unknown")


def cancel_request(run_dir: Path) -> str | None:
    """``CANCEL_NOW``, ``AFTER_EPOCH`` or None; any other content (an empty file from an older
    version, or one touched by hand) means now."""
    try:
        content = (run_dir / CANCEL).read_text().strip()
    except FileNotFoundError:
        return None
    except OSError:
        return CANCEL_NOW
    return AFTER_EPOCH if content == AFTER_EPOCH else CANCEL_NOW


def delete_run(run_dir: Path) -> None:
    if read_status(run_dir).get("state") in ACTIVE_STATES:
        raise FerError(f"run {run_dir.name} is training; cancel it before deleting")
    shutil.rmtree(run_dir)


class RunLog:
    """Prints progress lines; also appends them to ``train.log`` when stdout is not already that file."""

    def __init__(self, run_dir: Path, *, stdout_is_log: bool) -> None:
        self.path = None if stdout_is_log else run_dir / "train.log"

    def __call__(self, message: str) -> None:
        print(message, flush=True)
        if self.path is not None:
            with contextlib.suppress(OSError), self.path.open("a") as handle:  # a full disk must not mask the real error
                handle.write(message + "\n")
