"""Explore FER2013: balance, faces, mean faces, pixel statistics, duplicates, the FER+ crowd's votes, upload."""

import numpy as np
import streamlit as st

from fer_core import charts
from fer_core.data import stats
from fer_core.data.ferplus import NO_MAJORITY, describe_votes
from fer_core.data.loading import FerDataset
from fer_core.data.sources import save_upload
from fer_core.errors import FerError
from fer_core.inference.lighting import equalised_share
from fer_core.labels import CLASS_NAMES
from ui.bootstrap import bootstrap
from ui.dataset import dataset_sidebar, ferplus_votes
from ui.settings import public_demo_mode

bootstrap()  # before anything loads TensorFlow: see ui/bootstrap.py

st.title("Explore FER2013")

with st.sidebar.expander("Upload a dataset", expanded=False):
    if public_demo_mode():
        st.caption("Uploads are disabled in the public demo.")
    else:
        upload = st.file_uploader(
            "fer2013.csv, train.csv/test.csv, icml_face_data.csv, .csv.gz or a .zip (CSV or image folders)",
            type=["csv", "gz", "zip"], key="dataset_upload",
        )
        if upload is not None and st.button("Save and use", key="save_upload"):
            try:
                saved = save_upload(upload.name, upload.getvalue())
            except FerError as exc:
                st.error(str(exc))
            else:
                st.success(f"Saved {saved.name}; pick it in the Dataset box above.")

chosen = dataset_sidebar()
if chosen is None:
    st.stop()
source, dataset = chosen


@st.cache_data(show_spinner=False, max_entries=4)
def _statistics(path: str, modified: float, _dataset: FerDataset) -> dict:  # noqa: ARG001 - path+mtime key the cache
    return {
        "balance": stats.class_balance(_dataset),
        "brightness": stats.brightness_contrast(_dataset),
        "duplicates": stats.duplicate_summary(_dataset),
        "equalised": equalised_share(_dataset.images),
    }


@st.cache_data(show_spinner=False, max_entries=16)
def _mean_faces(path: str, modified: float, split: str, _dataset: FerDataset) -> tuple[np.ndarray, np.ndarray]:  # noqa: ARG001
    return stats.mean_faces(_dataset, None if split == "all" else split)


@st.cache_data(show_spinner=False, max_entries=16)
def _histograms(path: str, modified: float, split: str, _dataset: FerDataset):  # noqa: ARG001
    return stats.pixel_histograms(_dataset, None if split == "all" else split)


summary = _statistics(str(source.path), source.path.stat().st_mtime, dataset)
st.caption(f"{source.path.name}: {len(dataset):,} faces in {', '.join(dataset.split_names)}" + ("" if dataset.has_labels else " (no labels)"))

votes, votes_missing = ferplus_votes(source, dataset) if dataset.has_labels else (None, [])
tab_balance, tab_samples, tab_means, tab_pixels, tab_duplicates, tab_crowd = st.tabs(
    ["Class balance", "Sample faces", "Mean faces", "Pixel statistics", "Duplicates", "FER+ crowd votes"]
)

with tab_balance:
    if not dataset.has_labels:
        st.info("This file has no labels, so there is no class balance to show.")
    else:
        percent = st.toggle("Show % of each split", key="balance_percent")
        st.plotly_chart(charts.class_balance_figure(summary["balance"], percent=percent), key="balance_chart")
        table = summary["balance"].pivot_table(index="class", columns="split", values="count", observed=False)
        table.index, table.columns = table.index.astype(str), table.columns.astype(str)  # categorical labels do not round-trip through Arrow
        if percent:  # the table follows the chart's toggle, so both show the same numbers
            table = table / table.sum()
        st.dataframe(table, key="balance_table",  # "localized": 3,995 as on the chart's bars, not 3995
                     column_config={split: st.column_config.NumberColumn(format="percent" if percent else "localized")
                                    for split in table.columns})
        st.caption("'disgust' is rare (about 1.5 % of faces): expect the weakest recall there.")

with tab_samples:
    cols = st.columns(4)
    split = cols[0].selectbox("Split", dataset.split_names, key="sample_split")
    label_name = cols[1].selectbox("Class", ["any", *CLASS_NAMES], key="sample_class", disabled=not dataset.has_labels)
    seed = cols[2].number_input("Random seed", 0, 10_000, 0, key="sample_seed")
    count = cols[3].slider("Faces", 8, 64, 32, step=8, key="sample_count")
    label = None if label_name == "any" else CLASS_NAMES.index(label_name)
    picks = stats.sample_indices(dataset, split=split, label=label, count=count, seed=int(seed))
    show_votes = votes is not None and st.toggle("Show the FER+ crowd's votes under each face", key="sample_votes",
                                                 help="Ten bars per face: neutral, happiness, surprise, sadness, anger, disgust, "
                                                      "fear (the app's class colours), contempt, unknown, not a face.")
    if len(picks) == 0:
        st.info("No faces match this split and class.")
    elif show_votes:
        st.image([charts.face_with_votes(dataset.images[i], votes.votes[i]) for i in picks],
                 caption=[f"FER: {CLASS_NAMES[dataset.labels[i]]}" for i in picks], width=110)
    else:
        captions = [CLASS_NAMES[dataset.labels[i]] if dataset.has_labels else f"#{i}" for i in picks]
        st.image([dataset.images[i] for i in picks], caption=captions, width=88)
        st.caption(f"{len(picks)} faces from {split}" + ("" if label is None else f", labelled {label_name}"))

with tab_means:
    if not dataset.has_labels:
        st.info("Mean faces per class need labels.")
    else:
        split = st.selectbox("Split", ["all", *dataset.split_names], key="mean_split")
        per_class, overall = _mean_faces(str(source.path), source.path.stat().st_mtime, split, dataset)
        st.plotly_chart(charts.face_strip_figure(per_class, CLASS_NAMES), key="mean_faces")
        st.markdown("**Difference from the mean face of all classes** (red: brighter than average, blue: darker)")
        st.plotly_chart(charts.face_strip_figure(per_class - overall, CLASS_NAMES, diverging=True), key="mean_diff")

with tab_pixels:
    split = st.selectbox("Split", ["all", *dataset.split_names], key="pixel_split")
    st.plotly_chart(
        charts.pixel_histogram_figure(_histograms(str(source.path), source.path.stat().st_mtime, split, dataset)), key="pixel_hist"
    )
    st.markdown("**Brightness (mean pixel) and contrast (pixel standard deviation) per face**")
    table = summary["brightness"]
    if split != "all":
        table = table[table["split"] == split]
    st.plotly_chart(charts.brightness_contrast_figure(table), key="brightness_box")
    share = summary["equalised"]
    st.caption(f"{share:.0%} of all these faces are already histogram-equalised (equalising them again changes them by "
               "under 3 grey levels)" + (": their pixels spread evenly over 0–255, which is why the histogram is flat "
               "and brightness sits near 128. Live and Photos equalise camera crops to match." if share > 0.5 else "."))

with tab_duplicates:
    duplicates = summary["duplicates"]
    cols = st.columns(4)
    cols[0].metric("Groups of identical images", f"{duplicates['groups']:,}")
    cols[1].metric("Groups spanning splits", f"{duplicates['across_splits']:,}",
                   help="A face in both Training and a test split leaks the answer: the Evaluate page can leave such faces out.")
    cols[2].metric("Groups with conflicting labels", f"{duplicates['conflicting_labels']:,}")
    cols[3].metric("Blank images", f"{duplicates['blank_images']:,}", help="Faces of a single grey level: labelled, but nothing to see.")
    for title, key, count, note in (
        ("The same image with different labels", "conflicting_examples", duplicates["conflicting_labels"],
         "One face, two answers: FER2013's labels are one person's guess, and these show how far guesses go."),
        ("The same image in more than one split", "across_examples", duplicates["across_splits"],
         "A test face that is also a training face is scored on memory; the Evaluate page can leave such faces out."),
    ):
        groups = duplicates[key][:8]
        if groups:
            st.markdown(f"**{title}** ({count:,} groups; a few shown, blank faces left out)")
            st.caption(note)
            for group in groups:
                captions = [f"{dataset.usage[i]} #{i}" + (f" · {CLASS_NAMES[dataset.labels[i]]}" if dataset.has_labels else "") for i in group]
                st.image([dataset.images[i] for i in group], caption=captions, width=72)

with tab_crowd:
    if votes is None:
        st.info("No FER+ votes fit this dataset. FER+ (Microsoft, MIT licence) had ten people label every FER2013 face "
                "again; its votes follow the row order of Kaggle's original fer2013.csv, which gets them automatically "
                "(the app ships Microsoft's file). For another copy, put an aligned votes file in data/ or set FERPLUS_PATH."
                + ("\n\nTried: " + "; ".join(votes_missing) if votes_missing else ""))
    else:
        crowd = stats.ferplus_summary(votes, dataset.labels)
        cols = st.columns(4)
        cols[0].metric("Faces with votes", f"{crowd['with_votes']:,}")
        cols[1].metric("With a majority", f"{crowd['with_majority']:,}", help="The emotion most of the ten chose; none on a tie, "
                       "or when most chose contempt, unknown or 'not a face'.")
        cols[2].metric("FER's label = the crowd's", f"{crowd['agreement']:.1%}",
                       help="Of the faces with a majority: how often the one FER2013 annotator and the crowd agree.")
        cols[3].metric("Mostly 'not a face'", f"{crowd['mostly_not_a_face']:,}",
                       help=f"Also mostly contempt (no FER2013 class): {crowd['mostly_contempt']:,}; mostly unknown: {crowd['mostly_unknown']:,}; "
                            f"ties: {crowd['ties']:,}.")
        decided = votes.majority != NO_MAJORITY
        st.plotly_chart(charts.label_balance_figure(np.bincount(dataset.labels[votes.has_votes], minlength=7),
                                                    np.bincount(votes.majority[decided], minlength=7)), key="crowd_balance")
        st.markdown("**FER says → the crowd says.** Click a cell (or pick it below) to see its faces, "
                    "those the crowd agreed on most first.")
        matrix = stats.crowd_matrix(dataset.labels, votes)
        event = st.plotly_chart(charts.crowd_matrix_figure(matrix), key="crowd_matrix", on_select="rerun", selection_mode="points")
        clicked = charts.clicked_crowd_cell(event)
        if clicked is not None and clicked != st.session_state.get("crowd_clicked"):  # a new click; later picks below still win
            st.session_state["crowd_clicked"] = clicked
            st.session_state["crowd_fer"], st.session_state["crowd_says"] = clicked
        st.session_state.setdefault("crowd_fer", CLASS_NAMES[0])  # defaults through the state a click also sets
        st.session_state.setdefault("crowd_says", "neutral")
        cols = st.columns(3)
        fer_name = cols[0].selectbox("FER says", CLASS_NAMES, key="crowd_fer")
        crowd_name = cols[1].selectbox("The crowd says", charts.CROWD_NAMES, key="crowd_says")
        count = cols[2].slider("Faces", 4, 32, 12, 4, key="crowd_count")
        cell = stats.crowd_cell(dataset.labels, votes, CLASS_NAMES.index(fer_name), charts.CROWD_NAMES.index(crowd_name), count)
        if len(cell) == 0:
            st.info(f"No face that FER labels {fer_name} has the crowd's answer '{crowd_name}'.")
        else:
            st.image([charts.face_with_votes(dataset.images[i], votes.votes[i]) for i in cell],
                     caption=[f"#{i}: {describe_votes(votes.votes[i])}" for i in cell], width=110)
            st.caption("Bars: neutral, happiness, surprise, sadness, anger, disgust, fear (in the app's class colours), "
                       "then contempt (pink), unknown (olive), not a face (black); the tallest is 10 votes.")
        ambiguity = stats.ambiguity_by_class(dataset.labels, votes)
        st.markdown("**How much the ten disagree, by FER class** (entropy of the votes: 0 bits when all agree)")
        st.bar_chart(ambiguity.set_index("class")["ambiguity"], horizontal=True, height=260)
        not_faces = np.flatnonzero(votes.has_votes & (votes.votes[:, 9] > votes.votes[:, :9].max(axis=1)))
        if len(not_faces):
            st.markdown(f"**Faces most of the crowd called 'not a face'** ({len(not_faces)})")
            st.image([charts.face_with_votes(dataset.images[i], votes.votes[i]) for i in not_faces[:16]],
                     caption=[f"FER: {CLASS_NAMES[dataset.labels[i]]}" for i in not_faces[:16]], width=110)
