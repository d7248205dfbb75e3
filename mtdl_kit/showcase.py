"""Dashboard logic on trained zoo models: which model answers a task subset, predictions, trade-offs.

Pure functions (numpy, pandas, torch, plotly), no Streamlit, so the dashboard holds UI state only
and everything here is unit-testable:

- :func:`resolve_model`: for a region, family and the tasks a user toggled on, the zoo model to
  use — the model trained for exactly that task subset when the manifest has one (a single task:
  the single-task baseline), otherwise the region's full model with the other heads hidden, or
  ``None`` with a message while the model is not trained yet.
- :func:`resize_sample` / :func:`predict`: run a model at its training size (zoo: 64 px) on a
  sample of any size and bring the outputs back to the displayed size; latency measured.
- :func:`joint_picture`, :func:`classification_rows`, :func:`regression_rows`,
  :func:`calibration_note`: the Explore page's joint outputs.
- :func:`sample_records`, :func:`relationships`, :func:`pred_vs_true_figure`: the Task
  relationships page (across the region's bundled samples; analysis from :mod:`mtdl_kit.analysis`).
- :func:`tradeoff_sentences`, :func:`reliability_table`: the plain-language summary for clinicians.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from mtdl_kit.regions.base import Region, Sample
    from mtdl_kit.zoo import ZooEntry

#: the four multi-task families shown side by side.
FAMILIES: tuple[str, ...] = ("parallel", "cascaded", "interacted", "hybrid")
#: image side the zoo models were trained at (``mtdl_kit.zoo.DEFAULT_SIZE``).
MODEL_SIZE = 64
#: regions in the order the zoo job trains them (for the "not trained yet" message).
ZOO_ORDER_NOTE = "the zoo is trained region by region (brain, eye, chest, cardiac, …)"


@dataclass(frozen=True)
class ModelChoice:
    """Which zoo model answers ``shown`` tasks for ``family``.

    ``how`` is ``"exact"`` (a zoo model trained on exactly these tasks: the full set, a subset or a
    single-task baseline), ``"hidden"`` (the full model with the ``hidden`` heads not shown) or
    ``"missing"``; ``note`` says it in words for the UI.
    """

    family: str
    key: str | None
    model_tasks: tuple[str, ...]
    shown: tuple[str, ...]
    hidden: tuple[str, ...]
    how: str
    note: str


def resolve_model(region: str, family: str, tasks: Sequence[str], manifest: Mapping[str, ZooEntry]) -> ModelChoice:
    """The zoo model for ``tasks`` of ``region`` in ``family`` (see :class:`ModelChoice`).

    Raises:
        ValueError: no task, or an unknown task name.
    """
    from mtdl_kit.regions import get_region
    from mtdl_kit.zoo import rebuild_command

    reg = get_region(region)
    if not tasks:
        raise ValueError(f"Select at least one of the {region} tasks {reg.task_names}.")
    picked = {t.name for t in reg.select_tasks(list(tasks))}
    shown = tuple(n for n in reg.task_names if n in picked)  # the region's order
    for key, e in manifest.items():
        if e.region == region and e.family == family and set(e.tasks) == set(shown):
            what = "all the region's tasks" if shown == reg.task_names else f"exactly {', '.join(shown)}"
            return ModelChoice(family, key, tuple(e.tasks), shown, (), "exact", f"zoo model trained on {what}")
    if len(shown) == 1:
        e = manifest.get(f"{region}-single-{shown[0]}")
        if e is not None:
            return ModelChoice(
                family,
                e.key,
                tuple(e.tasks),
                shown,
                (),
                "exact",
                f"single-task zoo baseline for {shown[0]} (the zoo has no {family} model for one task)",
            )
    full = manifest.get(f"{region}-{family}")
    if full is not None:
        hidden = tuple(t for t in full.tasks if t not in shown)
        return ModelChoice(
            family,
            full.key,
            tuple(full.tasks),
            shown,
            hidden,
            "hidden",
            f"full {family} model with the {', '.join(hidden)} head(s) hidden (no zoo model for this subset)",
        )
    return ModelChoice(
        family,
        None,
        (),
        shown,
        (),
        "missing",
        f"The {family} model of the {region} region is not in the zoo yet ({ZOO_ORDER_NOTE}; "
        f"it appears when its training finishes). To train it yourself: `{rebuild_command(region, family)}`.",
    )


# --------------------------------------------------------------------------------------------------
# Uploads
# --------------------------------------------------------------------------------------------------


def read_dashboard_upload(name: str, data: bytes, region: str, *, size: int = 128) -> Sample:
    """:func:`mtdl_kit.data.formats.read_upload` for a browser upload, plus a file-name check.

    A browser turns the bytes of a file name that is not valid UTF-8 into U+FFFD before the server
    sees it; such a name (or one with lone surrogates) is refused with the same message as
    ``read_upload`` gives for a non-UTF-8 name on disk.

    Raises:
        DataError: the message says what is wrong and what is accepted.
    """
    from mtdl_kit.data.formats import DataError, read_upload

    text = str(name)
    if "\ufffd" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise DataError(
            text.encode("utf-8", "replace").decode("utf-8"),
            "the file name is not valid UTF-8 (undecodable bytes arrived as '\ufffd')",
            "Rename the file using UTF-8 characters (letters, digits, '_-.').",
        )
    return read_upload(text, data, region, size=size)


# --------------------------------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------------------------------


def resize_sample(sample: Sample, size: int) -> Sample:
    """The sample at ``size`` × ``size``: image by area averaging, masks nearest, points scaled.

    Regression targets (physical units) are kept; ``spacing_mm`` is scaled.
    """
    import torch
    import torch.nn.functional as F

    h = sample.image.shape[-1]
    if h == size and sample.image.shape[-2] == size:
        return sample
    scale = size / h

    def area(a: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None]
        return F.interpolate(t, size=(size, size), mode="area")[0].numpy()

    targets = {}
    for name, y in sample.targets.items():
        y = np.asarray(y)
        if y.ndim == 2 and y.shape == sample.image.shape[-2:] and np.issubdtype(y.dtype, np.integer):
            t = torch.from_numpy(y.astype(np.float32))[None, None]
            targets[name] = F.interpolate(t, size=(size, size), mode="nearest-exact")[0, 0].numpy().astype(y.dtype)
        elif y.ndim == 3 and y.shape[-2:] == sample.image.shape[-2:]:
            targets[name] = area(y).astype(np.float32)
        elif y.ndim == 2 and y.shape[-1] == 2 and not np.issubdtype(y.dtype, np.integer):
            targets[name] = (y.astype(np.float32) + 0.5) * scale - 0.5
        else:
            targets[name] = y
    return replace(
        sample, image=area(sample.image).astype(np.float32), targets=targets, spacing_mm=sample.spacing_mm / scale
    )


@dataclass
class Prediction:
    """A model's outputs on one sample, at the sample's displayed size.

    ``outputs``: task -> class map (H, W) / class probabilities (K,) / values (n,) / points (K, 2)
    / image (C, H, W). ``latency_ms``: the forward pass alone; ``device``: where it ran.
    """

    outputs: dict[str, np.ndarray]
    latency_ms: float
    device: str


def predict(model: Any, sample: Sample, *, size: int = MODEL_SIZE) -> Prediction:
    """Run ``model`` on ``sample`` resized to ``size`` with :func:`mtdl_kit.inference.predict_sample`.

    The model is only read (eval mode, ``torch.inference_mode``); outputs are mapped back to the
    sample's displayed size (class maps nearest, points scaled, images bilinear).
    """
    import torch
    import torch.nn.functional as F

    from mtdl_kit.inference import predict_sample

    small = resize_sample(sample, size)
    device = next(model.parameters()).device
    h, w = sample.image.shape[-2:]
    t0 = time.perf_counter()
    raw = predict_sample(model, small)
    latency = (time.perf_counter() - t0) * 1000.0
    out: dict[str, np.ndarray] = {}
    for task in model.tasks:
        y = raw[task.name]
        if task.kind == "segmentation" and y.shape != (h, w):
            t = torch.from_numpy(y.astype(np.float32))[None, None]
            out[task.name] = F.interpolate(t, size=(h, w), mode="nearest-exact")[0, 0].numpy().astype(np.int64)
        elif task.kind == "landmarks":
            out[task.name] = (y + 0.5) * (h / size) - 0.5
        elif task.kind == "reconstruction" and y.shape[-2:] != (h, w):
            t = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))[None]
            out[task.name] = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0].numpy()
        else:
            out[task.name] = y
    return Prediction(out, latency, str(device))


def joint_picture(
    region: Region, sample: Sample, prediction: Prediction | None, shown: Sequence[str], *, opacity: float = 0.45
) -> np.ndarray:
    """RGB uint8: truth as outline (when the sample has it), the predicted mask as fill, landmarks."""
    from mtdl_kit.viz import overlay

    seg = region.coupling.segmentation
    lm = next((t.name for t in region.tasks if t.kind == "landmarks"), None)
    pred = prediction.outputs if prediction is not None else {}
    return overlay(
        sample.image,
        truth=sample.targets.get(seg),
        prediction=pred.get(seg) if seg in shown else None,
        num_classes=region.task(seg).num_outputs,
        opacity=opacity,
        landmarks=sample.targets.get(lm) if lm else None,
        predicted_landmarks=pred.get(lm) if lm and lm in shown else None,
    )


def classification_rows(
    region: Region, sample: Sample, predictions_by_model: Mapping[str, Prediction], shown: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per model and classification task: class probabilities, the decision (arg-max) and the truth."""
    rows = []
    for label, pred in predictions_by_model.items():
        for t in region.tasks:
            if t.kind != "classification" or t.name not in shown or t.name not in pred.outputs:
                continue
            p = pred.outputs[t.name]
            names = t.class_names or tuple(str(i) for i in range(t.num_outputs))
            row: dict[str, Any] = {"model": label, "task": t.name}
            row.update({f"P({n})": float(v) for n, v in zip(names, p, strict=True)})
            row["decision"] = names[int(np.argmax(p))]
            y = sample.targets.get(t.name)
            row["truth"] = names[int(y)] if y is not None else "unknown (no label)"
            rows.append(row)
    return rows


def regression_rows(
    region: Region, sample: Sample, predictions_by_model: Mapping[str, Prediction], shown: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per model and regression output: predicted value, truth and error."""
    rows = []
    for label, pred in predictions_by_model.items():
        for t in region.tasks:
            if t.kind != "regression" or t.name not in shown or t.name not in pred.outputs:
                continue
            names = t.output_names or tuple(f"{t.name}[{i}]" for i in range(t.num_outputs))
            truth = sample.targets.get(t.name)
            for i, n in enumerate(names):
                v = float(pred.outputs[t.name][i])
                y = float(truth[i]) if truth is not None else math.nan
                rows.append(
                    {
                        "model": label,
                        "task": t.name,
                        "quantity": n + (f" ({t.units})" if t.units and "(" not in n else ""),
                        "predicted": v,
                        "truth": y,
                        "error": v - y,
                    }
                )
    return rows


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


# --------------------------------------------------------------------------------------------------
# Task relationships across a sample set
# --------------------------------------------------------------------------------------------------


def sample_records(samples: Sequence[Sample], region: Region, tasks: Sequence[str], size: int = MODEL_SIZE) -> list:
    """Samples as the tensor dicts models and :mod:`mtdl_kit.analysis` consume, resized to ``size``."""
    from mtdl_kit.data.phantom import sample_to_tensors

    specs = region.select_tasks(list(tasks))
    return [sample_to_tensors(resize_sample(s, size), specs) for s in samples]


def relationships(model: Any, region: Region, samples: Sequence[Sample], *, size: int = MODEL_SIZE) -> dict[str, Any]:
    """Case table, output correlation, gradient conflict and task affinity of ``model`` on ``samples``.

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

    from mtdl_kit.viz import OKABE_ITO

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
                x=[lo, hi], y=[lo, hi], mode="lines", line={"color": "#000000", "dash": "dot"}, showlegend=False
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


# --------------------------------------------------------------------------------------------------
# Plain-language trade-offs and calibration
# --------------------------------------------------------------------------------------------------


def evaluate_on_samples(model: Any, region: Region, samples: Sequence[Sample], *, size: int = MODEL_SIZE) -> dict:
    """Task -> metric -> value of ``model`` on ``samples`` (resized to ``size``), plus raw records."""

    from mtdl_kit.evaluation import evaluate

    data = sample_records(samples, region, model.task_names, size)
    scored = evaluate(model, data, spacing_mm=region.spacing_mm(size))
    return {"metrics": scored.metrics, "records": scored.records}


#: how metric names read in sentences.
METRIC_WORDS = {"dice": "Dice", "auc": "ROC-AUC", "mae": "mean absolute error", "rmse": "RMS error"}


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

    from mtdl_kit.viz import OKABE_ITO

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "#000000", "dash": "dot"}, name="ideal"))
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
    "FAMILIES",
    "MODEL_SIZE",
    "ModelChoice",
    "Prediction",
    "calibration_note",
    "classification_rows",
    "evaluate_on_samples",
    "joint_picture",
    "pred_vs_true_figure",
    "predict",
    "read_dashboard_upload",
    "regression_rows",
    "relationships",
    "reliability_figure",
    "reliability_table",
    "resize_sample",
    "resolve_model",
    "sample_records",
    "tradeoff_sentences",
]
