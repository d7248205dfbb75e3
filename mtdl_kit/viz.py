"""Plotly figures and accessible overlays (Okabe-Ito colours, truth as outline, prediction as fill).

Colour choices follow Wong, "Points of view: Color blindness", Nature Methods 8:441 (2011)
(Okabe-Ito palette) and Nuñez et al., PLOS ONE 13:e0199239 (2018) (cividis for continuous maps).
Segmentation ground truth is drawn as an outline and predictions as a translucent fill, so the two
never rely on colour alone (WCAG 1.4.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from mtdl_kit.palette import CONTINUOUS_COLORSCALE, OKABE_ITO, hex_to_rgb

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from mtdl_kit.regions.base import Region, Sample


def class_colour(index: int) -> str:
    """Okabe-Ito colour for foreground class ``index`` (1-based; background has none)."""
    return OKABE_ITO[(index - 1) % len(OKABE_ITO)]


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """(C, H, W) float in [0, 1] with C in {1, 3} -> (H, W, 3) uint8."""
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected an image of shape (C, H, W) with C in (1, 3), got {image.shape}.")
    rgb = np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image
    return (np.clip(rgb.transpose(1, 2, 0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def outline(mask: np.ndarray, thickness: int = 1) -> np.ndarray:
    """Boolean boundary (inner edge) of a boolean mask."""
    eroded = ndimage.binary_erosion(mask, iterations=thickness, border_value=0)
    return mask & ~eroded


def overlay(
    image: np.ndarray,
    truth: np.ndarray | None = None,
    prediction: np.ndarray | None = None,
    *,
    num_classes: int | None = None,
    opacity: float = 0.45,
    landmarks: np.ndarray | None = None,
    predicted_landmarks: np.ndarray | None = None,
) -> np.ndarray:
    """Compose an RGB uint8 picture: prediction as translucent fill, truth as outline.

    Args:
        image: (C, H, W) float image in [0, 1].
        truth: (H, W) integer class map drawn as class-coloured outlines.
        prediction: (H, W) integer class map drawn as class-coloured fill at ``opacity``.
        num_classes: number of classes including background (default: from the maps).
        opacity: fill opacity in [0, 1].
        landmarks: (K, 2) (row, col) true points, drawn as hollow squares.
        predicted_landmarks: (K, 2) predicted points, drawn as filled dots.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}.")
    rgb = to_rgb_uint8(image).astype(np.float32)
    maps = [m for m in (truth, prediction) if m is not None]
    k = num_classes or (int(max(m.max() for m in maps)) + 1 if maps else 1)
    if prediction is not None:
        for c in range(1, k):
            sel = prediction == c
            if sel.any():
                rgb[sel] = (1 - opacity) * rgb[sel] + opacity * np.array(hex_to_rgb(class_colour(c)), np.float32)
    if truth is not None:
        thickness = max(1, truth.shape[0] // 160)
        for c in range(1, k):
            edge = outline(truth == c, thickness)
            rgb[edge] = hex_to_rgb(class_colour(c))
    out = rgb.astype(np.uint8)
    h, w = out.shape[:2]
    r = max(1, h // 64)
    for pts, filled in ((landmarks, False), (predicted_landmarks, True)):
        if pts is None:
            continue
        for i, (y, x) in enumerate(np.asarray(pts)):
            yi, xi = round(float(y)), round(float(x))
            y0, y1, x0, x1 = max(0, yi - r), min(h, yi + r + 1), max(0, xi - r), min(w, xi + r + 1)
            colour = hex_to_rgb(OKABE_ITO[(i + 4) % len(OKABE_ITO)])
            if filled:
                out[y0:y1, x0:x1] = colour
            else:
                out[y0:y1, [x0, x1 - 1]] = colour
                out[[y0, y1 - 1], x0:x1] = colour
    return out


def describe_targets(region: Region, sample: Sample) -> list[str]:
    """Human-readable label lines for a sample's non-dense targets (``glaucoma: glaucoma suspect``)."""
    lines = []
    for t in region.tasks:
        if t.name not in sample.targets:
            lines.append(f"{t.name}: (missing)")
            continue
        y = sample.targets[t.name]
        if t.kind == "classification":
            idx = int(y)
            lines.append(f"{t.name}: {t.class_names[idx] if t.class_names else idx}")
        elif t.kind == "regression":
            names = t.output_names or tuple(f"{t.name}[{i}]" for i in range(t.num_outputs))
            unit = f" {t.units}" if t.units else ""
            lines.append(", ".join(f"{n} = {float(v):.3g}{unit}" for n, v in zip(names, y, strict=True)))
    return lines


def sample_picture(region: Region, sample: Sample, prediction: np.ndarray | None = None) -> np.ndarray:
    """RGB uint8 picture of a sample with its segmentation outline and landmarks."""
    seg = region.coupling.segmentation
    lm = next((t.name for t in region.tasks if t.kind == "landmarks"), None)
    return overlay(
        region.display_image(sample.image),
        truth=sample.targets.get(seg),
        prediction=prediction,
        num_classes=region.task(seg).num_outputs,
        landmarks=sample.targets.get(lm) if lm else None,
    )


def gallery_figure(items: Sequence[tuple[Region, Sample]], *, columns: int = 4, title: str | None = None) -> go.Figure:
    """A grid of phantoms: image with ground-truth outlines, labels under each panel.

    Args:
        items: (region, sample) pairs, one panel each.
        columns: panels per row.
        title: figure title.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not items:
        raise ValueError("gallery_figure needs at least one (region, sample) pair.")
    rows = (len(items) + columns - 1) // columns
    titles = []
    for r, _ in items:
        head, _, tail = r.title.partition(" — ")
        titles.append(f"<b>{head}</b><br><span style='font-size:11px'>{tail}</span>")
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.03, vertical_spacing=0.2)
    for i, (region, sample) in enumerate(items):
        row, col = i // columns + 1, i % columns + 1
        fig.add_trace(go.Image(z=sample_picture(region, sample), hoverinfo="skip"), row=row, col=col)
        seg = region.task(region.coupling.segmentation)
        legend = " · ".join(
            f"<span style='color:{class_colour(c)}'>■</span> {seg.class_names[c]}" for c in range(1, seg.num_outputs)
        )
        caption = "<br>".join([legend, *describe_targets(region, sample)])
        axis = "" if i == 0 else str(i + 1)
        fig.add_annotation(
            text=caption,
            xref=f"x{axis} domain",
            yref=f"y{axis} domain",
            x=0.5,
            y=-0.02,
            yanchor="top",
            showarrow=False,
            font={"size": 10},
            align="center",
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(
        title=title,
        height=420 * rows + 60,
        width=300 * columns,
        margin={"l": 10, "r": 10, "t": 90, "b": 70},
        paper_bgcolor="white",
    )
    return fig


def sample_figure(
    region: Region, sample: Sample, *, prediction: np.ndarray | None = None, height: int = 420
) -> go.Figure:
    """One sample as a plotly image with ground-truth outlines (and a predicted fill if given)."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Image(z=sample_picture(region, sample, prediction), hoverinfo="skip"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 0, "b": 0})
    return fig


def segmentation_legend(region: Region) -> list[tuple[str, str]]:
    """(class name, Okabe-Ito colour) of the region's foreground segmentation classes."""
    seg = region.task(region.coupling.segmentation)
    names = seg.class_names or tuple(str(i) for i in range(seg.num_outputs))
    return [(names[c], class_colour(c)) for c in range(1, seg.num_outputs)]


def history_figure(
    history: Any, kind: str = "loss", *, title: str | None = None, log_y: bool | None = None
) -> go.Figure:
    """Line plot of one kind of :class:`~mtdl_kit.history.History` record (loss, weight, cosine, metric)."""
    import plotly.graph_objects as go

    names = history.names(kind)
    if not names:
        raise ValueError(
            f"This History has no {kind!r} records; recorded kinds: {sorted({r[2] for r in history.rows})}."
        )
    fig = go.Figure()
    for i, name in enumerate(names):
        xs, ys = zip(*history.series(kind, name), strict=True)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                name=name,
                mode="lines" if len(xs) > 20 else "lines+markers",
                line={"color": OKABE_ITO[i % len(OKABE_ITO)]},
            )
        )
    labels = {"loss": "training loss", "weight": "task weight", "cosine": "gradient cosine", "metric": "metric"}
    fig.update_layout(
        title=title or labels.get(kind, kind),
        xaxis_title="step",
        yaxis_title="gradient cosine (< 0: conflict)" if kind == "cosine" else labels.get(kind, kind),
        height=320,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.25},
    )
    if kind == "cosine":  # the zero line; its meaning is in the axis title, not written over the curves
        fig.add_hline(y=0.0, line_dash="dot", line_color="#000000")
    if log_y if log_y is not None else kind == "loss":
        values = [y for tr in fig.data for y in tr.y if y is not None and np.isfinite(y) and y > 0]
        ticks = log_ticks(min(values), max(values)) if values else []
        fig.update_yaxes(type="log", **({"tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]} if ticks else {}))
    return fig


def log_ticks(low: float, high: float) -> list[float]:
    """Tick values for a log axis from ``low`` to ``high``: 1-2-5 steps, 1…9 when the range is narrow.

    Plotly labels a log axis spanning less than a decade with bare digits ("1, 9, 8, 7, …"); these
    ticks carry their full values instead.

    Raises:
        ValueError: if ``low`` is not positive or ``high < low``.
    """
    if not (low > 0 and high >= low):
        raise ValueError(f"log_ticks needs 0 < low <= high, got low={low!r}, high={high!r}.")
    lo_exp, hi_exp = int(np.floor(np.log10(low))), int(np.ceil(np.log10(high)))
    for mantissas in ((1, 2, 5), tuple(range(1, 10))):
        ticks = [
            float(f"{m * 10.0**e:.12g}")
            for e in range(lo_exp, hi_exp + 1)
            for m in mantissas
            if low / 1.05 <= m * 10.0**e <= high * 1.05
        ]
        if len(ticks) >= 3:
            return ticks
    return ticks


def heatmap_figure(matrix: Any, *, title: str = "", zmid: float | None = 0.0, text_format: str = ".2f") -> go.Figure:
    """Annotated heatmap of a square pandas DataFrame (correlations, affinities), colourblind-safe."""
    import plotly.graph_objects as go

    z = matrix.to_numpy(dtype=float)
    n = max(len(matrix), len(matrix.columns))
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(c) for c in matrix.columns],
            y=[str(i) for i in matrix.index],
            colorscale="RdBu" if zmid is not None else CONTINUOUS_COLORSCALE,
            zmid=zmid,
            text=[["" if not np.isfinite(v) else format(v, text_format) for v in row] for row in z],
            texttemplate="%{text}",
            textfont={"size": 14 if n <= 4 else (12 if n <= 8 else 10)},  # readable at 1024 px
            xgap=1,
            ygap=1,
        )
    )
    # cells of ~48 px at least: the numbers stay readable and the axes are not squeezed
    fig.update_layout(title=title, height=max(320, 140 + 48 * len(matrix)), margin={"l": 10, "r": 10, "t": 50, "b": 10})
    fig.update_xaxes(automargin=True, tickangle=-35)
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def run_report_html(result: Any) -> str:
    """A standalone HTML report of a training run: config, curves, test metrics."""
    import html
    import json as _json

    from mtdl_kit import DISCLAIMER

    h = result.history
    parts = [
        f"<h1>mtdl-kit run: {result.config.region} / {result.config.family} / {result.config.weighting}</h1>",
        f"<p><b>{html.escape(DISCLAIMER)}</b></p>",
        f"<pre>{html.escape(_json.dumps(h.config, indent=1))}</pre>",
    ]
    for kind in ("loss", "weight", "cosine", "metric"):
        if h.names(kind):
            parts.append(history_figure(h, kind).to_html(full_html=False, include_plotlyjs="cdn"))
    rows = "".join(
        f"<tr><td>{t}</td><td>{m}</td><td>{v:.4g}</td></tr>" for t, ms in result.metrics.items() for m, v in ms.items()
    )
    parts.append(f"<h2>Test metrics</h2><table><tr><th>task</th><th>metric</th><th>value</th></tr>{rows}</table>")
    return "<html><head><meta charset='utf-8'></head><body>" + "\n".join(parts) + "</body></html>"


#: methods drawn by :func:`aggregation_figure`: ``"ew"`` (the mean direction) and three gradient methods of
#: the weighting registry (:func:`mtdl_kit.weighting.build_aggregator`; labels from ``WEIGHTING_INFO``).
TOY_METHODS: tuple[str, ...] = ("ew", "pcgrad", "mgda", "upgrad")


def toy_label(method: str) -> str:
    """Legend label of a toy method: the registry's title and first author (``"UPGrad (Quinton & Rey…)"``)."""
    from mtdl_kit.weighting import WEIGHTING_INFO

    if method == "ew":
        return "EW (sum / mean direction)"
    info = WEIGHTING_INFO[method]
    return f"{info.title} ({info.citation.split(',')[0]})"


def toy_aggregations(jacobian: Any, methods: Sequence[str] = TOY_METHODS) -> dict[str, np.ndarray]:
    """Aggregate the rows of a small Jacobian (one task gradient per row) with the registry's aggregators.

    ``"ew"`` is the mean of the rows (the direction of equal weighting; EW itself steps along the sum);
    every other name is a gradient method of :mod:`mtdl_kit.weighting` (its TorchJD aggregator).

    Returns:
        method -> aggregated update direction as a numpy vector.

    Raises:
        ValueError: an unknown name or a loss weighting other than ``"ew"`` (the message lists the choices).
    """
    import torch

    from mtdl_kit.weighting import WEIGHTING_INFO, build_aggregator

    choices = ("ew", *(n for n, info in WEIGHTING_INFO.items() if info.kind == "gradient"))
    unknown = [m for m in methods if m not in choices]
    if unknown:
        raise ValueError(f"Unknown toy aggregator {unknown[0]!r}; choose from {choices}.")
    matrix = torch.as_tensor(np.asarray(jacobian, dtype=np.float32))
    out = {}
    for m in methods:
        out[m] = matrix.mean(0).numpy() if m == "ew" else build_aggregator(m)(matrix).numpy()
    return out


def fixed_weight_update(jacobian: Any, weights: Sequence[float]) -> np.ndarray:
    """The update of a fixed loss weighting: ``sum_i w_i g_i`` over the rows ``g_i`` of the Jacobian.

    Raises:
        ValueError: when the number of weights differs from the number of rows, or a weight is negative.
    """
    J = np.asarray(jacobian, dtype=float)
    w = np.asarray(weights, dtype=float)
    if J.ndim != 2 or w.shape != (J.shape[0],):
        raise ValueError(f"Need one weight per task gradient: {J.shape[0]} rows, got weights of shape {w.shape}.")
    if (w < 0).any():
        raise ValueError(f"Loss weights must be non-negative, got {w.tolist()}.")
    return w @ J


def aggregation_figure(
    jacobian: Any,
    methods: Sequence[str] = TOY_METHODS,
    extra: dict[str, Any] | None = None,
) -> go.Figure:
    """2-D picture of two task gradients and what each aggregator makes of them.

    Args:
        jacobian: (T, 2) array, one task gradient per row.
        methods: :data:`TOY_METHODS` or other gradient methods of the weighting registry.
        extra: more named update vectors to draw (e.g. :func:`fixed_weight_update`), dashed.
    """
    import plotly.graph_objects as go

    J = np.asarray(jacobian, dtype=float)
    if J.ndim != 2 or J.shape[1] != 2:
        raise ValueError(f"aggregation_figure needs a (T, 2) Jacobian, got shape {J.shape}.")
    fig = go.Figure()

    def arrow(v: np.ndarray, name: str, colour: str, dash: str) -> None:
        fig.add_trace(
            go.Scatter(
                x=[0, v[0]],
                y=[0, v[1]],
                name=name,
                mode="lines+markers",
                line={"color": colour, "dash": dash, "width": 3},
                marker={"symbol": "arrow", "angleref": "previous", "size": 14},
            )
        )

    for i, g in enumerate(J):
        arrow(g, f"task {i + 1} gradient", "#000000" if i == 0 else "#999999", "solid")
    for k, (m, v) in enumerate(toy_aggregations(J, methods).items()):
        arrow(v, toy_label(m), OKABE_ITO[k % len(OKABE_ITO)], "dot")
    for k, (name, v) in enumerate((extra or {}).items()):
        arrow(np.asarray(v, dtype=float), name, OKABE_ITO[(len(methods) + k) % len(OKABE_ITO)], "dash")
    lim = 1.15 * float(np.abs(J).max())
    fig.update_xaxes(range=[-lim, lim], zeroline=True, scaleanchor="y", title="parameter 1")
    fig.update_yaxes(range=[-lim, lim], zeroline=True, title="parameter 2")
    fig.update_layout(height=460, width=560, title="Two task gradients and their aggregations", margin={"t": 50})
    return fig


def crossover_seed_figure(
    table: Any, *, arms: Sequence[str] = ("unrelated", "related"), title: str | None = None, chance: float | None = 0.5
) -> go.Figure:
    """Per-seed results of the relatedness crossover: one panel per label rule, one line per seed.

    Each seed's line joins its value in each of ``arms`` (the same seed, so the slope is the paired
    difference); a black diamond marks each arm's mean over seeds.

    Args:
        table: one row per seed, one column per ``"rule:arm"`` (:func:`mtdl_kit.verdicts.crossover_seeds`;
            ``attrs["metric"]`` names the y axis).
        arms: the arms to join, left to right.
        title: figure title.
        chance: a dotted reference line (ROC-AUC 0.5: chance), or None.

    Raises:
        ValueError: a ``rule:arm`` column the table lacks.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rules = sorted({str(c).split(":", 1)[0] for c in table.columns if ":" in str(c)})
    missing = [f"{r}:{a}" for r in rules for a in arms if f"{r}:{a}" not in table.columns]
    if not rules or missing:
        raise ValueError(
            f"crossover_seed_figure needs the columns {missing or ['<rule>:<arm>']}; got {list(table.columns)}."
        )
    fig = make_subplots(rows=1, cols=len(rules), shared_yaxes=True, subplot_titles=[f"rule {r}" for r in rules])
    seed_colours = [c for c in OKABE_ITO if c != "#000000"]  # black is the mean's
    for col, rule in enumerate(rules, start=1):
        for i, seed in enumerate(table.index):
            fig.add_trace(
                go.Scatter(
                    x=list(arms),
                    y=[float(table.loc[seed, f"{rule}:{a}"]) for a in arms],
                    mode="lines+markers",
                    name=f"seed {seed}",
                    legendgroup=f"seed {seed}",
                    showlegend=col == 1,
                    line={"color": seed_colours[i % len(seed_colours)], "width": 1.5},
                    marker={"size": 7},
                ),
                row=1,
                col=col,
            )
        fig.add_trace(
            go.Scatter(
                x=list(arms),
                y=[float(table[f"{rule}:{a}"].mean()) for a in arms],
                mode="markers",
                name="mean over seeds",
                legendgroup="mean",
                showlegend=col == 1,
                marker={"symbol": "diamond", "size": 13, "color": "#000000"},
            ),
            row=1,
            col=col,
        )
    metric = str(table.attrs.get("metric", "value"))
    label = "ROC-AUC" if metric == "auc" else metric
    if chance is not None:
        fig.add_hline(y=chance, line_dash="dot", line_color="#000000")
        label += f" (dotted: {chance:g}, chance)" if metric == "auc" else ""
    fig.update_yaxes(title_text=label, row=1, col=1)
    fig.update_layout(
        title=title or "Per-seed main-task result by arm, under each label rule",
        height=420,
        margin={"l": 60, "r": 10, "t": 60, "b": 40},
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


#: the colour of each verdict word in :func:`contrast_figure` (Okabe-Ito: bluish green, vermillion, grey)
VERDICT_COLOURS = {"better": "#009E73", "worse": "#D55E00", "no detectable difference": "#7f7f7f"}


def contrast_figure(frame: Any, *, label: str = "contrast", title: str | None = None, unit: str = "") -> go.Figure:
    """A forest plot of contrasts: one row each, the point estimate with its 95 % CI, a line at 0.

    Each marker is coloured by its verdict *and* shaped by it (▲ better, ▼ worse, ● no detectable
    difference), so the reading never relies on colour alone (WCAG 1.4.1).

    Args:
        frame: one row per contrast with ``value``, ``ci_low``, ``ci_high``, ``verdict`` and the
            ``label`` column (:func:`mtdl_kit.verdicts.verdicts` returns such a frame).
        label: the column that names each row on the y axis.
        title: figure title.
        unit: the x axis' unit, e.g. ``"mm"``.

    Raises:
        ValueError: a column is missing, or the frame is empty.
    """
    import plotly.graph_objects as go

    needed = [label, "value", "ci_low", "ci_high", "verdict"]
    missing = [c for c in needed if c not in getattr(frame, "columns", [])]
    if missing or len(frame) == 0:
        raise ValueError(f"contrast_figure needs a non-empty frame with the columns {needed}; missing {missing}.")
    symbols = {"better": "triangle-up", "worse": "triangle-down"}
    fig = go.Figure()
    for word, colour in VERDICT_COLOURS.items():
        part = frame[frame["verdict"] == word]
        if len(part) == 0:
            continue
        fig.add_trace(
            go.Scatter(
                x=part["value"],
                y=part[label].astype(str),
                mode="markers",
                name=word,
                marker={"color": colour, "size": 12, "symbol": symbols.get(word, "circle")},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": part["ci_high"] - part["value"],
                    "arrayminus": part["value"] - part["ci_low"],
                    "color": colour,
                    "thickness": 2,
                },
                hovertemplate="%{y}: %{x:+.3f}<extra>" + word + "</extra>",
            )
        )
    fig.add_vline(x=0, line_dash="dot", line_color="#000000")
    fig.update_yaxes(categoryorder="array", categoryarray=list(frame[label].astype(str))[::-1])
    fig.update_layout(
        title=title or "Contrasts with their 95 % confidence intervals",
        xaxis_title=f"difference{f' ({unit})' if unit else ''}: + = better, dotted line = no difference",
        height=120 + 40 * len(frame),
        margin={"l": 140, "r": 10, "t": 60, "b": 50},
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


def validation_curves_figure(curves: Any, task: str, *, arms: Sequence[str] | None = None, title: str | None = None):
    """Validation curves of the transfer lab's runs: one thin line per seed, the median over the seeds
    still training in bold, one Okabe-Ito colour and dash per arm (so arms never differ by colour alone).

    A curve ends where validation stopping ended the run, so a line that reaches the right edge was
    still improving at the step cap.

    Args:
        curves: one row per arm, seed, task and validation step (``arm, seed, task, step, value``:
            :func:`mtdl_kit.results.load_transfer` ``("curves", experiment="g", ...)``).
        task: the task whose primary validation metric is drawn.
        arms: the arms to draw, in this order (default: all of the task's).
        title: figure title.

    Raises:
        ValueError: a missing column, an unknown task or arm.
    """
    import plotly.graph_objects as go

    needed = ["arm", "seed", "task", "step", "value"]
    missing = [c for c in needed if c not in getattr(curves, "columns", [])]
    if missing:
        raise ValueError(f"validation_curves_figure needs the columns {needed}; missing {missing}.")
    rows = curves[curves["task"] == task]
    if rows.empty:
        raise ValueError(f"No curves for task {task!r}; the tasks are {sorted(set(curves['task']))}.")
    available = list(dict.fromkeys(rows["arm"]))
    chosen = list(arms) if arms is not None else available
    unknown = [a for a in chosen if a not in available]
    if unknown:
        raise ValueError(f"No curves for the arms {unknown} of task {task!r}; its arms are {available}.")
    dashes = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
    fig = go.Figure()
    for i, arm in enumerate(chosen):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        dash = dashes[i % len(dashes)]
        part = rows[rows["arm"] == arm]
        for seed, one in part.groupby("seed"):
            fig.add_trace(
                go.Scatter(
                    x=one["step"],
                    y=one["value"],
                    mode="lines",
                    line={"color": colour, "width": 1, "dash": dash},
                    opacity=0.35,
                    legendgroup=arm,
                    showlegend=False,
                    hovertemplate=f"{arm}, seed {seed}: step %{{x}}, %{{y:.3f}}<extra></extra>",
                )
            )
        median = part.groupby("step")["value"].median()
        fig.add_trace(
            go.Scatter(
                x=median.index,
                y=median.values,
                mode="lines",
                name=arm,
                line={"color": colour, "width": 3, "dash": dash},
                legendgroup=arm,
            )
        )
    fig.update_layout(
        title=title or f"{task}: validation metric while training (thin: one seed; bold: median)",
        xaxis_title="step",
        yaxis_title=f"{task} (validation)",
        height=380,
        margin={"l": 50, "r": 10, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
