"""The transfer lab, experiment E (the starved task): headline seeds and fresh seeds -> RESULTS.md "starved".

For each region (eye: the CDR regression beside disc/cup segmentation and glaucoma; musculoskeletal:
the landmarks beside the bone segmentation) it runs :func:`mtdl_kit.lab.run_starved` — every weighting
method (EW, UW, GradNorm, DWA, UPGrad on the shared features) × targets (``raw``, ``standardised``;
musculoskeletal: ``raw`` only, landmarks have no standardised counterpart, see
:mod:`mtdl_kit.lab.starved`) — on the headline seeds :data:`HEADLINE` and on the fresh seeds
:data:`REPLICATION`, both fixed here before any run. Every condition is compared with EW on raw targets
per task (paired hierarchical bootstrap CI, verdict words from :mod:`mtdl_kit.verdicts`). Runs are
cached and resumable (``--cache``), trained seed by seed, so an interrupted run leaves complete seeds
behind. It writes ``benchmarks/results/starved_<region>_<run>_{runs,summary}.csv`` and the section
"starved" of RESULTS.md, whose reading is computed from the intervals. A region whose runs are not all
in the cache is reported as such (``--only-cached``), never summarised from a subset.

Cost (measured 2026-12-02 on this project's 2-core AMD EPYC CPU, ``OMP_NUM_THREADS=1``, with two
crossover benchmark processes running beside it; three timed full-size runs on seed 0: 64 px, width 8,
batch 16, validation stopping after at least 400 and at most 1500 steps): eye EW-raw 110 s wall (73 s
CPU, 1200 steps, including ~10 s of phantom generation for the seed), eye UPGrad-raw 99 s (77 s CPU,
1350 steps), musculoskeletal EW-raw 33 s (32 s CPU, 500 steps: the landmarks never improved, so
validation stopping ended it early). Estimate of a full invocation: eye 10 conditions × 10 seeds = 100
runs × ~100 s ≈ 2.8 h; musculoskeletal 5 × 10 = 50 runs × 33–100 s (a method that does learn the
landmarks trains longer) ≈ 0.5–1.4 h: about 3.3–4.2 h of wall time on one thread, under that load —
beyond the issue's 90 min. The three timed runs are in the default cache and are reused. The quick
mode (``--quick``: 60 runs of 32 px, width 4, at most 60 steps) took 4.2 min.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_starved.py`` (``--quick`` for a smoke run
that writes nothing; ``--regions``, ``--seeds``, ``--replicate``, ``--methods``, ``--cache``,
``--only-cached``; ``--adopted`` for the lab's adopted protocol, experiment G's: the chance guard and the
region's training cases, into seed sets and sections of their own).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import chance_lines, machine, write_section

from mtdl_kit.lab import default_starved_config, parse_seeds, run_starved, starved_reading
from mtdl_kit.lab.starved import _datasets, cache_stem, cached_run, condition_name

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CACHE = Path("/tmp/mtdl-kit-starved-cache")
#: seeds fixed before any run: the headline result and its replication on fresh seeds
HEADLINE: tuple[int, ...] = (0, 1, 2, 3, 4)
REPLICATION: tuple[int, ...] = (100, 101, 102, 103, 104)
#: the quick smoke run's seeds
QUICK_HEADLINE: tuple[int, ...] = (0, 1)
QUICK_REPLICATION: tuple[int, ...] = (10, 11)


def cached_count(cfg, cache: Path) -> tuple[int, int]:
    """(runs in the cache, runs the configuration needs)."""
    need = [(m, t, s) for s in cfg.seeds for m, t in cfg.conditions]
    have = sum(cache_stem(cfg, m, t, s, cache).with_suffix(".json").exists() for m, t, s in need)
    return have, len(need)


def fill_cache(cfg, cache: Path) -> None:
    """Every run, seed by seed (the reference condition first in each seed)."""
    for seed in cfg.seeds:
        data = _datasets(cfg, seed)
        for method, targets in cfg.conditions:
            t0 = time.perf_counter()
            run = cached_run(cfg, method, targets, seed, cache, data)
            metric = "mae" if "mae" in run.metrics[cfg.starved] else "mre_mm"
            print(
                f"{cfg.region} seed {seed:4d} {condition_name(method, targets):22s} "
                f"{cfg.starved} {metric} {run.metrics[cfg.starved][metric]:.3f} "
                f"steps {run.best_step:5d}/{run.steps_run:5d} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )


def table(result) -> list[str]:
    """Every contrast against EW-raw, per task."""
    lines = [
        "| task | metric | condition − ew-raw | value (+ = better) | 95 % CI | verdict |",
        "|---|---|---|---:|---|---|",
    ]
    frame = result.summary
    for _, r in frame[frame["contrast"] != "mean"].iterrows():
        ci = "" if np.isnan(r["ci_low"]) else f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
        lines.append(f"| {r['task']} | {r['metric']} | {r['condition']} | {r['value']:+.3f} | {ci} | {r['verdict']} |")
    return lines


def means_table(result) -> list[str]:
    """Per condition: each task's mean metric, the median steps, and the starved task's early loss and weight."""
    cfg = result.config
    frame, runs = result.summary, result.runs_frame
    means = frame[frame["contrast"] == "mean"]
    tasks = list(cfg.tasks)
    head = " | ".join(f"{t} {means[means['task'] == t].iloc[0]['metric']}" for t in tasks)
    lines = [
        f"| condition | {head} | median best step | median steps run | {cfg.starved} early loss | "
        f"{cfg.starved} mean weight |",
        "|---|" + "---:|" * (len(tasks) + 4),
    ]
    starved = runs[runs["task"] == cfg.starved].drop_duplicates(["seed", "condition"])
    for name, g in means.groupby("condition", sort=False):
        values = " | ".join(f"{g[g['task'] == t].iloc[0]['value']:.3f}" for t in tasks)
        s = starved[starved["condition"] == name]
        first = g.iloc[0]
        lines.append(
            f"| {name} | {values} | {first['median_best_step']:.0f} | {first['median_steps_run']:.0f} | "
            f"{s['loss_early'].median():.3g} | {s['weight_mean'].median():.3g} |"
        )
    return lines


def chance_section(
    regions: list[str], seed_sets: dict[str, tuple[int, ...] | None], methods, *, adopted: bool = False
) -> None:
    """RESULTS "starved-chance": every committed seed set's runs against each seed's image-blind predictor
    (nothing is trained; the runs CSVs must hold exactly the seed set's seeds)."""
    import pandas as pd

    lines = [
        "## Experiment E against chance (`benchmarks/bench_starved.py --chance-only`)",
        "",
        f"Measured {machine()}. Each committed run's primary metric against its seed's image-blind predictor "
        "(`mtdl_kit.lab.chance`: fit on the seed's training labels, scored on the same test split); the levels "
        "are in `benchmarks/results/starved_<region>_<run>_chance.csv`. Nothing was retrained.",
        "",
    ]
    for region in regions:
        for name, seeds in seed_sets.items():
            if not seeds:
                continue
            cfg = default_starved_config(region, seeds=seeds, methods=methods, adopted=adopted)
            name = f"{name}_adopted" if adopted else name
            stem = RESULTS / f"starved_{region}_{name}"
            runs = pd.read_csv(f"{stem}_runs.csv")
            if tuple(sorted(runs["seed"].unique())) != tuple(sorted(cfg.seeds)):
                raise SystemExit(f"{stem.name}_runs.csv holds seeds {sorted(runs['seed'].unique())}, not {cfg.seeds}.")
            lines += [f"### {region}, {name}: seeds {list(cfg.seeds)}", ""]
            tasks = (cfg.starved, *cfg.others)
            lines += chance_lines(cfg, region, tasks, cfg.seeds, runs, stem, write=True, group="condition")
    text = "\n".join(lines)
    print(text)
    write_section("starved-chance-adopted" if adopted else "starved-chance", text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the quick configuration; writes no results")
    ap.add_argument("--regions", default="eye,musculoskeletal")
    ap.add_argument("--seeds", default=None, help="headline seeds (default: 0-4; quick: 0-1)")
    ap.add_argument("--replicate", default=None, help="fresh seeds for the replication (default: 100-104; '' skips)")
    ap.add_argument("--methods", default=None, help="comma list of weighting methods (default: all five)")
    ap.add_argument("--cache", default=None, help=f"folder for finished runs (default: {DEFAULT_CACHE})")
    ap.add_argument("--only-cached", action="store_true", help="summarise what is cached; train nothing")
    ap.add_argument(
        "--no-write",
        action="store_true",
        help="train into the cache and print, but write no CSV or RESULTS section (a second process filling the "
        "cache beside the one that writes)",
    )
    ap.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="with --adopted: a longer step cap (diagnostic); its seed sets get the suffix _cap<N>",
    )
    ap.add_argument(
        "--adopted",
        action="store_true",
        help="the lab's adopted protocol (experiment G's: chance guard, the region's training cases); writes the "
        "seed sets 'headline_adopted' / 'replication_adopted' and the section 'starved-<region>-adopted'",
    )
    ap.add_argument(
        "--chance-only",
        action="store_true",
        help="train nothing: each committed seed set's runs against chance; writes the chance CSVs and the "
        "'starved-chance' section",
    )
    args = ap.parse_args()
    headline = parse_seeds(args.seeds) if args.seeds else (QUICK_HEADLINE if args.quick else HEADLINE)
    if args.replicate is not None:
        fresh = parse_seeds(args.replicate) if args.replicate else None
    else:
        fresh = QUICK_REPLICATION if args.quick else REPLICATION
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip()) if args.methods else None
    cache = Path(args.cache) if args.cache else DEFAULT_CACHE
    regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    if args.max_steps is not None and (not args.adopted or args.chance_only):
        raise SystemExit("--max-steps is a diagnostic of the adopted protocol: pass --adopted, not --chance-only.")
    if args.chance_only:
        chance_section(regions, {"headline": headline, "replication": fresh}, methods, adopted=args.adopted)
        return
    lines = [
        "## The transfer lab, experiment E: the starved task (`benchmarks/bench_starved.py`)",
        "",
        f"Machine: {machine()}. A parallel network (shared trunk) trains a small-loss task beside a segmentation "
        "task: eye, the cup-to-disc ratio (regression) with disc/cup segmentation and glaucoma; musculoskeletal, "
        "the landmark heatmaps with the bone segmentation. Conditions: weighting method (EW, UW, GradNorm, DWA, "
        "UPGrad on the shared features) × targets (`raw`: the regression MSE in the task's units, head not "
        "standardised; `standardised`: the library's default). Landmarks have no raw/standardised pair (a "
        "unit-peak heatmap has no units to standardise), so the musculoskeletal runs vary the method only. Every "
        "condition minus EW-raw, per task, in the task's primary metric, signed so that + means better (errors "
        "flipped), paired hierarchical bootstrap CI over seeds and test cases; validation stopping on every "
        "task's primary metric, the same rule for every condition.",
        "",
    ]
    # one section per region, so a region rerun on its own leaves the other region's measured section as it was
    sections = {} if args.adopted else {"starved": lines}
    cap = f"_cap{args.max_steps}" if args.max_steps is not None else ""
    suffix = ("_adopted" if args.adopted else "") + cap
    for region in regions:
        t_region = time.perf_counter()
        part: list[str] = []
        for name, seeds in (("headline", headline), ("replication", fresh)):
            if seeds is None:
                continue
            cfg = default_starved_config(
                region, quick=args.quick, seeds=seeds, methods=methods, adopted=args.adopted, max_steps=args.max_steps
            )
            name += suffix
            have, need = cached_count(cfg, cache)
            if args.only_cached and have < need:
                part += [
                    f"### {region}, {name}: seeds {list(cfg.seeds)}",
                    "",
                    f"Incomplete: {have} of {need} runs done and cached; the rest not run yet.",
                ]
                part += [""]
                continue
            fill_cache(cfg, cache)
            result = run_starved(cfg, cache=cache)
            stem = RESULTS / f"starved_{region}_{name}"
            write = not (args.quick or args.no_write)
            if write:
                RESULTS.mkdir(exist_ok=True)
                result.runs_frame.to_csv(f"{stem}_runs.csv", index=False)
                result.summary.to_csv(f"{stem}_summary.csv", index=False)
            part += [f"### {region}, {name}: seeds {list(cfg.seeds)}", ""]
            part += ["Reading (computed from the intervals):", "", *[f"- {s}" for s in starved_reading(result)], ""]
            tasks = (cfg.starved, *cfg.others)
            part += chance_lines(cfg, region, tasks, cfg.seeds, result.runs_frame, stem, write=write, group="condition")
            part += ["Per condition (means over seeds; steps each run used):", "", *means_table(result), ""]
            part += ["Every condition against EW on raw targets:", "", *table(result), ""]
            part += [f"Config: `{asdict(cfg)}`", ""]
        minutes = (time.perf_counter() - t_region) / 60
        part.insert(0, f"{region}: measured {machine().split(',')[0]}, {minutes:.0f} min (cached runs are reused).")
        part.insert(1, "")
        if args.adopted:
            part[2:2] = [
                f"Under the lab's adopted protocol (that of experiment G, 2026-12-05): the chance guard on (patience "
                f"starts once every task beats its validation chance level) and {cfg.n_train} training cases; the "
                "sections above were trained before it."
                + (f" A diagnostic: the step cap raised to {cfg.max_steps}." if cap else ""),
                "",
            ]
            flags = f"--adopted --max-steps {cfg.max_steps}" if cap else "--adopted"
            capped = f", a {cfg.max_steps}-step cap" if cap else ""
            title = f"## Experiment E under the adopted protocol: {region}{capped} (`bench_starved.py {flags}`)"
            part[:0] = [title, ""]
        sections[f"starved-{region}{'-adopted' if args.adopted else ''}{cap.replace('_', '-')}"] = part
    for name, part in sections.items():
        text = "\n".join(part)
        print(text)
        if not (args.quick or args.no_write):
            write_section(name, text)


if __name__ == "__main__":
    main()
