"""The Explore page's outputs: predictions at the model's size, the joint picture and the output tables.

- :func:`predict`: a model's outputs on a sample of any size, computed at the model's training
  size by :func:`mtdl_kit.inference.predict_sample` (the one implementation), timed.
- :func:`joint_picture`, :func:`classification_rows`, :func:`regression_rows`,
  :func:`reconstruction_picture`, :func:`latents_table`: the joint outputs of the chosen models.
- :func:`contact_sheet`: the thumbnails of a region's bundled samples, PNG-encoded.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from mtdl_kit.regions.base import Region, Sample


@dataclass
class Prediction:
    """A model's outputs on one sample, at the sample's displayed size.

    ``outputs``: task -> class map (H, W) / class probabilities (K,) / values (n,) / points (K, 2)
    / image (C, H, W). ``latency_ms``: the prediction at the model's size (the forward pass and the
    resizing around it); ``device``: where it ran.
    """

    outputs: dict[str, np.ndarray]
    latency_ms: float
    device: str


def predict(model: Any, sample: Sample, *, size: int) -> Prediction:
    """Run ``model`` on ``sample`` at ``size`` with :func:`mtdl_kit.inference.predict_sample`, timed.

    ``size`` is the side the model was trained at (a zoo model's :attr:`~mtdl_kit.zoo.ZooEntry.image_size`).

    The model is only read (eval mode, ``torch.inference_mode``); outputs are mapped back to the
    sample's displayed size (class maps nearest, points scaled, images bilinear).
    """
    from mtdl_kit.inference import predict_sample

    device = next(model.parameters()).device
    t0 = time.perf_counter()
    outputs = predict_sample(model, sample, size=size)
    latency = (time.perf_counter() - t0) * 1000.0
    return Prediction(outputs, latency, str(device))


def picture_tasks(region: Region, shown: Sequence[str]) -> tuple[str, ...]:
    """The tasks of ``shown`` that :func:`joint_picture` draws (the segmentation, the landmarks): a cache key.

    The other tasks (classification, regression, reconstruction) do not change the picture.
    """
    drawn = {region.coupling.segmentation, *(t.name for t in region.tasks if t.kind == "landmarks")}
    return tuple(t for t in shown if t in drawn)


def joint_picture(
    region: Region, sample: Sample, prediction: Prediction | None, shown: Sequence[str], *, opacity: float = 0.45
) -> np.ndarray:
    """RGB uint8: truth as outline (when the sample has it), the predicted mask as fill, landmarks.

    Only the tasks of :func:`picture_tasks` in ``shown`` matter.
    """
    from mtdl_kit.viz import overlay

    seg = region.coupling.segmentation
    lm = next((t.name for t in region.tasks if t.kind == "landmarks"), None)
    pred = prediction.outputs if prediction is not None else {}
    return overlay(
        region.display_image(sample.image),
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
    """One row per model and classification task: class probabilities (2 decimals), the decision (arg-max), the truth.

    Probabilities are rounded to what they can mean (0.01): a softmax output of 1e-9 reads 0.0.
    """
    rows = []
    for label, pred in predictions_by_model.items():
        for t in region.tasks:
            if t.kind != "classification" or t.name not in shown or t.name not in pred.outputs:
                continue
            p = pred.outputs[t.name]
            names = t.class_names or tuple(str(i) for i in range(t.num_outputs))
            row: dict[str, Any] = {"model": label, "task": t.name}
            row.update({f"P({n})": round(float(v), 2) for n, v in zip(names, p, strict=True)})
            row["decision"] = names[int(np.argmax(p))]
            y = sample.targets.get(t.name)
            row["truth"] = names[int(y)] if y is not None else "unknown (no label)"
            rows.append(row)
    return rows


def regression_rows(
    region: Region, sample: Sample, predictions_by_model: Mapping[str, Prediction], shown: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per model and regression output: predicted value, truth and error, rounded to their precision.

    Areas in mm² to whole numbers, other units (mm, counts) to 0.1, unitless ratios and scores to 0.01.
    """
    rows = []
    for label, pred in predictions_by_model.items():
        for t in region.tasks:
            if t.kind != "regression" or t.name not in shown or t.name not in pred.outputs:
                continue
            names = t.output_names or tuple(f"{t.name}[{i}]" for i in range(t.num_outputs))
            truth = sample.targets.get(t.name)
            digits = 0 if "²" in (t.units or "") else (1 if t.units else 2)
            for i, n in enumerate(names):
                v = round(float(pred.outputs[t.name][i]), digits)
                y = round(float(truth[i]), digits) if truth is not None else math.nan
                rows.append(
                    {
                        "model": label,
                        "task": t.name,
                        "quantity": n + (f" ({t.units})" if t.units and "(" not in n else ""),
                        "predicted": v,
                        "truth": y,
                        "error": round(v - y, digits),
                    }
                )
    return rows


def reconstruction_picture(
    region: Region, predictions_by_model: Mapping[str, Prediction], shown: Sequence[str]
) -> tuple[np.ndarray, str] | None:
    """The first model's reconstruction as an (H, W, C) image in [0, 1] with its caption; ``None`` if there is none."""
    names = [t.name for t in region.tasks if t.kind == "reconstruction" and t.name in shown]
    if not names or not predictions_by_model:
        return None
    label, first = next(iter(predictions_by_model.items()))
    img = first.outputs.get(names[0])
    if img is None:
        return None
    return np.clip(region.display_image(np.asarray(img)).transpose(1, 2, 0), 0, 1), f"{names[0]} ({label})"


def latents_table(sample: Sample) -> pd.DataFrame | None:
    """The generator's latent values of a phantom (``latent``, ``value``); ``None`` for a sample without any."""
    import pandas as pd

    if not sample.latents:
        return None
    return pd.DataFrame({"latent": list(sample.latents), "value": list(sample.latents.values())})


def png_bytes(picture: np.ndarray) -> bytes:
    """A uint8 picture (H, W) or (H, W, 3) encoded as PNG: what a page caches and shows without re-encoding it."""
    import io

    from PIL import Image

    if picture.dtype != np.uint8 or picture.ndim not in (2, 3):
        raise ValueError(f"png_bytes needs a uint8 (H, W) or (H, W, 3) picture, got {picture.dtype} {picture.shape}.")
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG", compress_level=1)  # fast: pictures are small and cached
    return buf.getvalue()


def shown_channel_note(region: Region) -> str:
    """What a picture of ``region`` shows where its channels are separate sequences (brain: T1c); else ``""``."""
    if not region.channel_names:
        return ""
    shown = region.channel_names[region.display_channel]
    names = ", ".join(region.channel_names)
    return f"Pictures show {shown}; the networks read all {len(region.channel_names)} channels ({names})."


def contact_sheet(region: Region, samples: Sequence[Sample], *, columns: int = 6) -> bytes:
    """PNG of the samples' pictures (truth outlines) at half size, ``columns`` per row, left to right."""
    from mtdl_kit.viz import sample_picture

    tiles = [sample_picture(region, s)[::2, ::2] for s in samples]
    if not tiles:
        raise ValueError("No samples to show.")
    rows = -(-len(tiles) // columns)
    h, w = tiles[0].shape[:2]
    sheet = np.full((rows * (h + 2), columns * (w + 2), 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * (h + 2) : r * (h + 2) + h, c * (w + 2) : c * (w + 2) + w] = t
    return png_bytes(sheet)


__all__ = [
    "Prediction",
    "classification_rows",
    "contact_sheet",
    "joint_picture",
    "latents_table",
    "picture_tasks",
    "png_bytes",
    "predict",
    "reconstruction_picture",
    "regression_rows",
    "shown_channel_note",
]
