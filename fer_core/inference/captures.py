"""What leaves the app with the faces it read: annotated frames as PNG and a row per face as a table.

Plain data work (no Streamlit), shared by the download buttons of Live and Photos and the Live
captures' ZIP, so the files people keep have one layout whichever page made them.
"""

from __future__ import annotations

import io
import time
import zipfile

import cv2
import numpy as np
import pandas as pd

from fer_core.inference.predictor import FaceResult
from fer_core.labels import CLASS_NAMES


def png_bytes(image_bgr: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image_bgr)
    return encoded.tobytes() if ok else b""


def faces_table(faces: list[FaceResult]) -> pd.DataFrame:
    rows = [{"face": i + 1, "x": f.box[0], "y": f.box[1], "w": f.box[2], "h": f.box[3], "label": f.label,
             **{name: float(p) for name, p in zip(CLASS_NAMES, f.probabilities, strict=True)}} for i, f in enumerate(faces)]
    return pd.DataFrame(rows)


def captures_zip(captures: list[dict]) -> bytes:
    """Every Live capture in one archive: each annotated frame as PNG, and one CSV with a row per
    face (capture, UTC time, model, box, label, seven probabilities) for a spreadsheet or a notebook."""
    archive, tables = io.BytesIO(), []
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for item in sorted(captures, key=lambda capture: capture["id"]):
            snapshot = item["snapshot"]
            stamp = time.strftime("%H%M%S", time.localtime(snapshot.captured_at))
            picture = f"capture-{item['id']:03d}-{stamp}.png"
            bundle.writestr(picture, png_bytes(snapshot.annotated))
            table = faces_table(snapshot.faces)
            if table.empty:
                table = pd.DataFrame([{"face": 0, "label": "no face"}])
            table.insert(0, "capture", item["id"])
            table.insert(1, "utc", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(snapshot.captured_at)))  # as the timeline CSV
            table.insert(2, "image", picture)
            table.insert(3, "model", item["model"])
            tables.append(table)
        bundle.writestr("faces.csv", pd.concat(tables, ignore_index=True).to_csv(index=False))
    return archive.getvalue()
