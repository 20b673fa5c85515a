"""Plotly figures shared by the pages, always in FER class order with the app's colours.

Kept out of the pages so every chart of a kind looks the same wherever it appears,
and so they can be checked without a browser.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from fer_core.data.ferplus import TO_FER
from fer_core.labels import CLASS_COLOURS, CLASS_NAMES, IMAGE_SIZE
from fer_core.training.routes import Route

CLASS_ORDER = {"class": list(CLASS_NAMES)}


def class_balance_figure(balance: pd.DataFrame, *, percent: bool = False) -> go.Figure:
    value = "percent" if percent else "count"
    figure = px.bar(
        balance, x="class", y=value, color="split", barmode="group", category_orders=CLASS_ORDER,
        text=balance[value].map(lambda v: f"{v:.1f}%" if percent else f"{v:,}"),
        labels={"percent": "% of split", "count": "faces"},
    )
    figure.update_layout(margin={"t": 30, "b": 10}, legend_title_text="split")
    return figure


def face_strip_figure(faces: np.ndarray, titles: Sequence[str], *, diverging: bool = False, height: int = 260) -> go.Figure:
    """Several 48x48 maps side by side with titles (mean faces, differences)."""
    limit = float(np.abs(faces).max()) or 1.0
    figure = px.imshow(
        faces, facet_col=0, facet_col_wrap=len(faces), binary_string=False,
        color_continuous_scale="RdBu_r" if diverging else "gray",
        zmin=-limit if diverging else 0, zmax=limit if diverging else 255,
    )
    for annotation, title in zip(figure.layout.annotations, titles, strict=False):
        annotation.text = title
    figure.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    figure.update_layout(height=height, margin={"t": 30, "b": 0, "l": 0, "r": 0}, coloraxis_showscale=diverging)
    return figure


def pixel_histogram_figure(histograms: pd.DataFrame) -> go.Figure:
    figure = px.line(
        histograms, x="intensity", y="share", color="class", category_orders=CLASS_ORDER,
        color_discrete_map=CLASS_COLOURS, labels={"intensity": "pixel intensity", "share": "share of pixels"},
    )
    figure.update_layout(margin={"t": 30, "b": 10})
    return figure


def brightness_contrast_figure(table: pd.DataFrame) -> go.Figure:
    long = table.melt(id_vars=["class", "split"], value_vars=["brightness", "contrast"], var_name="measure")
    figure = px.box(
        long, x="class", y="value", color="class", facet_col="measure", category_orders=CLASS_ORDER,
        color_discrete_map=CLASS_COLOURS, points=False,
    )
    figure.update_yaxes(matches=None, showticklabels=True)
    figure.for_each_annotation(lambda note: note.update(text=note.text.split("=", 1)[-1]))  # 'brightness', not 'measure=brightness'
    figure.update_layout(showlegend=False, margin={"t": 30, "b": 10})
    return figure


def probability_bars(probabilities: Sequence[float], *, height: int = 280, title: str = "") -> go.Figure:
    """Horizontal bars for the 7 classes, angry on top, like the label order."""
    values = [float(p) for p in probabilities]
    figure = go.Figure(
        go.Bar(
            x=values, y=list(CLASS_NAMES), orientation="h",
            marker_color=[CLASS_COLOURS[name] for name in CLASS_NAMES],
            text=[f"{v:.0%}" for v in values], textposition="outside", cliponaxis=False,
        )
    )
    figure.update_layout(
        height=height, title=title or None, margin={"t": 30 if title else 5, "b": 5, "l": 5, "r": 30},
        xaxis={"range": [0, 1], "tickformat": ".0%"},
        yaxis={"categoryorder": "array", "categoryarray": list(CLASS_NAMES)[::-1]},
    )
    return figure


def training_curves_figure(history: pd.DataFrame, live_point: dict | None = None) -> go.Figure:
    """Loss and accuracy per epoch, train vs validation; ``live_point`` adds the running epoch."""
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    styles = {"": ("train", "#1f77b4"), "val_": ("validation", "#ff7f0e")}
    for column, metric in enumerate(("loss", "accuracy"), start=1):
        for prefix, (name, colour) in styles.items():
            key = f"{prefix}{metric}"
            if key in history:
                figure.add_trace(
                    go.Scatter(x=history["epoch"], y=history[key], name=name, mode="lines+markers",
                               line={"color": colour}, showlegend=column == 1, legendgroup=name),
                    row=1, col=column,
                )
        if live_point and live_point.get(metric) is not None:
            figure.add_trace(
                go.Scatter(x=[live_point["epoch"]], y=[live_point[metric]], name="current epoch (running)",
                           mode="markers", marker={"symbol": "circle-open", "size": 11, "color": "#1f77b4"},
                           showlegend=column == 1, legendgroup="live"),
                row=1, col=column,
            )
    figure.update_xaxes(title_text="epoch")
    figure.update_layout(height=330, margin={"t": 40, "b": 10})
    return figure


RUN_METRICS = {"val_accuracy": "validation accuracy", "val_loss": "validation loss", "accuracy": "training accuracy",
               "loss": "training loss"}


def runs_comparison_figure(histories: dict[str, pd.DataFrame], metric: str = "val_accuracy") -> go.Figure:
    """One line per run for one metric, so recipes can be compared epoch by epoch (what
    augmentation or a schedule changes shows in the shape of the curve, not only its end)."""
    figure = go.Figure()
    palette = px.colors.qualitative.Plotly  # distinct hues: Streamlit's theme would draw every run in a shade of blue
    for number, (run_id, history) in enumerate(histories.items()):
        if metric in history:
            figure.add_trace(go.Scatter(x=history["epoch"], y=history[metric], name=run_id, mode="lines+markers",
                                        line={"color": palette[number % len(palette)]}))
    figure.update_layout(height=330, margin={"t": 30, "b": 10}, xaxis_title="epoch", yaxis_title=RUN_METRICS[metric],
                         legend={"orientation": "h", "y": -0.25})
    return figure


def route_curves_figure(routes: Sequence[Route], reference: tuple[str, float] | None = None) -> go.Figure:
    """Validation accuracy against CPU-hours, one line per training route, a dotted line where each
    later stage began: what more hours bought, and where they stopped paying. ``reference`` draws
    a level to beat, e.g. the shipped default's."""
    figure = go.Figure()
    palette = px.colors.qualitative.Plotly
    for number, route in enumerate(routes):
        colour = palette[number % len(palette)]
        figure.add_trace(go.Scatter(x=[p.hours for p in route.points], y=[p.accuracy for p in route.points], name=route.name,
                                    mode="lines", line={"color": colour}))
        for before, point in itertools.pairwise(route.points):
            if point.stage != before.stage:
                figure.add_vline(x=before.hours, line={"dash": "dot", "color": colour, "width": 1})
    if reference is not None:
        figure.add_hline(y=reference[1], line={"dash": "dash", "color": "grey"}, annotation_text=reference[0],
                         annotation_position="bottom right")
    figure.update_layout(height=330, margin={"t": 30, "b": 10}, xaxis_title="CPU-hours", yaxis_title="validation accuracy",
                         yaxis_tickformat=".0%", legend={"orientation": "h", "y": -0.25})
    return figure


def confusion_figure(matrix: np.ndarray, *, normalise: bool) -> go.Figure:
    values = np.asarray(matrix, dtype=float)
    if normalise:
        values = values / np.maximum(values.sum(axis=1, keepdims=True), 1)
    figure = px.imshow(
        values, x=list(CLASS_NAMES), y=list(CLASS_NAMES), color_continuous_scale="Blues", text_auto=".0%" if normalise else True,
        labels={"x": "predicted", "y": "true", "color": "share of true class" if normalise else "faces"},
    )
    figure.update_layout(margin={"t": 30, "b": 10}, height=480)
    return figure


def per_class_metrics_figure(per_class: dict) -> go.Figure:
    """Precision, recall and F1 per class; recall carries its 95 % interval as a whisker, because
    a class as small as disgust (56 PublicTest faces) swings by ±12 points."""
    rows = []
    for name, values in per_class.items():
        for metric in ("precision", "recall", "f1"):
            low, high = values["recall_interval"] if metric == "recall" else (np.nan, np.nan)
            rows.append({"class": name, "metric": metric, "value": values[metric],
                         "above": high - values[metric], "below": values[metric] - low})
    figure = px.bar(pd.DataFrame(rows), x="class", y="value", color="metric", barmode="group", category_orders=CLASS_ORDER,
                    error_y="above", error_y_minus="below")
    figure.update_layout(yaxis={"range": [0, 1]}, margin={"t": 30, "b": 10})
    return figure


def reliability_figure(bins: Sequence[dict]) -> go.Figure:
    """Accuracy against confidence per confidence bin, beside the diagonal of perfect calibration:
    a bar below the line means the model claims more than it delivers."""
    table = pd.DataFrame(list(bins), columns=["low", "high", "count", "confidence", "accuracy"])
    figure = go.Figure()
    figure.add_bar(x=(table["low"] + table["high"]) / 2, y=table["accuracy"], width=(table["high"] - table["low"]) * 0.9,
                   name="accuracy", customdata=table[["count", "confidence"]],
                   hovertemplate="confidence %{customdata[1]:.0%}: right %{y:.0%} of %{customdata[0]} faces<extra></extra>")
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", line={"dash": "dash", "color": "grey"})
    figure.add_scatter(x=table["confidence"], y=table["confidence"], mode="markers", name="mean confidence",
                       marker={"color": "black", "size": 6})
    figure.update_layout(xaxis={"range": [0, 1], "title": "confidence of the top class"},
                         yaxis={"range": [0, 1], "title": "share right"}, margin={"t": 30, "b": 10}, height=380)
    return figure


def selective_accuracy_figure(table: pd.DataFrame, overall: float) -> go.Figure:
    """Coverage and accuracy against the confidence below which the model would say "not sure"."""
    figure = go.Figure()
    figure.add_scatter(x=table["threshold"], y=table["accuracy"], mode="lines+markers", name="accuracy on the faces it answers",
                       customdata=table["faces"], hovertemplate="at %{x:.0%}: %{y:.1%} right of %{customdata} faces<extra></extra>")
    figure.add_scatter(x=table["threshold"], y=table["coverage"], mode="lines+markers", name="share of faces it answers",
                       hovertemplate="at %{x:.0%}: answers %{y:.1%}<extra></extra>")
    figure.add_hline(y=overall, line={"dash": "dash", "color": "grey"}, annotation_text=f"answering every face: {overall:.1%}",
                     annotation_position="bottom right")
    figure.update_layout(xaxis={"range": [0, 1], "tickformat": ".0%", "title": "say 'not sure' below this confidence"},
                         yaxis={"range": [0, 1.02], "tickformat": ".0%"}, margin={"t": 30, "b": 10}, height=360,
                         legend={"orientation": "h", "y": 1.12})
    return figure


def probability_timeline_figure(
    timeline: pd.DataFrame, *, height: int | None = None, legend: bool | str = True, window_s: float | None = None,
) -> go.Figure:
    """Per-class probability over time (column ``time_s`` plus one per class); NaN rows break the lines.

    ``window_s`` fixes the time axis to that many seconds ending at the newest point (at least
    ``[0, window_s]``), so a live chart fills from the left and then scrolls, instead of
    stretching its first seconds across the whole width.

    Built from one ``go.Scatter`` per class rather than ``px.line``: the Live page redraws it three
    times a second beside the camera, and 150 points a class took 9 ms to build and serialise this way
    against 64 ms through ``px.line``.
    """
    figure = go.Figure([
        go.Scatter(x=timeline["time_s"], y=timeline[name], name=name, mode="lines", line={"color": CLASS_COLOURS[name]})
        for name in CLASS_NAMES
    ])
    figure.update_layout(yaxis={"range": [0, 1], "tickformat": ".0%", "title": "probability"},
                         xaxis={"title": "time (s)"}, margin={"t": 30 if legend else 15, "b": 10}, legend={"title": "class"},
                         showlegend=bool(legend))
    if legend == "below":  # a narrow chart: one row of class names under it rather than a column beside it
        figure.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.35, "x": 0, "title": ""}, margin={"t": 15, "b": 10})
    if window_s is not None and len(timeline):
        end = max(float(timeline["time_s"].max()), window_s)
        figure.update_xaxes(range=[end - window_s, end])
    if height:
        figure.update_layout(height=height)
    return figure


CROWD_NAMES = (*CLASS_NAMES, "no majority")  # the FER+ matrix's columns: the seven, then faces the crowd did not decide
EXTRA_COLOURS = ("#e377c2", "#bcbd22", "#000000")  # contempt, unknown, not a face


def face_with_votes(face: np.ndarray, votes: np.ndarray, scale: int = 2) -> np.ndarray:
    """A face (RGB, ``scale`` x 48 px) above ten small bars, one per FER+ vote column (neutral ... not a
    face, FER+ order) in the app's class colours: the crowd's answer beside the face, readable at a glance."""
    size, bar_height = IMAGE_SIZE * scale, 14 * scale
    rgb = np.repeat(np.kron(face, np.ones((scale, scale), np.uint8))[..., None], 3, axis=2)
    panel = np.full((bar_height, size, 3), 255, np.uint8)
    colours = [CLASS_COLOURS[CLASS_NAMES[index]] for index in TO_FER] + list(EXTRA_COLOURS)
    width = size // len(colours)
    full = max(10, int(np.max(votes)) if len(votes) else 10)  # ten voters: a bar of 10 fills the panel
    for column, (count, colour) in enumerate(zip(votes, colours, strict=True)):
        height = round(bar_height * int(count) / full)
        if height:
            rgb_colour = [int(colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)]
            panel[bar_height - height :, column * width + 1 : (column + 1) * width - 1] = rgb_colour
    return np.concatenate([rgb, panel], axis=0)


def crowd_matrix_figure(matrix: np.ndarray) -> go.Figure:
    """FER's label (rows) against the FER+ crowd's majority (columns, plus 'no majority'), with an
    invisible selectable marker per cell, so a click on a cell can open its faces."""
    figure = px.imshow(
        matrix, x=list(CROWD_NAMES), y=list(CLASS_NAMES), color_continuous_scale="Blues", text_auto=True, aspect="auto",
        labels={"x": "the crowd says (FER+ majority)", "y": "FER says", "color": "faces"},
    )
    rows, columns = np.meshgrid(np.arange(len(CLASS_NAMES)), np.arange(len(CROWD_NAMES)), indexing="ij")
    figure.add_trace(go.Scatter(
        x=[CROWD_NAMES[c] for c in columns.ravel()], y=[CLASS_NAMES[r] for r in rows.ravel()], mode="markers",
        marker={"size": 40, "opacity": 0.01, "symbol": "square"},
        hovertemplate="FER says %{y}, the crowd %{x}: click to see these faces<extra></extra>", showlegend=False,
    ))
    figure.update_layout(margin={"t": 30, "b": 10}, height=480, clickmode="event+select")
    return figure


def clicked_crowd_cell(event: object) -> tuple[str, str] | None:
    """(FER class, crowd answer) of the cell a click on ``crowd_matrix_figure`` selected, from Streamlit's chart event."""
    try:
        point = event["selection"]["points"][0]
        fer, crowd = point["y"], point["x"]
    except (KeyError, IndexError, TypeError):
        return None
    return (fer, crowd) if fer in CLASS_NAMES and crowd in CROWD_NAMES else None


def label_balance_figure(fer_counts: Sequence[int], crowd_counts: Sequence[int]) -> go.Figure:
    """Faces per class by FER's label and by the FER+ crowd's majority, side by side."""
    table = pd.DataFrame({"class": list(CLASS_NAMES) * 2, "faces": [*fer_counts, *crowd_counts],
                          "labels": ["FER2013 (one annotator)"] * len(CLASS_NAMES) + ["FER+ majority (ten people)"] * len(CLASS_NAMES)})
    figure = px.bar(table, x="class", y="faces", color="labels", barmode="group", category_orders=CLASS_ORDER, text=table["faces"].map("{:,}".format))
    figure.update_layout(margin={"t": 30, "b": 10}, legend_title_text="")
    return figure
