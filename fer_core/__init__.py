"""FER Studio core: data, models, training, evaluation, face detection and inference.

This package never imports streamlit, so every feature is usable from the CLI,
from tests and from notebooks exactly as the app uses it.
"""

from fer_core.errors import FerError
from fer_core.labels import CLASS_NAMES, NUM_CLASSES

__all__ = ["CLASS_NAMES", "NUM_CLASSES", "FerError"]
