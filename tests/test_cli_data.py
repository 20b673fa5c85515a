"""CLI data commands in a subprocess: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, write_fer_csv


def run_cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "fer_core", *args], cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=300)


def test_info_json_counts_rows_per_split_and_class(tmp_path: Path, faces) -> None:
    images, labels, usage = faces
    path = write_fer_csv(tmp_path / "fer2013.csv", images, labels, usage)
    result = run_cli("info", str(path), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows"] == 14
    assert summary["splits"]["Training"]["rows"] == 10
    assert summary["splits"]["PublicTest"]["per_class"]["neutral"] == 2


def test_info_counts_duplicates_across_splits(tmp_path: Path, faces) -> None:
    images, labels, usage = faces
    images = images.copy()
    images[12] = images[0]  # the same face in Training and PublicTest
    images[5] = 0  # a blank face, as FER2013 has a few
    path = write_fer_csv(tmp_path / "fer2013.csv", images, labels, usage)
    summary = json.loads(run_cli("info", str(path), "--json").stdout)
    assert summary["duplicates"]["across_splits"] == 1 and summary["duplicates"]["blank_images"] == 1
    assert "blank images (one grey level): 1" in run_cli("info", str(path)).stdout


def test_bad_file_gives_one_error_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
    result = run_cli("info", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: bad.csv: row 1: 3 pixel values, expected 2304 (48x48)"]
    assert "Traceback" not in result.stderr


def test_bench_data_prints_cold_and_cached_times(tmp_path: Path, faces) -> None:
    images, labels, usage = faces
    path = write_fer_csv(tmp_path / "fer2013.csv", images, labels, usage)
    result = run_cli("bench-data", str(path), "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["rows"] == 14 and figures["cold_s"] > 0 and figures["cached_s"] > 0 and figures["naive_pandas_s"] > 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["nosuch"], "invalid choice: 'nosuch'"),
        (["predict-video", "clip.mp4", "--every", "0"], "argument --every: must be at least 1, not 0"),
        (["bench", "--runs", "many"], "argument --runs: not a whole number: 'many'"),
        (["info"], "the following arguments are required: path"),
    ],
)
def test_a_usage_mistake_is_one_error_line(args: list[str], said: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: python -m fer_core") and said in result.stderr
