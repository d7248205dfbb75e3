"""What every transfer-lab command writes: ``runs.csv``, ``summary.csv`` and ``summary.md``.

One writer for experiments A (:mod:`.transfer`), C (:mod:`.crossover`), E (:mod:`.starved`) and G
(:mod:`.families`), so the commands lay out their folders the same way; and the summaries' one row builder
(:func:`summary_row`) and verdict word (:func:`verdict_word`). Research and teaching use only — not for
clinical use.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any


def write_lab_outputs(
    out: str | Path,
    runs: Any,
    summary: Any,
    *,
    title: str,
    configs: Mapping[str, Any],
    reading: Sequence[str],
) -> list[Path]:
    """Write ``runs.csv``, ``summary.csv`` and ``summary.md`` into ``out`` (created if missing).

    Args:
        out: the output folder.
        runs: one row per run (and task, metric) as a pandas DataFrame.
        summary: the contrasts with their intervals as a pandas DataFrame.
        title: the markdown heading of ``summary.md``.
        configs: label -> dataclass configuration, each recorded as JSON in ``summary.md``
            (e.g. ``{"Config": cfg}`` or ``{"Rule A config": a, "Rule B config": b}``).
        reading: the sentences computed from the intervals, one bullet each.

    Returns:
        The three paths, in the order above.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "runs.csv", folder / "summary.csv", folder / "summary.md"]
    runs.to_csv(paths[0], index=False)
    summary.to_csv(paths[1], index=False)
    lines = [f"# {title}", ""]
    for label, cfg in configs.items():
        lines += [f"{label}: `{json.dumps(asdict(cfg))}`", ""]
    lines += [*[f"- {s}" for s in reading], ""]
    paths[2].write_text("\n".join(lines))
    return paths


def runs_frame(
    runs: Iterable[Any], keys: Sequence[str], extra: Callable[[Any, str], Mapping[str, Any]] | None = None
) -> Any:
    """One row per run, task and metric: the run's ``keys``, then ``task, metric, value``, then its
    ``best_step, steps_run, seconds`` (rounded to 0.01 s) and ``parameters``, then ``extra(run, task)``'s
    columns if given (a pandas DataFrame)."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                **{k: getattr(r, k) for k in keys},
                "task": task,
                "metric": metric,
                "value": value,
                "best_step": r.best_step,
                "steps_run": r.steps_run,
                "seconds": round(r.seconds, 2),
                "parameters": r.parameters,
                **(extra(r, task) if extra is not None else {}),
            }
            for r in runs
            for task, metrics in r.metrics.items()
            for metric, value in metrics.items()
        ]
    )


def summary_row(
    contrast: str,
    task: str,
    metric: str,
    value: float,
    low: float = math.nan,
    high: float = math.nan,
    **keys: Any,
) -> dict[str, Any]:
    """One summary row: ``keys`` (e.g. ``budget``) first, then the contrast, its value, interval and
    ``significant`` (``None`` without an interval)."""
    significant = bool(low > 0 or high < 0) if math.isfinite(low) and math.isfinite(high) else None
    return {
        **keys,
        "contrast": contrast,
        "task": task,
        "metric": metric,
        "value": value,
        "ci_low": low,
        "ci_high": high,
        "significant": significant,
    }


def verdict_word(row: Any) -> str:
    """The one verdict rule (:func:`mtdl_kit.verdicts.verdict`) on a summary row; ``"no interval"`` without a CI."""
    from mtdl_kit.verdicts import verdict

    if not (math.isfinite(row["ci_low"]) and math.isfinite(row["ci_high"])):
        return "no interval"
    return verdict(row["value"], row["ci_low"], row["ci_high"], unit=row["metric"]).word
