"""The networks a training run builds, copies and saves.

Shared by the training loop and weight averaging (which rebuilds the run's net to hold the
average): one place, so both build the same net from the same config.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_core.errors import FerError
from fer_core.files import atomic_path
from fer_core.nets.architectures import build_model
from fer_core.training.config import TrainConfig


def copy_weights_by_name(source, target) -> int:
    """Copy weights layer by layer, matched by name, into a freshly built ``target``.

    Loading the old model whole would also keep its dropout rates and augmentation; building
    the net from the config and copying weights lets a continued run loosen regularisation.
    Refuses (rather than silently training from scratch) when any weighted layer is missing
    or shaped differently, e.g. a model of another architecture.
    """
    sources = {layer.name: layer for layer in source.layers}
    copied = 0
    for layer in target.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        donor = sources.get(layer.name)
        donor_weights = donor.get_weights() if donor is not None else []
        if [np.shape(w) for w in donor_weights] != [np.shape(w) for w in weights]:
            raise FerError(
                f"the model to start from does not match architecture {target.name!r} (layer {layer.name!r} differs)"
            )
        layer.set_weights(donor_weights)
        copied += 1
    return copied


def build_configured_model(config: TrainConfig):
    """The config's network, freshly initialised, with its augmentation, dropout and erasing:
    one place, so a new training knob cannot reach the trained net but not its float32 copy."""

    return build_model(config.arch, augment=config.augment, dropout=config.dropout, erasing=config.erasing)


def build_float32_model(config: TrainConfig):
    """The config's network with float32 layers, whatever the run's precision policy: saved
    models (``best.keras``, a weight average) are float32, since Evaluate, publish, TFLite
    export and Live load them, and a bf16 layer there would run slower and quantise differently
    from what was measured."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        return build_configured_model(config)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def float32_copy(model, config: TrainConfig):
    """The model rebuilt with float32 layers and the same weights, and without the optimizer.

    Always a fresh, uncompiled net, even for a float32 run: saving the live compiled model
    would write its optimizer state too (AdamW's two moments triple ``best.keras``: 42.5 MB
    instead of 14.3 MB for vgg_wide), which nothing that loads the best model uses and which
    a route would carry in ``models/wip/`` for nothing. Mixed-precision weights are float32 already.
    """
    copy = build_float32_model(config)
    copy.set_weights(model.get_weights())
    return copy


def saved_precision(model) -> str:
    """The precision a loaded model trains in: Keras saves each layer's dtype policy, so a
    checkpoint reloads in the precision it was saved in, whatever the run's config says now.
    Read from the layers with weights: the input layer takes the global policy on load."""
    weighted = [layer for layer in model.layers if layer.weights]
    return "bfloat16" if any(layer.dtype_policy.name == "mixed_bfloat16" for layer in weighted) else "float32"


def carry_training_state(trained, model) -> None:
    """Give the compiled ``model`` the weights and optimiser state of ``trained``, the same net
    built under another precision policy: a route switches precision mid-schedule without
    restarting it (the step counter drives the schedule; AdamW's moments are float32 in both).

    Refuses, rather than carrying on with a silently reset optimiser, when the states differ.
    """
    model.set_weights(trained.get_weights())
    model.optimizer.build(model.trainable_variables)
    old, new = trained.optimizer.variables, model.optimizer.variables
    if [tuple(v.shape) for v in old] != [tuple(v.shape) for v in new]:
        raise FerError("the checkpoint's optimiser state does not fit this run's optimiser; resume it in its own precision")
    for target, source in zip(new, old, strict=True):
        target.assign(source)


def save_model_atomic(model, path: Path) -> None:
    """Keras writes in place; a kill mid-write must not destroy the previous file."""
    with atomic_path(path) as temporary:
        model.save(temporary)
