"""The Task relationships page: a model's tasks across a region's samples (analysis from :mod:`mtdl_kit.analysis`).

- :func:`sample_records`: samples as the tensor dicts models and the analysis consume, at the
  model's size.
- :func:`relationships`: per-case table, output correlation, gradient conflict and task affinity.
- :func:`pred_vs_true_figure`: predicted against true per task summary.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mtdl_kit.palette import OKABE_ITO, OKABE_ITO_NAMED

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from mtdl_kit.regions.base import Region, Sample


def sample_records(samples: Sequence[Sample], region: Region, tasks: Sequence[str], size: int) -> list:
    """Samples as the tensor dicts models and :mod:`mtdl_kit.analysis` consume, resized to ``size``."""
    from mtdl_kit.data import sample_to_tensors
    from mtdl_kit.inference import resize_sample

    specs = region.select_tasks(list(tasks))
    return [sample_to_tensors(resize_sample(s, size), specs) for s in samples]


def relationships(model: Any, region: Region, samples: Sequence[Sample], *, size: int) -> dict[str, Any]:
    """Case table, output correlation, gradient conflict and task affinity of ``model`` on ``samples`` at ``size`` px.

    Gradients are taken on a private copy of the model (the shared one is never touched). Keys:
    ``table`` (per-case predictions and truths), ``correlation``, ``conflict`` (task × task mean
    gradient cosine over the shared blocks) and ``conflict_by_block``, ``affinity``; a key is
    ``None`` with a reason in ``notes`` when it is undefined (e.g. the cascade shares no parameters).
    """
    import pandas as pd
    import torch

    from mtdl_kit.analysis import case_table, output_correlation, stage_gradient_cosines, task_affinity

    data = sample_records(samples, region, model.task_names, size)
    table = case_table(model, data, region)
    out: dict[str, Any] = {"table": table, "correlation": output_correlation(table), "notes": []}
    work = copy.deepcopy(model).float().eval()
    for p in work.parameters():  # the shared model may be frozen; gradients are taken on this copy only
        p.requires_grad_(True)
    batch = torch.utils.data.default_collate(data)
    try:
        stages = stage_gradient_cosines(work, batch, region=region)
        out["conflict_by_block"] = stages.pivot(index="pair", columns="block", values="cosine")
        names = list(model.task_names)
        mean = stages.groupby("pair")["cosine"].mean()
        z = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
        for pair, v in mean.items():
            a, b = pair.split("|")
            z.loc[a, b] = z.loc[b, a] = v
        out["conflict"] = z
    except ValueError as exc:
        out["conflict"] = out["conflict_by_block"] = None
        out["notes"].append(f"Gradient conflict: {exc}")
    try:
        out["affinity"] = task_affinity(work, data, batches=3, batch_size=8, region=region)
    except ValueError as exc:
        out["affinity"] = None
        out["notes"].append(f"Task affinity: {exc}")
    return out


def pred_vs_true_figure(table: pd.DataFrame) -> go.Figure:
    """Scatter of predicted vs true per summary (``pred:X`` vs ``true:X`` columns), with the identity line."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = [c[5:] for c in table.columns if c.startswith("pred:") and f"true:{c[5:]}" in table.columns]
    if not names:
        raise ValueError("The case table has no pair of pred:/true: columns.")
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, horizontal_spacing=0.08, vertical_spacing=0.15)
    for i, n in enumerate(names):
        r, c = i // cols + 1, i % cols + 1
        x, y = table[f"true:{n}"].to_numpy(float), table[f"pred:{n}"].to_numpy(float)
        lo, hi = float(np.nanmin([x.min(), y.min()])), float(np.nanmax([x.max(), y.max()]))
        fig.add_trace(
            go.Scatter(
                x=[lo, hi],
                y=[lo, hi],
                mode="lines",
                line={"color": OKABE_ITO_NAMED["black"], "dash": "dot"},
                showlegend=False,
            ),
            row=r,
            col=c,
        )
        fig.add_trace(
            go.Scatter(
                x=x, y=y, mode="markers", marker={"color": OKABE_ITO[i % 7], "size": 7}, name=n, showlegend=False
            ),
            row=r,
            col=c,
        )
        fig.update_xaxes(title_text="truth", row=r, col=c)
        fig.update_yaxes(title_text="predicted", row=r, col=c)
    fig.update_layout(height=300 * rows, margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return fig


__all__ = ["pred_vs_true_figure", "relationships", "sample_records"]
