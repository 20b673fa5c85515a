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

import cv2
import numpy as np

from fer_core.labels import IMAGE_SIZE

# Layers that only shrink or mask the map the net computed: the map before them is sharper.
_PASS_THROUGH = ("Pooling2D", "Dropout", "Dropout2D")


def _last_feature_layer(model):
    for layer in reversed(model.layers):
        output = getattr(layer, "output", None)
        if (output is not None and len(output.shape) == 4 and not layer.name.startswith(("aug_", "rescale"))
                and not type(layer).__name__.endswith(_PASS_THROUGH)):
            return layer
    raise ValueError("the model has no convolutional feature map")


def grad_cam(model, face: np.ndarray, class_index: int | None = None) -> np.ndarray:
    """A (48, 48) heat map in [0, 1] for one 48x48 grey face.

    An ensemble has no feature map of its own: its map is the mean of its members' maps for
    the class the ensemble predicts.
    """
    import keras
    import tensorflow as tf

    from fer_core.ensemble import ensemble_members

    members = ensemble_members(model)
    if members:
        if class_index is None:
            batch = np.asarray(face, np.float32).reshape(1, IMAGE_SIZE, IMAGE_SIZE, 1)
            class_index = int(np.argmax(model(batch, training=False)[0]))
        return _scaled_to_peak(np.mean([grad_cam(member, face, class_index) for member in members], axis=0))
    layer = _last_feature_layer(model)
    probe = keras.Model(model.inputs, [layer.output, model.outputs[0]])
    batch = tf.convert_to_tensor(np.asarray(face, np.float32).reshape(1, IMAGE_SIZE, IMAGE_SIZE, 1))
    with tf.GradientTape() as tape:
        features, probabilities = probe(batch, training=False)
        target = int(np.argmax(probabilities[0])) if class_index is None else class_index
        log_probabilities = tf.math.log(tf.maximum(probabilities, 1e-30))
        score = log_probabilities[:, target] - tf.reduce_mean(log_probabilities, axis=1)
    gradients = tape.gradient(score, features)[0].numpy()
    cam = np.maximum((features[0].numpy() * gradients).sum(axis=-1), 0)
    cam = np.clip(cv2.resize(cam, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_CUBIC), 0, None)  # cubic overshoots
    return _scaled_to_peak(cam)


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
