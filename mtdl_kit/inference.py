"""Inference helpers shared by the region notebooks and the dashboard: predict, evaluate, draw.

The notebooks hold glue only; what they compute lives here, typed and tested:

- :func:`predict_sample` runs a model on one :class:`~mtdl_kit.regions.base.Sample` and returns
  readable predictions (class maps, class probabilities, values in the task's units, points); with
  ``size`` it runs the model at its training size (zoo: 64 px, :func:`resize_sample`) and brings the
  outputs back to the sample's size (the dashboard's predictions go through it too).
- :func:`evaluate_models` scores several models (multi-task families and single-task baselines)
  on the *same* phantom test cases and returns a long table ``model, family, task, metric, value``.
- :func:`metrics_table`, :func:`relative_to_single` and :func:`quick_delta_m` reshape that table:
  primary metric per task, relative change against the single-task baseline, and a one-seed Δm.
- :func:`joint_outputs_figure` draws one column per model: the segmentation overlay (truth as
  outline, prediction as fill, Okabe-Ito colours) with the class decision and the regression
  values, predicted against true, written underneath.
- :func:`tradeoff_figure` plots two tasks' primary metrics against each other (a Pareto view of
  the families against the single-task baselines).

A one-seed evaluation on a few dozen cases is a *demonstration*, not a result: the benchmark
tables (:func:`mtdl_kit.results.load_results`) give Δm over seeds with confidence intervals.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from mtdl_kit.evaluation import non_dominated
from mtdl_kit.metrics import COUNT_KEYS, higher_is_better, predictions, primary_metric
from mtdl_kit.regions.base import Region, Sample, TaskSpec

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

#: Columns of the frame returned by :func:`evaluate_models`.
FRAME_COLUMNS: tuple[str, ...] = ("model", "family", "task", "metric", "value", "primary", "higher_is_better")
#: Label of the combined single-task baseline in :func:`tradeoff_figure` and :func:`metrics_table`.
SINGLE_LABEL = "single-task baselines"
#: Marker symbol per family (shapes as well as colours, so the plot does not rely on colour alone).
FAMILY_SYMBOLS: dict[str, str] = {
    "parallel": "circle",
    "cascaded": "square",
    "interacted": "diamond",
    "hybrid": "triangle-up",
    "single": "x",
}


# --------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------


def _region(region: str | Region) -> Region:
    if isinstance(region, Region):
        return region
    if not isinstance(region, str):
        raise ValueError(f"region must be a region name or a Region, got {type(region).__name__}.")
    from mtdl_kit.regions import get_region

    return get_region(region)


def _model_tasks(model: Any, name: str = "model") -> tuple[TaskSpec, ...]:
    if not isinstance(model, torch.nn.Module) or not isinstance(getattr(model, "tasks", None), tuple):
        raise ValueError(
            f"{name} must be a mtdl_kit MultiTaskNet (an nn.Module with a .tasks tuple), got {type(model).__name__}."
        )
    if not model.tasks:
        raise ValueError(f"{name} has no tasks.")
    return model.tasks


def _check_model_for_region(model: Any, region: Region, name: str) -> None:
    for t in _model_tasks(model, name):
        if t.name not in region.task_names:
            raise ValueError(
                f"{name} predicts task {t.name!r}, which region {region.name!r} does not have "
                f"(its tasks are {region.task_names}). Use a model trained on this region."
            )
        # the description is prose (it may be reworded); what the model computes must match
        if replace(t, description=region.task(t.name).description) != region.task(t.name):
            raise ValueError(f"{name}: task {t.name!r} differs from region {region.name!r}'s definition of it.")
    channels = getattr(model, "in_channels", region.in_channels)
    if channels != region.in_channels:
        raise ValueError(
            f"{name} expects {channels} input channel(s); region {region.name!r} images have {region.in_channels}."
        )


def _model_device(model: torch.nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


# --------------------------------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------------------------------


def resize_sample(sample: Sample, size: int) -> Sample:
    """The sample at ``size`` × ``size``: image by area averaging, masks nearest, points scaled.

    Regression targets (physical units) are kept; ``spacing_mm`` is scaled. A sample already at
    ``size`` × ``size`` is returned as it is.
    """
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


def _back_to_size(
    tasks: tuple[TaskSpec, ...], raw: Mapping[str, np.ndarray], shape: tuple[int, int], size: int
) -> dict[str, np.ndarray]:
    """Outputs computed at ``size`` brought back to ``shape``: class maps nearest, points scaled, images bilinear."""
    h, w = shape
    out: dict[str, np.ndarray] = {}
    for task in tasks:
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
    return out


def predict_sample(model: torch.nn.Module, sample: Sample, *, size: int | None = None) -> dict[str, np.ndarray]:
    """Predictions of one model on one sample, as numpy arrays a person can read.

    Runs under ``torch.inference_mode()`` in ``eval()`` mode (the model's previous mode is
    restored), on the device the model lives on (the CPU for zoo models); outputs come back to
    the CPU.

    Args:
        model: a :class:`~mtdl_kit.models.base.MultiTaskNet` (any family, or a single-task model).
        sample: one case; its image size must be divisible by the model's total stride (16).
        size: run the model at ``size`` × ``size`` (the size it was trained at; zoo models: 64):
            the sample is resized (:func:`resize_sample`) and the outputs are brought back to the
            sample's size (class maps nearest, points scaled, images bilinear). ``None``: the
            sample's own size.

    Returns:
        task name -> prediction, for every task of the model: segmentation ``int64 (H, W)`` class
        map; classification ``float (K,)`` class probabilities; regression ``float (n,)`` values in
        the task's units; landmarks ``float (K, 2)`` (row, col) points; reconstruction
        ``float (C, H, W)`` image.

    Raises:
        ValueError: not a multi-task model, or the image does not fit it (channels, size).

    Example:
        >>> from mtdl_kit.models import build_for_region
        >>> from mtdl_kit.regions import get_region
        >>> net = build_for_region("eye", "parallel", width=4)
        >>> pred = predict_sample(net, get_region("eye").sample(0, size=32))
        >>> pred["disc_cup"].shape, pred["glaucoma"].shape
        ((32, 32), (2,))
    """
    tasks = _model_tasks(model)
    if not isinstance(sample, Sample):
        raise ValueError(f"sample must be a mtdl_kit Sample, got {type(sample).__name__}.")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive integer or None, got {size!r}.")
        small = resize_sample(sample, size)
        if small is not sample:
            raw = predict_sample(model, small)
            return _back_to_size(tasks, raw, tuple(np.asarray(sample.image).shape[-2:]), size)
    image = np.asarray(sample.image)
    if image.ndim != 3:
        raise ValueError(f"sample.image must have shape (C, H, W), got {image.shape}.")
    model_region = getattr(model, "region", None)
    if model_region and sample.region not in ("", "custom", model_region):  # "custom": a user's own task set
        raise ValueError(
            f"The model was built for region {model_region!r}; the sample is from {sample.region!r}. Use a "
            f"{sample.region} model (the zoo has one per family), or a sample of the {model_region} region."
        )
    channels = getattr(model, "in_channels", image.shape[0])
    if image.shape[0] != channels:
        raise ValueError(f"The model expects {channels} channel(s); the sample's image has {image.shape[0]}.")
    stride = int(getattr(model, "total_stride", 1))
    if image.shape[1] % stride or image.shape[2] % stride:
        raise ValueError(
            f"Image size {image.shape[1]}x{image.shape[2]} is not divisible by {stride}; generate the sample "
            f"with a size that is (e.g. 32, 64 or 128)."
        )
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None].to(_model_device(model))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            out = model(x)
    finally:
        model.train(was_training)
    result: dict[str, np.ndarray] = {}
    for t in tasks:
        if t.name not in out:
            raise ValueError(f"The model did not output task {t.name!r}; it returned {sorted(out)}.")
        pred = predictions(t, out[t.name]).detach().cpu()[0]
        if t.kind == "segmentation":
            result[t.name] = pred.numpy().astype(np.int64)
        elif t.kind == "classification":
            result[t.name] = pred.numpy().astype(np.float64)
        else:
            result[t.name] = pred.numpy().astype(np.float32)
    return result


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------


def evaluate_models(
    models: Mapping[str, torch.nn.Module],
    region: str | Region,
    *,
    n_cases: int = 32,
    size: int = 64,
    seed: int = 0,
    batch_size: int = 16,
    relatedness: float = 1.0,
    nuisance: str | None = None,
) -> pd.DataFrame:
    """Score several models on the same phantom test cases; one row per model, task and metric.

    The cases are ``PhantomDataset(region, n_cases, split="test", base_seed=seed, size=size, ...)``
    — with ``seed=0`` and ``size=64`` the first ``n_cases`` of the zoo's own held-out test set.
    They are generated once and given to every model in the same order
    (:func:`~mtdl_kit.evaluation.evaluate`).

    Args:
        models: display name -> model (e.g. ``{"parallel": ..., "single:tumour": ...}``).
        region: region name or object; every model must predict tasks of this region.
        n_cases: number of test cases.
        size: image size in pixels (divisible by 16).
        seed: offset of the cases inside the test split.
        batch_size: evaluation batch size.
        relatedness: coupling of the class label to the anatomy, in [0, 1].
        nuisance: ``None`` or one of the region's nuisances.

    Returns:
        A DataFrame with the columns :data:`FRAME_COLUMNS`: ``model``, ``family`` (the model's
        family, ``single`` for baselines), ``task``, ``metric``, ``value``, ``primary`` (the
        task's primary metric, :func:`~mtdl_kit.metrics.primary_metric`) and ``higher_is_better``.

    Raises:
        ValueError: no models, a model for another region, or invalid data arguments.
    """
    import pandas as pd

    from mtdl_kit.data import PhantomDataset
    from mtdl_kit.evaluation import evaluate

    reg = _region(region)
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict {name: model}.")
    for name, model in models.items():
        _check_model_for_region(model, reg, f"model {name!r}")
    if isinstance(n_cases, bool) or not isinstance(n_cases, int) or n_cases < 2:
        raise ValueError(f"n_cases must be an integer >= 2 (AUC needs cases of both classes), got {n_cases!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if isinstance(size, bool) or not isinstance(size, int) or size % 16:
        raise ValueError(f"size must be an integer divisible by 16 (the models' total stride), got {size!r}.")
    needed = {t.name for m in models.values() for t in m.tasks}
    tasks = [n for n in reg.task_names if n in needed]
    test = PhantomDataset(
        reg, n_cases, split="test", base_seed=seed, size=size, relatedness=relatedness, nuisance=nuisance, tasks=tasks
    )
    batches = list(torch.utils.data.DataLoader(test, batch_size=batch_size, shuffle=False))
    rows: list[dict[str, Any]] = []
    for name, model in models.items():
        scored = evaluate(model, batches, spacing_mm=reg.spacing_mm(size))
        for t in model.tasks:
            primary = primary_metric(t)
            for metric, value in scored.metrics[t.name].items():
                if metric == "n_cases" or metric in COUNT_KEYS:
                    continue  # counts (cases, undefined HD95 pairs) are not performance metrics
                rows.append(
                    {
                        "model": str(name),
                        "family": getattr(model, "family", "") or "unknown",
                        "task": t.name,
                        "metric": metric,
                        "value": float(value),
                        "primary": metric == primary,
                        "higher_is_better": higher_is_better(metric),
                    }
                )
    return pd.DataFrame(rows, columns=list(FRAME_COLUMNS))


def _check_frame(frame: Any) -> None:
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be the DataFrame of evaluate_models, got {type(frame).__name__}.")
    missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks the columns {missing}; pass the output of evaluate_models().")
    if frame.empty:
        raise ValueError("frame is empty; evaluate at least one model.")


def _primary(frame: pd.DataFrame) -> pd.DataFrame:
    _check_frame(frame)
    return frame[frame["primary"].astype(bool)]


def metrics_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Primary metric of every task (columns ``"<task> <metric>"``) per model (rows).

    Single-task baselines (family ``single``) are merged into one row, :data:`SINGLE_LABEL`; a
    task a model does not predict is NaN.

    Raises:
        ValueError: not a frame of :func:`evaluate_models`.
    """
    prim = _primary(frame).copy()
    prim["row"] = np.where(prim["family"] == "single", SINGLE_LABEL, prim["model"])
    prim["column"] = prim["task"] + " " + prim["metric"]
    order_rows = list(dict.fromkeys(prim["row"]))
    order_cols = list(dict.fromkeys(prim["column"]))
    table = prim.pivot_table(index="row", columns="column", values="value", aggfunc="mean")
    table = table.reindex(index=order_rows, columns=order_cols)
    table.index.name = "model"
    table.columns.name = None
    return table


def relative_to_single(frame: pd.DataFrame) -> pd.DataFrame:
    """Relative change of each multi-task model's primary metric against the single-task baseline.

    ``relative_pct = (-1)^l (M_mtl - M_stl) / M_stl × 100`` with ``l = 1`` when lower is better
    (positive = better than the baseline); 0 where the two values are equal.

    Returns:
        One row per multi-task model and task that has a baseline: ``model``, ``family``,
        ``task``, ``metric``, ``value``, ``single``, ``relative_pct``.

    Raises:
        ValueError: not a frame of :func:`evaluate_models`, or no single-task baseline in it.
    """
    import pandas as pd

    prim = _primary(frame)
    single = prim[prim["family"] == "single"].groupby("task")["value"].mean()
    if single.empty:
        raise ValueError("frame has no single-task baseline (family 'single'); evaluate one per task.")
    rows = []
    for _, r in prim[prim["family"] != "single"].iterrows():
        if r["task"] not in single.index:
            continue
        base = float(single[r["task"]])
        value = float(r["value"])
        sign = 1.0 if r["higher_is_better"] else -1.0
        rel = 0.0 if value == base else sign * (value - base) / base * 100.0
        rows.append(
            {**{k: r[k] for k in ("model", "family", "task", "metric", "value")}, "single": base, "relative_pct": rel}
        )
    return pd.DataFrame(rows, columns=["model", "family", "task", "metric", "value", "single", "relative_pct"])


def quick_delta_m(frame: pd.DataFrame) -> pd.Series:
    """One-seed Δm (%) of every multi-task model on the evaluated cases: the mean of :func:`relative_to_single`.

    A quick look only — one training seed, a few test cases and no interval; the benchmark's
    ``families`` table has Δm over seeds with a 95 % CI.

    Raises:
        ValueError: as :func:`relative_to_single`.
    """
    rel = relative_to_single(frame)
    order = list(dict.fromkeys(rel["model"]))
    return rel.groupby("model")["relative_pct"].mean().reindex(order).rename("delta_m_pct")


def relative_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Wide view of :func:`relative_to_single`: models as rows, tasks as columns (%), plus the one-seed Δm.

    Rows keep the order of the models in ``frame``, columns the order of the tasks; the last column,
    ``"Δm (one seed)"``, is :func:`quick_delta_m`.

    Raises:
        ValueError: as :func:`relative_to_single`.
    """
    rel = relative_to_single(frame)
    models = list(dict.fromkeys(rel["model"]))
    tasks = list(dict.fromkeys(rel["task"]))
    table = rel.pivot(index="model", columns="task", values="relative_pct").reindex(index=models, columns=tasks)
    table["Δm (one seed)"] = quick_delta_m(frame)
    table.columns.name = None
    return table


def mask_measurements(
    models: Mapping[str, torch.nn.Module],
    region: str | Region,
    key: str,
    *,
    measure: Any = None,
    n_cases: int = 8,
    size: int = 64,
    seed: int = 0,
) -> pd.DataFrame:
    """A clinical measurement taken on each model's *predicted* mask, next to the same on the truth.

    Args:
        models: name -> model; models without the region's segmentation task are skipped.
        region: region name or object.
        key: a key of ``region.measure(mask, spacing_mm)`` (e.g. ``"cdr"``), used when ``measure``
            is None and as the column label.
        measure: optional ``fn(mask, spacing_mm) -> float`` (e.g. the learner's own function).
        n_cases: test cases (``PhantomDataset(..., split="test", base_seed=seed)``).
        size: image size.
        seed: offset in the test split.

    Returns:
        One row per model and case: ``model``, ``case``, ``truth``, ``predicted``, ``abs_error``.

    Raises:
        ValueError: no model with the segmentation task, or an unknown ``key``.
    """
    import pandas as pd

    from mtdl_kit.data import PhantomDataset

    reg = _region(region)
    seg = reg.coupling.segmentation
    chosen = {n: m for n, m in models.items() if seg in {t.name for t in _model_tasks(m, f"model {n!r}")}}
    if not chosen:
        raise ValueError(f"No model predicts the segmentation {seg!r}; nothing to measure on.")

    def default(mask: np.ndarray, spacing: float) -> float:
        values = reg.measure(mask, spacing)
        if key not in values:
            raise ValueError(f"{reg.name}.measure() returns no {key!r}; its keys are {sorted(values)}.")
        return float(values[key])

    fn = measure or default
    test = PhantomDataset(reg, n_cases, split="test", base_seed=seed, size=size)
    rows = []
    for i in range(n_cases):
        s = test.sample(i)
        truth = float(fn(np.asarray(s.targets[seg]), s.spacing_mm))
        for name, model in chosen.items():
            pred = float(fn(predict_sample(model, s)[seg], s.spacing_mm))
            rows.append({"model": name, "case": i, "truth": truth, "predicted": pred, "abs_error": abs(pred - truth)})
    return pd.DataFrame(rows, columns=["model", "case", "truth", "predicted", "abs_error"])


def delta_m_summary(results: pd.DataFrame) -> str:
    """Markdown sentences about one region's ``families`` results table, every number read from it.

    Each family's verdict comes from :func:`mtdl_kit.verdicts.verdict` (better / worse / no
    detectable difference, from the 95 % CI). A worse family is called worse, not "negative
    transfer": this table has no control that tells why, and a cascade shares no layers at all
    (:func:`mtdl_kit.verdicts.shares_layers`).

    Args:
        results: ``load_results("families", region=...)``: ``family``, ``delta_m``, ``ci_low``,
            ``ci_high``, ``n_seeds`` (and optionally ``params``, ``infer_ms``).

    Returns:
        A bullet per family (Δm with its 95 % CI and its verdict) and closing lines naming the
        family with the highest Δm, whether its interval overlaps the runner-up's, and which
        families (if any) are better than the single-task baselines.

    Raises:
        ValueError: the table lacks the columns or is empty.
    """
    from mtdl_kit.verdicts import BETTER, WORSE, shares_layers, verdict

    needed = ("family", "delta_m", "ci_low", "ci_high", "n_seeds")
    if not hasattr(results, "columns") or any(c not in results.columns for c in needed) or len(results) == 0:
        raise ValueError(f"results must be load_results('families', region=...) with the columns {needed}.")
    ranked = results.sort_values("delta_m", ascending=False)
    lines = []
    better = []
    for _, r in ranked.iterrows():
        v = verdict(r["delta_m"], r["ci_low"], r["ci_high"], n_seeds=int(r["n_seeds"]))
        if v.word == BETTER:
            better.append(str(r["family"]))
            reading = "better than the single-task baselines (the interval excludes 0)"
        elif v.word == WORSE:
            why = (
                "a cascade shares no layers, so this is not negative transfer"
                if not shares_layers(str(r["family"]))
                else "this table has no control, so it does not say why"
            )
            reading = f"worse than the single-task baselines (the interval excludes 0; {why})"
        else:
            reading = "no detectable difference from the single-task baselines (the interval contains 0)"
        extra = ""
        if "params" in r and "infer_ms" in r and np.isfinite(r["params"]) and np.isfinite(r["infer_ms"]):
            extra = f"; {int(r['params']):,} parameters, {r['infer_ms']:.1f} ms per image"
        lines.append(f"- **{r['family']}**: Δm {v.interval()} over {v.n_seeds} seeds — {reading}{extra}.")
    best = ranked.iloc[0]
    lines.append("")
    if len(ranked) > 1 and best["ci_low"] <= ranked.iloc[1]["ci_high"]:
        lines.append(
            f"The intervals of **{best['family']}** and **{ranked.iloc[1]['family']}** overlap: these seeds do not "
            "rank them."
        )
    lines.append(
        f"Better than the single-task baselines: {', '.join(better)}."
        if better
        else "No family is better than the single-task baselines here."
    )
    lines.append(f"Highest Δm: **{best['family']}** ({best['delta_m']:+.1f} %).")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


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
    reg = _region(region)
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

    reg = _region(region)
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

    prim = _primary(frame)
    tasks = list(dict.fromkeys(prim["task"]))
    if len(tasks) < 2:
        raise ValueError(f"A trade-off needs two tasks; the frame has {tasks}.")
    if region is not None:
        reg = _region(region)
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


__all__ = [
    "FRAME_COLUMNS",
    "SINGLE_LABEL",
    "delta_m_summary",
    "evaluate_models",
    "joint_outputs_figure",
    "mask_measurements",
    "metrics_table",
    "predict_sample",
    "prediction_lines",
    "quick_delta_m",
    "relative_table",
    "relative_to_single",
    "resize_sample",
    "tradeoff_figure",
]
