"""The Live page's record of the main face over time (no TensorFlow: faces are made by hand)."""

import numpy as np
import pytest

from fer_core.inference.predictor import FaceResult
from fer_core.inference.timeline import GAP_S, ExpressionTimeline, expression_shares, shares_line
from fer_core.labels import CLASS_NAMES


def face(leading: str, share: float = 0.7) -> FaceResult:
    probabilities = np.full(len(CLASS_NAMES), (1 - share) / (len(CLASS_NAMES) - 1), np.float32)
    probabilities[CLASS_NAMES.index(leading)] = share
    return FaceResult((0, 0, 48, 48), probabilities, np.zeros((48, 48), np.uint8))


def test_frames_faster_than_the_sample_step_are_not_kept() -> None:
    timeline = ExpressionTimeline(sample_every_s=0.2)
    kept = [timeline.record([face("happy")], at=1000 + i / 30) for i in range(30)]  # one second at 30 fps
    assert sum(kept) == 5 and len(timeline) == 5
    table = timeline.frame()
    assert list(table.columns) == ["time_s", "utc", "faces", "label", *CLASS_NAMES]
    assert table["utc"].iloc[0] == "1970-01-01T00:16:40.000Z"  # unambiguous whatever the server's time zone
    assert table["time_s"].iloc[0] == 0 and table["time_s"].is_monotonic_increasing
    assert (table["label"] == "happy").all() and table["happy"].iloc[0] == pytest.approx(0.7)


def test_the_main_face_is_recorded_and_a_frame_without_one_leaves_an_empty_row() -> None:
    timeline = ExpressionTimeline(sample_every_s=0.2)
    timeline.record([face("sad"), face("happy")], at=0.0)
    timeline.record([], at=0.2)
    table = timeline.frame()
    assert table["faces"].tolist() == [2, 0] and table["label"].tolist() == ["sad", ""]
    assert table.loc[1, list(CLASS_NAMES)].isna().all()


def test_the_record_is_bounded_and_the_window_keeps_the_time_axis() -> None:
    timeline = ExpressionTimeline(sample_every_s=1.0, keep_s=10.0)
    for second in range(25):
        timeline.record([face("angry" if second < 20 else "fear")], at=float(second))
    assert len(timeline) == 10  # the oldest fifteen are gone
    table = timeline.frame()
    assert table["time_s"].tolist()[0] == 0  # counted from the oldest point kept
    recent = timeline.frame(last_s=5)
    assert recent["time_s"].tolist() == [4, 5, 6, 7, 8, 9]  # not renumbered from the window's start
    assert recent["label"].tolist() == ["angry"] + ["fear"] * 5


def test_a_stopped_camera_breaks_the_plotted_lines_but_not_the_table() -> None:
    timeline = ExpressionTimeline(sample_every_s=0.2)
    timeline.record([face("happy")], at=0.0)
    timeline.record([face("happy")], at=0.2)
    timeline.record([face("surprise")], at=0.2 + GAP_S + 5)  # the camera was off for five seconds
    assert len(timeline.frame()) == 3
    plotted = timeline.frame(break_gaps=True)
    assert len(plotted) == 4 and plotted.loc[2, "happy"] != plotted.loc[2, "happy"]  # NaN between the two stretches
    assert plotted["time_s"].is_monotonic_increasing


def test_shares_count_only_time_with_a_face_in_fer_order() -> None:
    timeline = ExpressionTimeline(sample_every_s=0.2)
    for step, faces in enumerate([[face("happy")]] * 3 + [[]] * 4 + [[face("neutral")]]):
        timeline.record(faces, at=step * 0.2)
    shares = expression_shares(timeline.frame())
    assert list(shares.index) == list(CLASS_NAMES)
    assert shares["happy"] == pytest.approx(0.75) and shares["neutral"] == pytest.approx(0.25) and shares["angry"] == 0
    assert shares_line(shares) == "happy 75%, neutral 25%"  # most often first, classes that never led left out


def test_no_face_at_all_gives_no_shares_rather_than_zeros() -> None:
    timeline = ExpressionTimeline()
    assert expression_shares(timeline.frame()).empty
    timeline.record([], at=0.0)
    assert expression_shares(timeline.frame()).empty


def test_the_live_chart_keeps_fer_order_and_scrolls_a_fixed_window() -> None:
    from fer_core.charts import CLASS_COLOURS, probability_timeline_figure

    timeline = ExpressionTimeline(sample_every_s=1.0)
    for second in range(50):
        timeline.record([face("happy")] if second != 45 else [], at=float(second))
    recent = timeline.frame(last_s=30, break_gaps=True)
    figure = probability_timeline_figure(recent, legend=False, window_s=30)
    assert [trace.name for trace in figure.data] == list(CLASS_NAMES)
    assert [trace.line.color for trace in figure.data] == [CLASS_COLOURS[name] for name in CLASS_NAMES]
    assert tuple(figure.layout.xaxis.range) == (19.0, 49.0) and figure.layout.showlegend is False
    assert np.isnan(figure.data[CLASS_NAMES.index("happy")].y[45 - 19])  # the faceless second is a gap, not a zero
    early = probability_timeline_figure(timeline.frame().head(5), window_s=30)
    assert tuple(early.layout.xaxis.range) == (0.0, 30.0)  # fills from the left before it scrolls
