"""Dataset choice in the sidebar, shared by Explore, Train and Evaluate."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from fer_core.data.ferplus import FerPlusVotes, votes_for
from fer_core.data.loading import FerDataset, load_dataset
from fer_core.data.sources import DEFAULT_KAGGLE_DATASET, HOW_TO_GET, DatasetSource, download_from_kaggle, find_datasets
from fer_core.errors import FerError
from ui.labels import sidebar_select
from ui.settings import secrets


@st.cache_resource(show_spinner=False, max_entries=3)
def _load(path: str, modified: float) -> FerDataset:  # noqa: ARG001 - 'modified' keys the cache
    """Shared, read-only: cache_resource avoids copying ~80 MB of pixels per rerun. A first parse
    shows the rows read (a cached one takes a few hundredths of a second and shows nothing)."""
    bar = st.empty()

    def progress(rows: int, share: float) -> None:
        bar.progress(share, text=f"Reading {Path(path).name} for the first time: {rows:,} faces so far")

    dataset = load_dataset(path, on_progress=progress)
    bar.empty()
    return dataset


def load_source(source: DatasetSource) -> FerDataset:
    return _load(str(source.path), source.path.stat().st_mtime)


def dataset_sidebar() -> tuple[DatasetSource, FerDataset] | None:
    """Let the user pick among the datasets found; say which one is shown, or how to get one."""
    settings = secrets()
    sources = find_datasets(settings)
    if not sources:
        st.sidebar.warning("No FER2013 dataset found.")
        st.info(HOW_TO_GET)
        if settings.get("KAGGLE_USERNAME") and settings.get("KAGGLE_KEY"):
            dataset_name = str(settings.get("KAGGLE_DATASET", DEFAULT_KAGGLE_DATASET))
            if st.button(f"Download {dataset_name} from Kaggle", key="kaggle_download", type="primary"):
                try:
                    with st.spinner("Downloading FER2013 from Kaggle (about 100 MB)…"):
                        download_from_kaggle(str(settings["KAGGLE_USERNAME"]), str(settings["KAGGLE_KEY"]), dataset_name)
                except FerError as exc:
                    st.error(str(exc))
                else:
                    st.rerun()
        return None
    labels = [source.label for source in sources]
    chosen = sidebar_select("Dataset", labels, key="dataset_choice", help_text="Where each one was found is in brackets.")
    source = sources[labels.index(chosen)]
    try:
        dataset = load_source(source)
    except FerError as exc:
        st.error(f"Cannot use {source.path.name}: {exc}")
        return None
    st.sidebar.caption(f"Showing **{Path(source.path).name}** — {len(dataset):,} faces, found via {source.origin}.")
    return source, dataset


@st.cache_resource(show_spinner=False, max_entries=3)
def _votes(path: str, modified: float, _dataset: FerDataset) -> tuple[FerPlusVotes | None, list[str]]:  # noqa: ARG001
    return votes_for(_dataset.usage, secrets())


def ferplus_votes(source: DatasetSource, dataset: FerDataset) -> tuple[FerPlusVotes | None, list[str]]:
    """The FER+ votes that join this dataset (None and the reasons when none does), found once per dataset file."""
    return _votes(str(source.path), source.path.stat().st_mtime, dataset)
