"""Video timelines from a small AVI written in the test."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import paste_face

from fer_core.errors import FerError
from fer_core.inference.faces import BlazeFaceDetector
from fer_core.inference.predictor import Predictor
from fer_core.inference.video import analyse_video
from fer_core.labels import CLASS_NAMES
from fer_core.nets.classifiers import FastClassifier, load_classifier

pytestmark = pytest.mark.slow


def test_timeline_has_one_row_per_analysed_frame(tmp_path: Path, tiny_model_file: Path, real_faces) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for index in range(30):
        frame = np.full((240, 320, 3), 100, np.uint8)
        paste_face(frame, real_faces[index % 3], 80, 40, 150)
        writer.write(frame)
    writer.release()
    predictor = Predictor(FastClassifier(load_classifier(tiny_model_file)), BlazeFaceDetector())
    seen = []
    analysis = analyse_video(path, predictor, every_nth=3, on_progress=seen.append)
    assert len(analysis.timeline) == 10
    assert list(analysis.timeline.columns[-7:]) == list(CLASS_NAMES)
    assert (analysis.timeline["faces"] >= 1).mean() >= 0.8
    assert analysis.key_frames and seen[-1] == 1.0


def test_a_file_that_is_not_a_video_is_refused(tmp_path: Path, tiny_model_file: Path) -> None:
    path = tmp_path / "fake.mp4"
    path.write_bytes(b"not a video at all")
    predictor = Predictor(FastClassifier(load_classifier(tiny_model_file)), BlazeFaceDetector())
    with pytest.raises(FerError, match="fake.mp4"):
        analyse_video(path, predictor)


def test_key_frames_span_a_long_video_without_keeping_every_frame(tmp_path: Path, tiny_model_file: Path) -> None:
    path = tmp_path / "long.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for index in range(200):
        writer.write(np.full((120, 160, 3), index % 250, np.uint8))
    writer.release()
    predictor = Predictor(FastClassifier(load_classifier(tiny_model_file)), BlazeFaceDetector())
    analysis = analyse_video(path, predictor, every_nth=1, key_frame_count=4)
    times = [time_s for time_s, _ in analysis.key_frames]
    assert len(analysis.timeline) == 200 and len(times) == 4 and times == sorted(times)
    assert times[0] == 0 and times[-1] >= 0.75 * 19.9  # spread over the video, not its first frames
    assert analyse_video(path, predictor, every_nth=10, key_frame_count=0).key_frames == []


def test_a_truncated_video_is_analysed_as_far_as_it_goes_and_says_so(tmp_path: Path, tiny_model_file: Path) -> None:
    from test_cli_data import run_cli

    whole = tmp_path / "whole.avi"
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for index in range(60):
        writer.write(np.full((120, 160, 3), index * 4, np.uint8))
    writer.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # a download that stopped halfway
    predictor = Predictor(FastClassifier(load_classifier(tiny_model_file)), BlazeFaceDetector())
    assert not analyse_video(whole, predictor, every_nth=5).truncated
    analysis = analyse_video(cut, predictor, every_nth=5)
    assert analysis.truncated and analysis.frames_total == 60 and 0 < analysis.frames_read < 40
    assert "cut.avi: the file ends at frame" in analysis.describe_truncation("cut.avi")

    out = tmp_path / "timeline.csv"
    result = run_cli("predict-video", str(cut), "--out", str(out), "--model", str(tiny_model_file))
    assert result.returncode == 2 and result.stderr.startswith("error: cut.avi: the file ends at frame") and "Traceback" not in result.stderr
    assert out.is_file()  # what could be read is kept
    folder = run_cli("predict-video", str(tmp_path))
    assert folder.returncode == 2 and "a folder, not a video file" in folder.stderr
