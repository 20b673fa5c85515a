"""What the command modules share: dataset and model arguments, safe CSV output, argument types."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import NoReturn

import numpy as np

from fer_core.data.ferplus import FerPlusVotes, load_votes_for
from fer_core.data.loading import load_dataset
from fer_core.data.stats import training_copies
from fer_core.errors import FerError
from fer_core.files import atomic_path
from fer_core.inference.faces import DEFAULT_DETECTOR, DETECTOR_CHOICES
from fer_core.nets.decision import DECISIONS
from fer_core.nets.tta import TTA_MODES
from fer_core.paths import DEFAULT_MODEL_PATH


def print_json(payload: object) -> None:
    print(json.dumps(payload, indent=2))


def chosen_model_path(args: argparse.Namespace) -> Path:
    return Path(args.model) if args.model else DEFAULT_MODEL_PATH


def labelled_dataset(path: str):
    dataset = load_dataset(path)
    if not dataset.has_labels:
        raise FerError(f"{Path(path).name} has no labels to score a model against")
    return dataset


def labelled_split(path: str, split: str):
    """One split of a dataset that has labels to score against."""
    return labelled_dataset(path).split(split)


def scored_split(path: str, split: str, *, without_training_copies: bool, ferplus: str | None = None):
    """A labelled split, for each of its faces whether the same image is in Training
    (``without_training_copies`` leaves those faces out), and the FER+ votes of those faces
    when ``ferplus`` names a votes file (None otherwise)."""
    dataset = labelled_dataset(path)
    positions = np.flatnonzero(dataset.usage == split)
    rows, in_training = dataset.split(split), training_copies(dataset, split)
    if without_training_copies:
        positions = positions[~in_training]
        rows, in_training = rows.subset(np.flatnonzero(~in_training)), np.zeros(int((~in_training).sum()), dtype=bool)
    votes = load_votes_for(ferplus, dataset.usage) if ferplus else None
    return rows, in_training, (FerPlusVotes(votes.votes[positions], votes.source) if votes is not None else None)


def write_csv(table, out: Path) -> None:
    """Write beside the target and rename, so a failed write never leaves half a file in its place."""
    try:
        with atomic_path(out) as temporary:
            table.to_csv(temporary, index=False)
    except OSError as exc:
        raise FerError(f"cannot write {out}: {exc.strerror or exc}") from exc


def positive_int(text: str) -> int:
    """argparse type for counts: 0 analysed no frame (or divided by zero) and timed no run (printing nan)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


WITHOUT_COPIES_HELP = "leave out faces whose image is also in Training (scored on memory, not generalisation)"

DETECTOR_ARGUMENT = {"default": DEFAULT_DETECTOR, "choices": DETECTOR_CHOICES,
                     "help": "default: as the app (auto: photos blazeface-tiled, videos blazeface-full)"}

DECISION_ARGUMENT = {
    "default": "balanced", "choices": DECISIONS,
    "help": "balanced (default): the model's recorded decision rule, which corrects for the training split's class shares "
            "(models published without one answer raw); raw: the plain probabilities",
}
TTA_ARGUMENT = {
    "nargs": "?", "const": "flip", "default": "none", "choices": TTA_MODES,
    "help": "test-time augmentation: flip (the default with a bare --tta) averages each face with its mirror image; "
            "flip-zoom also at 0.9x and 1.1x scale (six passes)",
}


class OneLineErrors(argparse.ArgumentParser):
    """A usage mistake ends in one line, as every other CLI error here does (argparse printed the
    whole usage block first); ``--help`` still shows it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")
