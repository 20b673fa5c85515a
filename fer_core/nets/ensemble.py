"""Averaging independently trained classifiers into one model.

Nets trained apart make partly different mistakes, and the mean of their probability vectors
can be right more often than either; how much has to be measured. On PublicTest, two VGGs of
this project's recipe from different seeds (65.28 % and 64.14 %, with flip TTA 65.87 % and
64.92 %) average to 65.81 % (66.65 % with flip TTA); two trained more differently (one with
random erasing; 65.42 % and 64.73 %) to 66.93 % (67.60 %), at the cost of one pass per member
per face. The ensemble is saved as one ordinary Keras model (the members
nested, their outputs averaged), so Evaluate, the TFLite export and the live path take it
unchanged.

``ensemble.json`` beside a published ensemble lists each member's training stages, so the
model card can give every command needed to rebuild it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fer_core.errors import FerError
from fer_core.evaluation.significance import paired_comparison
from fer_core.files import BEST_MODEL
from fer_core.labels import IMAGE_SIZE
from fer_core.nets.decision import DecisionRule, choose_tau
from fer_core.nets.tta import TTA_MODES
from fer_core.training.config import portable_path
from fer_core.training.lineage import stages_before
from fer_core.training.runs import resolve_run_dir

ENSEMBLE_FILE = "ensemble.json"
MAX_MEMBERS = 5  # each member adds its full latency to every face on the live path


def check_member_count(count: int) -> None:
    if not 2 <= count <= MAX_MEMBERS:
        raise FerError(f"an ensemble needs 2 to {MAX_MEMBERS} models, got {count}")


def build_ensemble(members: Sequence) -> object:
    """One model whose output is the mean of the members' probabilities."""
    import keras

    check_member_count(len(members))
    pixels = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="pixels")
    # Members are renamed so their (identically named) layers live in separate scopes.
    outputs = [keras.Model(m.inputs[0], m.outputs[0], name=f"member_{i}")(pixels) for i, m in enumerate(members, start=1)]
    return keras.Model(pixels, keras.layers.Average(name="probabilities")(outputs), name="ensemble")


def ensemble_members(model) -> list:
    """The nested member models of an ensemble; empty for a plain network."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def member_model_path(source: str | Path) -> Path:
    """A member named by a ``.keras`` file or by a run (id or folder), whose best model it means."""
    path = Path(source)
    if path.suffix == ".keras":
        return path

    run_dir = resolve_run_dir(source)
    if not run_dir.is_dir():
        raise FerError(f"{source} is neither a .keras file nor a training run")
    best = run_dir / BEST_MODEL
    if not best.is_file():
        raise FerError(f"run {source} has no best.keras yet (it has not finished an epoch)")
    return best


def describe_member(model_path: Path) -> dict:
    """Where a member came from: its file and the training stages (commands) behind it."""
    stages = stages_before(str(model_path))
    return {"model": portable_path(str(model_path)), "stages": stages}


def compare_subsets(
    probabilities: dict[str, dict[str, np.ndarray]], labels: np.ndarray, *,
    prior: tuple[float, ...] | None = None, reference: np.ndarray | None = None,
) -> list[dict]:
    """Accuracy of every subset of candidate models averaged, with each TTA mode, best first
    by flip TTA (what the live path can afford for two nets).

    ``probabilities`` maps a name to its probabilities on the selection split per TTA mode, so
    each model is run once however many subsets it joins (averaging members and averaging views
    commute). Choosing the best of many subsets on that split flatters the winner a little;
    the caller reports how many were compared, and each row's ``p_vs_best`` (exact McNemar,
    flip TTA, on the same faces) says whether its gap to the winner could be chance.

    Live answers by the balanced rule that ``publish`` records, not by the raw argmax, and a subset
    can gain raw accuracy while losing under its rule (the trio of issue 32 did). So with ``prior``
    (the Training split's class shares) each row also gets ``balanced``: that rule's tau, chosen
    for mean recall on these faces as ``publish`` chooses it, and the accuracy and mean recall it
    gives. With ``reference`` (the answers to beat on the same faces, as Live gives them: the
    default's by its recorded rule), ``vs_reference`` counts the faces right only for the subset and
    only for the reference, with McNemar's p, comparing the subset's balanced answers (flip without
    a prior): the test a new default has to pass.
    """
    names = list(probabilities)
    rows, flip_predictions = [], []
    for size in range(1, min(len(names), MAX_MEMBERS) + 1):
        for subset in itertools.combinations(names, size):
            averaged = {mode: np.mean([probabilities[name][mode] for name in subset], axis=0) for mode in TTA_MODES}
            predictions = {mode: averaged[mode].argmax(axis=1) for mode in TTA_MODES}
            flip_predictions.append(predictions["flip"])
            row = {
                "members": list(subset),
                "accuracy": float(np.mean(predictions["none"] == labels)),
                "accuracy_tta": float(np.mean(predictions["flip"] == labels)),
                "accuracy_flip_zoom_tta": float(np.mean(predictions["flip-zoom"] == labels)),
            }
            answers = predictions["flip"]
            if prior is not None:
                tau, table = choose_tau(averaged["flip"], labels, prior)
                row["balanced"] = next(entry for entry in table if entry["tau"] == tau)
                answers = DecisionRule(prior, tau).adjust(averaged["flip"]).argmax(axis=1)
            if reference is not None:
                test = paired_comparison(labels, reference, answers)
                row["vs_reference"] = {"only_subset": test.only_b, "only_reference": test.only_a, "p": test.p_value}
            rows.append(row)
    order = sorted(range(len(rows)), key=lambda i: (-rows[i]["accuracy_tta"], -rows[i]["accuracy"], len(rows[i]["members"])))
    if order:
        best = flip_predictions[order[0]]
        for index in order:
            rows[index]["p_vs_best"] = paired_comparison(labels, best, flip_predictions[index]).p_value
    return [rows[index] for index in order]
