"""Evaluate a model honestly on one split: accuracy, per-class metrics, confusion, mistakes."""

import json
import time
from pathlib import Path

import numpy as np
import streamlit as st

from fer_core import charts
from fer_core.data.ferplus import FerPlusVotes, crowd_scores
from fer_core.data.loading import FerDataset
from fer_core.data.stats import training_copies
from fer_core.errors import FerError
from fer_core.evaluation.calibration import reliability_bins
from fer_core.evaluation.metrics import (
    classification_report,
    describe_training_copies,
    most_confident,
    predictions_table,
    selective_accuracy,
    split_probabilities,
    training_copies_breakdown,
)
from fer_core.evaluation.significance import describe_comparison, format_p_value, paired_comparison
from fer_core.explain.gradcam import class_attention, overlay
from fer_core.labels import CLASS_NAMES
from fer_core.nets.decision import DECISIONS, read_rule
from fer_core.nets.tta import TTA_LABELS, TTA_MODES
from ui.bootstrap import bootstrap
from ui.dataset import dataset_sidebar, ferplus_votes
from ui.faces_view import inspect_face
from ui.models import load_model, model_choices, model_sidebar

bootstrap()  # before anything loads TensorFlow: see ui/bootstrap.py

st.title("Evaluate")
chosen_model = model_sidebar()
chosen_data = dataset_sidebar()
if chosen_model is None or chosen_data is None:
    st.stop()
model_label, model_path = chosen_model
source, dataset = chosen_data
if not dataset.has_labels:
    st.info(f"{source.path.name} has no labels, so there is nothing to evaluate against.")
    st.stop()

cols = st.columns([2, 1, 1])
default_split = dataset.split_names.index("PublicTest") if "PublicTest" in dataset.split_names else 0
split = cols[0].selectbox("Split", dataset.split_names, index=default_split, key="eval_split")
tta = cols[1].selectbox("Test-time augmentation", TTA_MODES, key="eval_tta", format_func=TTA_LABELS.get,
                        help="Average each face's probabilities over views of it. What each costs, the first time, for "
                             "3,589 faces here: plain one pass (about 5 s), flip two (about 10 s), flip-zoom six (about 30 s); "
                             "a split already scored comes back at once.")
rule = read_rule(model_path.parent)
decision = cols[2].selectbox(
    "Decision", DECISIONS if rule else ("raw",), key="eval_decision",
    format_func={"balanced": "balanced, as the app", "raw": "raw"}.get,
    help=(f"Balanced: the model's recorded rule, which corrects for the training split's class shares (tau {rule.tau:g}; "
          "see the model card) and is what Live and Photos answer with. Raw: the net's own probabilities, which lean "
          "to the classes Training has most of.") if rule else "This model was published without a decision rule: it answers raw.",
)
if split == "PrivateTest":
    st.warning("PrivateTest is the independent test set: report on it once, never choose models or settings by it.")
elif split == "Training":
    st.caption("Training accuracy shows how well the model fits, not how well it generalises.")


@st.cache_data(show_spinner=False, max_entries=8)
def _probabilities(
    model_file: str, modified: float, data_file: str, data_modified: float, split: str, tta: str, _dataset: FerDataset,  # noqa: ARG001
) -> np.ndarray:
    """Keyed by model and dataset file (path + mtime), split and TTA; the dataset itself is not hashed.
    Scored once per (model, dataset, split, TTA) and kept on disk, with a progress bar the first time."""
    bar, started = st.empty(), time.perf_counter()

    def progress(done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        left = elapsed / done * (total - done) if done else 0.0
        bar.progress(done / total, text=f"Classifying faces: {done:,} of {total:,} · about {left:.0f} s left")

    probabilities = split_probabilities(Path(model_file), Path(data_file), _dataset.split(split).images, split, tta,
                                        on_progress=progress)
    bar.empty()
    return probabilities


try:
    probabilities = _probabilities(
        str(model_path), model_path.stat().st_mtime, str(source.path), source.path.stat().st_mtime, split, tta, dataset
    )
except FerError as exc:
    st.error(str(exc))
    st.stop()
if decision == "balanced" and rule is not None:
    probabilities = rule.adjust(probabilities)


@st.cache_data(show_spinner=False, max_entries=8)
def _training_copies(data_file: str, data_modified: float, split: str, _dataset: FerDataset) -> np.ndarray:  # noqa: ARG001
    return training_copies(_dataset, split)


@st.cache_data(show_spinner=False, max_entries=4)
def _class_attention(
    model_file: str, modified: float, data_file: str, data_modified: float, split: str, tta: str, without_copies: bool,  # noqa: ARG001
    _faces: np.ndarray, _labels: np.ndarray, _probabilities: np.ndarray,
) -> list[dict]:
    """Keyed like the probabilities (plus whether Training copies are left out), not by the arrays."""
    bar = st.empty()
    attention = class_attention(load_model(model_file, modified), _faces, _labels, _probabilities,
                                on_progress=lambda done, total: bar.progress(done / total, text=f"Grad-CAM maps: class {done} of {total}"))
    bar.empty()
    return attention


rows = dataset.split(split)
in_training = _training_copies(str(source.path), source.path.stat().st_mtime, split, dataset)
keep = None  # every face, unless the copies of Training faces are left out
positions = np.arange(len(rows))  # each shown face's place in the split, as the per-face CSV numbers it
# The per-face download always has the whole split (copies flagged), so its rows keep their positions.
split_table = (rows.labels, probabilities, in_training)
if in_training.any() and st.toggle(
    f"Leave out the {in_training.sum():,} faces whose image is also in Training", key="eval_without_copies",
    help="A face the model was trained on is scored on memory, not on generalisation. Every figure below, "
         "the comparison included, then counts only the other faces.",
):
    keep = ~in_training
    positions = np.flatnonzero(keep)
    rows, probabilities, in_training = rows.subset(positions), probabilities[keep], in_training[keep]
report = classification_report(rows.labels, probabilities)

cols = st.columns(5)
cols[0].metric("Accuracy", f"{report['accuracy']:.2%}")
cols[1].metric("Mean per-class recall", f"{report['mean_recall']:.2%}",
               help="Recall averaged over the seven classes: every expression counts the same, however rare (disgust).")
cols[2].metric("Macro F1", f"{report['macro_f1']:.3f}")
cols[3].metric("Faces", f"{report['n']:,}")
cols[4].metric("Chance (majority class)", f"{np.bincount(rows.labels, minlength=7).max() / len(rows):.1%}")
low, high = report["accuracy_interval"]
st.caption(
    f"{model_label} on {source.path.name} / {split}" + (f" with {TTA_LABELS[tta]}" if tta != "none" else "")
    + (" without the faces also in Training" if keep is not None else "")
    + (f", balanced decision (tau {rule.tau:g})" if decision == "balanced" and rule is not None else ", raw decision")
    + f" · accuracy 95% interval {low:.1%}–{high:.1%} (Wilson): the sampling error of this many faces, "
    "so smaller gaps between models need the paired test below."
)
if in_training.any():
    st.caption(describe_training_copies(training_copies_breakdown(rows.labels, probabilities, in_training)))
votes, _ = ferplus_votes(source, dataset)
if votes is not None and st.toggle(
    "Also score against the FER+ crowd", key="eval_ferplus",
    help="FER+ had ten people label every face again. Against their majority (faces where one emotion won), and the "
         "mean probability the model gives to the crowd's votes (1 would be answering exactly what all ten said).",
):
    crowd = crowd_scores(FerPlusVotes(votes.votes[np.flatnonzero(dataset.usage == split)[positions]]), probabilities)
    cols = st.columns(3)
    cols[0].metric("Accuracy against the FER+ majority", f"{crowd['accuracy']:.2%}" if crowd["n"] else "—",
                   help=f"{crowd['n']:,} faces have a FER+ majority.")
    cols[1].metric("Against FER's labels (above)", f"{report['accuracy']:.2%}")
    cols[2].metric("Probability given to the crowd's votes", f"{crowd['crowd_probability']:.3f}" if crowd["n_voted"] else "—")

st.subheader("Per class")
st.plotly_chart(charts.per_class_metrics_figure(report["per_class"]), key="per_class")
st.caption("Whiskers on recall: its 95% interval. A small class (disgust) has a wide one: its recall is the least certain.")

st.subheader("Confusion matrix")
normalise = st.toggle("Row-normalised (share of each true class)", True, key="confusion_normalise")
st.plotly_chart(charts.confusion_figure(np.array(report["confusion"]), normalise=normalise), key="confusion")

st.subheader("Most confident mistakes")
cols = st.columns(3)
true_name = cols[0].selectbox("True class", CLASS_NAMES, index=CLASS_NAMES.index("fear"), key="mistake_true")
predicted_name = cols[1].selectbox("Predicted as", CLASS_NAMES, index=CLASS_NAMES.index("sad"), key="mistake_pred")
count = cols[2].slider("How many", 4, 32, 12, 4, key="mistake_count")
true_label, predicted_label = CLASS_NAMES.index(true_name), CLASS_NAMES.index(predicted_name)
cell = most_confident(rows.labels, probabilities, true_label, predicted_label, count)
if true_label == predicted_label:
    st.caption("Same class chosen twice: these are the most confident *correct* answers.")
if len(cell) == 0:
    st.info(f"No {true_name} face was predicted as {predicted_name}.")
else:
    st.image(
        [rows.images[i] for i in cell],
        caption=[f"said {predicted_name} {probabilities[i, predicted_label]:.0%} · true {true_name} {probabilities[i, true_label]:.0%}"
                 + (" · in Training" if in_training[i] else "") for i in cell],
        width=96,
    )
    if in_training[cell].any():
        st.caption("'in Training': the same image is also in the Training split, so the model was taught this very "
                   "face with its label, and still gets it wrong (or, for a correct answer, may simply remember it).")
    # A toggle, not an expander: Grad-CAM runs only when asked (an expander's body runs on every rerun).
    if st.toggle("Look closer: where the model looked", key="mistake_inspect"):
        pick = st.selectbox("Face", range(len(cell)), key="mistake_pick",
                            format_func=lambda k: f"#{k + 1}: face {positions[cell[k]]} of {split}, "
                                                  f"{predicted_name} {probabilities[cell[k], predicted_label]:.0%}")
        face_index = int(cell[pick])
        inspect_face(rows.images[face_index], probabilities[face_index], true_label,
                     load_model(str(model_path), model_path.stat().st_mtime), key="mistake")
        st.caption("Grad-CAM: the last convolutional features, each weighted where it lies by how much it raises "
                   "the class's score; warm areas are what the net took as evidence for that class (maps of the "
                   "plain model; the bars follow the test-time augmentation chosen above).")

st.subheader("More analyses")
st.caption("Folded until asked for: each answers one question about the figures above.")
with st.expander("Is another model really better? A paired test on the same faces"):
    choices = model_choices()
    others = [label for label in choices if label != model_label]
    other_label = st.selectbox(
        "Second model, scored on the same faces", [None, *others], key="eval_compare",
        format_func=lambda label: "— choose one —" if label is None else label,
        help="McNemar's exact test: it counts only the faces where exactly one model is right, so it can tell "
             "a real gain from luck far more sharply than comparing two accuracies and their intervals.",
    )
    if other_label is not None:
        other_path = choices[other_label]
        try:
            other = _probabilities(
                str(other_path), other_path.stat().st_mtime, str(source.path), source.path.stat().st_mtime, split, tta, dataset
            )
        except FerError as exc:
            st.error(str(exc))
        else:
            other_rule = read_rule(other_path.parent) if decision == "balanced" else None
            other = other_rule.adjust(other) if other_rule is not None else other
            other = other if keep is None else other[keep]
            comparison = paired_comparison(rows.labels, probabilities.argmax(axis=1), other.argmax(axis=1))
            cols = st.columns(3)
            cols[0].metric("This model", f"{report['accuracy']:.2%}", help=model_label)
            cols[1].metric("Second model", f"{report['accuracy'] - comparison.difference:.2%}",
                           f"{-comparison.difference * 100:+.2f} points", help=other_label)
            cols[2].metric("p-value (exact McNemar)", format_p_value(comparison.p_value),
                           help="The chance of a split of the disagreeing faces at least this uneven if the two models were equally good.")
            st.write(describe_comparison(comparison, "this model", "the second model"))
with st.expander("Can its confidence be taken at its word? Calibration"):
    cols = st.columns([1, 3])
    cols[0].metric("Calibration error (ECE)", f"{report['expected_calibration_error']:.1%}",
                   help="The gap between the confidence the model shows and how often it is right, averaged over "
                        "faces: 0% means a face shown at 80% is right four times in five.")
    cols[0].caption("Faces grouped by the probability of the top class (the figure Live and Photos show). "
                    "Bars under the dashed line: the model claims more than it delivers; above: it is too modest.")
    cols[1].plotly_chart(charts.reliability_figure(reliability_bins(rows.labels, probabilities)), key="reliability")
with st.expander("What if it may say 'not sure'?"):
    selective = selective_accuracy(rows.labels, probabilities)
    st.plotly_chart(charts.selective_accuracy_figure(selective, report["accuracy"]), key="selective")
    at_half = selective.loc[selective["threshold"] == 0.5].iloc[0]
    st.caption(f"Answering only when at least 50 % sure, it answers {at_half['coverage']:.0%} of these faces and gets "
               f"{at_half['accuracy']:.1%} of them right (every face: {report['accuracy']:.1%}). Live's \"Say 'not sure' below\" "
               "makes this trade on the video." if at_half["faces"] else "No face reaches 50 % confidence.")
with st.expander("Where does it look, class by class? Grad-CAM"):
    if st.toggle("Average Grad-CAM per class (a few seconds)", key="class_attention",
                 help="Computed on request: a Grad-CAM map for up to 48 faces of each class that the model got right."):
        attention = _class_attention(str(model_path), model_path.stat().st_mtime, str(source.path), source.path.stat().st_mtime,
                                     split, tta, keep is not None, _faces=rows.images, _labels=rows.labels, _probabilities=probabilities)
        for column, item in zip(st.columns(len(CLASS_NAMES)), attention, strict=True):
            column.image(overlay(item["mean_face"], item["heat"], size=144), width="stretch",
                         caption=f"{CLASS_NAMES[item['class']]}: {item['faces']} of its {item['correct']:,} correct faces")
        st.caption("Each map is the mean of Grad-CAM maps (plain model, for the true class) over faces the model classified "
                   "correctly, drawn at random rather than its most confident ones, shown on those faces' mean face: where "
                   "its evidence for each expression usually lies. A class with few correct faces gives a noisier map.")

cols = st.columns(2)
cols[0].download_button(
    "Download metrics (JSON)", json.dumps({"model": model_label, "split": split, "tta": tta, **report}, indent=2),
    file_name=f"metrics-{split}.json", mime="application/json", key="download_metrics",
)
cols[1].download_button(
    # A callable: built on click, not on every rerun of the page (~20 ms for 3,589 faces).
    "Download per-face predictions (CSV)", lambda: predictions_table(*split_table).to_csv(index=False),
    file_name=f"predictions-{split}-{tta}.csv", mime="text/csv", key="download_predictions",
    help="One row per face of the whole split, in file order: true and predicted class, whether its image is "
         "also in Training, and all seven probabilities.",
)
