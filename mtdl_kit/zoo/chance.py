"""The zoo's bars against chance: is each bar stricter than a predictor that never sees the image?

A quality bar that an image-blind predictor meets passes networks that learnt nothing: the knee's
landmarks hardly move between phantoms, so predicting each landmark's mean training position scores
about 4 mm at 64 px, inside a 4.7-mm bar (``benchmarks/RESULTS.md``, "families-lab-notes").
:func:`chance_report` fits :class:`~mtdl_kit.evaluation.chance.TrainingPrior` on each zoo model's own
training subset and scores it on the model's held-out test set, for every bar of
:func:`~mtdl_kit.zoo.floors.quality_report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mtdl_kit.zoo.floors import Floor, quality_report
from mtdl_kit.zoo.manifest import read_manifest


def chance_report(root: str | Path | None = None, *, keys: list[str] | None = None) -> list[dict[str, Any]]:
    """:func:`~mtdl_kit.zoo.floors.quality_report`'s rows with the chance level of each bar's metric.

    The prior is fit once per training subset (region, seed, size and phantom settings): a region's models
    share it. Reads phantoms only, no weights.

    Args:
        root: the zoo folder (default: the bundled zoo).
        keys: only these models (default: all).

    Returns:
        Each report row plus ``chance`` (the metric of the image-blind predictor; ``None`` where undefined),
        ``bar_above_chance`` (whether chance fails the bar: the bar asks for more than the labels' statistics)
        and ``beats_chance`` (whether the model's value is strictly better than chance).
    """
    import math

    from mtdl_kit.evaluation.chance import chance_level
    from mtdl_kit.experiments import run_datasets
    from mtdl_kit.metrics import better_than
    from mtdl_kit.regions import get_region

    entries = read_manifest(root)
    levels: dict[tuple, dict[str, dict[str, float]]] = {}
    out = []
    for row in quality_report(root):
        if keys is not None and row["key"] not in keys:
            continue
        entry = entries[row["key"]]
        cfg = entry.run_config()
        region = get_region(entry.region)
        subset = (entry.region, cfg.seed, cfg.n_train, cfg.size, cfg.relatedness, cfg.nuisance, cfg.n_test)
        if subset not in levels:
            names = list(region.task_names)
            train, test = run_datasets(cfg, names)
            levels[subset] = chance_level(region.select_tasks(names), train, test, region=region).metrics
        chance = levels[subset][row["task"]].get(row["metric"])
        chance = None if chance is None or not math.isfinite(chance) else float(chance)
        floor = Floor(row["metric"], row["threshold"], row["higher_is_better"], "")
        bar_above = None if chance is None else not floor.met_by(chance)
        value = row["value"]
        beats = None if chance is None or value is None else better_than(value, chance, row["metric"])
        out.append({**row, "chance": chance, "bar_above_chance": bar_above, "beats_chance": beats})
    return out
