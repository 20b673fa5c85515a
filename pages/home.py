"""Home: what FER Studio does and which model answers by default."""

import streamlit as st

from fer_core.data.sources import HOW_TO_GET, find_datasets
from fer_core.evaluation.significance import describe_interval
from fer_core.files import read_metrics
from fer_core.labels import CLASS_NAMES, WHAT_IT_READS
from fer_core.nets.model_card import card_for_display, card_summary
from fer_core.paths import DEFAULT_MODEL_DIR
from ui.bootstrap import bootstrap
from ui.settings import public_demo_mode, secrets

bootstrap()  # before anything loads TensorFlow: see ui/bootstrap.py

st.title("FER Studio")
st.markdown(
    "Facial expression recognition on **FER2013** — 48×48 grey faces in seven classes: "
    + ", ".join(f"`{name}`" for name in CLASS_NAMES)
    + ".\n\n"
    "- **Explore** the dataset: class balance, sample faces, mean faces, pixel statistics, duplicates.\n"
    "- **Train** a CNN from the browser and watch it learn; **Evaluate** it honestly on a held-out split.\n"
    "- **Live**: your webcam, faces boxed and labelled, per-class probabilities and their last 30 seconds; "
    "**Space** captures, **Esc** stops.\n"
    "- **Photos & video**: the same model on uploaded photos, a camera snapshot or a video file."
)
st.caption(WHAT_IT_READS)
st.subheader("Where to start")
STARTS = [
    ("pages/photos.py", "Try it on a photo", ":material/photo_library:",
     "No webcam needed: an example portrait, or your own photos, with where the net looked."),
    ("pages/live.py", "Read your face live", ":material/videocam:",
     "Pull faces at your webcam and watch the seven probabilities follow, or take the expression challenge."),
    ("pages/train.py", "Watch a CNN learn", ":material/model_training:",
     "A tiny net on a sample trains in about half a minute; see its answers to the same faces change epoch by epoch."),
    ("pages/evaluate.py", "Check the numbers", ":material/analytics:",
     "Per-class recall with intervals, the confusion matrix and the most confident mistakes."),
]
for column, (page, label, icon, blurb) in zip(st.columns(len(STARTS)), STARTS, strict=True):
    column.page_link(page, label=f"**{label}**", icon=icon)
    column.caption(blurb)
if public_demo_mode():
    st.info("Public demo mode: training is limited to short runs on a sample, and runs cannot be deleted.")

st.subheader("Default model")
metrics = read_metrics(DEFAULT_MODEL_DIR)
if metrics:
    cols = st.columns(4)
    accuracy, faces = metrics.get("accuracy", 0), metrics.get("n", 0)
    copies = metrics.get("training_copies")
    fairer = (f" Without the {copies['faces']:,} faces that are also in Training (scored on memory): "
              f"{copies['accuracy_without']:.1%}." if copies else "")
    cols[0].metric("PublicTest accuracy", f"{accuracy:.1%}",
                   help=f"{describe_interval(round(accuracy * faces), faces)} over {faces:,} faces (Wilson): "
                        "the sampling error of the split." + fairer)
    if "accuracy_tta" in metrics:
        cols[1].metric("with flip TTA", f"{metrics['accuracy_tta']:.1%}", help="Live: each face averaged with its mirror image.")
    if "accuracy_flip_zoom_tta" in metrics:
        cols[2].metric("with flip-zoom TTA", f"{metrics['accuracy_flip_zoom_tta']:.1%}",
                       help="Photos: each face averaged over its mirror image and 0.9x/1.1x zoom (six passes).")
    live = metrics.get("live_inference")
    if live:
        cols[3].metric("Live, per face", f"{live['latency_ms']:.1f} ms",
                       help=f"{live['file']} with {live['tta']} TTA ({live['accuracy']:.1%} on PublicTest"
                            + (f", {live['accuracy_balanced']:.1%} by the balanced rule it answers with" if "accuracy_balanced" in live else "")
                            + "), measured on a 2-core CPU when the model was published.")
    st.caption(f"{metrics.get('arch', '?')} · {metrics.get('parameters', 0):,} parameters · "
               f"published {metrics.get('published_at', '?')}")
    card = DEFAULT_MODEL_DIR / "model_card.md"
    with st.container(border=True):
        st.markdown(card_summary(metrics))
        if card.exists():
            with st.expander("The full model card: how it was trained, every figure with its interval"):
                st.markdown(card_for_display(card.read_text()))
else:
    st.warning("No default model is installed yet: train one on the Train page and make it the default.")

st.subheader("Dataset")
sources = find_datasets(secrets())
if sources:
    st.success(f"Using **{sources[0].label}**" + (f" ({len(sources) - 1} more available)" if len(sources) > 1 else ""))
else:
    st.info(HOW_TO_GET + "\n\nLive and photo prediction work without it: they only need the shipped model.")
