"""Which terms of a composite regression target a network's prediction follows.

Some phantom targets are a weighted sum of generator latents, e.g. the skin region's ABCD-like
score 1.3 A + 0.1 B + 0.5 C + 0.5 D' (Stolz W. et al., Eur. J. Dermatol. 4:521-527, 1994; see
:mod:`mtdl_kit.regions.other`), declared in :attr:`~mtdl_kit.regions.base.Region.composite_regression`.
When a network misses such a target, the question is *which* term it fails to read.
:func:`composite_reading` regresses the predictions on the terms (least squares with an
intercept): a network that reads a term has a coefficient near the term's weight in the score, one
that ignores it a coefficient near 0; a paired bootstrap over the cases gives each coefficient a
95 % interval. Beside it, the error a predictor that knew every term but this one exactly would
still make (the term held at its median) shows how much of the bar each term alone puts out of reach.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def composite_reading(
    predicted: Sequence[float] | np.ndarray,
    terms: Mapping[str, Sequence[float] | np.ndarray],
    weights: Mapping[str, float],
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """How strongly ``predicted`` follows each term of the composite target ``sum(weights[k] * terms[k])``.

    Args:
        predicted: one prediction per case.
        terms: term name -> its value per case (the generator's latents).
        weights: term name -> its weight in the target; every term must have values.
        n_boot: bootstrap resamples of the cases for the coefficients' 95 % intervals.
        seed: the bootstrap's random seed.

    Returns:
        One row per term: ``term``, ``weight``, ``coefficient`` (of the prediction on the terms,
        least squares with an intercept), ``ci_low``/``ci_high`` (2.5 and 97.5 bootstrap
        percentiles), ``read`` (coefficient / weight: 1 reads the term fully, 0 ignores it) and
        ``mae_without`` (the MAE of the exact target with this term alone held at its median: what
        not reading it costs at best).

    Raises:
        ValueError: a weighted term has no values, lengths differ, or fewer cases than terms + 2.
    """
    import pandas as pd

    names = list(weights)
    missing = [k for k in names if k not in terms]
    if missing:
        raise ValueError(f"No values for the term(s) {missing}; pass every term of `weights` in `terms`.")
    y = np.asarray(predicted, dtype=np.float64).ravel()
    x = np.column_stack([np.asarray(terms[k], dtype=np.float64).ravel() for k in names])
    if x.shape[0] != y.size:
        raise ValueError(f"{y.size} predictions but {x.shape[0]} cases of terms; give one value per case for each.")
    if y.size < len(names) + 2:
        raise ValueError(f"{y.size} cases are too few to fit {len(names)} terms; use at least {len(names) + 2}.")
    design = np.column_stack([np.ones(y.size), x])

    def fit(rows: np.ndarray) -> np.ndarray:
        coef, *_ = np.linalg.lstsq(design[rows], y[rows], rcond=None)
        return coef[1:]

    coefficient = fit(np.arange(y.size))
    rng = np.random.default_rng(seed)
    boots = np.array([fit(rng.integers(0, y.size, y.size)) for _ in range(n_boot)])
    low, high = np.percentile(boots, [2.5, 97.5], axis=0)
    w = np.array([weights[k] for k in names], dtype=np.float64)
    mae_without = w * np.abs(x - np.median(x, axis=0)).mean(axis=0)
    return pd.DataFrame(
        {
            "term": names,
            "weight": w,
            "coefficient": coefficient,
            "ci_low": low,
            "ci_high": high,
            "read": coefficient / w,
            "mae_without": mae_without,
        }
    )


def zoo_composite_readings(root: str | Path | None = None, *, n_boot: int = 2000) -> pd.DataFrame:
    """:func:`composite_reading` of every zoo model with a composite target, on its held-out test set.

    Returns:
        One row per model and term (the columns of :func:`composite_reading`) plus ``key``,
        ``task`` and ``mae`` (the model's MAE on the target over the same cases); empty when no
        region declares a composite target or no zoo model has one.
    """
    import pandas as pd

    from mtdl_kit.evaluation import evaluate
    from mtdl_kit.regions import get_region
    from mtdl_kit.zoo.loading import load_entry
    from mtdl_kit.zoo.manifest import read_manifest
    from mtdl_kit.zoo.training import held_out_test_set

    frames = []
    for key, entry in sorted(read_manifest(root).items()):
        region = get_region(entry.region)
        for task, weights in region.composite_regression.items():
            if task not in entry.tasks:
                continue
            cfg = entry.run_config()
            test = held_out_test_set(cfg, entry.tasks)
            # the one evaluation path (what the manifest's metrics come from): per-case predictions in task units
            scored = evaluate(load_entry(entry, root=root), test, batch_size=cfg.batch_size)
            records = scored.records.tasks[task]
            predicted = records.values["pred"][:, 0]
            cases = [test.sample(int(i)) for i in records.cases]
            terms = {k: [s.latents[k] for s in cases] for k in weights}
            frame = composite_reading(predicted, terms, weights, n_boot=n_boot)
            frame.insert(0, "task", task)
            frame.insert(0, "key", key)
            frame["mae"] = float(scored.metrics[task]["mae"])
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
