"""How one classified face is shown everywhere: crop, Grad-CAM, probability bars, downloads."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pandas as pd
import streamlit as st

from fer_core import charts
from fer_core.gradcam import grad_cam, overlay
from fer_core.labels import CLASS_NAMES
from fer_core.predictor import FaceResult


def face_report(face: FaceResult, model, key: str, title: str = "") -> None:
    """Crop | Grad-CAM | bars for one face; ``model`` is a Keras model (None skips Grad-CAM)."""
    cols = st.columns([1, 1, 2])
    cols[0].image(cv2.resize(face.crop, (144, 144), interpolation=cv2.INTER_NEAREST), caption=title or "model input (48×48)")
    if model is not None:
        _grad_cam_image(cols[1], model, face.crop, None, f"Grad-CAM for '{face.label}'")
    cols[2].plotly_chart(charts.probability_bars(face.probabilities, height=230), key=f"{key}_bars")


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


def _grad_cam_image(column, model, face: np.ndarray, class_index: int | None, caption: str) -> None:
    """One Grad-CAM picture (``class_index`` None: the model's own answer), or why there is none."""
    try:
        column.image(overlay(face, grad_cam(model, face, class_index)), caption=caption, width=144)
    except ValueError as exc:
        column.caption(f"No Grad-CAM: {exc}")


def png_bytes(image_bgr: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image_bgr)
    return encoded.tobytes() if ok else b""


def faces_table(faces: list[FaceResult]) -> pd.DataFrame:
    rows = [{"face": i + 1, "x": f.box[0], "y": f.box[1], "w": f.box[2], "h": f.box[3], "label": f.label,
             **{name: float(p) for name, p in zip(CLASS_NAMES, f.probabilities, strict=True)}} for i, f in enumerate(faces)]
    return pd.DataFrame(rows)


def download_buttons(annotated_bgr: np.ndarray, faces: list[FaceResult], stem: str, key: str) -> None:
    cols = st.columns(3)
    cols[0].download_button("Image (PNG)", png_bytes(annotated_bgr), f"{stem}.png", "image/png", key=f"{key}_png")
    cols[1].download_button("Probabilities (JSON)", json.dumps([f.to_dict() for f in faces], indent=2), f"{stem}.json",
                            "application/json", key=f"{key}_json")
    buffer = io.StringIO()
    faces_table(faces).to_csv(buffer, index=False)
    cols[2].download_button("Probabilities (CSV)", buffer.getvalue(), f"{stem}.csv", "text/csv", key=f"{key}_csv")
