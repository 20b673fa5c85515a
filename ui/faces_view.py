"""How classified faces are shown everywhere: crop, Grad-CAM, probability bars, downloads, a run's watched faces."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import cv2
import numpy as np
import streamlit as st

from fer_core import charts
from fer_core.explain.feature_maps import feature_maps, maps_strip
from fer_core.explain.gradcam import grad_cam, overlay
from fer_core.inference.captures import faces_table, png_bytes
from fer_core.inference.predictor import FaceResult
from fer_core.labels import CLASS_NAMES
from fer_core.training.glimpses import Glimpses


def face_report(face: FaceResult, load_model: Callable[[], object] | None, key: str, title: str = "") -> None:
    """Crop | Grad-CAM | bars for one face. Grad-CAM needs the full Keras network, whose TensorFlow
    costs the server about 770 MB: it is loaded (``load_model``) only when the visitor asks to see
    where the model looked, which keeps a photo's answer within the hosted demo's memory."""
    cols = st.columns([1, 1, 2])
    cols[0].image(cv2.resize(face.crop, (144, 144), interpolation=cv2.INTER_NEAREST), caption=title or "model input (48×48)")
    cols[2].plotly_chart(charts.probability_bars(face.probabilities, height=230), key=f"{key}_bars")
    if load_model is None or not cols[1].toggle("Where it looked", key=f"{key}_gradcam",
                                                help="Grad-CAM: the parts of the face the network took as evidence for its "
                                                     "answer (loads the full network: a few seconds the first time)."):
        return
    model = load_model()
    _grad_cam_image(cols[1], model, face.crop, None, f"Grad-CAM for '{face.label}'")
    network_view(model, face.crop, key)


def inspect_face(face: np.ndarray, probabilities: np.ndarray, true_label: int, model, key: str) -> None:
    """A dataset face | Grad-CAM for the predicted class | Grad-CAM for the true one | bars.

    Two maps side by side show what the net took as evidence for its answer and where it looked
    for the right one; a correct answer needs only its own map.
    """
    predicted = int(np.argmax(probabilities))
    roles = [(predicted, "predicted")] + ([(true_label, "true")] if true_label != predicted else [])
    cols = st.columns([1, 1, 1, 2])
    cols[0].image(cv2.resize(face, (144, 144), interpolation=cv2.INTER_NEAREST), caption=f"true: {CLASS_NAMES[true_label]}")
    for column, (label, role) in zip(cols[1:3], roles, strict=False):
        _grad_cam_image(column, model, face, label, f"Grad-CAM for '{CLASS_NAMES[label]}' ({role})")
    cols[3].plotly_chart(charts.probability_bars(probabilities, height=230), key=f"{key}_bars")
    network_view(model, face, key)


def network_view(model, face: np.ndarray, key: str) -> None:
    """The face's most active feature maps, block by block, when asked for (a probe model and a
    forward pass: ~30 ms for the shipped model, too much to spend on every face unasked)."""
    if not st.toggle("Inside the network", key=f"{key}_inside",
                     help="What each block of the CNN computes for this face: the channels that respond most, "
                          "as the net shrinks the face from 48 to 6 pixels before its classifier weighs them."):
        return
    try:
        blocks, nets = feature_maps(model, face)
    except ValueError as exc:
        st.caption(f"No feature maps: {exc}")
        return
    for number, block in enumerate(blocks, start=1):
        side = block.maps.shape[1]
        st.image(maps_strip(block), caption=f"block {number} ({block.layer}): {side}×{side} pixels, "
                                            f"the {len(block.maps)} most active of its {block.channels} channels")
    st.caption(("Maps of the first of the ensemble's " + str(nets) + " nets. " if nets > 1 else "")
               + "Each map is scaled to its own peak (white: the channel's strongest response). The first block answers "
               "to edges at different angles and to light or dark areas; deeper blocks are coarser and harder to name: "
               "they hold what the classifier weighs.")


def _grad_cam_image(column, model, face: np.ndarray, class_index: int | None, caption: str) -> None:
    """One Grad-CAM picture (``class_index`` None: the model's own answer), or why there is none."""
    try:
        column.image(overlay(face, grad_cam(model, face, class_index)), caption=caption, width=144)
    except ValueError as exc:
        column.caption(f"No Grad-CAM: {exc}")


def download_buttons(annotated_bgr: np.ndarray, faces: list[FaceResult], stem: str, key: str) -> None:
    cols = st.columns(3)
    cols[0].download_button("Image (PNG)", png_bytes(annotated_bgr), f"{stem}.png", "image/png", key=f"{key}_png")
    cols[1].download_button("Probabilities (JSON)", json.dumps([f.to_dict() for f in faces], indent=2), f"{stem}.json",
                            "application/json", key=f"{key}_json")
    buffer = io.StringIO()
    faces_table(faces).to_csv(buffer, index=False)
    cols[2].download_button("Probabilities (CSV)", buffer.getvalue(), f"{stem}.csv", "text/csv", key=f"{key}_csv")


def watched_faces(glimpses: Glimpses) -> None:
    """The run's watched validation faces after one epoch (the latest, or one chosen on the slider),
    a column per true class, each face captioned with the net's answer.

    The slider has no key: its range grows with each epoch, which gives it a new identity, so it
    jumps to the newest epoch as one ends and stays where it is put in between.
    """
    epochs = [int(epoch) for epoch in glimpses.epochs]
    epoch = epochs[-1] if len(epochs) == 1 else st.slider("Watch it learn: the same faces after epoch", epochs[0], epochs[-1], epochs[-1])
    probabilities = glimpses.at(epoch) if epoch in epochs else glimpses.at(epochs[-1])
    predicted = probabilities.argmax(axis=1)
    for column, (label, name) in zip(st.columns(len(CLASS_NAMES)), enumerate(CLASS_NAMES), strict=True):
        column.markdown(f"**{name}**")
        for i in np.flatnonzero(glimpses.labels == label):
            answer = predicted[i]
            column.image(cv2.resize(glimpses.faces[i], (72, 72), interpolation=cv2.INTER_NEAREST), width=72,
                         caption=f"✓ {probabilities[i, answer]:.0%}" if answer == label else f"✗ {CLASS_NAMES[answer]} {probabilities[i, answer]:.0%}")
    st.caption(f"{int((predicted == glimpses.labels).sum())} of {len(predicted)} validation faces right after epoch {epoch} "
               "(columns: the true class; ✗ gives the net's answer). Slide back to see which faces it got right first.")
