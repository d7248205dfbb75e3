"""The results table behind every teaching claim: six experiments, Δm with 95 % CI over seeds.

Experiments (issue 5), all on the bundled phantom generators, every model trained with
:func:`mtdl_kit.experiments.train_run` on the same budget and scored on the same fixed test set
(paired seeds; :func:`mtdl_kit.evaluation.delta_m`, paired hierarchical bootstrap):

1. ``families`` — every region × family (all of the region's tasks, EW) vs one single-task network
   per task; per-task metrics, Δm, parameters, CPU inference time.
2. ``relatedness`` — eye and chest, segmentation + classification, parallel vs single-task, at
   relatedness 0, 0.25, 0.5, 0.75, 1.
3. ``data_size`` — eye, segmentation + classification, 64 / 256 / 1024 training phantoms.
4. ``negative_transfer`` — main segmentation task + a classification task whose label follows a
   nuisance variable (``nuisance=...``); Δm of the main task only. The related auxiliary task
   (relatedness 1, no nuisance) is listed beside it for contrast.
5. ``cascade`` — eye (glaucoma from CDR) and chest (cardiomegaly from CTR): cascaded
   segmentation → classification (two-stage and end-to-end) and the hybrid vs a direct classifier.
6. ``weighting`` — eye, parallel, EW / UW / GradNorm / DWA / UPGrad / PCGrad / MGDA: Δm and median
   step time relative to EW (all runs in the same benchmark, one thread each).

Every run is cached under ``.cache/quality/<budget>/<hash of its config>/`` (records ``.npz`` +
summary ``.json``), so an interrupted benchmark resumes and experiments that share a run (a
single-task baseline, the EW model) train it once. ``--workers N`` trains N runs at once, one
thread each.

Run::

    .venv/bin/python benchmarks/bench_quality.py              # full: ~330 runs, see RESULTS.md for the time
    .venv/bin/python benchmarks/bench_quality.py --quick      # smoke run: tiny budget, eye + chest only

The full run writes ``benchmarks/results/*.csv`` (read by :func:`mtdl_kit.results.load_results`)
and the "quality" section of ``benchmarks/RESULTS.md``; ``--quick`` writes to
``.cache/quality/quick/results`` and leaves RESULTS.md alone unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, write_section  # noqa: E402

from mtdl_kit.experiments import RunConfig  # noqa: E402
from mtdl_kit.models import MULTI_TASK_FAMILIES as FAMILIES  # noqa: E402
from mtdl_kit.regions import REGION_NAMES, get_region  # noqa: E402

CACHE = ROOT / ".cache" / "quality"
SEEDS = (0, 1, 2)
#: cascaded models of experiment 1 and 6 use the detached hand-over, as the zoo does (see mtdl_kit.zoo).
FAMILY_OPTIONS: dict[str, dict[str, Any]] = {"cascaded": {"cascade_mode": "two_stage"}}
WEIGHTINGS = ("ew", "uw", "gradnorm", "dwa", "upgrad", "pcgrad", "mgda")
PAIRS = {"eye": ("disc_cup", "glaucoma"), "chest": ("lungs_heart", "cardiomegaly")}
NUISANCE = {"eye": "illumination", "chest": "exposure"}
RELATEDNESS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Budget:
    """Training budget shared by every run of one benchmark."""

    name: str
    steps: int
    size: int
    batch_size: int
    n_train: int
    n_test: int
    regions: tuple[str, ...]
    data_sizes: tuple[int, ...]
    n_boot: int
    relatedness: tuple[float, ...] = RELATEDNESS
    weightings: tuple[str, ...] = WEIGHTINGS


FULL = Budget(
    "full",
    steps=400,
    size=64,
    batch_size=8,
    n_train=512,
    n_test=64,
    regions=REGION_NAMES,
    data_sizes=(64, 256, 1024),
    n_boot=1000,
)
QUICK = Budget(
    "quick",
    steps=10,
    size=32,
    batch_size=4,
    n_train=24,
    n_test=16,
    regions=("eye", "chest"),
    data_sizes=(16, 48),
    n_boot=100,
    relatedness=(0.0, 1.0),
    weightings=("ew", "uw", "pcgrad"),
)


# --------------------------------------------------------------------------------------------------
# Runs (cached)
# --------------------------------------------------------------------------------------------------


def base_config(budget: Budget, region: str, **kw: Any) -> RunConfig:
    """A RunConfig of ``region`` with the budget's fields; ``kw`` overrides."""
    fields = {
        "region": region,
        "steps": budget.steps,
        "size": budget.size,
        "batch_size": budget.batch_size,
        "n_train": budget.n_train,
        "n_test": budget.n_test,
        "device": "cpu",
    }
    fields.update(kw)
    if "tasks" in fields and fields["tasks"] is not None:
        fields["tasks"] = tuple(fields["tasks"])
    return RunConfig(**fields)


def run_key(cfg: RunConfig) -> str:
    """Stable hash of a config and its region's generator version (the cache folder name): a new phantom retrains."""
    text = json.dumps(
        {**asdict(cfg), "generator_version": get_region(cfg.region).generator_version}, sort_keys=True, default=list
    )
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _folder(budget: Budget, cfg: RunConfig) -> Path:
    return CACHE / budget.name / run_key(cfg)


def _train_one(cfg_dict: dict[str, Any], folder: str) -> str:
    """Worker: train one run, save its test records and a summary. Returns the folder."""
    import torch

    torch.set_num_threads(1)
    from mtdl_kit.experiments import RunConfig, train_run

    cfg_dict = dict(cfg_dict)
    if cfg_dict.get("tasks") is not None:
        cfg_dict["tasks"] = tuple(cfg_dict["tasks"])
    cfg = RunConfig(**cfg_dict)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train_run(cfg, progress=False)
    seconds = time.perf_counter() - t0
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    result.records.save(out / "records.npz")
    steps = [v for _, v in result.history.series("step_time", "seconds")]
    steps = sorted(steps[len(steps) // 10 :])  # drop warm-up steps
    summary = {
        "config": asdict(cfg),
        "metrics": result.metrics,
        "seconds": seconds,
        "step_ms": 1000.0 * steps[len(steps) // 2] if steps else float("nan"),
        "params": sum(p.numel() for p in result.model.parameters()),
    }
    (out / "summary.json").write_text(json.dumps(summary, default=float))
    return folder


def _claimed_elsewhere(folder: Path) -> bool:
    """True while another live benchmark process has claimed this run (``.claim`` holds its pid)."""
    claim = folder / ".claim"
    try:
        pid = int(claim.read_text())
    except (OSError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False  # stale claim of a dead process
    return True


def _claim(folder: Path) -> bool:
    """Claim a run for this process (so a second ``bench_quality.py`` can share the work)."""
    folder.mkdir(parents=True, exist_ok=True)
    if _claimed_elsewhere(folder):
        return False
    (folder / ".claim").write_text(str(os.getpid()))
    return True


def _train_claimed(cfg_dict: dict[str, Any], folder: str) -> str:
    return _train_one(cfg_dict, folder) if not (Path(folder) / "summary.json").exists() else folder


def ensure_runs(budget: Budget, configs: Sequence[RunConfig], workers: int) -> None:
    """Train every config not yet in the cache (``workers`` processes, one thread each).

    Runs claimed by another live benchmark process are left to it and waited for at the end, so
    two invocations (e.g. a second one started when the CPU frees up) share the work.
    """
    from tqdm.auto import tqdm

    todo, seen = [], set()
    for cfg in configs:
        key = run_key(cfg)
        if key in seen or (_folder(budget, cfg) / "summary.json").exists():
            continue
        seen.add(key)
        todo.append(cfg)
    print(f"{len(configs)} runs needed, {len(todo)} to train ({workers} worker(s))", flush=True)
    if not todo:
        return
    # the slowest first, so the pool does not end on one long run
    todo.sort(key=lambda c: (c.family == "single", c.weighting == "ew"))
    with ProcessPoolExecutor(max_workers=workers) as pool, tqdm(total=len(todo), desc="runs", unit="run") as bar:
        pending: set[Any] = set()
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < workers:
                cfg = queue.pop(0)
                folder = _folder(budget, cfg)
                if (folder / "summary.json").exists() or not _claim(folder):
                    bar.update(1)
                    continue
                pending.add(pool.submit(_train_claimed, asdict(cfg), str(folder)))
            if pending:
                done = next(as_completed(pending))
                pending.discard(done)
                done.result()
                bar.update(1)
    waiting = [c for c in todo if not (_folder(budget, c) / "summary.json").exists()]
    while waiting:
        print(f"waiting for {len(waiting)} run(s) claimed by another process", flush=True)
        time.sleep(15)
        waiting = [c for c in waiting if not (_folder(budget, c) / "summary.json").exists()]


def load_run(budget: Budget, cfg: RunConfig) -> tuple[Any, dict[str, Any]]:
    """(Records, summary) of a cached run."""
    from mtdl_kit.evaluation import Records

    folder = _folder(budget, cfg)
    return Records.load(folder / "records.npz"), json.loads((folder / "summary.json").read_text())


# --------------------------------------------------------------------------------------------------
# Experiment definitions: the configs each needs and how its table is computed
# --------------------------------------------------------------------------------------------------


def single(budget: Budget, region: str, task: str, seed: int, **kw: Any) -> RunConfig:
    return base_config(budget, region, family="single", tasks=(task,), seed=seed, **kw)


def multi(
    budget: Budget, region: str, family: str, seed: int, tasks=None, weighting: str = "ew", **kw: Any
) -> RunConfig:
    options = kw.pop("model_options", FAMILY_OPTIONS.get(family, {}))
    return base_config(
        budget, region, family=family, tasks=tasks, seed=seed, weighting=weighting, model_options=dict(options), **kw
    )


def _dm(budget: Budget, mtl: dict[int, RunConfig], baselines: dict[str, dict[int, RunConfig]], tasks: Sequence[str]):
    from mtdl_kit.evaluation import delta_m

    region = get_region(next(iter(mtl.values())).region)
    specs = [t for t in region.tasks if t.name in tasks]
    per_seed = {s: load_run(budget, c)[0] for s, c in mtl.items()}
    base = {t: {s: load_run(budget, c)[0] for s, c in by_seed.items()} for t, by_seed in baselines.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return delta_m(per_seed, base, specs, n_boot=budget.n_boot)


def _row(dm: Any) -> dict[str, Any]:
    return {
        "delta_m": dm.value,
        "ci_low": dm.ci_low,
        "ci_high": dm.ci_high,
        "significant": bool(dm.significant),
        "n_seeds": dm.n_seeds,
    }


def _task_row(dm: Any, task: str) -> dict[str, Any]:
    est = dm.per_task[task]
    return {
        "delta_m": est[0],
        "ci_low": est[1],
        "ci_high": est[2],
        "significant": bool(est[1] > 0 or est[2] < 0),
        "n_seeds": dm.n_seeds,
    }


def exp_families(budget: Budget, plan: bool) -> Any:
    configs = []
    for r in budget.regions:
        tasks = get_region(r).task_names
        configs += [single(budget, r, t, s) for t in tasks for s in SEEDS]
        configs += [multi(budget, r, f, s) for f in FAMILIES for s in SEEDS]
    if plan:
        return configs
    import pandas as pd

    from mtdl_kit.metrics import primary_metric

    rows, task_rows = [], []
    for r in budget.regions:
        region = get_region(r)
        tasks = region.task_names
        baselines = {t: {s: single(budget, r, t, s) for s in SEEDS} for t in tasks}
        for fam in ("single", *FAMILIES):
            if fam == "single":
                for t in tasks:
                    spec = next(x for x in region.tasks if x.name == t)
                    task_rows.append(_metric_summary(budget, r, "single", t, primary_metric(spec), baselines[t]))
                continue
            mtl = {s: multi(budget, r, fam, s) for s in SEEDS}
            dm = _dm(budget, mtl, baselines, tasks)
            rows.append(
                {
                    "region": r,
                    "family": fam,
                    **_row(dm),
                    "steps": budget.steps,
                    "size": budget.size,
                    "params": load_run(budget, mtl[0])[1]["params"],
                    "infer_ms": inference_ms(r, fam, budget.size),
                }
            )
            for t in tasks:
                spec = next(x for x in region.tasks if x.name == t)
                task_rows.append(_metric_summary(budget, r, fam, t, primary_metric(spec), mtl))
    return {"families": pd.DataFrame(rows), "families_tasks": pd.DataFrame(task_rows)}


def _metric_summary(budget: Budget, region: str, family: str, task: str, metric: str, by_seed: dict[int, RunConfig]):
    import numpy as np

    values = np.array([load_run(budget, c)[1]["metrics"][task][metric] for c in by_seed.values()], dtype=float)
    return {
        "region": region,
        "family": family,
        "task": task,
        "metric": metric,
        "mean": float(np.nanmean(values)),
        "sd": float(np.nanstd(values, ddof=1)) if len(values) > 1 else float("nan"),
        "n_seeds": len(values),
    }


def inference_ms(region: str, family: str, size: int, repeats: int = 30) -> float:
    """Median CPU time (one thread) of one forward pass of one image, untrained model of the family."""
    import torch

    from mtdl_kit.models import build_for_region

    torch.set_num_threads(1)
    model = build_for_region(region, family, **FAMILY_OPTIONS.get(family, {})).eval()
    x = torch.randn(1, get_region(region).in_channels, size, size)
    times = []
    with torch.inference_mode():
        for i in range(repeats + 3):
            t0 = time.perf_counter()
            model(x)
            if i >= 3:
                times.append(time.perf_counter() - t0)
    times.sort()
    return 1000.0 * times[len(times) // 2]


def exp_relatedness(budget: Budget, plan: bool) -> Any:
    regions = [r for r in PAIRS if r in budget.regions]
    cfg = {}
    for r in regions:
        for rel in budget.relatedness:
            cfg[(r, rel)] = (
                {s: multi(budget, r, "parallel", s, tasks=PAIRS[r], relatedness=rel) for s in SEEDS},
                {t: {s: single(budget, r, t, s, relatedness=rel) for s in SEEDS} for t in PAIRS[r]},
            )
    if plan:
        return [c for m, b in cfg.values() for c in [*m.values(), *(x for d in b.values() for x in d.values())]]
    import pandas as pd

    rows = []
    for (r, rel), (mtl, base) in cfg.items():
        dm = _dm(budget, mtl, base, PAIRS[r])
        row = {"region": r, "relatedness": rel, "family": "parallel", **_row(dm)}
        for t in PAIRS[r]:
            row[f"Δ {t} %"] = dm.per_task[t][0]
        rows.append(row)
    return {"relatedness": pd.DataFrame(rows)}


def exp_data_size(budget: Budget, plan: bool) -> Any:
    r = "eye"
    cfg = {
        n: (
            {s: multi(budget, r, "parallel", s, tasks=PAIRS[r], n_train=n) for s in SEEDS},
            {t: {s: single(budget, r, t, s, n_train=n) for s in SEEDS} for t in PAIRS[r]},
        )
        for n in budget.data_sizes
    }
    if plan:
        return [c for m, b in cfg.values() for c in [*m.values(), *(x for d in b.values() for x in d.values())]]
    import pandas as pd

    rows = []
    for n, (mtl, base) in cfg.items():
        dm = _dm(budget, mtl, base, PAIRS[r])
        row = {"region": r, "n_train": n, "family": "parallel", **_row(dm)}
        for t in PAIRS[r]:
            row[f"Δ {t} %"] = dm.per_task[t][0]
        rows.append(row)
    return {"data_size": pd.DataFrame(rows)}


def exp_negative_transfer(budget: Budget, plan: bool) -> Any:
    regions = [r for r in PAIRS if r in budget.regions]
    cfg = {}
    for r in regions:
        main, aux = PAIRS[r]
        for nuisance in (NUISANCE[r], None):
            cfg[(r, nuisance)] = (
                {s: multi(budget, r, "parallel", s, tasks=PAIRS[r], nuisance=nuisance) for s in SEEDS},
                {main: {s: single(budget, r, main, s, nuisance=nuisance) for s in SEEDS}},
            )
    if plan:
        return [c for m, b in cfg.values() for c in [*m.values(), *(x for d in b.values() for x in d.values())]]
    import pandas as pd

    rows = []
    for (r, nuisance), (mtl, base) in cfg.items():
        main, aux = PAIRS[r]
        dm = _dm(budget, mtl, base, [main])
        rows.append(
            {
                "region": r,
                "main_task": main,
                "aux_task": aux,
                "nuisance": nuisance or "none (related)",
                **_row(dm),
            }
        )
    return {"negative_transfer": pd.DataFrame(rows)}


CASCADE_MODELS = {
    "cascaded (two-stage)": ("cascaded", {"cascade_mode": "two_stage"}),
    "cascaded (end-to-end)": ("cascaded", {"cascade_mode": "end_to_end"}),
    "hybrid (mask-guided)": ("hybrid", {}),
    "parallel": ("parallel", {}),
}


def exp_cascade(budget: Budget, plan: bool) -> Any:
    regions = [r for r in PAIRS if r in budget.regions]
    cfg = {}
    for r in regions:
        seg, cls = PAIRS[r]
        base = {cls: {s: single(budget, r, cls, s) for s in SEEDS}}
        for label, (fam, opts) in CASCADE_MODELS.items():
            cfg[(r, label)] = ({s: multi(budget, r, fam, s, tasks=PAIRS[r], model_options=opts) for s in SEEDS}, base)
    if plan:
        return [c for m, b in cfg.values() for c in [*m.values(), *(x for d in b.values() for x in d.values())]]
    import pandas as pd

    rows = []
    for r in regions:
        seg, cls = PAIRS[r]
        direct = {s: single(budget, r, cls, s) for s in SEEDS}
        rows.append(
            {
                **_metric_summary(budget, r, "single", cls, "auc", direct),
                "model": "direct classifier (single-task)",
                "delta_m": 0.0,
                "ci_low": 0.0,
                "ci_high": 0.0,
                "significant": False,
            }
        )
        for label in CASCADE_MODELS:
            mtl, base = cfg[(r, label)]
            dm = _dm(budget, mtl, base, [cls])
            summary = _metric_summary(budget, r, label, cls, "auc", mtl)
            seg_dice = _metric_summary(budget, r, label, seg, "dice", mtl)
            rows.append({**summary, "model": label, **_row(dm), "seg_dice": seg_dice["mean"]})
    frame = pd.DataFrame(rows).drop(columns=["family"])
    return {"cascade": frame}


def exp_weighting(budget: Budget, plan: bool) -> Any:
    r = "eye"
    tasks = get_region(r).task_names
    base = {t: {s: single(budget, r, t, s) for s in SEEDS} for t in tasks}
    cfg = {w: {s: multi(budget, r, "parallel", s, weighting=w) for s in SEEDS} for w in budget.weightings}
    if plan:
        return [c for m in cfg.values() for c in m.values()] + [c for d in base.values() for c in d.values()]
    import pandas as pd

    step_ms = paired_step_ms(budget, r, budget.weightings)
    rows = []
    for w, mtl in cfg.items():
        dm = _dm(budget, mtl, base, tasks)
        ms = step_ms[w]
        row = {
            "region": r,
            "family": "parallel",
            "weighting": w,
            **_row(dm),
            "step_ms": ms,
            "step_ratio": ms / step_ms["ew"],
        }
        for t in tasks:
            row[f"Δ {t} %"] = dm.per_task[t][0]
        rows.append(row)
    return {"weighting": pd.DataFrame(rows)}


def paired_step_ms(budget: Budget, region: str, methods: Sequence[str], steps: int = 30) -> dict[str, float]:
    """Median training-step time of each weighting method, measured side by side in this process.

    The training runs' own step times come from different moments of a shared machine, so the
    cost column is measured here: one parallel model per method (same seed and batch), stepped
    round-robin (the order rotates every step) on one thread after 5 warm-up steps.
    """
    import numpy as np
    import torch
    from bench_weighting import Config, Runner

    torch.set_num_threads(1)
    reg = get_region(region)
    samples = [reg.sample(1000 + i, size=budget.size) for i in range(budget.batch_size)]
    x = torch.stack([torch.from_numpy(s.image) for s in samples]).float()
    y = {t.name: torch.stack([torch.from_numpy(np.array(s.targets[t.name])) for s in samples]) for t in reg.tasks}
    runners = {m: Runner(Config(m, m), list(reg.tasks), x, y) for m in methods}
    for runner in runners.values():
        for _ in range(5):
            runner.step()
    times: dict[str, list[float]] = {m: [] for m in methods}
    order = list(methods)
    for _ in range(steps):
        for m in order:
            t0 = time.perf_counter()
            runners[m].step()
            times[m].append(time.perf_counter() - t0)
        order = order[1:] + order[:1]
    return {m: 1000.0 * float(np.median(v)) for m, v in times.items()}


def exp_relatedness_long(budget: Budget, plan: bool) -> Any:
    """The relatedness end points on the eye at 1500 steps (the zoo's budget): is the short budget the cause?"""
    r = "eye"
    steps = max(budget.steps, 1500) if budget is FULL else budget.steps * 2
    ends = (budget.relatedness[0], budget.relatedness[-1])
    cfg = {
        rel: (
            {s: multi(budget, r, "parallel", s, tasks=PAIRS[r], relatedness=rel, steps=steps) for s in SEEDS},
            {t: {s: single(budget, r, t, s, relatedness=rel, steps=steps) for s in SEEDS} for t in PAIRS[r]},
        )
        for rel in ends
    }
    if plan:
        return [c for m, b in cfg.values() for c in [*m.values(), *(x for d in b.values() for x in d.values())]]
    import pandas as pd

    rows = []
    for rel, (mtl, base) in cfg.items():
        dm = _dm(budget, mtl, base, PAIRS[r])
        row = {"region": r, "relatedness": rel, "steps": steps, "family": "parallel", **_row(dm)}
        for t in PAIRS[r]:
            row[f"Δ {t} %"] = dm.per_task[t][0]
            row[f"single {t}"] = _metric_summary(budget, r, "single", t, _primary(r, t), base[t])["mean"]
            row[f"parallel {t}"] = _metric_summary(budget, r, "parallel", t, _primary(r, t), mtl)["mean"]
        rows.append(row)
    return {"relatedness_long": pd.DataFrame(rows)}


def _primary(region: str, task: str) -> str:
    from mtdl_kit.metrics import primary_metric

    return primary_metric(get_region(region).task(task))


EXPERIMENTS = {
    "families": exp_families,
    "relatedness": exp_relatedness,
    "data_size": exp_data_size,
    "negative_transfer": exp_negative_transfer,
    "cascade": exp_cascade,
    "weighting": exp_weighting,
    "relatedness_long": exp_relatedness_long,
}


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        return f"{v:+.1f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def table_md(frame: Any, columns: Sequence[str], fmt: dict[str, str] | None = None) -> str:
    fmt = fmt or {}
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in frame.iterrows():
        cells = []
        for c in columns:
            v = row[c]
            cells.append(fmt[c].format(v) if c in fmt and isinstance(v, (int, float)) else _fmt(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def with_ci(frame: Any) -> Any:
    frame = frame.copy()
    frame["Δm % [95 % CI]"] = [
        f"{r.delta_m:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}]" + (" *" if r.significant else "")
        for r in frame.itertuples()
    ]
    return frame


def report(budget: Budget, tables: dict[str, Any], minutes: float, n_runs: int, readings: dict[str, str]) -> str:
    fam = with_ci(tables["families"])
    tasks = tables["families_tasks"]
    piv = tasks.assign(cell=[f"{m:.3f}" for m in tasks["mean"]])
    per_task = piv.pivot_table(index=["region", "task", "metric"], columns="family", values="cell", aggfunc="first")
    per_task = per_task.reindex(columns=["single", *FAMILIES]).reset_index()
    parts = [
        f"Measured {machine()}. Budget `{budget.name}`: {budget.steps} Adam steps (lr 2e-3), batch "
        f"{budget.batch_size}, {budget.size}×{budget.size} px, {budget.n_train} training phantoms per seed, "
        f"a fixed test set of {budget.n_test} phantoms, seeds {list(SEEDS)}, default width, one thread per run. "
        f"{n_runs} runs, {minutes:.0f} min wall clock (cached runs not counted). Δm in % against one single-task "
        "network per task (positive = multi-task better; 95 % paired hierarchical bootstrap CI over seeds and "
        "test cases; * = CI excludes 0). CSVs: `benchmarks/results/`. Regenerate: "
        "`python benchmarks/bench_quality.py [--quick] [--workers 2]`.",
        "### 1. Families per region (all of the region's tasks, EW)",
        table_md(
            fam,
            ["region", "family", "Δm % [95 % CI]", "params", "infer_ms"],
            {"params": "{:,.0f}", "infer_ms": "{:.1f}"},
        ),
        readings.get("families", ""),
        "Per-task primary metric, mean over seeds (Dice, ROC-AUC: higher is better; MAE, MRE: lower):",
        table_md(per_task, ["region", "task", "metric", "single", *FAMILIES]),
        "### 2. Relatedness sweep (parallel, segmentation + classification)",
        table_md(
            with_ci(tables["relatedness"]).assign(relatedness=lambda f: f.relatedness.map("{:g}".format)),
            ["region", "relatedness", "Δm % [95 % CI]"]
            + [c for c in tables["relatedness"].columns if c.startswith("Δ ")],
        ),
        readings.get("relatedness", ""),
        "### 2b. Relatedness end points at the zoo's budget (eye, 1500 steps)",
        table_md(
            with_ci(tables["relatedness_long"]).assign(relatedness=lambda f: f.relatedness.map("{:g}".format)),
            ["relatedness", "steps", "Δm % [95 % CI]"]
            + [c for c in tables["relatedness_long"].columns if c.startswith(("Δ ", "single ", "parallel "))],
            {"steps": "{:.0f}"}
            | {c: "{:.3f}" for c in tables["relatedness_long"].columns if c.startswith(("single ", "parallel "))},
        )
        if "relatedness_long" in tables
        else "",
        readings.get("relatedness_long", ""),
        "### 3. Training-set size (eye, parallel, segmentation + classification)",
        table_md(
            with_ci(tables["data_size"]),
            ["n_train", "Δm % [95 % CI]"] + [c for c in tables["data_size"].columns if c.startswith("Δ ")],
        ),
        readings.get("data_size", ""),
        "### 4. Negative transfer (Δm of the main segmentation task only)",
        table_md(
            with_ci(tables["negative_transfer"]), ["region", "main_task", "aux_task", "nuisance", "Δm % [95 % CI]"]
        ),
        readings.get("negative_transfer", ""),
        "### 5. Cascade vs direct classification (label = a shape measurement)",
        table_md(
            with_ci(tables["cascade"]),
            ["region", "model", "task", "mean", "sd", "Δm % [95 % CI]", "seg_dice"],
            {"mean": "{:.3f}", "sd": "{:.3f}", "seg_dice": "{:.3f}"},
        ),
        readings.get("cascade", ""),
        "### 6. Weighting methods (eye, parallel, all tasks)",
        table_md(
            with_ci(tables["weighting"]),
            ["weighting", "Δm % [95 % CI]", "step_ms", "step_ratio"]
            + [c for c in tables["weighting"].columns if c.startswith("Δ ")],
            {"step_ms": "{:.1f}", "step_ratio": "{:.2f}×"},
        ),
        readings.get("weighting", ""),
    ]
    return "\n\n".join(p for p in parts if p)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budget on eye + chest (smoke run, ~5 min)")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1)), help="parallel runs")
    parser.add_argument("--only", nargs="*", choices=sorted(EXPERIMENTS), help="train these experiments only")
    parser.add_argument("--out", type=Path, default=None, help="CSV folder (default: benchmarks/results, quick: cache)")
    parser.add_argument("--no-report", action="store_true", help="do not write the RESULTS.md section")
    parser.add_argument("--plan", action="store_true", help="print the number of runs and exit")
    args = parser.parse_args(argv)
    budget = QUICK if args.quick else FULL
    names = args.only or list(EXPERIMENTS)
    configs = [c for n in names for c in EXPERIMENTS[n](budget, plan=True)]
    unique = {run_key(c): c for c in configs}
    if args.plan:
        done = sum((_folder(budget, c) / "summary.json").exists() for c in unique.values())
        print(f"{len(unique)} distinct runs, {done} cached")
        return
    t0 = time.perf_counter()
    ensure_runs(budget, list(unique.values()), args.workers)
    minutes = (time.perf_counter() - t0) / 60
    if args.only:
        return
    out = args.out or (ROOT / "benchmarks" / "results" if budget is FULL else CACHE / "quick" / "results")
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, Any] = {}
    for name in names:
        tables.update(EXPERIMENTS[name](budget, plan=False))
    for name, frame in tables.items():
        frame.to_csv(out / f"{name}.csv", index=False, float_format="%.6g")
    import pandas as pd

    pd.DataFrame(
        [(r, get_region(r).generator_version) for r in REGION_NAMES], columns=["region", "generator_version"]
    ).to_csv(out / "quality_generators.csv", index=False)  # what the rows describe (verdicts.quality_generator_note)
    from readings import readings as make_readings

    texts = make_readings(tables)
    md = report(budget, tables, minutes, len(unique), texts)
    (out / "quality.md").write_text(md + "\n")
    if budget is FULL and not args.no_report:
        write_section("quality", "## Quality: the results table (issue 5)\n\n" + md)
    print(md)


if __name__ == "__main__":
    main()
