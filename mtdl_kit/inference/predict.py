"""Predicting one sample: :func:`resize_sample` and :func:`predict_sample` (readable outputs at the
sample's size; the notebooks and the dashboard go through it) (:mod:`mtdl_kit.inference`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from mtdl_kit.metrics import predictions
from mtdl_kit.regions.base import Sample, TaskSpec

if TYPE_CHECKING:
    pass

from mtdl_kit.inference.checks import model_device, model_tasks


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
    tasks = model_tasks(model)
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
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None].to(model_device(model))
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
