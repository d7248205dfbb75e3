"""The For clinicians page: plain-language trade-offs computed from the numbers, and calibration.

- :func:`evaluate_on_samples`: a model's metrics on samples, and the class probabilities with
  their labels (plain arrays) for the reliability diagram.
- :func:`tradeoff_sentences`: sentences comparing a multi-task model with the single-task baselines.
- :func:`calibration_note`, :func:`reliability_table`, :func:`reliability_figure`: how far the
  class probabilities can be trusted.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mtdl_kit.palette import OKABE_ITO, OKABE_ITO_NAMED
from mtdl_kit.services.relationships import sample_records
from mtdl_kit.services.zoo_models import MODEL_SIZE

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from mtdl_kit.regions.base import Region, Sample
    from mtdl_kit.zoo import ZooEntry

#: how metric names read in sentences.
METRIC_WORDS = {"dice": "Dice", "auc": "ROC-AUC", "mae": "mean absolute error", "rmse": "RMS error"}


def evaluate_on_samples(
    model: Any, region: Region, samples: Sequence[Sample], *, size: int = MODEL_SIZE, batch_size: int = 16
) -> dict[str, dict[str, Any]]:
    """Metrics and class probabilities of ``model`` on ``samples`` (resized to ``size``, in batches of ``batch_size``).

    Returns:
        ``{"metrics": task -> metric -> value, "probs": task -> (probabilities (n, K), labels (n,))}``
        with ``probs`` for the classification tasks (what :func:`reliability_table` takes).
    """
    import torch

    from mtdl_kit.evaluation import evaluate

    data = sample_records(samples, region, model.task_names, size)
    # evaluate() takes a list as batches (reused as is), so the per-case dicts are batched here
    batches = [torch.utils.data.default_collate(data[i : i + batch_size]) for i in range(0, len(data), batch_size)]
    scored = evaluate(model, batches, spacing_mm=region.spacing_mm(size))
    probs = {}
    for t in region.tasks:
        if t.kind == "classification" and t.name in scored.metrics:
            values = scored.records[t.name].values
            probs[t.name] = (np.asarray(values["probs"]), np.asarray(values["labels"]))
    return {"metrics": scored.metrics, "probs": probs}


def _fmt(v: float | None) -> str:
    return "n/a" if v is None or not math.isfinite(v) else (f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}")


def tradeoff_sentences(
    region: Region,
    family: str,
    multi: Mapping[str, Mapping[str, float]],
    single: Mapping[str, Mapping[str, float] | None],
    n_cases: int,
) -> list[str]:
    """Plain-language sentences comparing a multi-task model with the single-task baselines.

    ``multi``: task -> metrics of the multi-task model; ``single``: task -> metrics of that task's
    single-task baseline (``None`` if not in the zoo). Segmentation adds one sentence per class.
    """
    from mtdl_kit.metrics import higher_is_better, primary_metric

    out = []
    for task, metrics in multi.items():
        spec = region.task(task)
        others = [t for t in multi if t != task]
        base = single.get(task)
        if base is None:
            out.append(f"No single-task {task} model in the zoo yet, so the effect of the other tasks cannot be shown.")
            continue
        names = [primary_metric(spec)]
        if spec.kind == "segmentation":
            names += [k for k in metrics if k.startswith("dice/")]
        for name in names:
            a, b = base.get(name), metrics.get(name)
            if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
                continue
            better = (b > a) if higher_is_better(name) else (b < a)
            diff = abs(b - a)
            scale = max(abs(a), 1e-9) if not name.startswith(("dice", "auc", "accuracy")) else 1.0
            size_word = "about the same" if diff / scale < 0.02 else ("better" if better else "worse")
            if name.startswith("dice/"):
                what = f"{name.removeprefix('dice/')} Dice"
            else:
                what = f"{task} {METRIC_WORDS.get(name, name.replace('_', ' '))}"
            out.append(
                f"Adding the {', '.join(others)} task{'s' if len(others) > 1 else ''} ({family} model) changed "
                f"{what} from {_fmt(a)} ({task} alone) to {_fmt(b)} on these {n_cases} samples — {size_word}."
            )
    return out


def calibration_note(entry: ZooEntry | None, task: str) -> str:
    """One sentence on how far the model's probabilities can be trusted, from its held-out ECE."""
    if entry is None:
        return f"{task}: no held-out calibration measured for this model."
    m = entry.metrics.get(task, {})
    ece, n = m.get("ece"), m.get("n_cases")
    if ece is None:
        return f"{task}: no held-out calibration measured for this model."
    n_txt = f"{int(n)} held-out phantoms" if n else "the held-out phantoms"
    if ece < 0.05:
        verdict = "the probabilities are close to observed frequencies"
    elif ece < 0.15:
        verdict = "the probabilities are somewhat off: read them as a rough guide"
    else:
        verdict = "the probabilities are poorly calibrated: read them as a ranking, not as a risk"
    return f"{task} ({entry.key}): expected calibration error {ece:.2f} on {n_txt} — {verdict}."


def reliability_table(probs: np.ndarray, labels: np.ndarray, n_bins: int = 5) -> pd.DataFrame:
    """Reliability diagram data: per confidence bin, mean confidence, accuracy and number of cases."""
    import pandas as pd

    probs, labels = np.asarray(probs, float), np.asarray(labels).astype(int)
    conf, correct = probs.max(1), (probs.argmax(1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    rows = []
    for lo, hi in itertools.pairwise(edges):
        sel = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        rows.append(
            {
                "bin": f"{lo:.1f}–{hi:.1f}",
                "confidence": float(conf[sel].mean()) if sel.any() else math.nan,
                "accuracy": float(correct[sel].mean()) if sel.any() else math.nan,
                "cases": int(sel.sum()),
            }
        )
    return pd.DataFrame(rows)


def reliability_figure(table: pd.DataFrame, title: str = "") -> go.Figure:
    """Reliability diagram (accuracy vs confidence per bin, the diagonal is perfect calibration)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"color": OKABE_ITO_NAMED["black"], "dash": "dot"}, name="ideal"
        )
    )
    fig.add_trace(
        go.Scatter(
            x=table["confidence"],
            y=table["accuracy"],
            mode="lines+markers",
            marker={"size": 6 + 2 * np.sqrt(table["cases"].to_numpy())},
            line={"color": OKABE_ITO[4]},
            name="model",
            text=[f"{c} cases" for c in table["cases"]],
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="confidence (top-class probability)",
        yaxis_title="fraction correct",
        height=320,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        xaxis={"range": [0, 1]},
        yaxis={"range": [0, 1.05]},
    )
    return fig


__all__ = [
    "METRIC_WORDS",
    "calibration_note",
    "evaluate_on_samples",
    "reliability_figure",
    "reliability_table",
    "tradeoff_sentences",
]
