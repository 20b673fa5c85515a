"""Model choice shared by Evaluate, Live and Photos: the shipped default or any run's best model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from fer_core.files import BEST_MODEL
from fer_core.inference.lighting import wants_equalised_crops
from fer_core.inference.predictor import describe_live_classifier, describe_live_classifier_plainly
from fer_core.paths import DEFAULT_MODEL_PATH
from fer_core.training.runs import list_runs
from ui.labels import sidebar_select


def model_choices() -> dict[str, Path]:
    """Label -> .keras path, the default model first."""
    choices = {}
    if DEFAULT_MODEL_PATH.exists():
        choices["default model"] = DEFAULT_MODEL_PATH
    for run in list_runs():
        best = run.path / BEST_MODEL
        if best.exists():
            where = " on its sample" if run.sample_per_class else ""  # Evaluate scores the whole split: another figure
            accuracy = f", val {run.best_val_accuracy:.1%}{where}" if run.best_val_accuracy is not None else ""
            choices[f"run {run.run_id} ({run.arch}{accuracy})"] = best
    return choices


@st.cache_resource(show_spinner="Loading model…", max_entries=4)
def load_model(path: str, modified: float):  # noqa: ARG001 - 'modified' keys the cache
    from fer_core.nets.classifiers import load_classifier

    return load_classifier(path)


def model_loader(path: Path) -> Callable[[], object]:
    """Load the Keras network when called (Grad-CAM, 'Inside the network'), not before: TensorFlow is heavy."""
    return lambda: load_model(str(path), path.stat().st_mtime)


def model_sidebar(key: str = "model_choice", *, live: bool = False) -> tuple[str, Path] | None:
    """The model selector; ``live`` pages also say which classifier variant runs per face."""
    choices = model_choices()
    if not choices:
        st.warning("No model found: the shipped default is missing and no run has finished an epoch yet.")
        return None
    label = sidebar_select("Model", list(choices), key=key)
    if live:
        path = choices[label]
        lighting = (" Crops far from histogram-equalised are equalised first, as this model's training faces were."
                    if wants_equalised_crops(path) else "")
        st.sidebar.markdown(f"<small>{describe_live_classifier_plainly(path)}</small>", unsafe_allow_html=True,
                            help=describe_live_classifier(path) + lighting)
    return label, choices[label]
