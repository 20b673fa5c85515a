"""Explore FER2013: balance, faces, mean faces, pixel statistics, duplicates, upload."""

import numpy as np
import streamlit as st

from fer_core import charts
from fer_core.data import stats
from fer_core.data.loading import FerDataset
from fer_core.data.sources import save_upload
from fer_core.errors import FerError
from fer_core.inference.lighting import equalised_share
from fer_core.labels import CLASS_NAMES
from ui.bootstrap import bootstrap
from ui.dataset import dataset_sidebar
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

tab_balance, tab_samples, tab_means, tab_pixels, tab_duplicates = st.tabs(
    ["Class balance", "Sample faces", "Mean faces", "Pixel statistics", "Duplicates"]
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
    if len(picks) == 0:
        st.info("No faces match this split and class.")
    else:
        st.image(charts.image_grid(dataset.images[picks]), caption=f"{len(picks)} {label_name} faces from {split}", width="stretch")

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
    examples = duplicates["across_examples"][:8]
    if examples:
        st.markdown("**Examples found in more than one split**")
        for group in examples:
            members = np.array(group)
            captions = [f"{dataset.usage[i]} #{i}" + (f" · {CLASS_NAMES[dataset.labels[i]]}" if dataset.has_labels else "") for i in members]
            st.image([dataset.images[i] for i in members], caption=captions, width=72)
