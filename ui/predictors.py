"""Per-session Predictors: the TFLite interpreter inside is not thread-safe, so each browser
session gets its own, rebuilt only when the model or detector choice changes."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from fer_core.inference.predictor import Predictor


def session_predictor(model_path: Path, detector: str, slot: str = "predictor", tta: str | None = None, use: str = "photo") -> Predictor:
    """``tta`` None: the published live choice; a mode overrides it (see ``load_fast_classifier``). ``use``
    ('live', 'video', 'photo'): what the ``auto`` detector picks for."""
    signature = (str(model_path), model_path.stat().st_mtime, detector, tta, use)
    cached = st.session_state.get(slot)
    if cached is None or cached[0] != signature:
        with st.spinner("Loading model and face detector…"):
            cached = (signature, Predictor.from_model(model_path, detector, tta, use=use))
        st.session_state[slot] = cached
    return cached[1]
