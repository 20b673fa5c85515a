"""Short names for sidebar choices: a 300 px sidebar cut 'fer2013_dev.csv.gz (FER2013_PA…' and long run ids."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st


def shortened(text: str, width: int = 30) -> str:
    """The text as it fits a sidebar select: its start and end kept, the middle elided."""
    if len(text) <= width:
        return text
    head = (width - 1) * 2 // 3
    return text[:head] + "…" + text[-(width - 1 - head):]


def sidebar_select(label: str, options: Sequence[str], *, key: str, help_text: str = "") -> str:
    """A sidebar selectbox showing short names, and the full name of a shortened choice under it.

    The help stays fixed: a widget's parameters changing between reruns can make Streamlit treat it
    as a new widget."""
    chosen = st.sidebar.selectbox(label, list(options), key=key, format_func=shortened, help=help_text or None)
    if chosen is not None and shortened(chosen) != chosen:
        st.sidebar.caption(chosen)
    return chosen
