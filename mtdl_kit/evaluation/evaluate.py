"""One way to score a model on a test set: :func:`evaluate`.

Training (validation metrics), experiments, the zoo, the notebooks' comparisons and the dashboard all
call :func:`evaluate`, so a metric means the same thing wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mtdl_kit.evaluation.records import Records, collect_predictions, compute_metrics
from mtdl_kit.regions.base import TaskSpec


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` returns.

    Attributes:
        records: per-case quantities of every task (:class:`~mtdl_kit.evaluation.Records`), for
            bootstrap intervals and Δm (:func:`~mtdl_kit.evaluation.delta_m`).
        metrics: task name -> metric name -> value on all cases
            (:func:`~mtdl_kit.evaluation.compute_metrics`; NaN where undefined).
    """

    records: Records
    metrics: dict[str, dict[str, float]]


def _model_device(model: Any) -> torch.device:
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.device
    return torch.device("cpu")


def _is_case_list(data: Any) -> bool:
    """A list of single cases (each ``"image"`` is (C, H, W)), as opposed to a list of ready batches."""
    if not isinstance(data, Sequence) or not data or not isinstance(data[0], Mapping) or "image" not in data[0]:
        return False
    return torch.as_tensor(data[0]["image"]).ndim == 3


def _image_size(data: Any, loader: Any) -> int | None:
    """Image width of the test set, read from the dataset when it says, else from its first batch."""
    for holder in (data, getattr(data, "dataset", None)):
        size = getattr(holder, "size", None)
        if isinstance(size, int) and not isinstance(size, bool):
            return size
    first = next(iter(loader), None)
    if first is None or "image" not in first:
        return None
    return int(torch.as_tensor(first["image"]).shape[-1])


def evaluate(
    model: Any,
    data: torch.utils.data.Dataset | Iterable[Mapping[str, Any]],
    *,
    tasks: Sequence[TaskSpec] | None = None,
    region: Any = None,
    batch_size: int = 16,
    device: str | torch.device | None = None,
    spacing_mm: float | None = None,
) -> Evaluation:
    """Score ``model`` on a test set: per-case records and every task's metrics.

    The model runs once over the cases in a fixed order under ``torch.inference_mode()`` in ``eval()``
    mode (its previous mode is restored), so records of different models on the same data line up
    for paired comparisons.

    Args:
        model: a :class:`~mtdl_kit.models.base.MultiTaskNet` (or any callable ``x -> {task: output}``
            with a ``tasks`` attribute).
        data: a map-style dataset of sample dicts or a list of them (batched here, ``shuffle=False``), a
            ``DataLoader``, or a list of batch dicts (reused as is: generate phantoms once, score many
            models). A list is read as cases when its first ``"image"`` is (C, H, W), as batches when
            it is (B, C, H, W).
        tasks: the tasks to score; default ``model.tasks``.
        region: the region the images come from, for the pixel spacing of HD95 and radial errors;
            default ``data.region`` when the dataset has one (a
            :class:`~mtdl_kit.data.phantom.PhantomDataset`).
        batch_size: batch size when ``data`` is a dataset.
        device: where the model runs; default the device of its parameters.
        spacing_mm: pixel spacing; overrides ``region``. Without either, "mm" means pixels.

    Returns:
        :class:`Evaluation` with ``records`` and ``metrics``.

    Raises:
        ValueError: no tasks, a bad batch size, or what :func:`~mtdl_kit.evaluation.collect_predictions`
            raises (a missing task output, wrong shapes).
    """
    if tasks is None:
        tasks = getattr(model, "tasks", None)
        if tasks is None:
            raise ValueError("evaluate() needs tasks=... for a model without a 'tasks' attribute.")
    tasks = tuple(tasks)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if _is_case_list(data) or (
        isinstance(data, torch.utils.data.Dataset) and not isinstance(data, torch.utils.data.IterableDataset)
    ):
        loader: Iterable[Mapping[str, Any]] = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
    else:
        loader = data
    if spacing_mm is None:
        if region is None:
            region = getattr(data, "region", None) or getattr(getattr(data, "dataset", None), "region", None)
        size = _image_size(data, loader) if region is not None else None
        spacing_mm = float(region.spacing_mm(size)) if size else 1.0
    dev = torch.device(device) if device is not None else _model_device(model)
    records = collect_predictions(model, loader, tasks, device=dev, spacing_mm=spacing_mm)
    return Evaluation(records, {t.name: compute_metrics(t, records) for t in tasks})
