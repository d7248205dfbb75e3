"""The transfer lab, experiment G (the families under the lab's protocol, two capacity rules) -> RESULTS "families-lab".

For each region it runs :func:`mtdl_kit.lab.run_families`: per seed the single-task networks of every
task under each capacity rule, the parallel and hybrid networks, and the cascaded and interacted
networks at equal total parameters and at equal per-task width, every one trained until its
validation metrics stop improving (the lab's rule, cap 2,000 steps) and scored on one test split. The
design (all the region's tasks, EW, seeds 0–7 and 100–107) is :class:`mtdl_kit.lab.FamiliesConfig`'s
default, fixed before any run. Runs are cached and resumable (``--cache``; processes may share a
cache, each with its own ``--seeds`` and ``--no-write``, then one summarising invocation). It writes
``benchmarks/results/transfer_g_<region>_<run>_{runs,summary,curves,chance}.csv`` (the summary is a verdict
source, :mod:`mtdl_kit.verdicts`; ``chance`` is each seed's image-blind predictor on the test split,
:mod:`mtdl_kit.lab.chance`) and the sections "families-lab" and "families-lab-<region>" of
RESULTS.md, whose readings are computed from the intervals. A seed list whose runs are not all cached
is reported as such with ``--only-cached``, never summarised from a subset.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_families.py --regions eye`` (``--quick`` for a
smoke run that writes nothing; ``--seeds``, ``--replicate``, ``--cache``, ``--only-cached``, ``--no-write``,
``--reuse-committed`` to summarise a seed set from its committed CSVs when its runs are no longer cached;
``--fill-jobs N --no-write --arms single@params,single@width`` trains those arms' networks only, e.g. to see that
the single-task networks learn before a region's families train).
Diagnostics: ``--unstopped TASK --arms ...`` (early-stopped runs trained again to the cap), ``--substituted`` (the
families' gains against those to-cap runs, from the committed CSVs, nothing trained), ``--replay-guard`` (the
committed curves replayed with the chance guard, nothing trained), ``--retrain-with size=128 --arms ... --tasks ...``
(headline networks trained again with a changed configuration: image size, training cases, step cap).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import add_seed_arguments, chance_lines, machine, seed_sets, write_section

from mtdl_kit.cli import add_lab_device_argument
from mtdl_kit.lab.families import (
    ACROSS,
    DELTA_M,
    RULE_WORDS,
    cached_count,
    change_label,
    change_words,
    config_of_runs,
    default_families_config,
    drain_requested,
    families_reading,
    fill_cache,
    networks_in_training,
    pending_networks,
    run_families,
    summary_reading,
    train_families,
    unstopped_run,
)

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CACHE = Path("/tmp/mtdl-kit-families-cache")
#: seeds fixed before any run
HEADLINE: tuple[int, ...] = tuple(range(8))
REPLICATION: tuple[int, ...] = tuple(range(100, 108))


def _cell(row) -> str:
    digits, unit = (1, " %") if row["metric"] == DELTA_M else (3, "")
    mark = {"better": " ▲", "worse": " ▼"}.get(row["verdict"], "")
    return f"{row['value']:+.{digits}f}{unit} [{row['ci_low']:+.{digits}f}, {row['ci_high']:+.{digits}f}]{mark}"


def families_table(cfg, frame) -> list[str]:
    """Per rule: one row per family — each task's mean metric and its difference from the rule's
    single-task network with the 95 % CI (▲ better, ▼ worse), Δm, parameters and median steps."""
    tasks = list(cfg.task_names())
    means = frame[frame["contrast"] == "mean"].set_index(["arm", "task"])
    metric = {t: means.xs(t, level="task").iloc[0]["metric"] for t in tasks}
    lines = []
    for rule in cfg.rules:
        single = f"single@{rule}"
        lines += [f"**{RULE_WORDS[rule]}** (`{rule}`); the single-task networks:"]
        lines += [
            ", ".join(
                f"{t} {metric[t]} {means.loc[(single, t), 'value']:.3f} ({int(means.loc[(single, t), 'parameters']):,} "
                f"parameters, median {means.loc[(single, t), 'median_steps_run']:.0f} steps)"
                for t in tasks
            ),
            "",
        ]
        head = "".join(f"| {t} {metric[t]} | Δ {t} " for t in tasks)
        lines += [
            f"| family {head}| Δm | parameters | median steps | at cap |",
            "|---|" + "---:|---:|" * len(tasks) + "---|---:|---:|---:|",
        ]
        contrasts = frame[(frame["rule"] == rule) & (frame["contrast"] != "mean")]
        for arm in dict.fromkeys(contrasts["arm"]):
            rows = contrasts[contrasts["arm"] == arm].set_index("task")
            cells = "".join(f"| {means.loc[(arm, t), 'value']:.3f} | {_cell(rows.loc[t])} " for t in tasks)
            first = means.loc[(arm, tasks[0])]
            lines.append(
                f"| {arm} {cells}| {_cell(rows.loc[DELTA_M])} | {int(first['parameters']):,} | "
                f"{first['median_steps_run']:.0f} | {int(first['runs_at_cap'])} of {int(first['n_seeds'])} |"
            )
        lines.append("")
    across = frame[frame["rule"] == ACROSS]
    if len(across):
        lines += ["What the capacity rule changes within an arm (width − params, per task):", ""]
        lines += ["| contrast | task | value | 95 % CI | verdict |", "|---|---|---:|---|---|"]
        for _, r in across.iterrows():
            ci = "" if math.isnan(r["ci_low"]) else f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
            lines.append(f"| {r['contrast']} | {r['task']} | {r['value']:+.3f} | {ci} | {r['verdict']} |")
        lines.append("")
    return lines


def _committed_lines(cfg, stem: Path, *, write: bool) -> list[str]:
    """A seed set's table and reading rebuilt from the CSVs an earlier invocation wrote (``stem``), after
    checking that they hold exactly ``cfg``'s seeds; nothing is trained and the CSVs are not rewritten.

    Raises:
        SystemExit: the CSVs are missing or hold other seeds (train them, or drop ``--reuse-committed``).
    """
    import pandas as pd

    runs_csv, summary_csv = Path(f"{stem}_runs.csv"), Path(f"{stem}_summary.csv")
    if not (runs_csv.exists() and summary_csv.exists()):
        raise SystemExit(
            f"--reuse-committed: {runs_csv.name} or {summary_csv.name} is missing; train the seeds instead."
        )
    runs = pd.read_csv(runs_csv)
    seeds = tuple(sorted(int(s) for s in runs["seed"].unique()))
    if seeds != tuple(sorted(cfg.seeds)):
        raise SystemExit(f"--reuse-committed: {runs_csv.name} holds seeds {list(seeds)}, not {list(cfg.seeds)}.")
    trained = config_of_runs(cfg.region, runs)
    summary = pd.read_csv(summary_csv)
    return [
        f"Summarised from `{summary_csv.name}`, written by an earlier invocation (not retrained in this one).",
        "",
        *_guard_note(cfg, trained, stem),
        *families_table(cfg, summary),
        "Reading (computed from the intervals):",
        "",
        *[f"- {s}" for s in summary_reading(summary)],
        "",
        *chance_lines(trained, cfg.region, cfg.task_names(), cfg.seeds, runs, stem, write=write),
        f"Config: `{asdict(trained)}`",
        "",
    ]


def _guard_note(cfg, trained, stem: Path) -> list[str]:
    """A sentence for a seed set trained before the chance guard: what its replay (``<stem>_guard.csv``) says."""
    import pandas as pd

    if trained.chance_guard or not cfg.chance_guard:
        return []
    guard_csv = Path(f"{stem}_guard.csv")
    if not guard_csv.exists():
        return [
            "Trained before the protocol's chance guard (`chance_guard` off); not yet replayed through it "
            "(`--replay-guard`).",
            "",
        ]
    replay = pd.read_csv(guard_csv)
    return [
        f"Trained before the protocol's chance guard (`chance_guard` off). Its replay on these runs' validation "
        f'curves ("families-lab-guard", `{guard_csv.name}`) changes {int(replay["changed"].sum())} of '
        f"{len(replay)} networks.",
        "",
    ]


def guard_section(regions: list[str]) -> None:
    """RESULTS "families-lab-guard": which committed runs a chance guard would change (nothing is trained).

    For each region and every committed seed set with curves (``transfer_g_<region>_<run>_curves.csv``),
    :func:`mtdl_kit.lab.chance.replay_chance_guard` feeds every network's validation curve through the rule it ran
    under and through two guards (patience waits while a task is at its validation chance level; or within that
    level's margin: an AUC by its noise on the validation split); writes ``transfer_g_<region>_<run>_guard.csv``.
    """
    import pandas as pd

    from mtdl_kit.lab.chance import chance_frame, replay_chance_guard

    t0 = time.perf_counter()
    lines = [
        "### The chance guard replayed on the committed curves (`bench_families.py --replay-guard`)",
        "",
        "",
        "Each network's validation curve (4 decimals) fed through the rule it ran under and through the same rule "
        "with `ValidationStopping(chance=...)`: patience counts only once every task has beaten its chance level "
        "on the validation split (each seed's image-blind predictor, `mtdl_kit.lab.chance`). A network is "
        "*changed* where the two replays stop at different steps: the guard would have kept it training, and "
        "its result is not known without training it. The guard only delays stops, so a run at the cap is never "
        "changed. A seed set trained with the guard (`guard` yes) replays itself under it, so only the stricter "
        "guard can change it: *changed, AUC by its margin* asks each AUC to beat its level by its noise on the 64 "
        "validation cases (1.645 null SDs, `lab.chance.chance_margins`: 0.09–0.14 there) instead of by any "
        "amount, as the protocol's guard does.",
        "",
        "| region | seeds | guard | networks | replay = recorded stop | changed | changed, by arm | tasks still at "
        "chance where the curve ends | changed, AUC by its margin | by arm |",
        "|---|---|---|---:|---:|---:|---|---|---:|---|",
    ]

    def by_arm(changed) -> str:
        return "; ".join(f"{a} {n}" for a, n in changed.groupby("arm", sort=False).size().items()) or "—"

    for region in regions:
        for curves_csv in sorted(RESULTS.glob(f"transfer_g_{region}_*_curves.csv")):
            name = curves_csv.name[len(f"transfer_g_{region}_") : -len("_curves.csv")]
            stem = RESULTS / f"transfer_g_{region}_{name}"
            runs, curves = pd.read_csv(f"{stem}_runs.csv"), pd.read_csv(curves_csv)
            cfg = config_of_runs(region, runs)  # the configuration they were trained under
            val = chance_frame(cfg, region, cfg.task_names(), cfg.seeds, split="val")
            replay = replay_chance_guard(cfg, curves, runs, val)
            replay.to_csv(f"{stem}_guard.csv", index=False)
            changed, strict = replay[replay["changed"]], replay[replay["changed_margin"]]
            tasks = sorted({t for row in changed["at_chance"] for t in row.split(", ") if t}) or ["—"]
            lines.append(
                f"| {region} | {name} | {'yes' if cfg.chance_guard else 'no'} | {len(replay)} | "
                f"{int(replay['replay_matches'].sum())} | {len(changed)} | {by_arm(changed)} | {', '.join(tasks)} | "
                f"{len(strict)} | {by_arm(strict)} |"
            )
    lines[2] = f"Measured {machine()}; {(time.perf_counter() - t0) / 60:.0f} min (phantoms and CSVs only)."
    text = "\n".join(lines)
    print(text)
    write_section("families-lab-guard", text)


def _one_variant(job: tuple) -> list[dict]:
    """Worker: one headline network trained again under a changed configuration (one thread); one row per
    ``(arm, task)`` of the job that it serves (two arms share a network: a segmentation baseline under both
    capacity rules)."""
    import torch

    from mtdl_kit.lab.families import cached_run
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    torch.set_num_threads(1)
    cfg, network, seed, served, cache = job
    run = cached_run(cfg, network, seed, cache)
    rows = []
    for arm, task in served:
        metric = primary_metric(get_region(cfg.region).task(task))
        rows.append(
            {
                "arm": arm,
                "seed": seed,
                "task": task,
                "metric": metric,
                "variant": run.metrics[task][metric],
                "best_step": run.best_step,
                "steps_run": run.steps_run,
                "seconds": round(run.seconds, 1),
            }
        )
    return rows


def variant_jobs(cfg, arms: list[str], tasks: list[str], seeds: tuple[int, ...], cache: Path) -> list[tuple]:
    """One job per distinct network and seed, ``(cfg, network, seed, ((arm, task), ...), cache)``: a multi-task
    network serves all ``tasks`` of its arm, a single-task network its task under every arm that builds it (a
    segmentation baseline has the same width under both capacity rules). A job per arm and task would let two
    processes train the same network at once. Jobs are in the order their first ``(arm, task)`` is asked for."""
    from mtdl_kit.lab.families import cache_stem, networks_of

    networks: dict[Path, tuple] = {}  # cache stem -> (network, seed); dicts keep the order of first request
    served: dict[Path, list[tuple[str, str]]] = {}
    for arm in arms:
        built = networks_of(cfg, arm)
        for task, seed in itertools.product(tasks if arm.startswith("single") else ["all"], seeds):
            stem = cache_stem(cfg, built[task], seed, cache)
            networks.setdefault(stem, (built[task], seed))
            served.setdefault(stem, []).extend((arm, t) for t in (tasks if task == "all" else [task]))
    return [(cfg, network, seed, tuple(served[stem]), cache) for stem, (network, seed) in networks.items()]


def _cached_runs_frame(cfg, arms: list[str], tasks: list[str], seeds: tuple[int, ...], cache: Path):
    """The runs rows of ``arms`` × ``tasks`` × ``seeds`` from ``cache`` (``--of-run cache``); a network that is not
    there is named, never trained."""
    import pandas as pd

    from mtdl_kit.lab.families import cache_stem, cached_run, networks_of

    rows = []
    for arm in arms:
        for task in tasks:
            network = networks_of(cfg, arm)[task if arm.startswith("single") else "all"]
            for seed in seeds:
                if not cache_stem(cfg, network, seed, cache).with_suffix(".json").exists():
                    raise SystemExit(f"--of-run cache: {arm} ({task}, seed {seed}) is not in {cache}; train it first.")
                run = cached_run(cfg, network, seed, cache)
                rows += [
                    {"arm": arm, "seed": seed, "task": task, "metric": metric, "value": value}
                    for metric, value in run.metrics[task].items()
                ]
    return pd.DataFrame(rows)


def comma_list(text: str) -> list[str]:
    """``"eye, chest,"`` -> ``["eye", "chest"]`` (the command line's lists of regions, arms and tasks)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def processes(n: int) -> str:
    """``1 -> "1 process"``, ``2 -> "2 processes"``."""
    return f"{n} process" + ("" if n == 1 else "es")


def training_minutes(table) -> float:
    """Minutes of training behind a ``--retrain-with`` table, each network once: a multi-task network has a row per
    task, all carrying its one training time; a single-task network has the row of its own task."""
    single = table["arm"].str.startswith("single")
    once = table[single].drop_duplicates(["arm", "seed", "task"])["seconds"].sum()
    once += table[~single].drop_duplicates(["arm", "seed"])["seconds"].sum()
    return float(once) / 60


def retrain_changes(text: str) -> dict[str, int | str]:
    """``"n_train=1024,weighting=uw"`` -> ``{"n_train": 1024, "weighting": "uw"}`` (whole numbers become integers).

    Raises:
        ValueError: a part that is not KEY=VALUE, or no part at all.
    """
    changes: dict[str, int | str] = {}
    for part in (p.strip() for p in text.split(",")):
        key, sep, value = part.partition("=")
        if not part or not sep or not key.strip() or not value.strip():
            raise ValueError(f"wants KEY=VALUE pairs, e.g. n_train=1024 or weighting=uw; got {text!r}.")
        value = value.strip()
        changes[key.strip()] = int(value) if value.lstrip("-").isdigit() else value
    return changes


def variant_section_name(region: str, label: str, run: str) -> str:
    """RESULTS section of a diagnostic of one seed set (``--retrain-with``, label ``n_train1024`` …; ``--unstopped``,
    label ``unstopped``): ``families-lab-<label>-<region>`` for the headline seed set, ``...-<run>`` for another
    (the knee's ``headline256``), so two seed sets' diagnostics never overwrite each other."""
    return f"families-lab-{label}-{region}" + ("" if run == "headline" else f"-{run}")


def variant_section(
    region: str,
    changes: dict,
    arms: list[str],
    tasks: list[str],
    seeds: tuple[int, ...],
    cache: Path,
    jobs: int,
    *,
    write: bool,
    of_run: str = "headline",
    quick: bool = False,
):
    """Diagnostic: headline networks of ``arms`` × ``tasks`` × ``seeds`` trained again with ``changes`` to the
    configuration (e.g. ``{"size": 128}``, ``{"n_train": 1024}``), beside their committed results (the seed set
    ``of_run``, trained as its runs CSV records; ``"cache"``: the region's default configuration's runs in
    ``cache``, the quick one with ``quick``) and both configurations' chance levels and margins; writes
    ``transfer_g_<region>_<of_run>_<label>.csv`` and RESULTS "families-lab-<label>-<region>" (``label``:
    ``size128``, ``n_train1024``, ...). Returns the table."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    import pandas as pd

    from mtdl_kit.lab.chance import with_chance_columns

    t0 = time.perf_counter()
    label = change_label(changes)
    what = change_words(label)
    # The configurations keep their seed set's seeds (a protocol needs two); ``seeds`` picks the networks trained
    # again, so one seed alone can be trained in a second process.
    if of_run == "cache":  # a seed set not committed yet: the region's default configuration, read from the cache
        base = default_families_config(region, quick=quick)
        runs = _cached_runs_frame(base, arms, tasks, tuple(seeds), cache)
    else:
        runs = pd.read_csv(RESULTS / f"transfer_g_{region}_{of_run}_runs.csv")
        base = config_of_runs(region, runs)  # as the committed seed set was trained
        if not set(seeds) <= set(base.seeds):
            raise SystemExit(
                f"--seeds {sorted(set(seeds) - set(base.seeds))} are not in the seed set {of_run!r} "
                f"(seeds {list(base.seeds)}); pick from those."
            )
    changed = replace(base, **changes)
    changed.validate()
    work = variant_jobs(changed, arms, tasks, tuple(seeds), cache)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        rows = {(r["arm"], r["task"], r["seed"]): r for part in pool.map(_one_variant, work) for r in part}
    table = pd.DataFrame([rows[(arm, task, seed)] for arm in arms for task in tasks for seed in seeds])
    committed = runs.set_index(["arm", "seed", "task", "metric"])["value"]
    table["headline"] = [committed[(r.arm, r.seed, r.task, r.metric)] for r in table.itertuples()]
    for name, cfg in (("headline", base), ("variant", changed)):
        table = with_chance_columns(table, cfg, region, name)
    stem_run = "headline" if of_run == "cache" else of_run  # the cache holds the headline seeds' runs
    if write:
        table.to_csv(RESULTS / f"transfer_g_{region}_{stem_run}_{label}.csv", index=False)
    lines = [
        f"### {region}{'' if stem_run == 'headline' else f' (seed set {stem_run})'}: headline networks trained again "
        f"with {what} (`bench_families.py --retrain-with {label}`)",
        "",
        f"Measured {machine()}; {len(table)} runs in {(time.perf_counter() - t0) / 60:.0f} min ({processes(jobs)}, "
        f"one thread each; {training_minutes(table):.0f} min of training summed; cached runs are read). The same "
        f"network, seed, stopping rule and protocol as the headline run, but {what}; scored on the test split of "
        "that configuration. Chance: each seed's image-blind predictor under each configuration "
        "(`mtdl_kit.lab.chance`).",
        "",
        f"| arm | task | metric | seed | headline | chance | with {what} (best / run) | chance with {what} |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.arm} | {r.task} | {r.metric} | {r.seed} | {r.headline:.3f} | {r.chance_headline:.3f} | "
            f"{r.variant:.3f} ({r.best_step} / {r.steps_run}) | {r.chance_variant:.3f} |"
        )
    text = "\n".join(lines)
    print(text)
    if write:
        write_section(variant_section_name(region, label, stem_run), text)
    return table


def _one_unstopped(job: tuple) -> dict:
    """Worker: one early-stopped run trained again to the cap (a fresh process, one thread)."""
    import torch

    torch.set_num_threads(1)
    cfg, arm, seed, task, metric, cache = job
    run = unstopped_run(cfg, arm, seed, task, cache=cache)
    return {
        "unstopped": run.metrics[task][metric],
        "unstopped_best_step": run.best_step,
        "unstopped_steps_run": run.steps_run,
        "unstopped_seconds": round(run.seconds, 1),
    }


def unstopped_section(
    region: str, task: str, arms: list[str], cache: Path, jobs: int, *, of_run: str = "headline"
) -> None:
    """Retrain the runs of ``task`` in the committed seed set ``of_run`` that stopped before the cap, to the cap;
    write ``transfer_g_<region>_<of_run>_unstopped.csv`` and the section."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    import pandas as pd

    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region
    from mtdl_kit.services.lessons import families_lab_unstopped_reading

    runs = pd.read_csv(RESULTS / f"transfer_g_{region}_{of_run}_runs.csv")
    cfg = config_of_runs(region, runs)  # as the committed seed set was trained
    metric = primary_metric(get_region(region).task(task))
    stopped = runs[(runs["task"] == task) & (runs["metric"] == metric) & ~runs["at_cap"].astype(bool)]
    if arms:
        unknown = sorted(set(arms) - set(cfg.arms()))
        if unknown:
            raise SystemExit(f"--arms {unknown} are not arms of {region}: {list(cfg.arms())}.")
        stopped = stopped[stopped["arm"].isin(arms)]
    stopped = stopped.reset_index(drop=True)
    work = [(cfg, r.arm, int(r.seed), task, metric, str(cache)) for r in stopped.itertuples()]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=mp.get_context("spawn")) as pool:
        done = list(pool.map(_one_unstopped, work))
    wall = time.perf_counter() - t0
    table = pd.concat([stopped[["arm", "seed", "value", "best_step", "steps_run"]], pd.DataFrame(done)], axis=1)
    table = table.rename(
        columns={"value": "stopped", "best_step": "stopped_best_step", "steps_run": "stopped_steps_run"}
    )
    table.insert(2, "task", task)
    table.insert(3, "metric", metric)
    table.to_csv(RESULTS / f"transfer_g_{region}_{of_run}_unstopped.csv", index=False)
    lines = [
        f"### {region}{'' if of_run == 'headline' else f' (seed set {of_run})'}: the runs of {task} that the "
        "stopping rule ended early, trained to the cap "
        "(`bench_families.py --unstopped`)",
        "",
        f"Measured {machine()}; {len(work)} runs in {wall / 60:.0f} min ({processes(jobs)}, one thread each; "
        f"runs already in the cache are read, not retrained; their training took "
        f"{table['unstopped_seconds'].sum() / 60:.0f} min summed over runs). Each "
        "is the same network, seed, training subset and validation evaluations as the headline run "
        "(`mtdl_kit.lab.unstopped_run`), with a patience longer than the run (`mtdl_kit.lab.to_cap`): it trains "
        f"to the {cfg.max_steps}-step cap and keeps its best validation evaluation; scored on the same test split.",
        "",
        f"| arm | seed | {metric} as stopped (best / stopped at) | {metric} to the cap (best step) |",
        "|---|---:|---:|---:|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.arm} | {r.seed} | {r.stopped:.3f} ({r.stopped_best_step} / {r.stopped_steps_run}) | "
            f"{r.unstopped:.3f} ({r.unstopped_best_step}) |"
        )
    lines += ["", "Per arm (computed from the table; the bar is the zoo's, fixed before these runs):", ""]
    lines += [families_lab_unstopped_reading(region, of_run)]
    text = "\n".join(lines)
    print(text)
    write_section(variant_section_name(region, "unstopped", of_run), text)


def substituted_section(region: str, of_run: str = "headline") -> None:
    """Train nothing: the families' gains of a committed seed set against its single-task networks as stopped and
    trained to the cap (``--unstopped`` first); writes ``transfer_g_<region>_<of_run>_substituted.csv`` and the
    section."""
    from mtdl_kit.services.lessons import families_lab_substituted, families_lab_substituted_reading

    t0 = time.perf_counter()
    table = families_lab_substituted(region, of_run)
    table.to_csv(RESULTS / f"transfer_g_{region}_{of_run}_substituted.csv", index=False)
    task, metric = table["task"].iloc[0], table["metric"].iloc[0]
    lines = [
        f"### {region}{'' if of_run == 'headline' else f' (seed set {of_run})'}: the families' {task} gains against "
        "single-task networks trained to the cap (`bench_families.py --substituted`)",
        "",
        f"Computed {machine()} in {time.perf_counter() - t0:.1f} s from the committed runs, unstopped and summary "
        "CSVs; nothing trained. Each family's per-seed difference from its rule's single-task network, with that "
        "network as the rule stopped it and with it replaced by its run to the cap where the rule had stopped it "
        "early (`mtdl_kit.lab.substituted_baseline`). The runs CSVs hold each network's metric, not its per-case "
        "records, so the interval is over seeds alone (`mtdl_kit.evaluation.seed_bootstrap_mean`, 4,000 "
        "resamples, the same resamples for both baselines); the hierarchical interval of the summary, which also "
        "resamples test cases, stands beside it for the stopped baseline.",
        "",
        f"| rule | arm | baseline | {metric} difference | seed-level 95 % CI | hierarchical 95 % CI | better in |",
        "|---|---|---|---:|---|---|---:|",
    ]
    for r in table.itertuples():
        hier = "" if math.isnan(r.hier_low) else f"[{r.hier_low:+.3f}, {r.hier_high:+.3f}]"
        base = r.baseline + (f" ({r.substituted} of {r.n_seeds} swapped)" if r.substituted else "")
        lines.append(
            f"| {r.rule} | {r.arm} | {base} | {r.value:+.3f} | [{r.ci_low:+.3f}, {r.ci_high:+.3f}] | {hier} | "
            f"{r.positive} of {r.n_seeds} |"
        )
    lines += ["", "Reading (computed from the table; the rule is `families_lab_substituted_reading`'s):", ""]
    lines += [families_lab_substituted_reading(table)]
    text = "\n".join(lines)
    print(text)
    write_section(variant_section_name(region, "substituted", of_run), text)


def incomplete_line(cfg, cache: Path, have: int, need: int) -> str:
    """How far a seed set's fill has come: networks cached, those started (their snapshots' steps), the rest."""
    started = networks_in_training(cfg, cache)
    where = ", ".join(
        f"{arm} seed {seed} ({', '.join(network.tasks)}) at step {step}" for seed, arm, network, step in started
    )
    text = f"Incomplete: {have} of {need} networks trained and cached"
    if started:
        text += f"; {len(started)} in training, continued from their snapshots by the next fill: {where}"
    return f"{text}; {need - have - len(started)} not started."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--regions", default="eye,chest", help="comma list (default: eye,chest)")
    add_seed_arguments(ap, DEFAULT_CACHE)
    ap.add_argument("--no-write", action="store_true", help="fill the cache only: no CSV, no RESULTS section")
    ap.add_argument(
        "--fill-jobs",
        type=int,
        default=0,
        metavar="N",
        help="train the missing networks in N processes first (`mtdl_kit.lab.families.fill_cache`: one network per "
        "process at a time, --threads each), then summarise as usual; 0 (default): one process, seed by seed",
    )
    ap.add_argument("--threads", type=int, default=1, help="with --fill-jobs: CPU threads per process (default: 1)")
    add_lab_device_argument(ap)
    ap.add_argument(
        "--unstopped",
        metavar="TASK",
        help="diagnostic: retrain every headline run of TASK that the stopping rule ended early to the cap "
        "(arms from --arms), one region; writes RESULTS 'families-lab-unstopped-<region>'",
    )
    ap.add_argument(
        "--arms",
        default="",
        help="with --unstopped / --retrain-with, or --fill-jobs with --no-write (e.g. the single-task networks "
        "first, to check that they learn): comma list of arms (default: all)",
    )
    ap.add_argument(
        "--jobs", type=int, default=2, help="with --unstopped / --retrain-with: processes (one thread each)"
    )
    ap.add_argument(
        "--reuse-committed",
        action="store_true",
        help="a seed set missing from the cache is summarised from its committed CSVs (same seeds) instead of trained",
    )
    ap.add_argument(
        "--retrain-with",
        default=None,
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="diagnostic: headline networks (--arms, --tasks, --seeds) trained again with these configuration "
        "changes (integers: size, n_train, max_steps, ...; names: weighting=uw, ...); one region; writes RESULTS "
        "'families-lab-<label>-<region>'",
    )
    ap.add_argument("--tasks", default="", help="with --retrain-with: comma list of tasks")
    ap.add_argument(
        "--of-run",
        default="headline",
        help="with --unstopped / --retrain-with: the committed seed set of --seeds "
        "(transfer_g_<region>_<RUN>_runs.csv; default: headline); with --retrain-with, 'cache' compares with the "
        "region's default configuration's runs in --cache (a seed set not committed yet)",
    )
    ap.add_argument(
        "--substituted",
        action="store_true",
        help="train nothing: the families' gains of the committed seed set --of-run against its single-task "
        "networks trained to the cap (after --unstopped), one region; writes 'families-lab-substituted-<region>'",
    )
    ap.add_argument(
        "--replay-guard",
        action="store_true",
        help="train nothing: replay every committed seed set's curves (--regions) with the chance guard, and with "
        "an AUC asked to beat chance by its margin; writes 'families-lab-guard'",
    )
    args = ap.parse_args()
    cache = Path(args.cache) if args.cache else DEFAULT_CACHE
    headline, fresh = seed_sets(args, HEADLINE, REPLICATION)
    write = not (args.quick or args.no_write)
    regions = comma_list(args.regions)
    if args.retrain_with:
        if len(regions) != 1 or not args.arms or not args.tasks:
            raise SystemExit("--retrain-with takes one region (--regions R), --arms and --tasks.")
        try:
            changes = retrain_changes(args.retrain_with)
        except ValueError as err:
            raise SystemExit(f"--retrain-with: {err}") from err
        arms, tasks = comma_list(args.arms), comma_list(args.tasks)
        variant_section(
            regions[0],
            changes,
            arms,
            tasks,
            headline,
            cache,
            args.jobs,
            write=write,
            of_run=args.of_run,
            quick=args.quick,
        )
        return
    if args.replay_guard:
        guard_section(regions)
        return
    if args.substituted:
        if len(regions) != 1:
            raise SystemExit("--substituted takes one region (--regions R).")
        substituted_section(regions[0], args.of_run)
        return
    if args.unstopped:
        if len(regions) != 1:
            raise SystemExit("--unstopped takes one region (--regions R).")
        unstopped_section(regions[0], args.unstopped, comma_list(args.arms), cache, args.jobs, of_run=args.of_run)
        return
    fill_arms = comma_list(args.arms) or None
    if fill_arms and not (args.fill_jobs and args.no_write):
        raise SystemExit(
            "--arms without --unstopped / --retrain-with fills part of a seed set: give --fill-jobs and --no-write."
        )
    if write:
        write_section("families-lab", HEADER)  # first, so that a first run lays the sections out in order
    for region in regions:
        t0 = time.perf_counter()
        base = default_families_config(region, quick=args.quick, device=args.device)
        lines = [f"### {region}: {', '.join(base.task_names())}", ""]
        for name, seeds in (("headline", headline), ("replication", fresh)):
            if not seeds:
                continue
            cfg = replace(base, seeds=tuple(seeds))
            have, need = cached_count(cfg, cache)
            title = f"#### {region}, {name}: seeds {list(cfg.seeds)}"
            if args.reuse_committed and have < need:
                stem = RESULTS / f"transfer_g_{region}_{name}"
                lines += [title, "", *_committed_lines(cfg, stem, write=write)]
                continue
            if args.only_cached and have < need:
                lines += [title, "", incomplete_line(cfg, cache, have, need), ""]
                continue

            def report(arm, run, region: str = region) -> None:
                print(
                    f"{region} seed {run.seed:4d} {arm:18s} {run.trained:30s} steps "
                    f"{run.best_step:5d}/{run.steps_run:5d} {run.seconds:6.1f} s",
                    flush=True,
                )

            if args.fill_jobs:
                fill_cache(cfg, cache, jobs=args.fill_jobs, threads=args.threads, on_run=report, arms=fill_arms)
                if drain_requested(cache):
                    left = len(pending_networks(cfg, cache, fill_arms))
                    raise SystemExit(
                        f"drained: {left} networks of {region} not started; delete {cache}/.drain to go on."
                    )
                if args.no_write:
                    continue
            if args.no_write:
                train_families(cfg, cache=cache, on_run=report)  # fill the cache; the summarising run compares
                continue
            result = run_families(cfg, cache=cache, on_run=report)
            stem = RESULTS / f"transfer_g_{region}_{name}"
            if write:
                RESULTS.mkdir(exist_ok=True)
                result.runs_frame.to_csv(f"{stem}_runs.csv", index=False)
                result.summary.to_csv(f"{stem}_summary.csv", index=False)
                result.curves.to_csv(f"{stem}_curves.csv", index=False)
            lines += [title, "", *families_table(cfg, result.summary)]
            lines += ["Reading (computed from the intervals):", "", *[f"- {s}" for s in families_reading(result)], ""]
            lines += chance_lines(cfg, region, cfg.task_names(), cfg.seeds, result.runs_frame, stem, write=write)
            lines += [f"Config: `{asdict(cfg)}`", ""]
        lines.insert(2, f"Machine: {machine()}; {(time.perf_counter() - t0) / 60:.0f} min for this region in this ")
        lines[2] += "invocation (cached runs are reused)."
        lines.insert(3, "")
        text = "\n".join(lines)
        print(text)
        if write:
            write_section(f"families-lab-{region}", text)


HEADER = """## The transfer lab, experiment G: the four families under the lab protocol (`benchmarks/bench_families.py`)

Table 1 above compares the families at a fixed 400-step budget on 3 seeds, which measures how fast a
family learns. Here every network — each task's single-task network and each multi-task family on all
of the region's tasks — trains until its validation metrics stop improving (the lab's rule: every
task's primary metric on a fixed validation split, patience 8 evaluations of 50 steps, the first 8
evaluations a warm-up, cap 2,000 steps, best checkpoint restored; since 2026-12-05 patience counts only
once every task has beaten its validation chance level, the *chance guard*), from the seed's training
subset (256 cases; the knee, the brain and the pathology 1,024, the cases their single-task networks need
to beat an image-blind guess: `mtdl_kit.lab.protocol.TRAINING_CASES`) and initialisation, with equal
loss weights, and is scored on one fixed test split (256 cases). A seed set trained before the guard
says so, with what the guard's replay changes in it. Two capacity rules:
**equal total parameters** (`params`: cascaded and interacted sub-networks shrunk to the parallel
network's total, single-task networks sized like it) and **equal per-task width** (`width`: every
task's sub-network at width 8, so cascaded and interacted networks are about T times larger;
single-task networks at width 8). The parallel and hybrid networks are the same under both rules; the
cascade hands over a detached map (its stages share no layer). Δ per task in the metric's
units (positive = the family is better; MAE sign flipped), Δm in % over all tasks, paired hierarchical
bootstrap CIs over seeds and test cases; ▲/▼ mark intervals that exclude 0.
"""


if __name__ == "__main__":
    main()
