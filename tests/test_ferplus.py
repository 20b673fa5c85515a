"""FER+ votes: reading, joining by row order, majority rules, soft targets, and the commands that use them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import random_faces, write_fer_csv
from test_cli_data import run_cli

from fer_core.data.ferplus import (
    NO_MAJORITY,
    VOTE_COLUMNS,
    FerPlusVotes,
    crowd_scores,
    join_votes,
    load_votes_for,
    read_votes,
    soft_targets,
)
from fer_core.data.loading import load_dataset
from fer_core.errors import FerError
from fer_core.paths import FERPLUS_SHIPPED

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
HEADER = "Usage,Image name," + ",".join(VOTE_COLUMNS)
# Votes in FER+ column order: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
ROWS = [
    ("Training", [8, 0, 0, 1, 1, 0, 0, 0, 0, 0]),  # neutral
    ("Training", [0, 0, 0, 0, 2, 6, 0, 0, 2, 0]),  # disgust
    ("Training", [4, 4, 0, 0, 0, 0, 0, 0, 2, 0]),  # neutral/happy tie: no majority
    ("Training", [0, 0, 0, 0, 0, 0, 0, 0, 1, 9]),  # not a face
    ("Training", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),  # no votes: no FER+ label
    ("PublicTest", [1, 0, 0, 0, 0, 0, 0, 6, 3, 0]),  # mostly contempt
    ("PublicTest", [0, 0, 3, 0, 0, 0, 7, 0, 0, 0]),  # fear
]


def write_votes(path: Path, rows=ROWS) -> Path:
    lines = [HEADER] + [f"{usage},fer{index:07d}.png," + ",".join(map(str, votes)) for index, (usage, votes) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_majority_rules_and_counts(tmp_path: Path) -> None:
    votes, usage = read_votes(write_votes(tmp_path / "fer2013new.csv"))
    assert usage.tolist() == [u for u, _ in ROWS]
    assert votes.majority.tolist() == [6, 1, NO_MAJORITY, NO_MAJORITY, NO_MAJORITY, NO_MAJORITY, 2]
    assert votes.emotion_votes[1].tolist() == [2, 6, 0, 0, 0, 0, 0]  # anger and disgust moved to FER's order
    np.testing.assert_allclose(votes.distribution[6], [0, 0, 0.7, 0, 0, 0.3, 0])
    assert votes.ambiguity[4] == 0 and 0 < votes.ambiguity[0] < votes.ambiguity[2] == pytest.approx(1.0)  # a 4-4 tie: one bit
    counts = votes.counts()
    assert counts["with_votes"] == 6 and counts["with_majority"] == 3 and counts["ties"] == 1
    assert counts["mostly_not_a_face"] == 1 and counts["mostly_contempt"] == 1 and counts["contempt_votes"] == 6


def test_a_join_needs_the_same_rows_and_splits(tmp_path: Path) -> None:
    votes, usage = read_votes(write_votes(tmp_path / "fer2013new.csv"))
    assert join_votes(votes, usage, usage.copy()) is votes
    with pytest.raises(FerError, match="7 rows and the dataset 6.*image-folder release"):
        join_votes(votes, usage, usage[:6])
    shuffled = usage[::-1].copy()
    with pytest.raises(FerError, match="row 1 is 'Training' but the dataset's row 1 is 'PublicTest'"):
        join_votes(votes, usage, shuffled)


@pytest.mark.parametrize(("body", "message"), [
    ("Usage,Image name,neutral\nTraining,a.png,3\n", "no column happiness"),
    (HEADER + "\nTraining,a.png,1,2,3,x,0,0,0,0,0,0\n", "row 1: sadness votes 'x' is not a count"),
    (HEADER + "\nTraining,a.png,1,2,3,-1,0,0,0,0,0,0\n", "row 1: sadness votes '-1'"),
])
def test_a_bad_votes_file_is_refused_with_its_row(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "votes.csv"
    path.write_text(body)
    with pytest.raises(FerError, match=message):
        read_votes(path)


def test_soft_targets_fall_back_to_the_fer_label_where_the_crowd_gives_none(tmp_path: Path) -> None:
    votes, _ = read_votes(write_votes(tmp_path / "fer2013new.csv"))
    labels = np.array([0, 0, 3, 4, 5, 6, 2])
    majority, fell_back = soft_targets(votes, labels, "ferplus-majority")
    assert fell_back == 4 and majority.argmax(axis=1).tolist() == [6, 1, 3, 4, 5, 6, 2]
    shares, fell_back = soft_targets(votes, labels, "ferplus-votes")
    assert fell_back == 2  # no votes, and votes only for not-a-face
    np.testing.assert_allclose(shares[2], [0, 0, 0, 0.5, 0, 0, 0.5])  # the tie stays a tie
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)


def test_crowd_scores_count_only_faces_the_crowd_decided() -> None:
    votes = FerPlusVotes(np.array([[8, 0, 0, 0, 2, 0, 0, 0, 0, 0], [0, 5, 5, 0, 0, 0, 0, 0, 0, 0]], np.int16))
    probabilities = np.zeros((2, 7), np.float32)
    probabilities[:, 6] = 1.0  # always neutral
    scores = crowd_scores(votes, probabilities)
    assert scores["n"] == 1 and scores["accuracy"] == 1.0 and scores["n_voted"] == 2
    assert scores["crowd_probability"] == pytest.approx((0.8 + 0.0) / 2)


def test_the_shipped_votes_are_microsofts_file_for_kaggles_row_order() -> None:
    votes, usage = read_votes(FERPLUS_SHIPPED)
    assert len(usage) == 35_887 and set(usage) == {"Training", "PublicTest", "PrivateTest"}
    assert (votes.votes.sum(axis=1)[votes.has_votes] == 10).mean() > 0.99


def _dataset_and_votes(tmp_path: Path) -> tuple[Path, Path]:
    labels = np.array([6, 1, 3, 4, 5, 6, 2])
    data = write_fer_csv(tmp_path / "fer2013.csv", random_faces(7), labels, [u for u, _ in ROWS])
    return data, write_votes(tmp_path / "fer2013new.csv")


def test_info_json_gives_the_crowds_counts_and_agreement(tmp_path: Path) -> None:
    data, votes = _dataset_and_votes(tmp_path)
    result = run_cli("info", str(data), "--ferplus", str(votes), "--json")
    assert result.returncode == 0, result.stderr
    crowd = json.loads(result.stdout)["ferplus"]
    assert crowd["with_majority"] == 3 and crowd["agreement"] == pytest.approx(1.0)  # rows 1, 2 and 7 agree with FER
    other = run_cli("info", str(data), "--ferplus", str(FERPLUS_SHIPPED))
    assert other.returncode == 2 and other.stderr.startswith("error: fer2013new.csv.gz has 35,887 rows") and "Traceback" not in other.stderr


@pytest.mark.slow
def test_evaluate_scores_against_the_crowd_too(tmp_path: Path, tiny_model_file: Path) -> None:
    data, votes = _dataset_and_votes(tmp_path)
    result = run_cli("evaluate", "--data", str(data), "--model", str(tiny_model_file), "--usage", "PublicTest",
                     "--ferplus", str(votes), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    crowd = json.loads(result.stdout)["ferplus"]
    assert crowd["n"] == 1 and crowd["n_voted"] == 2 and 0 <= crowd["crowd_probability"] <= 1  # the contempt row has one neutral vote


@pytest.mark.slow
def test_train_on_the_crowds_votes_says_how_many_faces_fell_back(tmp_path: Path) -> None:
    from fer_core.training.config import TrainConfig
    from fer_core.training.loop import train_run
    from fer_core.training.runs import create_run

    data, votes = _dataset_and_votes(tmp_path)
    run_dir = create_run(TrainConfig(data=str(data), arch="tiny", epochs=1, batch_size=4, labels="ferplus-votes", ferplus=str(votes)))
    assert train_run(run_dir) == "finished", (run_dir / "train.log").read_text()[-1500:]
    assert "targets: ferplus-votes from fer2013new.csv; 2 of 5 faces have no FER+ label" in (run_dir / "train.log").read_text()
    assert "--labels ferplus-votes --ferplus" in TrainConfig.load(run_dir / "config.json").command()


def test_a_crowd_share_mixes_the_votes_with_the_fer_label(tmp_path: Path) -> None:
    from fer_core.training.config import TrainConfig
    from fer_core.training.loop import crowd_targets

    data, votes = _dataset_and_votes(tmp_path)
    config = TrainConfig(data=str(data), labels="ferplus-votes", ferplus=str(votes), crowd_share=0.25).validate()
    lines: list[str] = []
    targets = crowd_targets(config, np.array([6, 1, 3, 4, 5]), lines.append)
    np.testing.assert_allclose(targets[1], [0.25 * 0.25, 0.75 + 0.25 * 0.75, 0, 0, 0, 0, 0])  # votes 2 anger, 6 disgust; label disgust
    np.testing.assert_allclose(targets[4], np.eye(7)[5])  # no votes: the FER label whole, whatever the share
    np.testing.assert_allclose(targets.sum(axis=1), 1, rtol=1e-6)
    assert "(25% crowd, 75% FER label)" in lines[0]
    assert "--crowd-share 0.25" in config.command()
    with pytest.raises(FerError, match="a crowd share needs FER\\+ labels"):
        TrainConfig(data=str(data), crowd_share=0.5).validate()


@pytest.mark.skipif(not (SHARED / "ferplus" / "ferplus_dev.csv.gz").exists(), reason="needs the FER+ votes aligned with the dev copy in ../shared")
def test_the_dev_copy_and_its_aligned_votes_agree_as_the_readme_says() -> None:
    dataset = load_dataset(SHARED / "fer2013" / "fer2013_dev.csv.gz")
    votes = load_votes_for(SHARED / "ferplus" / "ferplus_dev.csv.gz", dataset.usage)
    has = votes.has_votes
    assert has.sum() == 31_662  # 31,658 matched faces plus 4 voted only not-a-face
    assert (votes.emotion_votes[has].argmax(axis=1) == dataset.labels[has]).mean() == pytest.approx(0.644, abs=0.001)
