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
    """A sidebar selectbox showing short names; the full name of the current choice is in its help (hover the ?)."""
    current = st.session_state.get(key, options[0] if options else "")
    full = f"Chosen: {current}." if current in options else ""
    return st.sidebar.selectbox(label, list(options), key=key, format_func=shortened, help=" ".join(filter(None, [help_text, full])))
