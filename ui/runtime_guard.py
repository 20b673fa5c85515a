"""Stop Streamlit from resetting Keras after every script and fragment run.

Once ``keras`` is imported, Streamlit's script runner calls
``keras.backend.clear_session()`` at the end of every run. That clears TensorFlow's
kernel cache and runs a full ``gc.collect()``; with a fragment refreshing the live bars
several times a second, the WebRTC frame callback (another thread) stalled behind it:
357 ms per frame instead of ~35 ms (measured by the project before this guard). FER
Studio builds no models in the Streamlit process, so it needs no such reset.

Set ``FER_KEEP_STREAMLIT_KERAS_RESET=1`` to leave Streamlit's behaviour alone (used to
measure the difference).
"""

from __future__ import annotations

import os


def keep_keras_state_between_reruns() -> bool:
    """Replace Streamlit's post-run module clean-up with a no-op; True if it was replaced."""
    if os.environ.get("FER_KEEP_STREAMLIT_KERAS_RESET") == "1":
        return False
    try:
        from streamlit.runtime.scriptrunner import script_runner
    except ImportError:
        return False
    current = getattr(script_runner, "_clean_problem_modules", None)
    if current is None:
        return False  # a newer Streamlit without the hook: nothing to do
    if getattr(current, "fer_guard", False):
        return True

    def skip_module_cleanup() -> None:
        """FER Studio uses neither Keras model building nor pyplot in the app process."""

    skip_module_cleanup.fer_guard = True  # type: ignore[attr-defined]
    script_runner._clean_problem_modules = skip_module_cleanup
    return True
