"""Loading classifier models safely, and calling them fast.

``load_classifier`` refuses anything that is not a FER classifier with a clear
message: a missing or corrupt file, a model with Python ``Lambda`` code (Keras
``safe_mode`` stays on, so a downloaded model cannot run arbitrary code), or one whose
input/output shapes do not fit 48x48 grey faces and 7 classes.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from fer_core.errors import FerError, first_line
from fer_core.labels import IMAGE_SIZE, NUM_CLASSES
from fer_core.limits import MAX_MODEL_BYTES, MAX_MODEL_INFLATED_BYTES

EXPECTED_INPUT = (None, IMAGE_SIZE, IMAGE_SIZE, 1)


def load_classifier(path: str | Path):
    """Load and check a ``.keras`` FER classifier."""
    path = Path(path)
    if not path.is_file():
        raise FerError(f"model file not found: {path}")
    if path.suffix != ".keras":
        raise FerError(f"{path.name}: expected a Keras 3 '.keras' model file")
    if not zipfile.is_zipfile(path):
        raise FerError(f"{path.name}: not a valid .keras file (corrupt or truncated)")
    _check_archive_size(path)
    import keras

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except ValueError as exc:
        if "lambda" in str(exc).lower() or "safe_mode" in str(exc):
            raise FerError(f"{path.name}: refused, the model contains Python code (a Lambda layer)") from None
        raise FerError(f"{path.name}: cannot load the model ({first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - keras raises many types for damaged archives
        raise FerError(f"{path.name}: cannot load the model ({first_line(exc)})") from None
    input_shape = tuple(model.inputs[0].shape) if model.inputs else None
    output_shape = tuple(model.outputs[0].shape) if model.outputs else None
    if input_shape != EXPECTED_INPUT or output_shape != (None, NUM_CLASSES):
        raise FerError(
            f"{path.name}: incompatible model: takes {input_shape} and gives {output_shape}, "
            f"expected (None, 48, 48, 1) -> (None, 7)"
        )
    return model


def _check_archive_size(path: Path) -> None:
    """Refuse a .keras archive whose size on disk or inflated would cost more memory than any FER net
    (its zip directory says so before anything is unpacked)."""
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise FerError(f"{path.name}: {path.stat().st_size >> 20} MB is far more than a FER model (the default: 15 MB)")
    try:
        with zipfile.ZipFile(path) as archive:
            inflated = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise FerError(f"{path.name}: not a valid .keras file ({first_line(exc)})") from None
    if inflated > MAX_MODEL_INFLATED_BYTES:
        raise FerError(f"{path.name}: unpacks to {inflated >> 20} MB, more than a FER model could need; refused unopened")


class FastClassifier:
    """Calls a Keras model directly on small batches.

    ``model.predict`` builds a data pipeline per call (~70 ms for one face here); a
    traced ``tf.function`` with a fixed input signature costs ~2-3 ms.
    """

    def __init__(self, model) -> None:
        import keras

        self.model = model
        if keras.backend.backend() != "tensorflow":  # JAX/PyTorch (a GPU training machine): a plain call
            self._call = lambda x: keras.ops.convert_to_numpy(model(x, training=False))
            return
        import tensorflow as tf

        traced = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, 1), tf.float32)],
            reduce_retracing=True,
        )
        self._call = lambda x: traced(x).numpy()

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        """(N, 48, 48) or (N, 48, 48, 1) pixels in 0-255 -> (N, 7) probabilities."""
        batch = np.asarray(faces, dtype=np.float32).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)
        if len(batch) == 0:
            return np.zeros((0, NUM_CLASSES), np.float32)
        return self._call(batch)


def tflite_interpreter(content: bytes):
    """A LiteRT interpreter for a ``.tflite`` model, one thread.

    LiteRT (``ai-edge-litert``) instead of ``tf.lite.Interpreter``: it loads in 13 MB where importing
    TensorFlow costs the server about 770 MB of its 1.2 GB hosted budget, it runs the quantised
    default model in 0.6 ms a face here against about 1.2 ms, and TensorFlow's interpreter is
    deprecated in its favour. Live, Photos and Evaluate of a published model then never import
    TensorFlow; both give the same probabilities (checked to 0.0 on the default model)."""
    from ai_edge_litert.interpreter import Interpreter  # here, not at the top: only the pages that classify load it

    interpreter = Interpreter(model_content=content, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


class TFLiteClassifier:
    """Runs a FER ``.tflite`` file one face at a time with LiteRT."""

    def __init__(self, content: bytes | Path) -> None:
        self.interpreter = tflite_interpreter(content.read_bytes() if isinstance(content, Path) else content)
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        batch = np.asarray(faces, np.float32).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)
        outputs = []
        for face in batch:
            self.interpreter.set_tensor(self.input_index, face[None])
            self.interpreter.invoke()
            outputs.append(self.interpreter.get_tensor(self.output_index)[0].copy())
        return np.stack(outputs) if outputs else np.zeros((0, 7), np.float32)


def classifier_for(model_path: Path, twin: str = "model_float.tflite"):
    """The classifier that runs for a model file: its TFLite ``twin`` when ``publish`` wrote one beside
    it (verified against Keras, no TensorFlow import, fast one face at a time; a file older than the
    model by more than a minute is a leftover and is not trusted), else the Keras model called directly."""
    model_path = Path(model_path)
    tflite = model_path.with_name(twin)
    if tflite.exists() and tflite.stat().st_mtime >= model_path.stat().st_mtime - 60:
        return TFLiteClassifier(tflite)
    return FastClassifier(load_classifier(model_path))
