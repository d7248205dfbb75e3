"""The pretrained zoo: full ``verify_zoo`` (timed), size, training time and the quality floor.

Re-evaluates every shipped model on its fixed held-out phantom test set, compares with the
manifest, and writes the "zoo" section of ``benchmarks/RESULTS.md``: one table of the primary
metrics against the issue-5 bars (:data:`mtdl_kit.zoo.REGRESSION_FLOORS` states the regression
bars and where they come from) and the verification time.

Run: ``.venv/bin/python benchmarks/bench_zoo.py`` (a few minutes on two cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, write_section  # noqa: E402

from mtdl_kit.zoo import (  # noqa: E402
    DEFAULT_TOLERANCE,
    REGRESSION_FLOORS,
    ZooEntry,
    default_root,
    miss_diagnoses,
    quality_report,
    read_manifest,
    verify_zoo,
    zoo_composite_readings,
)


def _cell(value: float | None, passed: bool | None) -> str:
    if value is None:
        return "—"
    text = f"{value:.3f}" if abs(value) < 10 else f"{value:.0f}"
    return text if passed else f"**{text}** ✗"


def _recipe_words(entry: ZooEntry) -> str:
    """A model's training recipe in words, from its recorded config."""
    cfg = entry.config
    if entry.trained_to_cap:
        return (
            f"the lab's validation evaluations without the early stop (`--recipe lab-to-cap`: all {cfg['steps']} "
            f"steps, every task's primary metric on {cfg['n_val']} validation phantoms every {cfg['eval_every']} "
            f"steps, the best evaluation's weights kept after {cfg['min_evaluations']} warm-up evaluations), batch "
            f"{cfg['batch_size']}, {cfg['n_train']} training phantoms, {cfg['size']} px"
        )
    if cfg.get("n_val"):
        return (
            f"the lab's validation stopping (every task's primary metric on {cfg['n_val']} validation phantoms every "
            f"{cfg['eval_every']} steps, {cfg['min_evaluations']} warm-up evaluations, patience {cfg['patience']}, the "
            f"best evaluation's weights kept; at most {cfg['steps']} steps), batch {cfg['batch_size']}, "
            f"{cfg['n_train']} training phantoms, {cfg['size']} px"
        )
    return f"{cfg['steps']} steps, batch {cfg['batch_size']}, {cfg['n_train']} training phantoms, {cfg['size']} px"


def _composite_lines() -> list[str]:
    """The table of :func:`mtdl_kit.zoo.zoo_composite_readings`: which terms of a composite target each model reads."""
    readings = zoo_composite_readings()
    if readings.empty:
        return []
    terms = list(dict.fromkeys(readings["term"]))
    lines = [
        "",
        "**Composite targets: which terms the networks read** (`mtdl_kit.zoo.zoo_composite_readings`, the same "
        "held-out cases). The prediction is regressed on the target's terms (least squares with an intercept); "
        "*read* = coefficient / the term's weight in the target (1: follows the term fully, 0: ignores it), "
        "with a 95 % bootstrap interval over the cases. *Without it* is the MAE of the exact target with that "
        "term alone held at its median: what not reading the term costs at best.",
        "",
        "| model | task | MAE | " + " | ".join(f"{t} read [95 % CI]" for t in terms) + " |",
        "|---|---|---:|" + "---:|" * len(terms),
    ]
    for (key, task), frame in readings.groupby(["key", "task"], sort=True):
        by_term = frame.set_index("term")
        cells = [
            f"{r['read']:.2f} [{r['ci_low'] / r['weight']:.2f}, {r['ci_high'] / r['weight']:.2f}]"
            for _, r in by_term.loc[terms].iterrows()
        ]
        lines.append(f"| {key} | {task} | {frame['mae'].iloc[0]:.3f} | " + " | ".join(cells) + " |")
    for task in readings["task"].unique():
        rows = readings[readings["task"] == task].drop_duplicates("term").set_index("term")
        lines.append(
            f"| *without it* | {task} | | "
            + " | ".join(f"{rows.loc[t, 'mae_without']:.2f} (weight {rows.loc[t, 'weight']:g})" for t in terms)
            + " |"
        )
    return lines


def _unstopped_values() -> dict[tuple[str, str, str], tuple[float, bool, int]]:
    """(key, task, metric) -> (value, meets the bar, best step) of the unstopped runs, if they were run."""
    if not UNSTOPPED_CSV.exists():
        return {}
    import pandas as pd

    frame = pd.read_csv(UNSTOPPED_CSV)
    return {
        (r.key, r.task, r.metric): (float(r.unstopped), bool(r.meets_bar_unstopped), int(r.unstopped_best_step))
        for r in frame.itertuples()
    }


def _one_unstopped(key: str) -> dict:
    import torch

    from mtdl_kit.zoo import unstopped_run

    torch.set_num_threads(1)
    return unstopped_run(key)


#: the unstopped runs' numbers, read by the zoo section's table of misses
UNSTOPPED_CSV = ROOT / "benchmarks" / "results" / "zoo_unstopped.csv"
#: validation steps shown for the curves of the unstopped runs
CURVE_STEPS = (600, 1000, 1400, 2000, 3000, 4000)


def unstopped_section(keys: list[str], jobs: int) -> None:
    """Retrain ``keys`` without the early stop and write the "zoo-unstopped" section."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from mtdl_kit.regions import get_region
    from mtdl_kit.zoo import quality_floors

    entries = read_manifest()
    unknown = [k for k in keys if k not in entries]
    if unknown:
        raise SystemExit(f"not in the zoo: {unknown}")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=mp.get_context("spawn")) as pool:
        runs = list(pool.map(_one_unstopped, keys))
    wall = time.perf_counter() - t0
    lines = [
        "## The zoo's stopping rule: the same models without the early stop (`benchmarks/bench_zoo.py --unstopped`)",
        "",
        f"Measured {machine()}; {len(keys)} models in {wall / 60:.0f} min ({jobs} processes, one thread each). Each "
        "model is retrained from its recorded config — the same training cases, seed, validation split and "
        "evaluations every 100 steps — with a patience longer than the step cap, so it runs to the cap and keeps "
        "its best validation evaluation's weights (`mtdl_kit.zoo.unstopped_run`); the test cases are the shipped "
        "model's. The shipped model stopped by the lab's rule (6 warm-up evaluations, then patience 8).",
        "",
        "| model | task | metric | bar | shipped (best step / stopped at) | without the stop (best step) | "
        + " | ".join(f"validation at {s}" for s in CURVE_STEPS)
        + " |",
        "|---|---|---|---:|---:|---:|" + "---:|" * len(CURVE_STEPS),
    ]
    n_bars = met_before = met_after = 0
    records = []
    for run in runs:
        entry = entries[run["key"]]
        region = get_region(entry.region)
        for task in entry.tasks:
            for floor in quality_floors(region.task(task)):
                shipped = entry.metrics[task][floor.metric]
                after = run["metrics"][task][floor.metric]
                ok_before = floor.met_by(shipped)
                ok_after = floor.met_by(after)
                n_bars += 1
                met_before += ok_before
                met_after += ok_after
                records.append(
                    {
                        "key": run["key"],
                        "task": task,
                        "metric": floor.metric,
                        "shipped": shipped,
                        "shipped_best_step": entry.training["best_step"],
                        "shipped_steps_run": entry.training["steps_run"],
                        "unstopped": after,
                        "unstopped_best_step": run["best_step"],
                        "unstopped_steps_run": run["steps_run"],
                        "meets_bar_unstopped": bool(ok_after),
                    }
                )
                curve = {step: value for step, name, value in run["curve"] if name == f"{task}/{floor.metric}"}
                lines.append(
                    f"| {run['key']} | {task} | {floor.metric} | {floor.bar} | {_cell(shipped, ok_before)} "
                    f"({entry.training['best_step']} / "
                    f"{entry.training['steps_run']}) | {_cell(after, ok_after)} ({run['best_step']}) | "
                    + " | ".join(f"{curve[s]:.3f}" if s in curve else "—" for s in CURVE_STEPS)
                    + " |"
                )
    lines += [
        "",
        f"Bars met: {met_before} of {n_bars} as shipped, {met_after} of {n_bars} without the early stop. Single runs "
        "(seed 0) of models chosen because they miss: a pointer to the rule, not an estimate. This run changes no "
        "shipped model; a region retrained to the cap afterwards (`zoo train --recipe lab-to-cap`) shows its new "
        'models in the "Pretrained zoo" section, and this table keeps what the run measured.',
    ]
    import pandas as pd

    pd.DataFrame(records).to_csv(UNSTOPPED_CSV, index=False)
    write_section("zoo-unstopped", "\n".join(lines))
    print("\n".join(lines))


def chance_section() -> None:
    """RESULTS "zoo-chance": every bar against the image-blind predictor fit on the model's own training subset
    (:func:`mtdl_kit.zoo.chance.chance_report`); ``benchmarks/results/zoo_chance.csv`` holds every row."""
    import pandas as pd

    from mtdl_kit.zoo.chance import chance_report

    t0 = time.perf_counter()
    frame = pd.DataFrame(chance_report())
    frame.to_csv(ROOT / "benchmarks" / "results" / "zoo_chance.csv", index=False)
    bars = frame.drop_duplicates(["region", "task", "metric"])
    lines = [
        "## The zoo's bars against chance (`benchmarks/bench_zoo.py --chance`)",
        "",
        f"Measured {machine()}; {(time.perf_counter() - t0) / 60:.0f} min (phantoms only, no weights). For every bar, "
        "the metric of a predictor that never sees the image (`mtdl_kit.evaluation.chance.TrainingPrior`: each "
        "pixel's most frequent training class, the class frequencies, the training median, each landmark's mean "
        "training position, the mean image), fit on the model's own training subset and scored on its held-out "
        "test set. A bar that chance meets passes networks that learnt nothing from the image. Every row is in "
        "`benchmarks/results/zoo_chance.csv`.",
        "",
        "| region | task | metric | bar | chance | chance meets the bar | models meeting the bar | of them not beating "
        "chance |",
        "|---|---|---|---|---:|---|---:|---:|",
    ]
    for _, b in bars.iterrows():
        rows = frame[(frame["region"] == b["region"]) & (frame["task"] == b["task"]) & (frame["metric"] == b["metric"])]
        passed = rows[rows["passed"] == True]  # noqa: E712 (None stays out)
        bar = f"{'≥' if b['higher_is_better'] else '≤'} {b['threshold']:g}"
        chance = "—" if pd.isna(b["chance"]) else f"{b['chance']:.3g}"
        meets = "—" if pd.isna(b["bar_above_chance"]) else ("no" if b["bar_above_chance"] else "**yes**")
        blind = int((passed["beats_chance"] == False).sum())  # noqa: E712
        lines.append(
            f"| {b['region']} | {b['task']} | {b['metric']} | {bar} | {chance} | {meets} | {len(passed)} of "
            f"{len(rows)} | {blind} |"
        )
    low = bars[bars["bar_above_chance"] == False]  # noqa: E712
    lines += [
        "",
        "Reading (computed): "
        + (
            f"{len(low)} of {len(bars)} bars are met by chance: "
            + "; ".join(
                f"{r['region']} {r['task']} {r['metric']} (chance {r['chance']:.3g})" for _, r in low.iterrows()
            )
            + "."
            if len(low)
            else f"every one of the {bars['chance'].notna().sum()} bars with a defined chance level asks for more than "
            "chance."
        ),
    ]
    text = "\n".join(lines)
    print(text)
    write_section("zoo-chance", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-verify", action="store_true", help="skip the re-evaluation (table only)")
    parser.add_argument(
        "--unstopped",
        default=None,
        metavar="KEYS",
        help="comma-separated zoo models to retrain from their recorded config without the early stop (the "
        "whole step cap, the best validation evaluation kept); writes only the 'zoo-unstopped' section",
    )
    parser.add_argument("--jobs", type=int, default=2, help="with --unstopped: processes (one thread each)")
    parser.add_argument(
        "--chance", action="store_true", help="only the bars against chance: writes the 'zoo-chance' section"
    )
    args = parser.parse_args()
    if args.chance:
        chance_section()
        return
    if args.unstopped:
        unstopped_section([k for k in args.unstopped.split(",") if k], args.jobs)
        return
    import torch

    torch.set_num_threads(1)
    entries = read_manifest()
    if not entries:
        raise SystemExit(f"No zoo in {default_root()}; train it with `mtdl-kit zoo train`.")
    verify_line = "verification skipped (--no-verify)"
    if not args.no_verify:
        t0 = time.perf_counter()
        problems = verify_zoo(progress=True)
        seconds = time.perf_counter() - t0
        verify_line = (
            f"`mtdl-kit zoo verify` re-evaluated all {len(entries)} models in {seconds:.0f} s (one thread): "
            + (
                f"**all metrics reproduced** within the tolerance {DEFAULT_TOLERANCE:g}."
                if not problems
                else f"**{len(problems)} problem(s)**: " + "; ".join(problems)
            )
        )
        for p in problems:
            print(p)
    rows = quality_report()
    by_model: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_model[r["key"]].append(r)
    total_mb = sum(e.size_bytes for e in entries.values()) / 1e6
    train_min = sum(e.train_seconds for e in entries.values()) / 60
    devices = sorted({e.device for e in entries.values()})
    n_pass = sum(1 for r in rows if r["passed"])
    cfg = next(iter(entries.values())).config
    by_recipe: dict[str, set[str]] = defaultdict(set)
    for e in entries.values():
        by_recipe[_recipe_words(e)].add(e.region)
    for words, regions in by_recipe.items():
        for other, also in by_recipe.items():
            if other != words and regions & also:
                raise SystemExit(f"Regions {sorted(regions & also)} mix recipes; retrain them with one.")
    if len(by_recipe) == 1:
        recipe_text = next(iter(by_recipe))
    else:
        recipe_text = "; ".join(
            f"{', '.join(sorted(regions))}: {words}"
            for words, regions in sorted(by_recipe.items(), key=lambda kv: sorted(kv[1]))
        )
    lines = [
        "## Pretrained zoo (issue 5)",
        "",
        f"Measured {machine()}. {len(entries)} models, {total_mb:.1f} MB of fp16 weights (limit 25 MB), "
        f"trained in {train_min:.0f} min in total on {', '.join(devices)} (one thread per process, while other "
        "jobs shared the two cores). Recipe per model: "
        f"{recipe_text}; seed 0, EW (UW for the musculoskeletal multi-task models: "
        "`mtdl_kit.zoo.ZOO_REGION_WEIGHTING`); cascaded models use the two-stage hand-over "
        "(see `mtdl_kit.zoo.ZOO_MODEL_OPTIONS`). Metrics on the fixed held-out phantom test set "
        f"({cfg['n_test']} cases, relatedness 1), measured on the stored fp16 weights.",
        "",
        verify_line,
        "",
        f"Quality floor: {n_pass} of {len(rows)} bars met; a bold value with ✗ misses its bar. Bars: Dice ≥ 0.85, "
        "ROC-AUC ≥ 0.90 (issue 5); regression bars per task below.",
        "",
        "| model | metrics (value, ✗ = below the bar) |",
        "|---|---|",
    ]
    for key, rs in sorted(by_model.items()):
        cells = ", ".join(f"{r['task']} {r['metric']} {_cell(r['value'], r['passed'])}" for r in rs)
        lines.append(f"| {key} | {cells} |")
    misses = miss_diagnoses()
    if misses:
        readings = defaultdict(int)
        for m in misses:
            readings[m["reading"]] += 1
        lines += [
            "",
            "**Every miss, read against the rest of the zoo** (`mtdl_kit.zoo.miss_diagnoses`): "
            + ", ".join(f"{n} {reading}" for reading, n in sorted(readings.items(), key=lambda kv: -kv[1]))
            + ". One training seed per model, so a reading is a pointer, not a test: *family cost* — the "
            "task's single-task network meets the bar, or another family of the region does; *task limit* — "
            "nothing of the region meets it (*and family cost* when the family is further off than the single-task "
            "network); *other tasks help* — a single-task network misses where a multi-task model "
            "of its region meets the bar; *budget* — the run reached its step cap still improving.",
            "",
            "| model | task | metric | value | bar | reading | compared with | diagnosis | without the early stop |",
            "|---|---|---|---:|---:|---|---|---|---|",
        ]
        unstopped = _unstopped_values()
        for m in misses:
            bar = f"{'≥' if m['higher_is_better'] else '≤'} {m['threshold']:g}"
            found = unstopped.get((m["key"], m["task"], m["metric"]))
            after = "not run" if found is None else f"{_cell(found[0], found[1])} (best step {found[2]})"
            lines.append(
                f"| {m['key']} | {m['task']} | {m['metric']} | {_cell(m['value'], True)} | {bar} | {m['reading']} | "
                f"{m['compare']} | {m['diagnosis']} | {after} |"
            )
        if unstopped:
            lines += [
                "",
                "*Without the early stop*: the same model retrained from its recorded config to the step cap, its "
                'best validation evaluation kept (section "zoo-unstopped", `bench_zoo.py --unstopped`); run for '
                "the single-task networks that miss, since a network whose validation metric sits at chance until "
                "the rule's patience runs out is stopped before it learns.",
            ]
    lines += _composite_lines()
    stopped = [e.training for e in entries.values() if e.training is not None]
    if stopped:
        steps = sorted(t["steps_run"] for t in stopped)
        to_cap = sum(1 for e in entries.values() if e.trained_to_cap)
        at_cap = sum(
            1
            for e in entries.values()
            if e.training is not None and not e.trained_to_cap and not e.training["stopped_early"]
        )
        lines += [
            "",
            f"Validation evaluations: {len(stopped)} models, steps run median {steps[len(steps) // 2]} "
            f"(range {steps[0]}–{steps[-1]}); {to_cap} trained to the cap by their recipe (no early stop), and of "
            f"the {len(stopped) - to_cap} under the early stop {at_cap} ran to the cap still improving.",
        ]
    lines += ["", "| task | metric | bar | why |", "|---|---|---|---|"]
    for task, floors in REGRESSION_FLOORS.items():
        for f in floors:
            lines.append(f"| {task} | {f.metric} | {'≥' if f.higher_is_better else '≤'} {f.threshold:g} | {f.why} |")
    write_section("zoo", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
