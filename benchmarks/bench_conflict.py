"""The transfer lab, experiment F (does early gradient conflict predict transfer?) -> RESULTS.md "conflict".

For every multi-task condition of the relatedness crossover (eye and chest × rule A/B × related,
unrelated, shuffled auxiliary task) and every seed of the crossover's headline (0-7) and replication
(100-107) runs, :func:`mtdl_kit.lab.run_conflict` trains the crossover run's network for its first 100
steps and measures the auxiliary and main tasks' gradient cosine and lookahead affinities on the
shared parameters; it relates their early means to the crossover's final main-task Δ (read from the
committed ``benchmarks/results/transfer_c_<region>_<set>_runs.csv``) by Spearman's ρ with a
seed-bootstrap CI. Probes are cached and resumable (``--cache``; processes may share one cache). It
writes ``benchmarks/results/transfer_f_<set>_{runs,summary,measurements}.csv`` and the section
"conflict" of RESULTS.md, whose reading is computed from the intervals.

Run: ``.venv/bin/python benchmarks/bench_conflict.py`` (``--quick`` for a smoke run that writes nothing:
it runs the quick crossover first; ``--sets headline`` or ``replication``; ``--no-write`` to fill the
cache only).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, write_section

from mtdl_kit.lab import (
    PREDICTORS,
    conflict_reading,
    default_conflict_config,
    default_crossover_config,
    run_conflict,
    run_crossover,
    write_conflict_outputs,
)
from mtdl_kit.lab.conflict import decompose

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CACHE = Path("/tmp/mtdl-kit-conflict-cache")
#: the crossover's seed sets (fixed in bench_crossover.py before its runs)
SETS: dict[str, tuple[int, ...]] = {"headline": tuple(range(8)), "replication": tuple(range(100, 108))}


def committed_crossover_runs(regions: tuple[str, ...], name: str) -> dict:
    """The committed crossover runs of each region for seed set ``name``."""
    import pandas as pd

    return {r: pd.read_csv(RESULTS / f"transfer_c_{r}_{name}_runs.csv") for r in regions}


def quick_crossover_runs(config, cache: Path) -> dict:
    """The quick crossover of each region on the quick seeds (trained into ``cache``), as runs tables."""
    import pandas as pd

    out = {}
    for region in config.regions:
        base = default_crossover_config(region, quick=True)
        result = run_crossover(replace(base, budgets=(config.budget,), seeds=config.seeds), cache=cache)
        out[region] = pd.concat([res.runs_frame.assign(rule=r) for r, res in result.rules.items()], ignore_index=True)
    return out


def association_table(summary) -> list[str]:
    lines = ["| early measurement | conditions | Spearman ρ | 95 % CI | significant |", "|---|---:|---:|---|---|"]
    for r in summary.itertuples():
        sig = "yes" if r.significant else "no"
        lines.append(
            f"| {PREDICTORS[r.predictor]} | {r.n} | {r.value:+.2f} | [{r.ci_low:+.2f}, {r.ci_high:+.2f}] | {sig} |"
        )
    return lines


def conditions_table(result) -> list[str]:
    lines = [
        "| region | rule | arm | mean cosine | affinity aux → main | affinity main → aux | mean main AUC "
        "| mean Δ AUC |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in result.conditions().itertuples():
        lines.append(
            f"| {r.region} | {r.rule} | {r.arm} | {r.cosine:+.3f} | {r.affinity_aux_to_main:+.4f} | "
            f"{r.affinity_main_to_aux:+.4f} | {r.main:.3f} | {r.delta:+.3f} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sets", default="headline,replication", help="comma list of seed sets (headline, replication)")
    ap.add_argument("--cache", default=None, help=f"folder for finished probes (default: {DEFAULT_CACHE})")
    ap.add_argument("--no-write", action="store_true", help="fill the cache only: write no CSV and no RESULTS section")
    ap.add_argument(
        "--window",
        default=None,
        help="a later measurement window START-END, e.g. 400-500 (a diagnostic: tables transfer_f_late_<set>_*, "
        "section 'conflict-late'); default: the first 100 steps",
    )
    ap.add_argument("--regions", default="eye,chest", help="comma list of crossover regions")
    args = ap.parse_args()
    regions = tuple(r.strip() for r in args.regions.split(",") if r.strip())
    window = {}
    if args.window:
        start, end = (int(x) for x in args.window.split("-"))
        window = {"window_start": start, "early_steps": end}
    cache = Path(args.cache) if args.cache else DEFAULT_CACHE
    t0 = time.perf_counter()
    probe = default_conflict_config(regions=regions, **window)
    steps = (
        f"for its first {probe.early_steps} steps; before the first step and every {probe.measure_every} steps"
        if probe.window_start == 0
        else f"for {probe.early_steps} steps; every {probe.measure_every} steps from step {probe.window_start}"
    )
    lines = [
        "## The transfer lab, experiment F: does early gradient conflict predict transfer? "
        "(`benchmarks/bench_conflict.py`)"
        + ("" if not window else f" — a later window, steps {probe.window_start}–{probe.early_steps}"),
        "",
        f"Machine: {machine()}. For every multi-task condition of the crossover ({' and '.join(regions)} × rule A/B × "
        "`related`, `unrelated`, `shuffled` auxiliary task; rule A's related and shuffled arms are experiment A at "
        "16 labels) and every seed, the crossover run's network (same initial weights, data and optimiser) is trained "
        f"{steps}, on the 16 labelled cases as the arm sees "
        "them, it measures the cosine of the auxiliary and main (glaucoma / cardiomegaly) tasks' gradients on all "
        "shared parameters (Yu et al. 2020) and the lookahead affinities (TAG, Fifty et al. 2021; an Adam-sized "
        "step along one task's gradient, the relative change of the other task's loss). A run's value is the "
        "mean of its measurements; its transfer is the crossover's final main-task ROC-AUC minus the single-task "
        "arm's on the same rule and seed (committed `transfer_c_*_runs.csv`). Spearman's ρ over the "
        f"{6 * len(regions)} conditions' "
        "means (each over 8 seeds); 95 % CI from a bootstrap that resamples seeds (the same draw for every "
        "condition).",
        "",
    ]
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in sets if s not in SETS]
    if unknown:
        raise SystemExit(f"unknown seed set(s) {unknown}; choose from {list(SETS)}")
    for name in sets:
        config = default_conflict_config(
            quick=args.quick,
            seeds=None if args.quick else SETS[name],
            **({} if args.quick else {"regions": regions, **window}),
        )

        def report(probe, name: str = name) -> None:
            print(
                f"{name} {probe.region} rule {probe.rule} {probe.arm:9s} seed {probe.seed:4d} "
                f"cosine {probe.early('cosine'):+.3f} affinity {probe.early('affinity_aux_to_main'):+.4f} "
                f"({probe.seconds:.0f} s)",
                flush=True,
            )

        if args.quick:
            with tempfile.TemporaryDirectory() as tmp:
                runs = quick_crossover_runs(config, Path(tmp) / "crossover")
                result = run_conflict(config, runs, cache=Path(tmp) / "conflict", on_probe=report)
        else:
            runs = committed_crossover_runs(config.regions, name)
            result = run_conflict(config, runs, cache=cache, on_probe=report)
        if not (args.quick or args.no_write):
            # the command's own writer, then its CSVs under the benchmark's names (no copy of the writer here)
            with tempfile.TemporaryDirectory() as tmp:
                for path in write_conflict_outputs(result, Path(tmp)):
                    if path.suffix == ".csv":
                        target = RESULTS / f"transfer_f_{'late_' if window else ''}{name}_{path.stem}.csv"
                        target.write_bytes(path.read_bytes())
        lines += [f"### {name}: seeds {list(config.seeds)}", "", *association_table(result.summary), ""]
        lines += ["Reading (computed from the intervals):", "", *[f"- {s}" for s in conflict_reading(result)], ""]
        lines += ["Each condition (means over seeds):", "", *conditions_table(result), ""]
        lines += [
            "The gradient cosine split by the crossover's design (per region: relatedness = the interaction "
            "½[(related − unrelated) under A + under B]; auxiliary task A − B = segmentation of feature A minus "
            "of feature B, whatever the rule; mean over seeds, percentile CI from resampling seeds):",
            "",
            "| region | contrast | value | 95 % CI | significant |",
            "|---|---|---:|---|---|",
        ]
        for r in decompose(result.table, "cosine", n_boot=config.n_boot).itertuples():
            lines.append(
                f"| {r.region} | {r.contrast} | {r.value:+.3f} | [{r.ci_low:+.3f}, {r.ci_high:+.3f}] | "
                f"{'yes' if r.significant else 'no'} |"
            )
        lines.append("")
        seconds = sum(p.seconds for p in result.probes)
        lines += [f"{len(result.probes)} probes, {seconds / 60:.0f} min of probing in all (cached probes reused).", ""]
        lines += [f"Config: `{asdict(config)}`", ""]
    lines.insert(3, f"{(time.perf_counter() - t0) / 60:.0f} min for this invocation.")
    lines.insert(4, "")
    text = "\n".join(lines)
    print(text)
    if not (args.quick or args.no_write):
        write_section("conflict-late" if window else "conflict", text)


if __name__ == "__main__":
    main()
