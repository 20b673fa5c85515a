"""Drawing results onto frames: boxes and labels in the app's class colours."""

from __future__ import annotations

import cv2
import numpy as np

from fer_core.inference.predictor import FaceResult
from fer_core.labels import CLASS_COLOURS, hex_to_bgr

UNSURE_COLOUR = (150, 150, 150)  # BGR; a grey apart from neutral's (127): no class is claimed


def annotate(image_bgr: np.ndarray, faces: list[FaceResult], *, unsure_below: float = 0.0) -> np.ndarray:
    """A copy of the frame with each face boxed and labelled (never draws on the input).

    A face whose top probability is under ``unsure_below`` is labelled "not sure (happy 34%)" in
    grey: the model's answer is still there, but not claimed.
    """
    canvas = image_bgr.copy()
    thickness = max(2, canvas.shape[1] // 320)
    scale = max(0.5, canvas.shape[1] / 1000)
    for face in faces:
        x, y, w, h = face.box
        unsure = face.confidence < unsure_below
        colour = UNSURE_COLOUR if unsure else hex_to_bgr(CLASS_COLOURS[face.label])
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, thickness)
        text = f"{face.label} {face.confidence:.0%}"
        text = f"not sure ({text})" if unsure else text
        (tw, th), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1 + thickness // 2)
        top = y - th - baseline - 4 if y - th - baseline - 4 >= 0 else y + h
        cv2.rectangle(canvas, (x, top), (x + tw + 6, top + th + baseline + 4), colour, cv2.FILLED)
        cv2.putText(canvas, text, (x + 3, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1 + thickness // 2, cv2.LINE_AA)
    return canvas
