"""Grad-CAM: which parts of the face drove the predicted class.

Gradients of the class score with respect to the last convolutional feature map,
averaged per channel, weight that map; ReLU keeps what speaks *for* the class.
"""

from __future__ import annotations

import cv2
import numpy as np

from fer_core.labels import IMAGE_SIZE


def _last_feature_layer(model):
    for layer in reversed(model.layers):
        shape = getattr(layer, "output", None)
        if shape is not None and len(layer.output.shape) == 4 and not layer.name.startswith(("aug_", "rescale")):
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
        score = probabilities[:, target]
    gradients = tape.gradient(score, features)[0].numpy()
    weights = gradients.mean(axis=(0, 1))
    cam = np.maximum((features[0].numpy() * weights).sum(axis=-1), 0)
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
