"""Grad-CAM: which parts of the face drove a class.

In its HiResCAM form (Draelos & Carin, 2020): the last convolutional feature map times the
gradient of the class score at each position, summed over channels; ReLU keeps what speaks
*for* the class. Classic Grad-CAM averages each channel's gradient over positions first, which
suits heads that average the map, but these nets flatten it into a dense layer, so each
position has weights of its own: on 150 PublicTest faces the classic maps of the shipped model
came out blank (negative everywhere) for 103 faces' predicted class, these for none.
The score is the class's logit less the mean logit, recovered exactly from the softmax
output (log p_c - mean_j log p_j: the log-sum-exp cancels), since a probability saturates.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from fer_core.labels import IMAGE_SIZE
from fer_core.nets.ensemble import ensemble_members

# Layers that only shrink or mask the map the net computed: the map before them is sharper.
_PASS_THROUGH = ("Pooling2D", "Dropout", "Dropout2D")


def is_feature_map_layer(layer) -> bool:
    """A layer whose output is a feature map the net computed: 4-D, not the input's augmentation
    or rescaling, not a pooling or dropout that only shrinks or masks the map before it."""
    output = getattr(layer, "output", None)
    return (output is not None and len(output.shape) == 4 and not layer.name.startswith(("aug_", "rescale"))
            and not type(layer).__name__.endswith(_PASS_THROUGH))


def _last_feature_layer(model):
    for layer in reversed(model.layers):
        if is_feature_map_layer(layer):
            return layer
    raise ValueError("the model has no convolutional feature map")


def grad_cam(model, face: np.ndarray, class_index: int | None = None) -> np.ndarray:
    """A (48, 48) heat map in [0, 1] for one 48x48 grey face.

    An ensemble has no feature map of its own: its map is the mean of its members' maps for
    the class the ensemble predicts.
    """
    if class_index is None:
        batch = np.asarray(face, np.float32).reshape(1, IMAGE_SIZE, IMAGE_SIZE, 1)
        class_index = int(np.argmax(model(batch, training=False)[0]))
    return grad_cams(model, np.asarray(face)[None], np.array([class_index]))[0]


def grad_cams(model, faces: np.ndarray, classes: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Heat maps (n, 48, 48) in [0, 1] for many faces, each for its own class, a batch per pass.

    Batched because each eager pass has a fixed cost: for the shipped pair, one face at a time
    took 112 ms a face, a batch of 64 15 ms a face (with other work beside on 2 cores).
    """

    nets = ensemble_members(model) or [model]
    mean = np.mean([_net_cams(net, faces, classes, batch_size) for net in nets], axis=0)  # (n, 48, 48) over the nets
    return np.stack([_scaled_to_peak(heat) for heat in mean])


def _net_cams(net, faces: np.ndarray, classes: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """One single net's maps, each scaled to its own peak."""
    import keras
    import tensorflow as tf

    probe = keras.Model(net.inputs, [_last_feature_layer(net).output, net.outputs[0]])
    cams = []
    for start in range(0, len(faces), batch_size):
        batch = tf.convert_to_tensor(np.asarray(faces[start:start + batch_size], np.float32)[..., None])
        targets = tf.constant(classes[start:start + batch_size], tf.int32)
        with tf.GradientTape() as tape:
            features, probabilities = probe([batch], training=False)
            log_probabilities = tf.math.log(tf.maximum(probabilities, 1e-30))
            chosen = tf.gather(log_probabilities, targets, axis=1, batch_dims=1)
            score = chosen - tf.reduce_mean(log_probabilities, axis=1)
        gradients = tape.gradient(score, features).numpy()  # each face's score depends on its own features only
        for cam in np.maximum((features.numpy() * gradients).sum(axis=-1), 0):
            cam = np.clip(cv2.resize(cam, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_CUBIC), 0, None)  # cubic overshoots
            cams.append(_scaled_to_peak(cam))
    return cams


def class_attention(model, faces: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, *, per_class: int = 48,
                    seed: int = 0, on_progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Where the model looks when it gets each class right: per class, the mean Grad-CAM map
    (and the mean face) of up to ``per_class`` faces it classified correctly, drawn at random
    (not its most confident ones, which would show only the easiest faces).

    Each face's map is scaled to its peak first, so every face weighs the same. ``on_progress(done,
    total)`` is told after each class's maps (a few seconds in all on a CPU).
    """
    rng = np.random.default_rng(seed)
    correct = np.argmax(probabilities, axis=1) == labels
    chosen = [rng.permutation(np.flatnonzero(correct & (labels == c)))[:per_class] for c in range(len(probabilities[0]))]
    result = []
    for class_index, indices in enumerate(chosen):
        count = len(indices)
        block = grad_cams(model, faces[indices], labels[indices]) if count else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE))
        if on_progress is not None:
            on_progress(class_index + 1, len(chosen))
        result.append({
            "class": class_index, "faces": count, "correct": int((correct & (labels == class_index)).sum()),
            "heat": _scaled_to_peak(block.mean(axis=0)) if count else np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32),
            "mean_face": faces[indices].mean(axis=0) if count else np.zeros((IMAGE_SIZE, IMAGE_SIZE)),
        })
    return result


def _scaled_to_peak(heat: np.ndarray) -> np.ndarray:
    """Scaled to [0, 1]; an all-zero map (nothing speaks for the class) stays zero."""
    peak = heat.max()
    return (heat / peak).astype(np.float32) if peak > 0 else np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)


def overlay(face: np.ndarray, heat: np.ndarray, size: int = 192, strength: float = 0.45) -> np.ndarray:
    """An RGB picture of the face with the heat map on top (JET colours), upscaled for display."""
    grey = cv2.resize(face.astype(np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
    colours = cv2.applyColorMap(cv2.resize((heat * 255).astype(np.uint8), (size, size)), cv2.COLORMAP_JET)
    blended = cv2.addWeighted(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), 1 - strength, colours, strength, 0)
    return cv2.cvtColor(blended, cv2.COLOR_BGR2RGB)
