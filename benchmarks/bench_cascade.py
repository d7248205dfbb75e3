"""The transfer lab, experiment D (a cascade in real stages): headline and fresh seeds -> RESULTS.md "stages".

For each region (eye: disc/cup -> glaucoma; chest: lungs/heart -> cardiomegaly) it runs
:func:`mtdl_kit.lab.run_cascade`: per seed a source segmentation network trained to its validation
plateau, then three classifiers of the coupled label on each label budget (the image alone, the
predicted mask alone, image + predicted mask), each scored on the source network's test masks, the
reference masks and the reference masks degraded to Dice 0.95 / 0.85 / 0.70. The design (budgets 16
and 256, the three levels, seeds 0–7 and 100–107) is :class:`mtdl_kit.lab.CascadeConfig`'s default,
fixed before any run. Trained networks are cached as verified checkpoints and resumable (``--cache``;
two processes may share a cache, e.g. one per region). It writes
``benchmarks/results/transfer_d_<region>_<run>_{runs,summary}.csv`` (a verdict source,
:mod:`mtdl_kit.verdicts`) and the sections "stages" and "stages-<region>" of RESULTS.md, whose
readings are computed from the intervals. A seed list whose networks are not all cached is reported
as such with ``--only-cached``, never summarised from a subset.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_cascade.py`` (``--quick`` for a smoke run
that writes nothing; ``--regions``, ``--seeds``, ``--replicate``, ``--cache``, ``--only-cached``,
``--no-write``).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import add_seed_arguments, contrast_table, machine, seed_sets, write_section

from mtdl_kit.lab import CASCADE_ARMS, cascade_reading, default_cascade_config, run_cascade

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CACHE = Path("/tmp/mtdl-kit-cascade-cache")
#: seeds fixed before any run
HEADLINE: tuple[int, ...] = tuple(range(8))
REPLICATION: tuple[int, ...] = tuple(range(100, 108))


def cached_count(cfg, cache: Path) -> tuple[int, int]:
    """(networks in the cache, networks the configuration needs)."""
    need = [cache / f"{cfg.key('source')}-source-b0-s{seed}.json" for seed in cfg.seeds]
    need += [
        cache / f"{cfg.key('classifier')}-{arm}-b{budget}-s{seed}.json"
        for seed in cfg.seeds
        for budget in cfg.budgets
        for arm in CASCADE_ARMS
    ]
    return sum(p.exists() for p in need), len(need)


def steps_table(result) -> list[str]:
    """Median steps each stage used, and the source network's test Dice per seed."""
    frame = result.runs_frame
    cfg = result.config
    lines = ["Steps each network used (validation stopping; the source network's cap is "]
    lines[0] += f"{cfg.source_max_steps}, the classifiers' {cfg.max_steps}):"
    lines += [
        "",
        "| network | budget | median best step | median steps run | median seconds |",
        "|---|---:|---:|---:|---:|",
    ]
    once = frame.drop_duplicates(["stage", "budget", "seed"])
    for (stage, budget), g in once.groupby(["stage", "budget"], sort=False):
        lines.append(
            f"| {stage} | {budget} | {g['best_step'].median():.0f} | {g['steps_run'].median():.0f} | "
            f"{g['seconds'].median():.0f} |"
        )
    source = frame[(frame["stage"] == "source") & (frame["metric"] == "dice")]
    per_seed = ", ".join(f"{int(r.seed)}: {r.value:.3f}" for r in source.itertuples())
    lines += ["", f"Source network's test Dice ({cfg.source}) per seed: {per_seed}.", ""]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--regions", default="eye,chest", help="comma list (default: eye,chest)")
    add_seed_arguments(ap, DEFAULT_CACHE)
    ap.add_argument("--no-write", action="store_true", help="fill the cache only: no CSV, no RESULTS section")
    args = ap.parse_args()
    cache = Path(args.cache) if args.cache else DEFAULT_CACHE
    headline, fresh = seed_sets(args, HEADLINE, REPLICATION)
    write = not (args.quick or args.no_write)
    regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    if write:
        write_section("stages", HEADER)  # first, so that a first run lays the sections out in order
    for region in regions:
        t0 = time.perf_counter()
        base = default_cascade_config(region, quick=args.quick)
        lines = [
            f"### {region}: {base.source} -> {base.main}",
            "",
        ]
        for name, seeds in (("headline", headline), ("replication", fresh)):
            if not seeds:
                continue
            cfg = replace(base, seeds=tuple(seeds))
            have, need = cached_count(cfg, cache)
            title = f"#### {region}, {name}: seeds {list(cfg.seeds)}"
            if args.only_cached and have < need:
                lines += [title, "", f"Incomplete: {have} of {need} networks trained and cached; the rest not yet.", ""]
                continue

            def report(run, region: str = region) -> None:
                print(
                    f"{region} seed {run.seed:4d} {run.stage:10s} budget {run.budget:4d} steps "
                    f"{run.best_step:5d}/{run.steps_run:5d} {run.seconds:6.1f} s",
                    flush=True,
                )

            result = run_cascade(cfg, cache=cache, on_run=report)
            if write:
                RESULTS.mkdir(exist_ok=True)
                result.runs_frame.to_csv(RESULTS / f"transfer_d_{region}_{name}_runs.csv", index=False)
                result.summary.to_csv(RESULTS / f"transfer_d_{region}_{name}_summary.csv", index=False)
            lines += [title, "", *contrast_table(result.summary, ("budget",)), ""]
            lines += ["Reading (computed from the intervals):", "", *[f"- {s}" for s in cascade_reading(result)], ""]
            lines += [*steps_table(result), f"Config: `{asdict(cfg)}`", ""]
        lines.insert(2, f"Machine: {machine()}; {(time.perf_counter() - t0) / 60:.0f} min for this region in this ")
        lines[2] += "invocation (cached networks are reused)."
        lines.insert(3, "")
        text = "\n".join(lines)
        print(text)
        if write:
            write_section(f"stages-{region}", text)


HEADER = """## The transfer lab, experiment D: a cascade in real stages (`benchmarks/bench_cascade.py`)

Stage 1, a single-task segmentation network of the coupled anatomy (eye disc/cup, chest lungs/heart),
trains on every training case until its validation Dice plateaus (the lab's stopping rule; cap 4,000
steps), and is frozen. Stage 2, a classifier of the coupled label, trains on the first 16 or 256 cases'
labels under the lab's rule, reading the image alone (`direct`), stage 1's predicted mask alone
(`mask_only`: its foreground classes one-hot) or both (`image_mask`: the cascaded family's hand-over);
its training and validation inputs carry stage 1's *predictions*. The mask-reading classifiers are then
scored on four kinds of test mask: stage 1's own (`predicted`), the reference (`true`), and the reference
warped by a smooth random field until its mean foreground Dice is 0.95, 0.85 or 0.70 (`dice_0.95` …;
`mtdl_kit.lab.degrade`; the same masks for every seed). Main-task test ROC-AUC, paired hierarchical
bootstrap CIs over seeds and test cases. `robustness@x` is (image_mask@x − image_mask@true) −
(mask_only@x − mask_only@true): positive when reading the image protects the classifier from a wrong
mask. The `measurement error` and `rule flips` rows (budget 0) say what the masks handed over get wrong
about the quantity the label follows (the eye's CDR, the chest's CTR) and how often the rule at
relatedness 1 then gives another class; `<arm>@<level> - direct` says whether a cascade handed masks of
that quality still beats no cascade.
"""


if __name__ == "__main__":
    main()
