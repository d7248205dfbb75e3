"""Experiment F of the transfer lab: does early gradient conflict predict transfer?

A popular heuristic says that tasks whose gradients agree on the shared parameters early in training
will help each other, and that conflicting gradients announce negative transfer (gradient surgery,
Yu et al., "Gradient surgery for multi-task learning", NeurIPS 2020; task grouping by lookahead
affinity, Fifty et al., "Efficiently identifying task groupings for multi-task learning", NeurIPS
2021, "TAG"). Experiment F tests it against the transfer the lab has measured. For every
multi-task condition of the relatedness crossover (:mod:`.crossover`: region × rule × arm — the
``related``, ``unrelated`` and ``shuffled`` auxiliary tasks; rule A's related and shuffled arms are
experiment A at 16 labels) and every seed, the same network on the same data as the crossover's run is
trained for its first :attr:`ConflictConfig.early_steps` steps; every
:attr:`ConflictConfig.measure_every` steps (and before the first) it measures, on the labelled cases
as the arm sees them, the cosine of the auxiliary and main tasks' gradients on all shared parameters
and the lookahead affinities both ways (:func:`mtdl_kit.analysis.pair_relation`). The early value of a
run is the mean of its measurements. Its transfer is the crossover's final main-task Δ of that arm
against the single-task arm on the same seed (read from the crossover's ``runs.csv``).

The association is Spearman's ρ between the early values and Δ over the conditions' means (each
condition's mean over seeds), with a percentile CI from a bootstrap that resamples seeds (the same
seeds for every condition, as the runs are paired by seed). A ρ over all runs pooled is not
reported: with 8 seeds its seed bootstrap is anti-conservative (on simulated independent data, 6
conditions × 8 seeds, 16 of 100 CIs excluded 0). The conditions' ρ is conservative (1 of 200 with 6
conditions, 2 of 200 with 12): a null result is weak evidence of no association. Research and
teaching use only — not for clinical use.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mtdl_kit.lab.transfer import TransferConfig

#: the crossover's multi-task arms, whose transfer the early measurements should predict
PROBED_ARMS: tuple[str, ...] = ("related", "unrelated", "shuffled")
#: the early measurements tested as predictors of the final Δ (``aux`` = the arm's auxiliary task)
PREDICTORS: dict[str, str] = {
    "cosine": "gradient cosine (auxiliary, main) on the shared parameters",
    "affinity_aux_to_main": "lookahead affinity auxiliary → main (TAG)",
}


@dataclass(frozen=True)
class ConflictConfig:
    """Everything that defines a run of experiment F.

    Attributes:
        regions: regions with a crossover (:func:`~mtdl_kit.lab.crossover.crossover_configs`).
        seeds: training seeds (the crossover's runs on them must exist).
        budget: main-task labels (the crossover's budget).
        early_steps: training steps whose gradients are measured (the crossover's runs stop after
            450–1500 steps; the first evaluation is at step 50).
        measure_every: measurement interval in steps (and one measurement before the first step).
        window_start: the first step measured (0: before the first step). A later window, e.g. steps
            400–500 with ``early_steps=500``, asks whether the gradients predict transfer once the
            auxiliary task has been partly learnt (a diagnostic of why the early window does not).
        n_boot: bootstrap replicates of each ρ.
        quick: the crossover's quick protocol (:data:`~mtdl_kit.lab.QUICK`) instead of the lab's.
    """

    regions: tuple[str, ...] = ("eye", "chest")
    seeds: tuple[int, ...] = tuple(range(8))
    budget: int = 16
    early_steps: int = 100
    measure_every: int = 25
    window_start: int = 0
    n_boot: int = 2000
    quick: bool = False

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        if not self.regions:
            raise ValueError("regions must name at least one region with a crossover, e.g. ('eye',).")
        if len(set(self.seeds)) < 3:
            raise ValueError(f"Experiment F needs at least 3 distinct seeds for its bootstrap, got {self.seeds}.")
        if not 1 <= self.measure_every <= self.early_steps:
            raise ValueError(
                f"measure_every must lie in [1, early_steps={self.early_steps}], got {self.measure_every}."
            )
        if not 0 <= self.window_start <= self.early_steps:
            raise ValueError(f"window_start must lie in [0, early_steps={self.early_steps}], got {self.window_start}.")
        if self.n_boot < 100:
            raise ValueError(f"n_boot must be at least 100, got {self.n_boot}.")
        for region in self.regions:
            for cfg in self.rule_configs(region).values():
                cfg.validate()

    def rule_configs(self, region: str) -> dict[str, TransferConfig]:
        """The crossover's rule A and rule B configurations of ``region`` at this budget and these seeds."""
        from mtdl_kit.lab.crossover import crossover_configs, default_crossover_config

        base = default_crossover_config(region, quick=self.quick)
        return crossover_configs(replace(base, budgets=(self.budget,), seeds=tuple(self.seeds)))

    def key(self, rule_config: TransferConfig) -> str:
        """Digest of what changes a probe: the crossover run's key, the budget and the measurement schedule."""
        fields = {
            "crossover": rule_config.key(),
            "budget": self.budget,
            "early_steps": self.early_steps,
            "measure_every": self.measure_every,
        }
        if self.window_start:  # left out at its default, so the early window's cached probes stay valid
            fields["window_start"] = self.window_start
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]


#: the quick configuration (tests and a first look: about a minute on a 2-core CPU)
QUICK_CONFLICT = ConflictConfig(
    regions=("eye",), seeds=(0, 1, 2), early_steps=20, measure_every=10, n_boot=200, quick=True
)


@dataclass
class Probe:
    """The early gradient measurements of one crossover run.

    Attributes:
        measurements: step (as text) -> ``{"cosine", "affinity_aux_to_main", "affinity_main_to_aux"}``.
    """

    region: str
    rule: str
    arm: str
    seed: int
    seconds: float
    measurements: dict[str, dict[str, float]]

    def early(self, name: str) -> float:
        """Mean of measurement ``name`` over the early steps (NaN measurements left out)."""
        values = [m[name] for m in self.measurements.values() if math.isfinite(m[name])]
        return float(sum(values) / len(values)) if values else math.nan


def probe_arm(
    cfg: TransferConfig,
    rule: str,
    arm: str,
    seed: int,
    *,
    early_steps: int,
    measure_every: int,
    window_start: int = 0,
    train: Any = None,
) -> Probe:
    """Train the crossover's ``arm`` network for ``early_steps`` and measure its task gradients on the way.

    The network, its initial weights, the training data and the optimiser settings are the crossover
    run's (:func:`~mtdl_kit.lab.transfer.build_arm`); the measurements use the ``budget`` labelled
    cases as the arm sees them (shuffled masks in the ``shuffled`` arm), in training mode.

    Args:
        cfg: one rule's configuration (:meth:`ConflictConfig.rule_configs`); its first budget is used.
        rule: the rule's name (recorded).
        train: the seed's training split (built when ``None``).
        window_start: the first step measured (0: also before the first step).
    """
    import time

    from torch.utils.data import default_collate

    from mtdl_kit.analysis import pair_relation
    from mtdl_kit.lab.transfer import _datasets, build_arm
    from mtdl_kit.regions import get_region
    from mtdl_kit.train import fit

    if arm not in PROBED_ARMS:
        raise ValueError(f"Experiment F probes the multi-task arms {PROBED_ARMS}, got {arm!r}.")
    t0 = time.perf_counter()
    region = get_region(cfg.region)
    budget = cfg.budgets[0]
    if train is None:
        train = _datasets(cfg, seed)[0]
    model, _, data, batch_size = build_arm(cfg, arm, budget, seed, train)
    aux = cfg.arm_tasks(arm)[0]
    labelled = default_collate([data[i] for i in range(budget)])
    names = {
        f"affinity_{aux}_to_{cfg.main}": "affinity_aux_to_main",
        f"affinity_{cfg.main}_to_{aux}": "affinity_main_to_aux",
    }
    measurements: dict[str, dict[str, float]] = {}

    def measure(step: int) -> None:
        found = pair_relation(model, labelled, aux, cfg.main, lr=cfg.lr, region=region)
        measurements[str(step)] = {names.get(k, k): v for k, v in found.items()}

    model.train()
    if window_start == 0:
        measure(0)
    steps_done = [0]

    def on_event(history: Any, event: str) -> None:
        if event == "step":
            steps_done[0] += 1
            if steps_done[0] % measure_every == 0 and steps_done[0] >= window_start:
                measure(steps_done[0])

    fit(
        model,
        data,
        steps=early_steps,
        lr=cfg.lr,
        seed=seed,
        batch_size=batch_size,
        region=region,
        cosine_every=0,
        progress=False,
        device="cpu",
        callbacks=[on_event],
    )
    return Probe(cfg.region, rule, arm, seed, time.perf_counter() - t0, measurements)


def cached_probe(
    config: ConflictConfig, cfg: TransferConfig, rule: str, arm: str, seed: int, cache: Path | None, train: Any = None
) -> Probe:
    """:func:`probe_arm`, read from ``cache`` when it is there (resumable; processes may share a cache)."""
    from mtdl_kit.lab.cache import cached_lab_run

    stem = cache / f"{config.key(cfg)}-{rule}-{arm}-s{seed}" if cache is not None else None
    return cached_lab_run(
        stem,
        lambda: probe_arm(
            cfg,
            rule,
            arm,
            seed,
            early_steps=config.early_steps,
            measure_every=config.measure_every,
            window_start=config.window_start,
            train=train,
        ),
        Probe,
        ("region", "rule", "arm", "seed", "seconds"),
        tables=("measurements",),
        records=False,
    )


def crossover_deltas(runs: Any, region: str, main: str, metric: str = "auc", budget: int | None = None) -> Any:
    """Each multi-task arm's final main-task Δ against the single-task arm of the same rule and seed.

    Args:
        runs: a crossover ``runs.csv`` as a DataFrame (columns ``budget, seed, arm, task, metric, value, rule``).
        budget: the budget to read (default: the only one in ``runs``).

    Returns:
        DataFrame ``region, rule, arm, seed, main, delta``.

    Raises:
        ValueError: the table has several budgets and none was named, or a seed lacks its single-task run.
    """
    import pandas as pd

    rows = runs[(runs["task"] == main) & (runs["metric"] == metric)]
    budgets = sorted(rows["budget"].unique())
    if budget is None:
        if len(budgets) != 1:
            raise ValueError(f"The crossover runs have budgets {budgets}; name the one to read.")
        budget = int(budgets[0])
    rows = rows[rows["budget"] == budget]
    none = rows[rows["arm"] == "none"].set_index(["rule", "seed"])["value"]
    out = []
    for r in rows[rows["arm"].isin(PROBED_ARMS)].itertuples():
        if (r.rule, r.seed) not in none.index:
            raise ValueError(f"The crossover runs lack the single-task run of rule {r.rule}, seed {r.seed}.")
        out.append(
            {
                "region": region,
                "rule": r.rule,
                "arm": r.arm,
                "seed": int(r.seed),
                "main": float(r.value),
                "delta": float(r.value) - float(none.loc[(r.rule, r.seed)]),
            }
        )
    return pd.DataFrame(out)


def _spearman(x: Any, y: Any) -> float:
    from scipy.stats import spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return math.nan
    return float(spearmanr(x, y).statistic)


def conditions_rho(table: Any, predictor: str) -> float:
    """Spearman's ρ between the conditions' mean ``predictor`` and mean ``delta`` (NaN if either is constant).

    Args:
        table: one row per run: ``region, rule, arm, seed, delta`` and the predictor's column (a
            ``transfer_f_*_runs.csv``).
    """
    means = table.groupby(["region", "rule", "arm"])[[predictor, "delta"]].mean()
    return _spearman(means[predictor].tolist(), means["delta"].tolist())


def association(table: Any, predictor: str, *, n_boot: int, seed: int = 0) -> dict[str, Any]:
    """Spearman's ρ between the conditions' mean ``predictor`` and mean ``delta``, with a seed-bootstrap 95 % CI.

    Args:
        table: one row per run: ``region, rule, arm, seed, delta`` and the predictor's column.
        n_boot: bootstrap replicates; each resamples the seeds with replacement, the same draw for every
            condition (the runs are paired by seed), and recomputes the conditions' means.

    Returns:
        ``{"predictor", "n" (conditions), "value" (ρ), "ci_low", "ci_high", "significant"}``.
    """
    import numpy as np

    conditions = ["region", "rule", "arm"]
    seeds = np.array(sorted(table["seed"].unique()))
    sums = {s: table[table["seed"] == s].set_index(conditions)[[predictor, "delta"]] for s in seeds}

    def rho(draw: Sequence[int]) -> float:
        means = sum(sums[s] for s in draw) / len(draw)
        return _spearman(means[predictor].tolist(), means["delta"].tolist())

    value = conditions_rho(table, predictor)
    rng = np.random.default_rng(seed)
    reps = np.array([rho(rng.choice(seeds, size=len(seeds), replace=True)) for _ in range(n_boot)])
    reps = reps[np.isfinite(reps)]
    lo, hi = np.percentile(reps, [2.5, 97.5]) if reps.size else (math.nan, math.nan)
    return {
        "predictor": predictor,
        "n": len(sums[seeds[0]]),
        "value": value,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "significant": bool(lo > 0 or hi < 0),
    }


#: the crossover's two contrasts of a measurement, as weights on ``"rule:arm"``: what relatedness does
#: (the interaction, as in :data:`mtdl_kit.verdicts.CROSSOVER_CONTRASTS`) and which auxiliary task it is
#: (segmentation of feature A minus that of feature B, whatever the rule)
AUXILIARY_TASK_CONTRAST: dict[str, float] = {
    "A:related": 0.5,
    "A:unrelated": -0.5,
    "B:related": -0.5,
    "B:unrelated": 0.5,
}


def decompose(table: Any, predictor: str, *, n_boot: int, seed: int = 0) -> Any:
    """Split a measurement by the crossover's design: relatedness vs which auxiliary task, per region.

    Under rule A the related auxiliary task segments feature A and the unrelated one feature B; under
    rule B the roles swap. So the same four runs per seed give the interaction (what relatedness
    changes) and the main effect of the auxiliary task itself (segmentation of A minus of B). A
    measurement that follows the task rather than its relatedness cannot predict transfer.

    Returns:
        DataFrame ``region, contrast, value, ci_low, ci_high, significant``: mean over seeds with a
        percentile CI from resampling seeds (:func:`mtdl_kit.verdicts.seed_contrast`).
    """
    import pandas as pd

    from mtdl_kit.verdicts import CROSSOVER_CONTRASTS, seed_contrast

    contrasts = {
        "relatedness (interaction)": CROSSOVER_CONTRASTS["interaction"],
        "auxiliary task A - B": AUXILIARY_TASK_CONTRAST,
    }
    rows = []
    for region, frame in table.groupby("region", sort=False):
        wide = frame.assign(key=frame["rule"] + ":" + frame["arm"]).pivot(index="seed", columns="key", values=predictor)
        for name, weights in contrasts.items():
            v = seed_contrast(wide, weights, n_boot=n_boot, seed=seed)
            rows.append(
                {
                    "region": region,
                    "contrast": name,
                    "value": v.value,
                    "ci_low": v.ci_low,
                    "ci_high": v.ci_high,
                    "significant": v.detectable,
                }
            )
    return pd.DataFrame(rows)


@dataclass
class ConflictResult:
    """Experiment F's runs and associations.

    Attributes:
        config: the configuration.
        table: one row per run: ``region, rule, arm, seed, main, delta`` and the early means of
            ``cosine``, ``affinity_aux_to_main``, ``affinity_main_to_aux``.
        probes: the probes (per-step measurements).
        summary: one row per predictor (:func:`association`), with the columns a verdict reads
            (:mod:`mtdl_kit.verdicts`): ``budget``, ``contrast`` (``"rho: <predictor>"``), ``task``
            (the main task), ``metric`` (``"rho"``), ``value`` (ρ), ``ci_low``, ``ci_high``, ``significant``.
    """

    config: ConflictConfig
    table: Any
    probes: list[Probe]
    summary: Any

    def conditions(self) -> Any:
        """Each condition's mean early measurements and mean Δ (one row per region, rule and arm)."""
        columns = ["cosine", "affinity_aux_to_main", "affinity_main_to_aux", "main", "delta"]
        return self.table.groupby(["region", "rule", "arm"], as_index=False)[columns].mean()


def run_conflict(
    config: ConflictConfig,
    crossover_runs: dict[str, Any],
    *,
    cache: str | Path | None = None,
    on_probe: Callable[[Probe], None] | None = None,
) -> ConflictResult:
    """Probe every condition and seed (resumable through ``cache``) and relate the early measurements to Δ.

    Args:
        crossover_runs: region -> that region's crossover ``runs.csv`` (DataFrame) on these seeds and budget.

    Raises:
        ValueError: a region's crossover runs are missing, or lack a probed run.
    """
    import pandas as pd

    from mtdl_kit.lab.transfer import _datasets

    config.validate()
    cache_dir = Path(cache) if cache is not None else None
    probes: list[Probe] = []
    deltas = []
    mains = []
    for region in config.regions:
        if region not in crossover_runs:
            raise ValueError(
                f"No crossover runs for {region!r}: run `mtdl-kit lab crossover --region {region} --budget "
                f"{config.budget} --seeds ...` on the same seeds first."
            )
        rules = config.rule_configs(region)
        main = next(iter(rules.values())).main
        mains.append(main)
        found = crossover_deltas(crossover_runs[region], region, main, budget=config.budget)
        have = set(zip(found["rule"], found["arm"], found["seed"], strict=True))
        missing = [(r, a, s) for r in rules for a in PROBED_ARMS for s in config.seeds if (r, a, s) not in have]
        if missing:
            raise ValueError(
                f"The {region} crossover runs lack {len(missing)} run(s) experiment F needs, e.g. rule "
                f"{missing[0][0]}, arm {missing[0][1]}, seed {missing[0][2]} (budget {config.budget}): rerun the "
                f"crossover on seeds {config.seeds} at that budget."
            )
        deltas.append(found[found["seed"].isin(config.seeds)])
        for seed in config.seeds:
            for rule, cfg in rules.items():
                train = _datasets(cfg, seed)[0]
                for arm in PROBED_ARMS:
                    probe = cached_probe(config, cfg, rule, arm, seed, cache_dir, train)
                    probes.append(probe)
                    if on_probe is not None:
                        on_probe(probe)
    early = pd.DataFrame(
        [
            {
                "region": p.region,
                "rule": p.rule,
                "arm": p.arm,
                "seed": p.seed,
                **{k: p.early(k) for k in ("cosine", "affinity_aux_to_main", "affinity_main_to_aux")},
            }
            for p in probes
        ]
    )
    table = pd.concat(deltas, ignore_index=True).merge(early, on=["region", "rule", "arm", "seed"], how="inner")
    summary = pd.DataFrame(
        [
            {
                "budget": config.budget,
                "contrast": f"rho: {predictor}",
                "task": mains[0] if len(set(mains)) == 1 else "main",
                "metric": "rho",
                **association(table, predictor, n_boot=config.n_boot),
            }
            for predictor in PREDICTORS
        ]
    )
    return ConflictResult(config, table, probes, summary)


def conflict_reading(result: ConflictResult) -> list[str]:
    """Plain sentences computed from the intervals: does each early measurement predict the final Δ?"""
    cfg = result.config
    window = (
        f"in the first {cfg.early_steps} steps"
        if cfg.window_start == 0
        else f"at steps {cfg.window_start}–{cfg.early_steps}"
    )
    out = []
    for row in result.summary.itertuples():
        if not math.isfinite(row.value):
            verdict = "undefined (a constant column)"
        elif row.significant:
            verdict = "predicts transfer" if row.value > 0 else "predicts transfer inversely"
        else:
            verdict = "no detectable association"
        out.append(
            f"{PREDICTORS[row.predictor]} {window} vs the final main-task Δ, over "
            f"{row.n} conditions (each a mean over {len(cfg.seeds)} seeds): Spearman ρ {row.value:+.2f} "
            f"[{row.ci_low:+.2f}, {row.ci_high:+.2f}] ({verdict})."
        )
    return out


def default_conflict_config(*, quick: bool = False, **changes: Any) -> ConflictConfig:
    """The lab's configuration of experiment F (``quick``: :data:`QUICK_CONFLICT`) with ``changes`` applied."""
    base = QUICK_CONFLICT if quick else ConflictConfig()
    return replace(base, **{k: v for k, v in changes.items() if v is not None})


def write_conflict_outputs(result: ConflictResult, out: str | Path) -> list[Path]:
    """``runs.csv`` (one row per run: Δ and early means), ``summary.csv`` (the ρs), ``summary.md``,
    and ``measurements.csv`` (every probe's per-step measurements) into ``out``."""
    import pandas as pd

    from mtdl_kit.lab.outputs import write_lab_outputs

    paths = write_lab_outputs(
        out,
        result.table,
        result.summary,
        title="Transfer lab, experiment F — does early gradient conflict predict transfer?",
        configs={"Config": result.config},
        reading=conflict_reading(result),
    )
    rows = [
        {"region": p.region, "rule": p.rule, "arm": p.arm, "seed": p.seed, "step": int(step), **values}
        for p in result.probes
        for step, values in p.measurements.items()
    ]
    path = Path(out) / "measurements.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return [*paths, path]
