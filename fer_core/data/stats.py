"""Dataset statistics behind the Explore page and ``python -m fer_core info``.

All vectorised over the (N, 48, 48) array: a full FER2013 summarises in well under a
second, so the app can recompute on upload without a progress bar.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from fer_core.data.ferplus import NO_MAJORITY, FerPlusVotes
from fer_core.data.loading import FerDataset
from fer_core.labels import CLASS_NAMES, NUM_CLASSES


def class_balance(dataset: FerDataset) -> pd.DataFrame:
    """Rows per (split, class) with the percentage within the split.

    Both columns are ordered categoricals (FER class order, Training before PublicTest) so that
    tables and charts built from them keep that order instead of sorting names alphabetically.
    """
    if dataset.labels is None:
        return pd.DataFrame(columns=["split", "class", "count", "percent"])
    frames = []
    for split in dataset.split_names:
        counts = np.bincount(dataset.labels[dataset.usage == split], minlength=NUM_CLASSES)
        frames.append(
            pd.DataFrame({"split": split, "class": CLASS_NAMES, "count": counts, "percent": 100 * counts / max(counts.sum(), 1)})
        )
    table = pd.concat(frames, ignore_index=True)
    table["class"] = pd.Categorical(table["class"], categories=CLASS_NAMES, ordered=True)
    table["split"] = pd.Categorical(table["split"], categories=dataset.split_names, ordered=True)
    return table


def sample_indices(dataset: FerDataset, *, split: str | None, label: int | None, count: int, seed: int) -> np.ndarray:
    """Reproducible random picks from one split and class (``None`` means any)."""
    mask = np.ones(len(dataset), dtype=bool)
    if split is not None:
        mask &= dataset.usage == split
    if label is not None and dataset.labels is not None:
        mask &= dataset.labels == label
    candidates = np.flatnonzero(mask)
    rng = np.random.default_rng(seed)
    return rng.permutation(candidates)[:count]


def mean_faces(dataset: FerDataset, split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-class mean faces (7, 48, 48) and the global mean face (48, 48), as float32."""
    rows = dataset if split is None else dataset.split(split)
    images = rows.images.astype(np.float32)
    overall = images.mean(axis=0) if len(images) else np.zeros((48, 48), np.float32)
    per_class = np.zeros((NUM_CLASSES, 48, 48), np.float32)
    if rows.labels is not None:
        for label in range(NUM_CLASSES):
            members = images[rows.labels == label]
            per_class[label] = members.mean(axis=0) if len(members) else overall
    return per_class, overall


def pixel_histograms(dataset: FerDataset, split: str | None = None, bins: int = 64) -> pd.DataFrame:
    """Share of pixels per intensity bin, per class: does 'fear' photograph darker than 'happy'?"""
    rows = dataset if split is None else dataset.split(split)
    edges = np.linspace(0, 256, bins + 1)
    frames = []
    labels = rows.labels if rows.labels is not None else np.zeros(len(rows), dtype=np.int64)
    names = CLASS_NAMES if rows.labels is not None else ("all",)
    for label, name in enumerate(names):
        pixels = rows.images[labels == label].ravel()
        counts = np.bincount((pixels.astype(np.int32) * bins) // 256, minlength=bins)
        frames.append(pd.DataFrame({"class": name, "intensity": edges[:-1], "share": counts / max(counts.sum(), 1)}))
    return pd.concat(frames, ignore_index=True)


def brightness_contrast(dataset: FerDataset) -> pd.DataFrame:
    """Per-image mean (brightness) and standard deviation (contrast) with class and split."""
    flat = dataset.images.reshape(len(dataset), -1)
    brightness, contrast = np.empty(len(dataset), np.float32), np.empty(len(dataset), np.float32)
    for start in range(0, len(dataset), 2048):  # a float copy of every face at once peaked at 570 MB on FER2013
        block = flat[start : start + 2048].astype(np.float32)
        brightness[start : start + 2048], contrast[start : start + 2048] = block.mean(axis=1), block.std(axis=1)
    labels = dataset.labels if dataset.labels is not None else np.full(len(dataset), -1)
    return pd.DataFrame(
        {
            "brightness": brightness,
            "contrast": contrast,
            "class": [CLASS_NAMES[i] if i >= 0 else "unknown" for i in labels],
            "split": dataset.usage,
        }
    )


def fingerprints(images: np.ndarray) -> np.ndarray:
    """A 64-bit BLAKE2 digest per image: equal images, equal digests. Comparing these instead of
    sorting the images' bytes (np.unique over 2,304-byte rows) took the Evaluate page's copy check
    from +350 MB to a few hundred KB; matches are still compared byte for byte."""
    flat = images.reshape(len(images), -1)
    return np.frombuffer(b"".join(hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in flat), dtype=np.uint64)


def duplicate_groups(dataset: FerDataset) -> list[np.ndarray]:
    """Index groups of byte-identical images (each group has 2+ members)."""
    if len(dataset) == 0:
        return []
    _, inverse, counts = np.unique(fingerprints(dataset.images), return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    boundaries = np.cumsum(counts)[:-1]
    groups = []
    for group in np.split(order, boundaries):
        if len(group) > 1:
            same = np.array([np.array_equal(dataset.images[group[0]], dataset.images[i]) for i in group])
            if same.sum() > 1:  # a digest collision would leave a stranger out, never merge it
                groups.append(group[same])
    return groups


def training_copies(dataset: FerDataset, split: str, reference: str = "Training") -> np.ndarray:
    """For each face of ``split``, whether a byte-identical face is in ``reference``.

    A test face the net was trained on is scored on memory, not on generalisation: in the dev
    copy 280 of PublicTest's 3,589 faces are also in Training, and the shipped model gets 85.7 %
    of them right against 65.3 % of the rest.
    """
    chosen = dataset.usage == split
    if split == reference:
        return np.zeros(int(chosen.sum()), dtype=bool)
    return copies_of(dataset.images[dataset.usage == reference], dataset.images[chosen])  # copies, 2.3 KB a face


def copies_of(reference: np.ndarray, images: np.ndarray) -> np.ndarray:
    """For each of ``images``, whether a byte-identical image is among ``reference``."""
    if not len(reference) or not len(images):
        return np.zeros(len(images), dtype=bool)
    known = {digest: index for index, digest in enumerate(fingerprints(reference).tolist())}
    found = np.zeros(len(images), dtype=bool)
    for index, digest in enumerate(fingerprints(images).tolist()):
        match = known.get(digest)
        found[index] = match is not None and np.array_equal(reference[match], images[index])
    return found


def duplicate_summary(dataset: FerDataset) -> dict:
    """How many images repeat, within a split and across splits (a train/test leak)."""
    groups = duplicate_groups(dataset)
    flat = dataset.images.reshape(len(dataset), -1)
    blank = np.ptp(flat, axis=1) == 0 if len(dataset) else np.zeros(0, bool)
    # Blank faces (one grey level) repeat across splits too, but there is nothing to see in them: examples skip them.
    across = [g for g in groups if len(set(dataset.usage[g].tolist())) > 1]
    conflicting = [g for g in groups if dataset.labels is not None and len(set(dataset.labels[g].tolist())) > 1]
    shown_across = [g for g in across if not blank[g[0]]]
    shown_conflicting = [g for g in conflicting if not blank[g[0]]]
    return {
        "groups": len(groups),
        "images_in_groups": int(sum(len(g) for g in groups)),
        "within_splits": len(groups) - len(across),
        "across_splits": len(across),
        "conflicting_labels": len(conflicting),
        # Faces of one grey level: FER2013 has a few, labelled but with nothing to see.
        "blank_images": int(blank.sum()),
        "across_examples": [g.tolist() for g in shown_across[:50]],
        "conflicting_examples": [g.tolist() for g in shown_conflicting[:50]],
    }


def dataset_summary(dataset: FerDataset) -> dict:
    """Rows per split and class plus duplicate counts, JSON-ready (the ``info`` command)."""
    splits = {}
    for split in dataset.split_names:
        rows = dataset.usage == split
        per_class = (
            dict(zip(CLASS_NAMES, np.bincount(dataset.labels[rows], minlength=NUM_CLASSES).tolist(), strict=True))
            if dataset.labels is not None
            else {}
        )
        splits[split] = {"rows": int(rows.sum()), "per_class": per_class}
    duplicates = duplicate_summary(dataset)
    duplicates.pop("across_examples")
    duplicates.pop("conflicting_examples")
    return {"source": dataset.source, "rows": len(dataset), "labelled": dataset.has_labels, "splits": splits, "duplicates": duplicates}


def ferplus_summary(votes: FerPlusVotes, labels: np.ndarray | None) -> dict:
    """FER+ counts for ``info``: faces with votes and a majority, what the crowd said FER2013 cannot, and
    the share of faces with a majority whose FER label is that majority."""
    summary = votes.counts()
    majority = votes.majority
    decided = majority != NO_MAJORITY
    summary["agreement"] = float((majority[decided] == labels[decided]).mean()) if labels is not None and decided.any() else None
    return summary


def crowd_matrix(labels: np.ndarray, votes: FerPlusVotes) -> np.ndarray:
    """(7, 8) faces by FER label (rows) and FER+ majority (columns; the last: no majority), faces with votes only."""
    majority, voted = votes.majority, votes.has_votes
    columns = np.where(majority == NO_MAJORITY, NUM_CLASSES, majority)
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES + 1), np.int64)
    np.add.at(matrix, (labels[voted], columns[voted]), 1)
    return matrix


def crowd_cell(labels: np.ndarray, votes: FerPlusVotes, fer_label: int, crowd_column: int, count: int) -> np.ndarray:
    """Faces of one cell of ``crowd_matrix``, those the crowd agreed on most first (a clear
    disagreement with FER's label is a likely labelling error, worth seeing before the doubtful ones)."""
    majority = votes.majority
    column = np.where(majority == NO_MAJORITY, NUM_CLASSES, majority)
    cell = np.flatnonzero(votes.has_votes & (labels == fer_label) & (column == crowd_column))
    return cell[np.argsort(votes.ambiguity[cell], kind="stable")][:count]


def ambiguity_by_class(labels: np.ndarray, votes: FerPlusVotes) -> pd.DataFrame:
    """Mean entropy of the crowd's votes per FER class (bits; 0 = all ten agree), faces with votes only."""
    voted = votes.has_votes
    ambiguity = votes.ambiguity
    return pd.DataFrame({
        "class": list(CLASS_NAMES),
        "ambiguity": [float(ambiguity[voted & (labels == index)].mean()) if (voted & (labels == index)).any() else float("nan")
                      for index in range(NUM_CLASSES)],
        "faces": [int((voted & (labels == index)).sum()) for index in range(NUM_CLASSES)],
    })
