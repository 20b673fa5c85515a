"""Stochastic weight averaging (SWA, Izmailov et al. 2018): one net whose weights are the mean
of the last epochs' weights.

Averaging the points that SGD visits around a minimum lands nearer its flat centre, which
tends to generalise better, like an ensemble of those epochs but at the cost of one net:
what Live's 3 ms budget can afford. A run with ``swa_epochs`` keeps the running mean in its
folder (``swa_weights.npz``, so a resumed run carries on averaging), and at the end builds
the averaged net, recomputes its batch-norm statistics (a mean of weights is not matched by
any epoch's running statistics: member 1's average scored 65.20 % with the last epoch's and
65.51 % with recomputed ones on PublicTest), scores it beside the best epoch on the
validation split and keeps whichever is better as ``best.keras`` (a replaced best epoch is
kept as ``best_epoch.keras``). ``swa.keras`` and ``swa.json`` keep the average and both scores
either way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from fer_core.errors import FerError
from fer_core.evaluation.metrics import predict_probabilities
from fer_core.files import BEST_MODEL, atomic_path, write_json_atomic
from fer_core.nets.classifiers import load_classifier
from fer_core.training.config import TrainConfig
from fer_core.training.run_models import build_float32_model, save_model_atomic
from fer_core.training.runs import RunLog

STATE_FILE = "swa_weights.npz"
MODEL_FILE = "swa.keras"
REPORT_FILE = "swa.json"
BEST_EPOCH_FILE = "best_epoch.keras"  # the best epoch's model, when the average replaced it as best.keras


def first_averaged_epoch(config: TrainConfig) -> int:
    """0-based index of the first epoch whose weights enter the mean."""
    return config.epochs - config.swa_epochs


def _trainable_arrays(model) -> list[np.ndarray]:
    import keras

    return [np.asarray(keras.ops.convert_to_numpy(variable), np.float64) for variable in model.trainable_variables]


class RunningMean:
    """The mean of the weights folded in so far, stored in the run folder after every fold."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.means: list[np.ndarray] = []
        if path.exists():
            try:
                with np.load(path) as stored:
                    self.count = int(stored["count"])
                    self.means = [stored[f"w{i}"] for i in range(len(stored.files) - 1)]
            except (OSError, ValueError, KeyError) as exc:
                raise FerError(f"{path.name}: the stored weight average is unreadable ({exc})") from None

    def fold_in(self, weights: list[np.ndarray]) -> None:
        if self.means and [w.shape for w in weights] != [m.shape for m in self.means]:
            raise FerError(f"{self.path.name} was averaged over another architecture")
        self.count += 1
        self.means = [w.copy() for w in weights] if self.count == 1 else [
            mean + (w - mean) / self.count for mean, w in zip(self.means, weights, strict=True)
        ]
        with atomic_path(self.path) as temporary:
            np.savez(temporary, count=self.count, **{f"w{i}": mean for i, mean in enumerate(self.means)})


def make_weight_averager(run_dir: Path, config: TrainConfig, initial_epoch: int, log: RunLog):
    """A Keras callback that folds each averaged epoch's weights into the run's running mean.

    It runs after the monitor has saved the epoch's checkpoint, so a kill between the two
    leaves the mean one epoch short with that epoch's weights in the checkpoint: a resume
    folds the checkpoint in first.
    """
    import keras

    first = first_averaged_epoch(config)

    class WeightAverager(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self.mean = RunningMean(run_dir / STATE_FILE)
            expected = max(0, initial_epoch - first)
            if self.mean.count < expected:
                self.mean.fold_in(_trainable_arrays(self.model))
                log(f"weight average: epoch {initial_epoch}'s checkpoint folded in on resume")

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if epoch >= first:
                self.mean.fold_in(_trainable_arrays(self.model))

    return WeightAverager()


def recompute_batch_norm_statistics(model, images: np.ndarray, batch_size: int = 128) -> None:
    """Set every batch-norm layer's moving mean and variance to their mean over ``images``,
    seen as in training (augmentation and dropout on), one batch at a time.

    The layers blend each batch in with weight ``1 - momentum``; a momentum of k/(k+1) at the
    k-th batch (0 at the first) makes that blend an equal-weight mean. Eager calls, so the
    layers read the momentum as it is set (a traced function would freeze it).
    """
    import keras

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms or not len(images):
        return
    saved = [layer.momentum for layer in norms]
    try:
        for k, start in enumerate(range(0, len(images), batch_size)):
            for layer in norms:
                layer.momentum = k / (k + 1)
            model(images[start : start + batch_size, ..., None].astype(np.float32), training=True)
    finally:
        for layer, momentum in zip(norms, saved, strict=True):
            layer.momentum = momentum


def _accuracy(model, val: tuple[np.ndarray, np.ndarray]) -> float:
    return float(np.mean(predict_probabilities(model, val[0]).argmax(axis=1) == val[1]))


def read_weight_average(run_dir: Path) -> dict | None:
    """The run's ``swa.json`` (which epochs were averaged, both scores, which was kept), if any."""
    try:
        report = json.loads((run_dir / REPORT_FILE).read_text())
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and "epochs" in report else None


def finish_weight_average(run_dir: Path, config: TrainConfig, train_images: np.ndarray,
                          val: tuple[np.ndarray, np.ndarray] | None, log: RunLog) -> None:
    """Build the averaged net, keep it as ``best.keras`` if it scores better, report in ``swa.json``."""

    mean = RunningMean(run_dir / STATE_FILE)
    if not mean.count:
        return
    averaged = build_float32_model(config)
    for variable, value in zip(averaged.trainable_variables, mean.means, strict=True):
        variable.assign(value.astype(np.float32))
    recompute_batch_norm_statistics(averaged, train_images)
    save_model_atomic(averaged, run_dir / MODEL_FILE)
    first = first_averaged_epoch(config)
    report: dict = {"epochs": [first + 1, first + mean.count], "kept_as_best": True}
    best = run_dir / BEST_MODEL
    if val is not None and best.exists():
        report["val_accuracy"] = _accuracy(averaged, val)
        report["best_epoch_val_accuracy"] = _accuracy(load_classifier(best), val)
        report["kept_as_best"] = report["val_accuracy"] > report["best_epoch_val_accuracy"]
    if report["kept_as_best"]:
        if best.exists():
            os.replace(best, run_dir / BEST_EPOCH_FILE)
        save_model_atomic(averaged, best)
    write_json_atomic(run_dir / REPORT_FILE, report)
    scores = (f": {report['val_accuracy']:.2%} on {config.val_split} against the best epoch's "
              f"{report['best_epoch_val_accuracy']:.2%}" if "val_accuracy" in report else "")
    log(f"weight average of epochs {report['epochs'][0]}-{report['epochs'][1]}{scores}; "
        f"{'kept' if report['kept_as_best'] else 'not kept'} as best.keras")
