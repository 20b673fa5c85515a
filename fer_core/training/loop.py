"""The training process: fit a model for one run folder, checkpointing every epoch.

It runs as its own OS process (``python -m fer_core train``), never in a Streamlit
script thread, and talks to the world only through its run folder (see ``runs.py``):
``status.json`` several times per epoch (batch progress, running loss, ETA), a
``history.csv`` row plus ``checkpoint.keras`` after each epoch, ``best.keras`` whenever
validation accuracy improves. Resuming reloads the checkpoint, whose optimiser state
includes the step counter, so the learning-rate schedule and epoch count carry on.

It runs on any Keras backend. Under TensorFlow it builds under a ``tf.distribute``
strategy (``MirroredStrategy`` on a machine with several GPUs, ``MultiWorkerMirroredStrategy``
across machines: ``multi_worker.py``) and feeds a ``tf.data`` pipeline; under JAX or PyTorch (a GPU machine without TensorFlow) it feeds arrays, and the
saved ``.keras`` files are the same either way.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from fer_core.data.ferplus import FerPlusVotes, load_votes_for, soft_targets, votes_for
from fer_core.data.loading import FerDataset, load_dataset
from fer_core.errors import FerError, first_line
from fer_core.evaluation.metrics import evaluate_model_on_dataset, predict_probabilities
from fer_core.files import BEST_MODEL, CHECKPOINT, HISTORY, METRICS, STATUS, atomic_path, write_json_atomic
from fer_core.labels import NUM_CLASSES
from fer_core.nets.architectures import ARCHITECTURES
from fer_core.nets.classifiers import load_classifier
from fer_core.nets.ensemble import ensemble_members
from fer_core.training.config import TrainConfig
from fer_core.training.glimpses import record_glimpse
from fer_core.training.hardware import NO_BFLOAT16_UNITS, cpu_lacks_bfloat16
from fer_core.training.lineage import write_lineage
from fer_core.training.mixup import MixupBatches, mixup_dataset
from fer_core.training.multi_worker import Cluster, chief_dir, multi_worker_strategy, shard_by_data
from fer_core.training.run_models import (
    build_configured_model,
    carry_training_state,
    copy_weights_by_name,
    float32_copy,
    save_model_atomic,
    saved_precision,
)
from fer_core.training.runs import (
    AFTER_EPOCH,
    CANCEL,
    CANCEL_NOW,
    LOCK_FD_ENV,
    RunLog,
    acquire_training_lock,
    cancel_request,
    read_history,
    read_status,
)
from fer_core.training.sittings import describe_machine, record_sitting
from fer_core.training.weight_averaging import REPORT_FILE, finish_weight_average, make_weight_averager

STATUS_INTERVAL_S = 1.0
# "seconds" is wall-clock time; "cpu_seconds" the process's CPU time over all its threads (two cores busy for
# 100 s: 200), which is what a route's CPU-hours add up (runs before it existed: wall time, trained on one core);
# "cores" the cores the process could use, "sitting" when its process started (Unix time): the rows of one sitting.
HISTORY_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds", "cpu_seconds",
                  "cores", "sitting")


class RunCancelled(Exception):
    """Raised inside ``fit`` to stop at once, without finishing the epoch."""


def stratified_sample(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of up to ``per_class`` rows of each class, chosen reproducibly."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(NUM_CLASSES)]
    return np.sort(np.concatenate(picks))


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """Inverse-frequency weights (mean 1), so rare 'disgust' counts as much as 'happy'."""
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(float)
    weights = len(labels) / (NUM_CLASSES * np.maximum(counts, 1))
    return {c: float(w) for c, w in enumerate(weights)}


def training_positions(config: TrainConfig, dataset: FerDataset) -> np.ndarray:
    """Which rows of the dataset a run fits on: its training split, or a stratified sample of it."""
    positions = np.flatnonzero(dataset.usage == config.train_split)
    if config.sample_per_class:
        positions = positions[stratified_sample(dataset.labels[positions], config.sample_per_class, config.seed)]
    return positions


def load_training_data(config: TrainConfig) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
    """(train images, labels) and (validation images, labels) as the config asks."""

    dataset = load_dataset(config.data)
    if not dataset.has_labels:
        raise FerError(f"{Path(config.data).name} has no labels; training needs emotion labels")
    train = dataset.subset(training_positions(config, dataset))
    val = dataset.split(config.val_split) if config.val_split and config.val_split in dataset.split_names else None
    if config.sample_per_class and val is not None:
        val = val.subset(stratified_sample(val.labels, max(config.sample_per_class // 4, 8), config.seed))
    pair = (train.images, train.labels)
    return pair, (val.images, val.labels) if val is not None else None


def crowd_targets(config: TrainConfig, labels: np.ndarray, log: RunLog) -> np.ndarray:
    """The FER+ targets the config asks for, for the faces ``load_training_data`` gives (same rows, same order)."""
    dataset = load_dataset(config.data)
    if config.ferplus:
        votes = load_votes_for(config.ferplus, dataset.usage)
    else:
        votes, reasons = votes_for(dataset.usage)
        if votes is None:
            raise FerError("no FER+ votes fit this dataset: " + ("; ".join(reasons) or "set FERPLUS_PATH or pass --ferplus"))
    positions = training_positions(config, dataset)
    targets, fell_back = soft_targets(FerPlusVotes(votes.votes[positions], votes.source), labels, config.labels)
    mixed = f" ({config.crowd_share:.0%} crowd, {1 - config.crowd_share:.0%} FER label)" if config.crowd_share < 1 else ""
    log(f"targets: {config.labels}{mixed} from {Path(votes.source).name}; {fell_back} of {len(labels)} faces have no FER+ label "
        "and keep their FER label")
    return (config.crowd_share * targets + (1 - config.crowd_share) * one_hot(labels)).astype(np.float32)


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels]


def training_targets(run_dir: Path, config: TrainConfig, images: np.ndarray, labels: np.ndarray, log: RunLog) -> np.ndarray:
    """(N, 7) targets: the labels one-hot, or with teachers ``teacher_weight`` of their averaged
    predictions and the rest the labels (knowledge distillation: a teacher's "this fear looks
    like surprise" carries more than the label alone). Measured here (README): a tiny net on a
    300-per-class sample gained; the full vgg's third stage, taught by the four best nets, lost
    a point, so the default model does not use it.

    The teachers see each face and its mirror image once, at the start (flip TTA: zoom views
    would triple the minutes before the first epoch for about a point more teacher accuracy);
    the predictions are kept in the run folder, so a resumed run does not redo them.
    """
    targets = one_hot(labels) if config.labels == "fer" else crowd_targets(config, labels, log)
    if not config.teachers:
        return targets
    cache = run_dir / "teacher_targets.npy"
    taught = np.load(cache) if cache.is_file() else None
    if taught is None or taught.shape != targets.shape:
        started = time.time()
        taught = np.mean([predict_probabilities(load_classifier(teacher), images, tta="flip") for teacher in config.teachers], axis=0)
        with atomic_path(cache) as temporary:
            np.save(temporary, taught.astype(np.float32))
        agreement = float((taught.argmax(1) == labels).mean())
        log(f"teachers predicted {len(images)} training faces in {time.time() - started:.0f} s; they agree with {agreement:.1%} of the labels")
    return ((1 - config.teacher_weight) * targets + config.teacher_weight * taught).astype(np.float32)


def _tf_dataset(images: np.ndarray, targets: np.ndarray, batch_size: int, *, shuffle: bool, seed: int, sharded: bool = False):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((images[..., None], targets))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
    return (shard_by_data(ds) if sharded else ds).prefetch(tf.data.AUTOTUNE)


def fit_inputs(
    train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray] | None, config: TrainConfig, *, backend: str, seed: int,
    sharded: bool = False,
) -> dict:
    """``model.fit`` data arguments for the Keras backend in use: ``train`` is (faces, (N, 7)
    targets), ``val`` (faces, labels). ``sharded``: several workers share each batch (``multi_worker``).

    TensorFlow gets a ``tf.data`` pipeline (it overlaps batching with training on the CPU).
    JAX or PyTorch, e.g. on a GPU machine that has no TensorFlow, get float arrays
    that Keras shuffles and batches itself: the same model, loss and schedule, so a model
    trained there is the same kind of ``.keras`` file and loads here unchanged.
    """
    val = (val[0], one_hot(val[1])) if val else None
    if config.mixup:
        batches = MixupBatches(*train, config.batch_size, config.mixup, seed=seed)
        train_inputs = {"x": mixup_dataset(batches), "shuffle": False}  # it shuffles itself, a new order each epoch
    elif backend == "tensorflow":
        # The pipeline shuffles; Keras' default shuffle=True only earns a warning.
        train_inputs = {"x": _tf_dataset(*train, config.batch_size, shuffle=True, seed=seed, sharded=sharded), "shuffle": False}
    else:
        train_inputs = {"x": _channel_last(train[0]), "y": train[1], "batch_size": config.batch_size, "shuffle": True}
    if backend == "tensorflow":
        val_inputs = {"validation_data": _tf_dataset(*val, 512, shuffle=False, seed=0, sharded=sharded) if val else None}
    else:
        val_inputs = {"validation_data": (_channel_last(val[0]), val[1]) if val else None, "validation_batch_size": 512}
    return train_inputs | val_inputs


def _channel_last(images: np.ndarray) -> np.ndarray:
    return images[..., None].astype(np.float32)


def _gpu_count() -> int:
    import tensorflow as tf

    return len(tf.config.list_logical_devices("GPU"))


def _distribution_scope(backend: str, cluster: Cluster | None):
    """Several workers: one replica each (built first: see ``multi_worker_strategy``); several GPUs
    under TensorFlow: mirror the model on each; otherwise no strategy."""
    if cluster is not None:
        if backend != "tensorflow":
            raise FerError(f"training on several workers needs Keras on TensorFlow, not {backend}")
        return multi_worker_strategy(cluster).scope()
    if backend != "tensorflow":
        return contextlib.nullcontext()
    import tensorflow as tf

    return (tf.distribute.MirroredStrategy() if _gpu_count() > 1 else tf.distribute.get_strategy()).scope()


def jit_on_jax(model) -> None:
    """On JAX, have Keras jit the training step although the augmentation says it cannot.

    Keras marks RandomZoom/RandomTranslation as not XLA-safe (a TensorFlow limit), which on
    JAX leaves the whole step un-jitted: op by op, ~3.3 s a batch of 128 here. JAX's own
    versions of those ops compile. Needed before compiling, and again on a model loaded
    from a checkpoint (the flags are not saved).
    """
    import keras

    if keras.backend.backend() != "jax":
        return
    for layer in model.layers:
        layer.supports_jit = True
    if model.compiled:
        model.jit_compile = True


def compile_model(model, config: TrainConfig, steps_per_epoch: int) -> None:
    import keras

    if config.schedule == "cosine":
        warmup = steps_per_epoch if config.epochs > 1 else 0
        learning_rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate / 10 if warmup else config.learning_rate,
            decay_steps=max(1, steps_per_epoch * config.epochs - warmup),
            alpha=0.01,
            warmup_target=config.learning_rate if warmup else None,
            warmup_steps=warmup,
        )
    else:
        learning_rate = config.learning_rate
    optimisers = {
        "adam": lambda: keras.optimizers.Adam(learning_rate),
        "adamw": lambda: keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay),
        "sgd": lambda: keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True),
    }
    jit_on_jax(model)
    model.compile(
        optimizer=optimisers[config.optimiser](),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )


def estimate_eta(recent_batch_seconds: list[float], epoch_seconds: list[float], *, batches_left: int,
                 steps_per_epoch: int, epochs_left: int) -> float | None:
    """Seconds left: this epoch at the recent batch pace, later epochs at the pace of the last
    whole ones of this sitting (a route carried to another machine runs at its pace, not the last
    one's: 490 s an epoch on one EPYC, 215 s on the next, and the ETA was twice too long).

    Projecting every remaining epoch from the last ~50 batches (as before) made the Train page's
    ETA jump from 1 h 00 to 1 h 50 within one epoch when something else briefly took the CPU;
    whole epochs (validation and saving included) average such moments out.
    """
    if len(recent_batch_seconds) < 3:  # the first batches include graph tracing: no ETA until a few real ones are timed
        return None
    per_batch = float(np.median(recent_batch_seconds))
    per_epoch = float(np.median(epoch_seconds[-3:])) if epoch_seconds else steps_per_epoch * per_batch * 1.1  # +10 %: validation, saving
    return batches_left * per_batch * 1.1 + epochs_left * per_epoch


def _current_learning_rate(model) -> float:
    import keras

    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def refuse_broken_losses(epoch: int, logs: dict, last_saved: int, hint: str = "") -> None:
    """Stop a run whose epoch ended with a loss that is not a number, before that epoch is saved.

    A NaN training loss means NaN weights, which would overwrite the last good checkpoint; a NaN
    validation loss (the net predicting NaN while it still trains) leaves accuracy at chance, so the
    run can no longer choose its best epoch. Seen here: bf16 under JAX on this CPU (XLA:CPU), where
    a jitted vgg predicts NaN from its first step; Keras went on for every epoch without a word.
    """
    broken = [name for name in ("loss", "val_loss") if name in logs and not np.isfinite(float(logs[name]))]
    if broken:
        which = "training" if broken[0] == "loss" else "validation"
        kept = f"epoch {last_saved}'s checkpoint is kept" if last_saved else "no epoch was saved"
        raise FerError(f"epoch {epoch}: the {which} loss is not a number ({float(logs[broken[0]])}); stopped, {kept}{hint}")


def _make_monitor(run_dir: Path, config: TrainConfig, steps_per_epoch: int, stop_flag: dict, started: float, log: RunLog,
                  val: tuple[np.ndarray, np.ndarray] | None = None):
    """A Keras callback that reports progress, saves every epoch, classifies the watched
    validation faces (``fer_core.training.glimpses``) and honours cancel requests."""
    import keras

    class RunMonitor(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.history = read_history(run_dir)
            self.best = max((row["val_accuracy"] for row in self.history if "val_accuracy" in row), default=-1.0)
            self.last_write = 0.0
            self.batch_seconds: list[float] = []
            off_tensorflow = config.precision == "bfloat16" and keras.backend.backend() != "tensorflow"
            self.hint = "; bf16 off TensorFlow did this here: train with --precision float32" if off_tensorflow else ""

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch_start = self.batch_start = time.time()
            self.epoch_cpu_start = time.process_time()
            self.epoch = epoch

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            now = time.time()
            self.batch_seconds = ([*self.batch_seconds, now - self.batch_start])[-50:]
            self.batch_start = now
            if stop_flag.get("reason") or cancel_request(run_dir) == CANCEL_NOW:
                raise RunCancelled(stop_flag.get("reason") or "cancelled by the user")
            if config.time_limit_minutes and now - started > config.time_limit_minutes * 60:
                raise RunCancelled(f"stopped after the {config.time_limit_minutes:g}-minute time limit")
            if now - self.last_write >= STATUS_INTERVAL_S or batch + 1 == steps_per_epoch:
                self.last_write = now
                self._status(
                    "running",
                    batch=batch + 1,
                    batch_loss=float((logs or {}).get("loss", np.nan)),
                    batch_accuracy=float((logs or {}).get("accuracy", np.nan)),
                    learning_rate=_current_learning_rate(self.model),
                    eta_s=estimate_eta(self.batch_seconds, [row["seconds"] for row in self.history if row.get("sitting") == started],
                                       batches_left=steps_per_epoch - batch - 1, steps_per_epoch=steps_per_epoch,
                                       epochs_left=config.epochs - self.epoch - 1),
                )

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            refuse_broken_losses(epoch + 1, logs, len(self.history), self.hint)
            row = {"epoch": epoch + 1, "learning_rate": _current_learning_rate(self.model), "seconds": time.time() - self.epoch_start,
                   "cpu_seconds": time.process_time() - self.epoch_cpu_start, "cores": len(os.sched_getaffinity(0)),
                   "sitting": started}
            row.update({k: float(logs[k]) for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in logs})
            save_model_atomic(self.model, run_dir / CHECKPOINT)
            if row.get("val_accuracy", row.get("accuracy", 0.0)) > self.best:
                self.best = row.get("val_accuracy", row.get("accuracy", 0.0))
                save_model_atomic(float32_copy(self.model, config), run_dir / BEST_MODEL)
            self.history.append(row)
            _write_history(run_dir, self.history)
            log(" ".join(f"{k}={v:.4g}" for k, v in row.items()))
            if val is not None and len(val[0]):
                try:
                    record_glimpse(run_dir, lambda faces: keras.ops.convert_to_numpy(self.model(faces, training=False)), *val, epoch + 1)
                except OSError as exc:  # a picture for the page, never a reason to stop training
                    log(f"could not record the watched faces: {exc}")
            self._status("running", batch=0, best_val_accuracy=self.best)
            if cancel_request(run_dir) == AFTER_EPOCH:  # saved above; the weight averager still sees this epoch
                stop_flag["after_epoch"] = epoch + 1
                self.model.stop_training = True

        def _status(self, state: str, **extra: float) -> None:
            payload = read_status(run_dir)
            payload.update(
                state=state, epoch=len(self.history), epochs=config.epochs, batches=steps_per_epoch,
                pid=os.getpid(), updated_at=time.time(), **extra,
            )
            write_json_atomic(run_dir / STATUS, payload)

    return RunMonitor()


def _write_history(run_dir: Path, history: list[dict]) -> None:
    with atomic_path(run_dir / HISTORY) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(history)


def _set_status(run_dir: Path, state: str, **extra: object) -> None:
    payload = read_status(run_dir)
    payload.update(state=state, pid=os.getpid(), updated_at=time.time(), **extra)
    write_json_atomic(run_dir / STATUS, payload)


def _record_final_state(run_dir: Path, state: str, log: RunLog, **extra: object) -> None:
    """Best effort: with a full disk even status.json may not be writable; then the log says so."""
    try:
        _set_status(run_dir, state, **extra)
    except OSError as exc:
        log(f"could not write status.json ({exc}); the run is {state}")


def train_run(run_dir: Path, *, resume: bool = False, lock_fd: int | None = None, worker_index: int = 0) -> str:
    """Train (or resume) the run in ``run_dir`` to completion, cancel or failure; returns the final state.

    A multi-worker run (``config.workers``) is trained by one such call per worker, each with its
    index and its own folder (``multi_worker.worker_dir``).

    Holds the one-run-at-a-time lock for its whole life: inherited from the starter
    when launched by ``runs.start_new_run`` / ``runs.resume_run``, passed in by a caller that
    took it before creating the run (``runs.create_locked_run``), else taken here.
    """
    inherited = os.environ.pop(LOCK_FD_ENV, None)
    if lock_fd is None:
        lock_fd = int(inherited) if inherited else acquire_training_lock(run_dir.name)
    stop_flag: dict = {}
    signal.signal(signal.SIGTERM, lambda *_: stop_flag.update(reason="cancelled by the user"))
    if not inherited:
        (run_dir / CANCEL).unlink(missing_ok=True)  # a started child's starter already did this
    log = RunLog(run_dir, stdout_is_log=bool(inherited))
    try:
        return _train(run_dir, resume, stop_flag, log, worker_index)
    finally:
        os.close(lock_fd)
        if (keras := sys.modules.get("keras")) is not None:  # a bf16 run's policy is process-wide: give the caller float32 back
            keras.mixed_precision.set_global_policy("float32")


def _train(run_dir: Path, resume: bool, stop_flag: dict, log: RunLog, worker_index: int) -> str:
    started = time.time()
    try:
        config = TrainConfig.load(run_dir / "config.json")
        cluster = Cluster(tuple(config.workers), worker_index) if config.workers else None
        if resume and cluster is not None and not cluster.is_chief:
            _take_chiefs_state(run_dir, chief_dir(run_dir, cluster), log)
        checkpoint = run_dir / CHECKPOINT
        config.validate(from_checkpoint=resume and checkpoint.exists())
        _set_status(run_dir, "running", message="loading data" if cluster is None else "waiting for every worker", batch=0)

        # Read when TensorFlow loads, just below. TensorFlow turns oneDNN on by itself only on CPUs
        # with AVX-512's neural-network instructions: on an AMD EPYC with AVX2 it stays off, and a
        # vgg_wide batch took 3.75 s there against 2.0 s with it on. Off for nets whose oneDNN backward corrupts the heap.
        if ARCHITECTURES[config.arch].train_without_onednn:
            os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
        else:
            os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
        import keras

        backend = keras.backend.backend()
        scope = _distribution_scope(backend, cluster)  # a multi-worker strategy must exist before any TensorFlow op
        keras.utils.set_random_seed(config.seed)
        (x_train, y_train), val = load_training_data(config)
        if config.teachers:
            _set_status(run_dir, "running", message=f"the teachers are predicting {len(x_train)} training faces", batch=0)
        targets = training_targets(run_dir, config, x_train, y_train, log)  # teachers run float32, as saved
        keras.mixed_precision.set_global_policy("mixed_bfloat16" if config.precision == "bfloat16" else "float32")
        gpus = _gpu_count() if backend == "tensorflow" else 0  # for the bf16 warning and the sitting's machine
        if config.precision == "bfloat16" and cpu_lacks_bfloat16() and backend == "tensorflow" and not gpus:
            remedy = f"train --resume {run_dir} --precision float32 (weights and optimiser state carry over)" if resume else "train with --precision float32"
            log(f"warning: {NO_BFLOAT16_UNITS} Cancel and {remedy}.")
        steps = int(np.ceil(len(x_train) / config.batch_size))
        history = read_history(run_dir) if resume else []
        with scope:
            if resume and checkpoint.exists():
                model = keras.models.load_model(checkpoint, safe_mode=True)
                jit_on_jax(model)
                if (saved := saved_precision(model)) != config.precision:
                    trained, model = model, build_configured_model(config)
                    compile_model(model, config, steps)
                    carry_training_state(trained, model)
                    log(f"precision {saved} -> {config.precision} from epoch {len(history) + 1}: weights and optimiser state carried")
            else:
                history = []
                model = build_configured_model(config)
                if config.init_from:  # same weights, this config's dropout/augmentation, fresh schedule

                    source = load_classifier(config.init_from)
                    if ensemble_members(source):
                        raise FerError(f"{Path(config.init_from).name} is an ensemble; start from one of its members' models instead")
                    copied = copy_weights_by_name(source, model)
                    write_lineage(run_dir, config)
                    log(f"started from {Path(config.init_from).name}: {copied} layers' weights copied")
                compile_model(model, config, steps)
        if not resume:
            _write_history(run_dir, [])
        initial_epoch = len(history)
        if stop_flag.get("reason") or cancel_request(run_dir):  # no epoch under way: either request stops it here
            raise RunCancelled(stop_flag.get("reason") or "cancelled by the user")
        if initial_epoch >= config.epochs:
            _finish_weight_average(run_dir, config, x_train, val, log)  # in case it was killed while averaging
            _set_status(run_dir, "finished", epoch=initial_epoch, message="already complete")
            return "finished"
        _set_status(run_dir, "running", message="", epoch=initial_epoch, epochs=config.epochs, batches=steps, started_at=started)
        workers = f", worker {worker_index} of {len(config.workers)}" if config.workers else ""
        onednn = ""
        if backend == "tensorflow":  # a timing is only comparable with one under the same setting
            onednn = " (oneDNN on)" if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1" else " (oneDNN off)"
        machine = describe_machine(len(os.sched_getaffinity(0)), config.precision, backend + onednn, gpus)
        record_sitting(run_dir, started, machine)
        log(f"training {config.arch} on {len(x_train)} faces{workers}: {machine}, epochs {initial_epoch + 1}..{config.epochs}")
        callbacks = [_make_monitor(run_dir, config, steps, stop_flag, started, log, val)]
        if config.swa_epochs:
            callbacks.append(make_weight_averager(run_dir, config, initial_epoch, log))  # after the checkpoint
        model.fit(
            **fit_inputs((x_train, targets), val, config, backend=backend, seed=config.seed + initial_epoch, sharded=cluster is not None),
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            class_weight=class_weights(y_train) if config.class_weighting else None,
            callbacks=callbacks,
            verbose=0,
        )
        if (stopped_after := stop_flag.get("after_epoch")) and stopped_after < config.epochs:
            raise RunCancelled(f"stopped after epoch {stopped_after}, as asked")
        _finish_weight_average(run_dir, config, x_train, val, log)
    except RunCancelled as stop:
        _record_final_state(run_dir, "cancelled", log, message=str(stop), eta_s=None)
        log(f"cancelled: {stop}")
        return "cancelled"
    except Exception as exc:  # noqa: BLE001 - any failure must end up in status.json, not vanish
        message = first_line(exc, limit=300)
        log(f"failed: {message}")
        if not isinstance(exc, FerError):
            log(traceback.format_exc())  # the full trace goes to train.log; the status gets one line
        _record_final_state(run_dir, "failed", log, message=message, eta_s=None)
        raise FerError(f"training failed: {message}") from None
    _set_status(run_dir, "finished", message="", eta_s=0, finished_at=time.time())
    _write_final_metrics(run_dir, config, log)
    return "finished"


def _take_chiefs_state(own_dir: Path, chief: Path, log: RunLog) -> None:
    """A worker resuming takes the chief's checkpoint and history when it can read them: its own may be
    an epoch behind if it died between the chief's save and its own, and every worker must start
    from the same epoch or the first collective never matches up."""
    if not (chief / CHECKPOINT).is_file() or chief.resolve() == own_dir.resolve():
        return
    with atomic_path(own_dir / CHECKPOINT) as temporary:
        shutil.copyfile(chief / CHECKPOINT, temporary)
    _write_history(own_dir, read_history(chief))
    log(f"resuming from the chief's checkpoint in {chief}")


def _finish_weight_average(run_dir: Path, config: TrainConfig, train_images: np.ndarray,
                           val: tuple[np.ndarray, np.ndarray] | None, log: RunLog) -> None:
    """With ``swa_epochs``, build and score the weight average unless a resume after the end finds it done."""
    if not config.swa_epochs:
        return

    if (run_dir / REPORT_FILE).exists():
        return
    _set_status(run_dir, "running", message="averaging the last epochs' weights", eta_s=None)
    finish_weight_average(run_dir, config, train_images, val, log)


def _write_final_metrics(run_dir: Path, config: TrainConfig, log: RunLog) -> None:
    """Evaluate the best model on the validation split so the runs table has honest numbers."""
    import keras

    best = run_dir / BEST_MODEL
    if not best.exists() or not config.val_split:
        return
    try:
        (_, _), val = load_training_data(config)
        if val is None:
            return
        model = load_classifier(best)
        report = evaluate_model_on_dataset(model, *val, tta=True)
        report["split"] = config.val_split
        report["backend"] = keras.backend.backend()  # how to repeat the run (JAX on a GPU machine, say)
        write_json_atomic(run_dir / METRICS, report)
    except FerError as exc:
        log(f"final evaluation skipped: {exc}")
