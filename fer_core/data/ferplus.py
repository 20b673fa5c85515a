"""FER+: ten crowd workers' votes for every FER2013 face (Barsoum et al. 2016), beside FER's one label.

Microsoft's ``fer2013new.csv`` has one row per row of Kaggle's original ``fer2013.csv`` and no
key to join on but the row order, so votes join a dataset only when both have the same number
of rows and the same ``Usage`` on every row; anything else (an image-folder release, a shuffled
copy) is refused with the reason, since a join by position there would pair faces with another
face's votes. Each row's ten counts are, in order, neutral, happiness, surprise, sadness, anger,
disgust, fear, contempt, unknown and not-a-face. The seven that FER2013 shares are mapped to its
class order; contempt, unknown and not-a-face are kept and counted, never dropped silently.

Rules: a face's FER+ majority is the emotion with the most votes, and there is none when the
row has no votes (no FER+ label), when the most votes go to contempt, unknown or not-a-face, or
when two emotions tie for the most. Its ambiguity is the entropy (bits) of its emotion votes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_core.errors import FerError
from fer_core.labels import NUM_CLASSES
from fer_core.limits import MAX_VOTES_BYTES
from fer_core.paths import DATA_DIR, FERPLUS_SHIPPED

VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
TO_FER = (6, 3, 5, 4, 0, 1, 2)  # FER class of each of the first seven vote columns
EXTRA = ("contempt", "unknown", "not a face")
ENV_VAR = "FERPLUS_PATH"
NO_MAJORITY = -1


@dataclass(frozen=True)
class FerPlusVotes:
    """Votes for each face of a dataset, in its row order."""

    votes: np.ndarray  # (N, 10) int16, VOTE_COLUMNS order
    source: str = ""

    @property
    def emotion_votes(self) -> np.ndarray:
        """(N, 7) vote counts in FER class order."""
        out = np.zeros((len(self.votes), NUM_CLASSES), np.int16)
        out[:, list(TO_FER)] = self.votes[:, :7]
        return out

    @property
    def has_votes(self) -> np.ndarray:
        return self.votes.sum(axis=1) > 0

    @property
    def distribution(self) -> np.ndarray:
        """(N, 7) the crowd's emotion votes renormalised to sum to one (zeros for a face with no emotion vote)."""
        counts = self.emotion_votes.astype(np.float32)
        totals = counts.sum(axis=1, keepdims=True)
        return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)

    @property
    def majority(self) -> np.ndarray:
        """(N,) the FER class most voted for, or NO_MAJORITY (no votes, a tie, or mostly contempt/unknown/not a face)."""
        counts = self.emotion_votes
        top = counts.max(axis=1)
        extra_top = self.votes[:, 7:].max(axis=1)
        unique = (counts == top[:, None]).sum(axis=1) == 1
        decided = (top > 0) & unique & (top > extra_top)
        return np.where(decided, counts.argmax(axis=1), NO_MAJORITY)

    @property
    def ambiguity(self) -> np.ndarray:
        """(N,) entropy in bits of the emotion votes: 0 when all agree, log2(7) at most."""
        p = self.distribution
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=1)

    def counts(self) -> dict[str, int]:
        """What the votes hold, for summaries: faces with votes, with a majority, and where the crowd said something FER2013 cannot."""
        votes, majority = self.votes, self.majority
        mostly = votes[:, 7:].argmax(axis=1)
        extra_wins = (votes[:, 7:].max(axis=1) >= votes[:, :7].max(axis=1)) & self.has_votes
        return {
            "faces": len(votes),
            "with_votes": int(self.has_votes.sum()),
            "with_majority": int((majority != NO_MAJORITY).sum()),
            "ties": int((self.has_votes & (majority == NO_MAJORITY) & ~extra_wins).sum()),
            **{f"mostly_{name.replace(' ', '_')}": int((extra_wins & (mostly == index)).sum()) for index, name in enumerate(EXTRA)},
            **{f"{name.replace(' ', '_')}_votes": int(votes[:, 7 + index].sum()) for index, name in enumerate(EXTRA)},
        }


def describe_votes(votes: np.ndarray, top: int = 2) -> str:
    """'neutral 8 · anger 2': a face's most voted answers, for captions."""
    names = (*VOTE_COLUMNS[:9], "not a face")
    order = [index for index in np.argsort(-np.asarray(votes), kind="stable")[:top] if votes[index] > 0]
    return " · ".join(f"{names[index]} {int(votes[index])}" for index in order) or "no votes"


def read_votes(path: str | os.PathLike[str]) -> tuple[FerPlusVotes, np.ndarray]:
    """A ``fer2013new.csv`` file (plain or ``.gz``): its votes and its ``Usage`` column."""
    import pandas as pd

    source = Path(path)
    if not source.is_file():
        raise FerError(f"FER+ votes not found: {source}")
    if source.stat().st_size > MAX_VOTES_BYTES:
        raise FerError(f"{source.name}: {source.stat().st_size >> 20} MB is far more than a FER+ votes file (about 0.2 MB gzipped)")
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    except (ValueError, OSError, UnicodeDecodeError, EOFError) as exc:
        raise FerError(f"{source.name}: not a readable FER+ votes file ({str(exc).splitlines()[0][:120]})") from None
    columns = {column.strip(): column for column in frame.columns}
    missing = [name for name in ("Usage", *VOTE_COLUMNS) if name not in columns]
    if missing:
        raise FerError(f"{source.name}: not a FER+ votes file: no column {', '.join(missing)} "
                       f"(expected Usage,Image name,{','.join(VOTE_COLUMNS)})")
    text = frame[[columns[name] for name in VOTE_COLUMNS]].apply(lambda column: column.str.strip())
    plain = text.apply(lambda column: column.str.fullmatch(r"[0-9]{1,2}")).to_numpy()
    if not plain.all():
        row, column = (int(i) for i in np.argwhere(~plain)[0])
        raise FerError(f"{source.name}: row {row + 1}: {VOTE_COLUMNS[column]} votes {text.iat[row, column][:20]!r} is not a count 0-99")
    votes = text.to_numpy(dtype=np.int16)
    usage = frame[columns["Usage"]].str.strip().to_numpy(dtype=str)
    return FerPlusVotes(votes, str(source)), usage


def join_votes(votes: FerPlusVotes, votes_usage: np.ndarray, dataset_usage: np.ndarray, *, name: str = "the votes") -> FerPlusVotes:
    """The votes for a dataset, row by row; refused unless both have the same rows and splits."""
    if len(votes_usage) != len(dataset_usage):
        raise FerError(
            f"{name} has {len(votes_usage):,} rows and the dataset {len(dataset_usage):,}: FER+ joins a dataset only in "
            "FER2013's original row order (Kaggle's fer2013.csv or icml_face_data.csv); an image-folder release or a "
            "reordered copy has lost that order"
        )
    differ = np.flatnonzero(np.asarray(votes_usage) != np.asarray(dataset_usage))
    if len(differ):
        row = int(differ[0])
        raise FerError(f"{name}: row {row + 1} is {str(votes_usage[row])!r} but the dataset's row {row + 1} is {str(dataset_usage[row])!r}: "
                       "the rows are not in the same order, so the votes cannot be joined")
    return votes


def find_votes_files(secrets: Mapping[str, object] | None = None) -> list[Path]:
    """Votes files the app may try, best first: FERPLUS_PATH, the same secret, data/, then the shipped copy."""
    found = [Path(str(value)).expanduser() for value in (os.environ.get(ENV_VAR), (secrets or {}).get(ENV_VAR)) if value]
    if DATA_DIR.is_dir():
        found += sorted(p for p in DATA_DIR.iterdir() if is_votes_file(p))
    found.append(FERPLUS_SHIPPED)
    unique: dict[Path, None] = {}
    for path in found:
        if path.is_file():
            unique.setdefault(path.resolve(), None)
    return list(unique)


def is_votes_file(path: Path) -> bool:
    """Named like a FER+ votes file (so dataset discovery leaves it alone)."""
    name = path.name.lower()
    return ("fer2013new" in name or "ferplus" in name) and name.endswith((".csv", ".csv.gz"))


def votes_for(dataset_usage: np.ndarray, secrets: Mapping[str, object] | None = None) -> tuple[FerPlusVotes | None, list[str]]:
    """The first votes file that joins this dataset, and why each one tried did not."""
    reasons = []
    for path in find_votes_files(secrets):
        try:
            votes, usage = read_votes(path)
            return join_votes(votes, usage, dataset_usage, name=path.name), reasons
        except FerError as exc:
            reasons.append(str(exc))
    return None, reasons


def load_votes_for(path: str | os.PathLike[str], dataset_usage: np.ndarray) -> FerPlusVotes:
    """One named votes file joined to a dataset (the CLI's ``--ferplus``)."""
    votes, usage = read_votes(path)
    return join_votes(votes, usage, dataset_usage, name=Path(path).name)


def crowd_scores(votes: FerPlusVotes, probabilities: np.ndarray) -> dict:
    """A model scored against the crowd: accuracy on faces with a FER+ majority, and the mean probability
    it gives to the crowd's emotion votes (1 when it answers exactly what all ten said)."""
    majority = votes.majority
    decided = majority != NO_MAJORITY
    voted = votes.distribution.sum(axis=1) > 0
    predictions = probabilities.argmax(axis=1)
    return {
        "n": int(decided.sum()),
        "accuracy": float((predictions[decided] == majority[decided]).mean()) if decided.any() else None,
        "crowd_probability": float((probabilities[voted] * votes.distribution[voted]).sum(axis=1).mean()) if voted.any() else None,
        "n_voted": int(voted.sum()),
    }


def soft_targets(votes: FerPlusVotes, labels: np.ndarray, kind: str) -> tuple[np.ndarray, int]:
    """(N, 7) training targets from the crowd: 'ferplus-majority' one-hot on the majority, 'ferplus-votes'
    the vote shares; a face without a FER+ label (no votes, no majority for 'majority') keeps its FER label.
    Returns the targets and how many faces fell back."""
    targets = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    if kind == "ferplus-majority":
        usable = votes.majority != NO_MAJORITY
        targets[usable] = np.eye(NUM_CLASSES, dtype=np.float32)[votes.majority[usable]]
    elif kind == "ferplus-votes":
        usable = votes.distribution.sum(axis=1) > 0
        targets[usable] = votes.distribution[usable]
    else:
        raise FerError(f"unknown FER+ target kind {kind!r}")
    return targets, int((~usable).sum())
