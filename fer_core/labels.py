"""FER2013 class names, in label order, and the colours the whole app uses for them."""

CLASS_NAMES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 48

# One colour per class everywhere (bars, curves, boxes) so a user learns them once.
CLASS_COLOURS: dict[str, str] = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#f2b701",
    "sad": "#1f77b4",
    "surprise": "#17becf",
    "neutral": "#7f7f7f",
}

# Said wherever the app shows a prediction about a person's face (Home, Live, Photos): the model
# card's "intended use and limits" in one sentence, where people see the answers, not only in the card.
WHAT_IT_READS = (
    "It reads the expression on a face, not what the person feels, and it errs: even the default model misreads "
    "about one FER2013 test face in three (fear, sad and disgust most). For learning and play, never for decisions "
    "about people."
)


def class_index(name: str) -> int:
    """Map a class name (any case, surrounding spaces ignored) to its FER label."""
    key = name.strip().lower()
    if key not in CLASS_NAMES:
        raise ValueError(f"unknown class {name!r}; expected one of {', '.join(CLASS_NAMES)}")
    return CLASS_NAMES.index(key)


def hex_to_bgr(colour: str) -> tuple[int, int, int]:
    """Convert ``#rrggbb`` to the BGR tuple OpenCV drawing functions expect."""
    value = colour.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return blue, green, red
