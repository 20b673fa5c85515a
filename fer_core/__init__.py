"""FER Studio core: data, models, training, evaluation, face detection and inference.

This package never imports streamlit, so every feature is usable from the CLI,
from tests and from notebooks exactly as the app uses it.
"""

import warnings

from fer_core.errors import FerError
from fer_core.labels import CLASS_NAMES, NUM_CLASSES

# TF 2.20-2.21 still ship tf.lite.Interpreter (which we pin) but warn on every construction.
warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")

__all__ = ["CLASS_NAMES", "NUM_CLASSES", "FerError"]
