"""The inference figures: :func:`joint_outputs_figure` (each model's outputs beside the truth),
:func:`prediction_lines` and :func:`tradeoff_figure` (two tasks' metrics, a Pareto view) (:mod:`mtdl_kit.inference`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from mtdl_kit.evaluation import non_dominated
from mtdl_kit.regions.base import Region, Sample, TaskSpec

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

from mtdl_kit.inference.checks import as_region
from mtdl_kit.inference.tables import SINGLE_LABEL, primary_rows

#: Marker symbol per family (shapes as well as colours, so the plot does not rely on colour alone).
FAMILY_SYMBOLS: dict[str, str] = {
    "parallel": "circle",
    "cascaded": "square",
    "interacted": "diamond",
    "hybrid": "triangle-up",
    "single": "x",
}


def _task_label(task: TaskSpec, index: int) -> str:
    return task.class_names[index] if task.class_names else str(index)


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def prediction_lines(region: str | Region, sample: Sample, prediction: Mapping[str, np.ndarray]) -> list[str]:
    """Text lines for the non-image outputs of one model: class decision and values vs truth.

    Classification, two lines: ``grade: P(HGG) 0.83`` (binary; else the top class probability)
    and ``→ HGG (truth LGG)``; regression, one line per output: ``whole-tumour area: 812 mm² (truth 790)``; landmarks:
    the mean radial error in mm; reconstruction: the mean absolute error. Segmentation is drawn,
    not written.

    Raises:
        ValueError: a prediction for a task the region does not have.
    """
    reg = as_region(region)
    lines = []
    for name, pred in prediction.items():
        t = reg.task(name)
        truth = sample.targets.get(name)
        p = np.asarray(pred)
        if t.kind == "classification":
            k = int(np.argmax(p))
            if t.num_outputs == 2:
                lines.append(f"<b>{name}</b>: P({_task_label(t, 1)}) {p[1]:.2f}")
            else:
                lines.append(f"<b>{name}</b>: p {p[k]:.2f} for the most likely class")
            tail = f" (truth {_task_label(t, int(truth))})" if truth is not None else ""
            lines.append(f"→ {_task_label(t, k)}{tail}")
        elif t.kind == "regression":
            names = t.output_names or tuple(f"{name}[{i}]" for i in range(t.num_outputs))
            unit = f" {t.units}" if t.units else ""
            for i, n in enumerate(names):
                true = f" (truth {_fmt(float(np.asarray(truth)[i]))})" if truth is not None else ""
                lines.append(f"<b>{n}</b>: {_fmt(float(p[i]))}{unit}{true}")
        elif t.kind == "landmarks" and truth is not None:
            err = np.linalg.norm(p - np.asarray(truth), axis=1).mean() * sample.spacing_mm
            lines.append(f"<b>{name}</b>: mean radial error {err:.2g} mm")
        elif t.kind == "reconstruction" and truth is not None:
            lines.append(f"<b>{name}</b>: mean abs. error {np.abs(p - np.asarray(truth)).mean():.3f}")
    return lines


def joint_outputs_figure(
    region: str | Region,
    sample: Sample,
    predictions_by_model: Mapping[str, Mapping[str, np.ndarray]],
    *,
    title: str | None = None,
    panel_width: int = 260,
) -> go.Figure:
    """One column per model: segmentation overlay with the other tasks' predictions written under it.

    The image shows the region's segmentation (:attr:`Coupling.segmentation`): the ground truth as
    class-coloured outlines and the model's prediction as a translucent fill (Okabe-Ito colours,
    :func:`mtdl_kit.viz.overlay`); landmarks as hollow squares (truth) and filled dots
    (prediction). A model without the segmentation task shows the truth outline only. Underneath:
    the class probability and decision against the true label, regression values predicted vs
    true (:func:`prediction_lines`), and a colour legend of the classes.

    Args:
        region: region name or object.
        sample: the case (its targets are the truth).
        predictions_by_model: model name -> :func:`predict_sample` output.
        title: figure title.
        panel_width: width of one column in pixels.

    Raises:
        ValueError: no models, a sample of another region, or predictions of unknown tasks.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from mtdl_kit.viz import class_colour, overlay

    reg = as_region(region)
    if not predictions_by_model:
        raise ValueError("predictions_by_model is empty; give {model name: predict_sample(model, sample)}.")
    if sample.region != reg.name:
        raise ValueError(f"The sample is from region {sample.region!r}, not {reg.name!r}.")
    seg = reg.task(reg.coupling.segmentation)
    lm = next((t.name for t in reg.tasks if t.kind == "landmarks"), None)
    names = list(predictions_by_model)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[f"<b>{n}</b>" for n in names], horizontal_spacing=0.02)
    max_lines = 1
    for i, name in enumerate(names):
        pred = predictions_by_model[name]
        unknown = [k for k in pred if k not in reg.task_names]
        if unknown:
            raise ValueError(f"{name}: predictions for tasks {unknown} that region {reg.name!r} does not have.")
        picture = overlay(
            reg.display_image(sample.image),
            truth=sample.targets.get(seg.name),
            prediction=pred.get(seg.name),
            num_classes=seg.num_outputs,
            landmarks=sample.targets.get(lm) if lm else None,
            predicted_landmarks=pred.get(lm) if lm else None,
        )
        fig.add_trace(go.Image(z=picture, hoverinfo="skip", name=name), row=1, col=i + 1)
        lines = prediction_lines(reg, sample, {k: v for k, v in pred.items() if k != seg.name})
        if seg.name not in pred:
            lines.insert(0, f"<i>no {seg.name} output: truth outline only</i>")
        max_lines = max(max_lines, len(lines))
        axis = "" if i == 0 else str(i + 1)
        fig.add_annotation(
            text="<br>".join(lines),
            xref=f"x{axis} domain",
            yref=f"y{axis} domain",
            x=0.0,
            y=-0.03,
            xanchor="left",
            yanchor="top",
            showarrow=False,
            align="left",
            font={"size": 10},
        )
    legend = " · ".join(
        f"<span style='color:{class_colour(c)}'>■</span> {seg.class_names[c] if seg.class_names else c}"
        for c in range(1, seg.num_outputs)
    )
    fig.add_annotation(
        text=f"{legend} — truth: outline, prediction: fill",
        xref="paper",
        yref="paper",
        x=0.5,
        y=1.0,
        yshift=38,
        showarrow=False,
        font={"size": 11},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    bottom = 30 + 28 * max_lines
    fig.update_layout(
        title=title,
        width=max(panel_width * len(names), 420),
        height=panel_width + bottom + 110,
        margin={"l": 10, "r": 10, "t": 100, "b": bottom},
        paper_bgcolor="white",
    )
    return fig


def tradeoff_figure(
    frame: pd.DataFrame,
    *,
    region: str | Region | None = None,
    x_task: str | None = None,
    y_task: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Pareto view of two tasks: each model's primary metric on one task against the other.

    Every multi-task model is one point (symbol and colour by family); the single-task baselines
    together give one point (their x-task model's score against their y-task model's score). The
    dashed line joins the Pareto-optimal points. Axes of lower-is-better metrics are reversed, so
    **up and to the right is better** on both axes.

    Args:
        frame: output of :func:`evaluate_models`.
        region: used to choose the default tasks (the coupled segmentation and classification
            tasks); without it, the first two tasks in the frame.
        x_task: task on the x axis.
        y_task: task on the y axis.
        title: figure title.

    Raises:
        ValueError: not a frame of :func:`evaluate_models`, a task not in it, or fewer than two tasks.
    """
    import plotly.graph_objects as go

    from mtdl_kit.palette import OKABE_ITO

    prim = primary_rows(frame)
    tasks = list(dict.fromkeys(prim["task"]))
    if len(tasks) < 2:
        raise ValueError(f"A trade-off needs two tasks; the frame has {tasks}.")
    if region is not None:
        reg = as_region(region)
        default = [t for t in (reg.coupling.segmentation, reg.coupling.classification) if t in tasks]
        default += [t for t in tasks if t not in default]
    else:
        default = tasks
    x_task = x_task or default[0]
    y_task = y_task or next(t for t in default if t != x_task)
    for t in (x_task, y_task):
        if t not in tasks:
            raise ValueError(f"Task {t!r} is not in the frame; it has {tasks}.")
    if x_task == y_task:
        raise ValueError("x_task and y_task must differ.")

    def metric_of(task: str) -> tuple[str, bool]:
        row = prim[prim["task"] == task].iloc[0]
        return str(row["metric"]), bool(row["higher_is_better"])

    (mx, hx), (my, hy) = metric_of(x_task), metric_of(y_task)
    points: dict[str, tuple[float, float]] = {}
    family_of: dict[str, str] = {}
    for model, group in prim[prim["family"] != "single"].groupby("model", sort=False):
        vals = group.set_index("task")["value"]
        if x_task in vals and y_task in vals:
            points[str(model)] = (float(vals[x_task]), float(vals[y_task]))
            family_of[str(model)] = str(group["family"].iloc[0])
    single = prim[prim["family"] == "single"].groupby("task")["value"].mean()
    if x_task in single and y_task in single:
        points[SINGLE_LABEL] = (float(single[x_task]), float(single[y_task]))
        family_of[SINGLE_LABEL] = "single"
    if not points:
        raise ValueError(f"No model (or pair of baselines) has both {x_task!r} and {y_task!r}.")
    families = list(dict.fromkeys(family_of.values()))
    fig = go.Figure()
    for name, (x, y) in points.items():
        fam = family_of[name]
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers+text",
                name=name,
                text=["single-task" if name == SINGLE_LABEL else name],
                textposition="top center",
                cliponaxis=False,
                marker={
                    "size": 14,
                    "symbol": FAMILY_SYMBOLS.get(fam, "circle"),
                    "color": OKABE_ITO[families.index(fam) % len(OKABE_ITO)] if fam != "single" else "#000000",
                    "line": {"width": 1, "color": "#000000"},
                },
                hovertemplate=f"{name}<br>{x_task} {mx}: %{{x:.3g}}<br>{y_task} {my}: %{{y:.3g}}<extra></extra>",
            )
        )
    finite = [k for k, (x, y) in points.items() if np.isfinite(x) and np.isfinite(y)]
    mask = non_dominated([points[k] for k in finite], (hx, hy))
    front = sorted((k for k, keep in zip(finite, mask, strict=True) if keep), key=lambda k: points[k][0])
    if len(front) > 1:
        fig.add_trace(
            go.Scatter(
                x=[points[k][0] for k in front],
                y=[points[k][1] for k in front],
                mode="lines",
                line={"dash": "dash", "color": "#555555"},
                name="Pareto front",
                hoverinfo="skip",
            )
        )
    xlabel = f"{x_task} {mx}" + ("" if hx else " (lower is better, axis reversed)")
    ylabel = f"{y_task} {my}" + ("" if hy else " (lower is better, axis reversed)")
    fig.update_xaxes(title=xlabel, autorange=True if hx else "reversed")
    fig.update_yaxes(title=ylabel, autorange=True if hy else "reversed")
    fig.update_layout(
        title=title or f"Trade-off: {x_task} vs {y_task} (up and right is better)",
        height=460,
        width=640,
        paper_bgcolor="white",
        plot_bgcolor="white",
        legend={"title": "model"},
    )
    fig.update_xaxes(showgrid=True, gridcolor="#e5e5e5", zeroline=False)
    fig.update_yaxes(showgrid=True, gridcolor="#e5e5e5", zeroline=False)
    return fig
