"""The transfer lab, experiment C (relatedness crossover): headline seeds and fresh seeds -> RESULTS.md "crossover".

For each region (eye, chest) it runs :func:`mtdl_kit.lab.run_crossover` — the label follows feature A
(the anatomy rule) or feature B (the region's second sign), the auxiliary task is the segmentation of
A, of B, shuffled masks, or none — on the headline seeds and on fresh seeds. Runs are cached and
resumable (``--cache``; two processes may share one cache) and are executed seed by seed across both
rules, so an interrupted run leaves complete seeds behind. It writes
``benchmarks/results/transfer_c_<region>_<run>_{runs,summary}.csv`` and the section "crossover" of
RESULTS.md, whose reading is computed from the intervals. A region whose runs are not all in the
cache yet is reported as such (``--only-cached``), never summarised from a subset.

Run: ``.venv/bin/python benchmarks/bench_crossover.py`` (``--quick`` for a smoke run; ``--regions``,
``--seeds``, ``--replicate``, ``--budgets``, ``--cache``).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import contrast_table, machine, write_section

from mtdl_kit.lab import (
    configure,
    crossover_configs,
    crossover_reading,
    default_crossover_config,
    parse_seeds,
    reading,
    run_crossover,
)
from mtdl_kit.lab.transfer import _cached, _datasets

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CACHE = Path("/tmp/mtdl-kit-transfer-cache")


def base_config(region: str, quick: bool, budgets: tuple[int, ...] | None, seeds: tuple[int, ...] | None):
    base = default_crossover_config(region, quick=quick)
    return configure(base, budgets=budgets or (16,), seeds=seeds)


def cached_count(base, cache: Path) -> tuple[int, int]:
    """(runs in the cache, runs the configuration needs)."""
    have = need = 0
    for cfg in crossover_configs(base).values():
        for seed in cfg.seeds:
            for budget in cfg.budgets:
                for arm in cfg.arms:
                    name = f"unrelated-{cfg.unrelated}" if arm == "unrelated" else arm
                    need += 1
                    have += (cache / f"{cfg.key()}-{name}-b{budget}-s{seed}.json").exists()
    return have, need


#: the order runs are trained in: the arms the interaction needs first (every seed), the control last, so an
#: interrupted invocation leaves the interaction's runs complete for as many seeds as possible
PASSES: tuple[tuple[str, ...], ...] = (("none", "related", "unrelated"), ("shuffled",))


def fill_cache(base, cache: Path) -> None:
    """Every run, seed by seed across both rules, in the order of :data:`PASSES`."""
    rules = crossover_configs(base)
    for arms in PASSES:
        for seed in base.seeds:
            for rule, cfg in rules.items():
                data = _datasets(cfg, seed)
                for budget in cfg.budgets:
                    for arm in arms:
                        t0 = time.perf_counter()
                        run = _cached(cfg, arm, budget, seed, cache, data)
                        print(
                            f"{cfg.region} rule {rule} seed {seed:4d} budget {budget:4d} {arm:9s} "
                            f"auc {run.metrics[cfg.main]['auc']:.3f} steps {run.steps_run:5d} "
                            f"({time.perf_counter() - t0:.0f} s)",
                            flush=True,
                        )


def steps_table(result) -> list[str]:
    """Steps each arm used, and how well its auxiliary task was learnt (median test Dice)."""
    lines = [
        "| rule | arm | auxiliary task | median aux Dice | median best step | median steps run | at step cap |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for rule, res in result.rules.items():
        cfg, runs = res.config, res.runs_frame
        main = runs[(runs["task"] == cfg.main) & (runs["metric"] == "auc")]
        for arm, g in main.groupby("arm"):
            aux = cfg.arm_tasks(arm)[0] if arm != "none" else None
            dice = runs[(runs["arm"] == arm) & (runs["task"] == aux) & (runs["metric"] == "dice")]["value"]
            shown = f"{dice.median():.3f}" if len(dice) else "–"
            capped = int((g["steps_run"] >= cfg.max_steps).sum())
            best, ran = g["best_step"].median(), g["steps_run"].median()
            label = aux + (" (shuffled)" if arm == "shuffled" else "") if aux else "–"
            lines.append(f"| {rule} | {arm} | {label} | {shown} | {best:.0f} | {ran:.0f} | {capped}/{len(g)} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--regions", default="eye,chest")
    ap.add_argument("--budgets", default=None, help="comma list of main-task label budgets (default: 16)")
    ap.add_argument("--seeds", default=None, help="headline seeds (default: 0-7; quick: 0-2)")
    ap.add_argument("--replicate", default=None, help="fresh seeds for the replication (default: 100-107; '' skips)")
    ap.add_argument("--cache", default=None, help=f"folder for finished runs (default: {DEFAULT_CACHE})")
    ap.add_argument("--only-cached", action="store_true", help="summarise what is cached; train nothing")
    args = ap.parse_args()
    budgets = tuple(int(b) for b in args.budgets.split(",")) if args.budgets else None
    seeds = parse_seeds(args.seeds) if args.seeds else None
    fresh = args.replicate if args.replicate is not None else ("10-11" if args.quick else "100-107")
    cache = Path(args.cache) if args.cache else DEFAULT_CACHE
    t0 = time.perf_counter()
    lines = [
        "## The transfer lab, experiment C: the relatedness crossover (`benchmarks/bench_crossover.py`)",
        "",
        f"Machine: {machine()}. The main label follows feature A (the anatomy rule, relatedness 1) or feature B "
        "(the region's second sign, relatedness 0); each feature has its own segmentation. Arms per rule: `none` "
        "(single-task), `related` (auxiliary = segmentation of the feature the label follows), `unrelated` "
        "(segmentation of the other feature), `shuffled` (the related masks permuted across cases). Interaction = "
        "½[(related − unrelated) under A + (related − unrelated) under B], in ROC-AUC points, paired hierarchical "
        "bootstrap CI over seeds and test cases. Single-task difficulty of the two rules is shown beside it.",
        "",
    ]
    for region in [r.strip() for r in args.regions.split(",") if r.strip()]:
        for name, run_seeds in (("headline", seeds), ("replication", parse_seeds(fresh) if fresh else None)):
            if name == "replication" and not fresh:
                continue
            base = base_config(region, args.quick, budgets, run_seeds)
            have, need = cached_count(base, cache)
            if args.only_cached and have < need:
                lines += [
                    f"### {region}, {name}: seeds {list(base.seeds)}",
                    "",
                    f"Incomplete: {have} of {need} runs done and cached; the rest not run yet.",
                    "",
                ]
                continue
            fill_cache(base, cache)
            result = run_crossover(base, cache=cache)
            if not args.quick:
                RESULTS.mkdir(exist_ok=True)
                stem = RESULTS / f"transfer_c_{region}_{name}"
                frames = [res.runs_frame.assign(rule=r) for r, res in result.rules.items()]
                import pandas as pd

                pd.concat(frames, ignore_index=True).to_csv(f"{stem}_runs.csv", index=False)
                result.summary.to_csv(f"{stem}_summary.csv", index=False)
            lines += [f"### {region}, {name}: seeds {list(base.seeds)}", ""]
            lines += [*contrast_table(result.summary, ("budget",)), ""]
            lines += ["Reading (computed from the intervals):", "", *[f"- {s}" for s in crossover_reading(result)]]
            lines += ["", "Each rule on its own (experiment A's contrasts, and the unrelated arm's):", ""]
            for rule, res in result.rules.items():
                lines += [f"Rule {rule}:", "", *[f"- {s}" for s in reading(res)], ""]
            lines += ["", "Steps each arm used (validation stopping):", "", *steps_table(result), ""]
            lines += [f"Config (rule A): `{asdict(result.rules['A'].config)}`", ""]
    lines.insert(3, f"{(time.perf_counter() - t0) / 60:.0f} min for this invocation (cached runs are reused).")
    lines.insert(4, "")
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        write_section("crossover", text)


if __name__ == "__main__":
    main()
