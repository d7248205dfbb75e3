"""The transfer lab, experiment B (a conflicting auxiliary task): headline and fresh seeds -> RESULTS.md "adversarial".

It runs :func:`mtdl_kit.lab.run_adversarial` on the design fixed after the pilots
(:data:`mtdl_kit.lab.adversarial.HEADLINE_DESIGN`: the bounded domain-confusion objective at
strength 30, eye phantoms photographed by two cameras, 1024 training cases; RESULTS.md
"adversarial-pilot" says how it was chosen on seeds 0–3) — every arm (``none``, ``adversary``,
``shuffled``, and the two first on independent cameras) — on the headline seeds :data:`HEADLINE`
and on the fresh seeds :data:`REPLICATION`, both fixed here before any headline run. Contrasts:
paired hierarchical bootstrap CIs, verdict words from :mod:`mtdl_kit.verdicts`. Runs are cached and
resumable (``--cache``; two processes may share a cache, e.g. one per seed list). It writes
``benchmarks/results/transfer_b_<run>_{runs,summary}.csv`` (a verdict source,
:mod:`mtdl_kit.verdicts`) and the section "adversarial" of RESULTS.md, whose reading is computed
from the intervals. A seed list whose runs are not all cached is reported as such
(``--only-cached``), never summarised from a subset.

Cost (measured 2026-12-02 on this project's 2-core CPU, one thread per run, two to three processes
side by side): 11–46 s a run (validation stopping), 16 min of training for the 40 headline runs and 17
min for the 40 replication runs; the 60 runs not already cached from the pilots took 15 min of wall
time in three processes sharing the cache.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_adversarial.py`` (``--quick`` for a smoke
run that writes nothing; ``--seeds``, ``--replicate``, ``--cache``, ``--only-cached``).
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

from mtdl_kit.lab import ADVERSARIAL_ARMS, adversarial_reading, default_adversarial_config, run_adversarial

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CACHE = Path("/tmp/mtdl-kit-adversarial-cache")
#: seeds fixed before the headline run (seeds 0–3 were also the pilots' seeds: the replication is the clean test)
HEADLINE: tuple[int, ...] = tuple(range(8))
REPLICATION: tuple[int, ...] = tuple(range(100, 108))


def cached_count(cfg, cache: Path) -> tuple[int, int]:
    """(runs in the cache, runs the configuration needs)."""
    need = [cache / f"{cfg.key()}-{arm}-s{seed}.json" for seed in cfg.seeds for arm in ADVERSARIAL_ARMS]
    return sum(p.exists() for p in need), len(need)


def per_seed(result) -> list[str]:
    """Main-task AUC per seed and arm, then the camera head's test AUC per seed and arm, and the steps used."""
    frame = result.runs_frame
    lines = []
    for task, title in (("glaucoma", "glaucoma test ROC-AUC"), ("camera", "the camera head's test ROC-AUC")):
        rows = frame[(frame["task"] == task) & (frame["metric"] == "auc")]
        wide = rows.pivot(index="seed", columns="arm", values="value")
        arms = [a for a in ADVERSARIAL_ARMS if a in wide.columns]
        lines += [f"Per seed, {title}:", "", "| seed | " + " | ".join(arms) + " |", "|---:|" + "---:|" * len(arms)]
        for seed, row in wide[arms].iterrows():
            lines.append(f"| {seed} | " + " | ".join(f"{row[a]:.3f}" for a in arms) + " |")
        lines.append("")
    main = frame[(frame["task"] == "glaucoma") & (frame["metric"] == "auc")]
    lines += ["Steps each arm used (validation stopping):", "", "| arm | median best step | median steps run |"]
    lines.append("|---|---:|---:|")
    for arm, g in main.groupby("arm", sort=False):
        lines.append(f"| {arm} | {g['best_step'].median():.0f} | {g['steps_run'].median():.0f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    add_seed_arguments(ap, DEFAULT_CACHE)
    args = ap.parse_args()
    cache = Path(args.cache) if args.cache else DEFAULT_CACHE
    headline, fresh = seed_sets(args, HEADLINE, REPLICATION)
    base = default_adversarial_config(quick=args.quick)
    t0 = time.perf_counter()
    lines = [
        "## The transfer lab, experiment B: a conflicting auxiliary task (`benchmarks/bench_adversarial.py`)",
        "",
        f"Machine: {machine()}. Eye phantoms photographed by one of two fundus cameras (camera B: another colour "
        "balance); the camera equals the glaucoma label on 90 % of cases (`site_agreement` 0.9) or on 50 % "
        "(`*_independent`). Arms: `none` (single-task glaucoma network), `adversary` (+ a camera head the trunk is "
        f"trained to defeat: `{base.objective}` objective, strength {base.strength:g}), `shuffled` (the same "
        "adversary on a derangement of the camera labels: same statistics, no information). `adversary − none` is "
        "the harm, `adversary − shuffled` the part due to what the camera label says, the coupling interaction "
        "(adversary − none) − (adversary − none on independent cameras) the part due to the camera's coupling to the "
        "disease. Glaucoma test ROC-AUC, paired hierarchical bootstrap CI over seeds and test cases. The design "
        '(objective, strength) was chosen on seeds 0–3 ("adversarial-pilot"), which the headline seeds include; the '
        "replication on fresh seeds is the clean test.",
        "",
    ]
    for name, seeds in (("headline", headline), ("replication", fresh)):
        if not seeds:
            continue
        cfg = replace(base, seeds=tuple(seeds))
        have, need = cached_count(cfg, cache)
        title = f"### {name}: seeds {list(cfg.seeds)}"
        if args.only_cached and have < need:
            lines += [title, "", f"Incomplete: {have} of {need} runs done and cached; the rest not run yet.", ""]
            continue

        def report(run) -> None:
            score = ", ".join(f"{t} {m['auc']:.3f}" for t, m in run.metrics.items() if "auc" in m)
            print(f"seed {run.seed:4d} {run.arm:22s} steps {run.best_step:5d}/{run.steps_run:5d} {score}", flush=True)

        result = run_adversarial(cfg, cache=cache, on_run=report)
        if not args.quick:
            RESULTS.mkdir(exist_ok=True)
            result.runs_frame.to_csv(RESULTS / f"transfer_b_{name}_runs.csv", index=False)
            result.summary.to_csv(RESULTS / f"transfer_b_{name}_summary.csv", index=False)
        lines += [title, "", *contrast_table(result.summary), ""]
        lines += ["Reading (computed from the intervals):", "", *[f"- {s}" for s in adversarial_reading(result)], ""]
        lines += [*per_seed(result), "", f"Config: `{asdict(cfg)}`", ""]
    lines.insert(3, f"{(time.perf_counter() - t0) / 60:.0f} min for this invocation (cached runs are reused).")
    lines.insert(4, "")
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        write_section("adversarial", text)


if __name__ == "__main__":
    main()
