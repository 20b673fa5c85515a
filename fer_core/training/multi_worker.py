"""Training on several machines: TensorFlow's ``MultiWorkerMirroredStrategy``, one process per worker.

Every worker runs the same ``train`` command with its own index; TensorFlow connects them through
``TF_CONFIG`` (written here from ``--workers``/``--worker-index``, or taken as the deployer set it)
and keeps one copy of the weights on each, summing the gradients of every step across workers.
The configured batch is the global one: each of N workers computes ``batch_size / N`` faces a step,
so a run keeps the single-machine step count and schedule.

Folders: the chief (index 0) owns the run folder, ``<out>/<name>``, exactly as a one-machine run
does. Worker ``i`` is an ordinary run of its own in ``<out>/<name>/workers/<i>/``: the same saves at
the same moments (under this strategy a save reads variables through collectives, so every worker
must take part), on its own disk, never over the chief's files. Resuming after a worker died takes
the chief's checkpoint where a worker can read it (the same machine, or a shared disk), else its
own, which holds the same weights because every step is synchronous.

Keras 3 (3.15) does not support this strategy out of the box (keras-team/keras#20585): ``fit``
first averages a data batch across replicas just to learn its shapes, and averages each step's
scalar logs along an axis they do not have. ``_patch_keras`` replaces those two steps, only while a
multi-worker strategy is in use; the two-worker tests (``tests/test_multi_worker.py``) fail if a
Keras release changes them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from fer_core.errors import FerError

ADDRESS = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")
WORKERS_FOLDER = "workers"


@dataclass(frozen=True)
class Cluster:
    """The workers of one run, in index order, and which of them this process is."""

    workers: tuple[str, ...]
    index: int

    @property
    def is_chief(self) -> bool:
        """Worker 0 writes the run folder that the app and ``runs`` read (TensorFlow's convention)."""
        return self.index == 0

    def tf_config(self) -> str:
        """``TF_CONFIG`` as TensorFlow documents it for this worker."""
        return json.dumps({"cluster": {"worker": list(self.workers)}, "task": {"type": "worker", "index": self.index}})


def parse_cluster(workers: str, index: int | None) -> Cluster:
    """``host:port,host:port`` and this worker's index, checked before anything starts."""
    addresses = tuple(part.strip() for part in workers.split(",") if part.strip())
    bad = [address for address in addresses if not ADDRESS.match(address) or not 0 < int(address.rsplit(":", 1)[1]) < 65536]
    if bad:
        raise FerError(f"--workers: {bad[0]!r} is not host:port (give every worker as host:port, separated by commas)")
    if len(addresses) < 2:
        raise FerError("--workers needs at least two host:port addresses (one machine trains without it)")
    if len(set(addresses)) != len(addresses):
        raise FerError("--workers lists the same address twice")
    if index is None:
        raise FerError("--workers needs --worker-index (0 for the chief, then 1, 2, ... in the order of --workers)")
    if not 0 <= index < len(addresses):
        raise FerError(f"--worker-index must be between 0 and {len(addresses) - 1} for {len(addresses)} workers")
    return Cluster(addresses, index)


def cluster_from_tf_config(text: str) -> Cluster:
    """A ``TF_CONFIG`` set by the deployer (Kubernetes operators, Slurm scripts) with workers only."""
    try:
        spec = json.loads(text)
        workers, task = spec["cluster"]["worker"], spec["task"]
        if set(spec["cluster"]) - {"worker"} or task["type"] != "worker":
            raise FerError("TF_CONFIG: only a cluster of 'worker' tasks is supported (no chief, ps or evaluator tasks)")
        return parse_cluster(",".join(workers), int(task["index"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise FerError("TF_CONFIG is not valid JSON of the form {\"cluster\": {\"worker\": [...]}, \"task\": {\"type\": \"worker\", \"index\": N}}") from None


def worker_dir(run_dir: Path, index: int) -> Path:
    """Where worker ``index`` of the run whose chief writes ``run_dir`` keeps its own files."""
    return run_dir if index == 0 else run_dir / WORKERS_FOLDER / str(index)


def chief_dir(own_dir: Path, cluster: Cluster) -> Path:
    """The chief's run folder as seen from a worker's own folder (the inverse of ``worker_dir``)."""
    return own_dir if cluster.is_chief else own_dir.parent.parent


def multi_worker_strategy(cluster: Cluster):
    """The strategy for this worker; blocks until every worker has started and connected.

    It must exist before TensorFlow runs its first operation in the process (collectives are
    configured at start-up), so the training loop builds it before loading data or teachers.
    """
    os.environ["TF_CONFIG"] = cluster.tf_config()
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    _patch_keras()
    return strategy


def shard_by_data(dataset):
    """Each worker takes every N-th batch of the same shuffled sequence (seeded alike on all workers):
    in-memory faces have no files to shard by, which TensorFlow's default would try first."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _is_multi_worker(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


def _patch_keras() -> None:
    """Replace the two steps of Keras 3's TensorFlow trainer that fail under this strategy (see the module
    docstring); under any other strategy both behave exactly as before."""
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_fer_multi_worker_patch", False):
        return
    original_build = trainer.TensorFlowTrainer._maybe_symbolic_build
    original_reduce = trainer.reduce_per_replica

    def symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if strategy is None or iterator is None or not _is_multi_worker(strategy):
            return original_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:  # this worker's own first batch: only its shapes and dtypes are used
            data_batch = tree.map_structure(
                lambda value: strategy.experimental_local_results(value)[0] if isinstance(value, tf.distribute.DistributedValues) else value,
                next(batches),
            )
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction="auto"):
        if reduction in ("auto", "mean") and _is_multi_worker(strategy):
            return tree.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return original_reduce(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = symbolic_build
    trainer.reduce_per_replica = reduce_per_replica
    trainer._fer_multi_worker_patch = True
