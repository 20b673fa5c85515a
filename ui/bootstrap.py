"""Process-wide set-up that must run before anything else on every page.

1. Import order: pylibsrtp (aiortc's SRTP, used by the Live camera) segfaults when it is
   first imported after TensorFlow has loaded (reproduced here with
   ``import tensorflow; import pylibsrtp``). Importing aiortc first avoids it, whichever
   page a visitor opens first.
2. Streamlit treats an app with a ``pages/`` folder as an old-style multipage app until
   ``st.navigation`` has run once in the process, so a fresh server asked for a deep link
   (``/live``) would run that page file alone, without ``app.py``'s navigation. Switching
   to ``st.navigation`` mode and rerunning sends that first visitor through ``app.py``.
3. Streamlit's post-run Keras reset (see ``runtime_guard``).
"""

from __future__ import annotations

import aiortc  # noqa: F401 - must be imported before TensorFlow, see above
import streamlit as st

from ui.runtime_guard import keep_keras_state_between_reruns


def bootstrap() -> None:
    keep_keras_state_between_reruns()
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
