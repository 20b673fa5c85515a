"""Training on two workers (two processes on 127.0.0.1): one run folder, the global step count, and a
resume after a worker is killed mid-epoch that loses no finished epoch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import random_faces, write_fer_csv

from fer_core.errors import FerError
from fer_core.paths import REPO_ROOT
from fer_core.training.config import TrainConfig
from fer_core.training.multi_worker import Cluster, chief_dir, cluster_from_tf_config, parse_cluster, worker_dir
from fer_core.training.runs import read_history, read_status
from testkit.network import free_ports

pytestmark = pytest.mark.slow

TRAINING_FACES = 140
BATCH = 32  # the global batch: 16 faces a step on each of two workers


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    labels = np.tile(np.arange(7), 24)
    images = np.clip(random_faces(len(labels)) // 4 + (labels * 30)[:, None, None], 0, 255).astype(np.uint8)
    return write_fer_csv(tmp_path / "tiny.csv", images, labels, ["Training"] * TRAINING_FACES + ["PublicTest"] * 28)


def start_workers(*args: str) -> tuple[list[subprocess.Popen], str]:
    addresses = ",".join(f"127.0.0.1:{port}" for port in free_ports(2))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    processes = [
        subprocess.Popen([sys.executable, "-m", "fer_core", "train", *args, "--workers", addresses, "--worker-index", str(index)],
                         cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for index in range(2)
    ]
    return processes, addresses


def finish(processes: list[subprocess.Popen], timeout: float = 240) -> list[str]:
    outputs = []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=timeout)[0])
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise AssertionError("a worker did not finish in time") from None
    return outputs


def wait_for(condition, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s")


def new_run_args(dataset: Path, epochs: int) -> list[str]:
    return ["--data", str(dataset), "--arch", "tiny", "--epochs", str(epochs), "--batch-size", str(BATCH), "--name", "two-workers"]


def test_two_workers_train_one_run_with_the_global_batchs_step_count(tiny_dataset: Path) -> None:
    processes, addresses = start_workers(*new_run_args(tiny_dataset, 2))
    outputs = finish(processes)
    assert [process.returncode for process in processes] == [0, 0], "\n".join(output[-1500:] for output in outputs)

    run_dir = Path(os.environ["FER_RUNS_DIR"]) / "two-workers"
    assert [int(row["epoch"]) for row in read_history(run_dir)] == [1, 2]  # one history, in the chief's folder
    status = read_status(run_dir)
    assert status["state"] == "finished"
    assert status["batches"] == int(np.ceil(TRAINING_FACES / BATCH))  # the global batch's steps, not twice as many
    assert TrainConfig.load(run_dir / "config.json").workers == addresses.split(",")
    assert "worker 0 of 2" in (run_dir / "train.log").read_text()
    for name in ("checkpoint.keras", "best.keras", "metrics.json"):
        assert (run_dir / name).is_file(), name
    # The other worker kept its own files in its own folder; both saw the same synchronised epochs.
    other = worker_dir(run_dir, 1)
    assert [row["val_accuracy"] for row in read_history(other)] == [row["val_accuracy"] for row in read_history(run_dir)]
    assert not any(path.name.startswith("two-workers") and path != run_dir for path in run_dir.parent.iterdir())


def test_killing_a_worker_mid_epoch_then_restarting_both_resumes_without_losing_a_finished_epoch(tiny_dataset: Path) -> None:
    epochs = 30
    processes, addresses = start_workers(*new_run_args(tiny_dataset, epochs), "--batch-size", "8")  # many short steps
    run_dir = Path(os.environ["FER_RUNS_DIR"]) / "two-workers"
    try:
        wait_for(lambda: len(read_history(run_dir)) >= 2 and read_status(run_dir).get("batch", 0) > 0)
        processes[1].send_signal(signal.SIGKILL)  # the other worker dies mid-epoch
        try:
            processes[0].wait(timeout=20)  # the chief fails, or waits on the dead worker forever
        except subprocess.TimeoutExpired:
            processes[0].kill()
    finally:
        for process in processes:
            process.kill()
            process.communicate()
    finished = read_history(run_dir)
    assert 2 <= len(finished) < epochs

    resumed = [subprocess.Popen([sys.executable, "-m", "fer_core", "train", "--resume", str(run_dir), "--workers", addresses,
                                 "--worker-index", str(index)], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True) for index in range(2)]
    outputs = finish(resumed, timeout=300)
    assert [process.returncode for process in resumed] == [0, 0], "\n".join(output[-1500:] for output in outputs)
    history = read_history(run_dir)
    assert [int(row["epoch"]) for row in history] == list(range(1, epochs + 1))
    assert history[: len(finished)] == finished  # every epoch finished before the kill is kept as it was
    assert read_status(run_dir)["state"] == "finished"


def test_addresses_and_indices_are_checked_before_anything_starts() -> None:
    assert parse_cluster("10.0.0.1:2222, 10.0.0.2:2222", 1) == Cluster(("10.0.0.1:2222", "10.0.0.2:2222"), 1)
    for workers, index, message in [("10.0.0.1:2222", 0, "at least two"), ("a:1,b", 0, "not host:port"), ("a:1,a:1", 0, "twice"),
                                    ("a:1,b:2", None, "--worker-index"), ("a:1,b:2", 2, "between 0 and 1"), ("a:1,b:99999", 0, "not host:port")]:
        with pytest.raises(FerError, match=message):
            parse_cluster(workers, index)


def test_tf_config_as_tensorflow_documents_it_gives_the_same_cluster() -> None:
    cluster = Cluster(("h1:1", "h2:2", "h3:3"), 2)
    assert cluster_from_tf_config(cluster.tf_config()) == cluster
    assert not cluster.is_chief and Cluster(("h1:1", "h2:2"), 0).is_chief
    with pytest.raises(FerError, match="only a cluster of 'worker'"):
        cluster_from_tf_config(json.dumps({"cluster": {"chief": ["h:1"], "worker": ["h:2"]}, "task": {"type": "chief", "index": 0}}))
    with pytest.raises(FerError, match="not valid JSON"):
        cluster_from_tf_config("{not json")


def test_each_worker_has_its_own_folder_and_finds_the_chiefs(tmp_path: Path) -> None:
    cluster = Cluster(("a:1", "b:2"), 1)
    own = worker_dir(tmp_path / "run", 1)
    assert own == tmp_path / "run" / "workers" / "1" and worker_dir(tmp_path / "run", 0) == tmp_path / "run"
    assert chief_dir(own, cluster) == tmp_path / "run"


def test_the_cli_refuses_a_multi_worker_start_without_a_name_in_one_line(tiny_dataset: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "fer_core", "train", "--data", str(tiny_dataset), "--workers", "127.0.0.1:1,127.0.0.1:2",
                             "--worker-index", "0"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip() == "error: --workers needs --name: every worker's command must name the same run folder"
