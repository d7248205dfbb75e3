"""Experiment C of the transfer lab: the relatedness crossover.

Does an auxiliary task help *because it is related*, or just because it is there? Experiment A
cannot tell: its related task differs from "none" in every way at once. The crossover holds
everything fixed but relatedness. Each phantom carries two features with their own segmentation
targets (the region's :class:`~mtdl_kit.regions.base.Coupling`: ``segmentation`` outlines feature A,
``other_segmentation`` feature B — eye: the disc/cup, whose CDR is A, and a wedge-shaped RNFL defect,
B; chest: lungs/heart, whose CTR is A, and a consolidation, B). The main label follows A
(relatedness 1, ``rule A``) or B (relatedness 0, ``rule B``). Under rule A the related auxiliary
task is the segmentation of A and the unrelated one that of B; under rule B the roles swap. Both
rules use the same images, networks, auxiliary tasks and seeds, so the **interaction**

    ½ [(related − unrelated) under A + (related − unrelated) under B]

measures what relatedness itself does; the two main-task-only arms (``none``) show whether the
two rules are equally hard on their own (the issue asks for single-task ROC-AUC within ±0.03 at the
low-label budget, reached by calibrating the salience of feature B in the region module).

Every run is an :func:`~mtdl_kit.lab.transfer.run_arm` under the lab's protocol (paired seeds,
validation stopping for every arm, a fixed test split); contrasts come from
:func:`~mtdl_kit.evaluation.paired_contrast` (paired hierarchical bootstrap). The idea of crossing
which task is related with which is available is the classic test of a transfer claim (Caruana,
"Multitask Learning", Machine Learning 28, 1997, §3: "related" vs "unrelated" auxiliary tasks with
the same inputs).

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mtdl_kit.lab.transfer import ArmRun, TransferConfig, TransferResult, _row, interval_text, run_transfer

#: the two label rules: name -> relatedness of the region's coupling
RULES: dict[str, float] = {"A": 1.0, "B": 0.0}
#: arms of the crossover under each rule
CROSSOVER_ARMS: tuple[str, ...] = ("none", "related", "unrelated", "shuffled")
#: the quick crossover (tests and a first look): the lab's quick configuration
QUICK_BUDGET = 16


def crossover_configs(base: TransferConfig) -> dict[str, TransferConfig]:
    """Rule A and rule B configurations derived from ``base`` (its region, main task and protocol).

    Raises:
        ValueError: the region has no second feature with its own segmentation target, or ``base``
            does not predict the region's coupled classification task.
    """
    from mtdl_kit.regions import get_region

    region = get_region(base.region)
    coupling = region.coupling
    if not coupling.other_segmentation:
        with_b = [r.name for r in _regions_with_crossover()]
        raise ValueError(
            f"Region {base.region!r} has no segmentation target for its second feature; the crossover runs on {with_b}."
        )
    if base.main != coupling.classification:
        raise ValueError(
            f"The crossover's main task is the coupled label {coupling.classification!r} of {base.region}, "
            f"got main={base.main!r}."
        )
    if base.label_noise:
        raise ValueError(
            "The crossover sets each rule's label noise from the region's calibration "
            f"(Coupling.anatomy_label_noise / other_label_noise); got label_noise={base.label_noise} in the base."
        )
    a, b = coupling.segmentation, coupling.other_segmentation
    configs = {
        "A": replace(base, relatedness=RULES["A"], auxiliary=a, unrelated=b, label_noise=coupling.anatomy_label_noise),
        "B": replace(base, relatedness=RULES["B"], auxiliary=b, unrelated=a, label_noise=coupling.other_label_noise),
    }
    for cfg in configs.values():
        cfg.validate()
    return configs


def _regions_with_crossover() -> list[Any]:
    from mtdl_kit.regions import all_regions

    return [r for r in all_regions().values() if r.coupling.other_segmentation]


def default_crossover_config(region: str = "eye", *, quick: bool = False, **changes: Any) -> TransferConfig:
    """The lab's protocol (``quick``: :data:`~mtdl_kit.lab.QUICK`'s) with ``region``'s coupled label as main task."""
    from mtdl_kit.lab.transfer import QUICK
    from mtdl_kit.regions import get_region

    coupling = get_region(region).coupling
    fields = {"region": region, "main": coupling.classification, "auxiliary": coupling.segmentation}
    fields.update({k: v for k, v in changes.items() if v is not None})
    return replace(QUICK if quick else TransferConfig(), **fields)


@dataclass
class CrossoverResult:
    """Both rules' runs and the crossover contrasts.

    Attributes:
        rules: rule name (``"A"``, ``"B"``) -> that rule's :class:`~mtdl_kit.lab.TransferResult`.
        summary: one row per budget and contrast (``budget, contrast, task, metric, value, ci_low,
            ci_high, significant``): the contrasts of :data:`mtdl_kit.verdicts.CROSSOVER_CONTRASTS`
            (``interaction``, ``A: related - unrelated``, ``B: related - unrelated``,
            ``difficulty: none B - none A``, and each rule's ``shuffled - none`` and ``unrelated - none``)
            and per-rule arm means.
    """

    rules: dict[str, TransferResult]
    summary: Any

    @property
    def base(self) -> TransferConfig:
        """Rule A's configuration (the protocol both rules share)."""
        return self.rules["A"].config


def run_crossover(
    base: TransferConfig,
    *,
    cache: str | Path | None = None,
    on_run: Callable[[str, ArmRun], None] | None = None,
) -> CrossoverResult:
    """Run both rules (every arm × budget × seed, resumable through ``cache``) and the crossover contrasts."""
    import pandas as pd

    from mtdl_kit.evaluation import paired_contrast
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region
    from mtdl_kit.verdicts import CROSSOVER_CONTRASTS

    configs = crossover_configs(base)
    rules = {
        name: run_transfer(cfg, cache=cache, on_run=(lambda run, n=name: on_run(n, run)) if on_run else None)
        for name, cfg in configs.items()
    }
    main = base.main
    metric = primary_metric(get_region(base.region).task(main))
    rows = []
    for budget in base.budgets:
        arms = {
            f"{name}:{arm}": {r.seed: r.records for r in res.runs if r.arm == arm and r.budget == budget}
            for name, res in rules.items()
            for arm in CROSSOVER_ARMS
        }
        for name, res in rules.items():
            for arm in CROSSOVER_ARMS:
                values = [r.metrics[main][metric] for r in res.runs if r.arm == arm and r.budget == budget]
                rows.append(_row(budget, f"mean {name}: {arm}", main, metric, float(sum(values) / len(values))))
        for name, weights in CROSSOVER_CONTRASTS.items():
            est = paired_contrast(arms, weights, main, metric, n_boot=base.n_boot, seed=budget)
            rows.append(_row(budget, name, main, metric, est.value, est.ci_low, est.ci_high))
    return CrossoverResult(rules, pd.DataFrame(rows))


def crossover_reading(result: CrossoverResult, *, matched_within: float = 0.03) -> list[str]:
    """Plain sentences computed from the intervals: the interaction, each rule, and the difficulty match."""
    from mtdl_kit.regions import get_region

    base = result.base
    coupling = get_region(base.region).coupling
    out = []
    frame = result.summary
    for budget in base.budgets:
        rows = frame[frame["budget"] == budget].set_index("contrast")
        metric = rows.iloc[0]["metric"]

        def fmt(name: str, rows: Any = rows) -> str:
            return interval_text(rows.loc[name])

        inter = rows.loc["interaction"]
        effect = (
            "relatedness itself changes what the auxiliary task does"
            if inter["significant"]
            else "these seeds cannot separate relatedness from having an auxiliary task"
        )
        none_a, none_b = rows.loc["mean A: none", "value"], rows.loc["mean B: none", "value"]
        matched = abs(none_b - none_a) <= matched_within
        out.append(
            f"{budget} main-task labels ({base.main} {metric}, {len(base.seeds)} seeds): interaction "
            f"{fmt('interaction')} — {effect}. Rule A ({coupling.rule}): related − unrelated "
            f"{fmt('A: related - unrelated')}. Rule B ({coupling.other_rule}): related − unrelated "
            f"{fmt('B: related - unrelated')}. Single-task difficulty: {none_a:.3f} under A, {none_b:.3f} under B "
            f"(B − A {fmt('difficulty: none B - none A')}; "
            f"{'matched' if matched else 'NOT matched'} within ±{matched_within})."
        )
    return out


def write_crossover_outputs(result: CrossoverResult, out: str | Path) -> list[Path]:
    """``runs.csv`` (both rules, a ``rule`` column), ``summary.csv`` and ``summary.md`` into ``out``."""
    import pandas as pd

    from mtdl_kit.lab.outputs import write_lab_outputs

    frames = [res.runs_frame.assign(rule=name) for name, res in result.rules.items()]
    return write_lab_outputs(
        out,
        pd.concat(frames, ignore_index=True),
        result.summary,
        title=f"Transfer lab, experiment C (relatedness crossover) — {result.base.region}: {result.base.main}",
        configs={f"Rule {name} config": res.config for name, res in result.rules.items()},
        reading=crossover_reading(result),
    )
