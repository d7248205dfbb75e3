"""``mtdl-kit lab``: JupyterLab on the lessons, and the transfer lab's experiments A–G on seeds the user chooses.

``mtdl-kit lab`` alone starts JupyterLab; ``mtdl-kit lab transfer|crossover|starved|adversarial|cascade|conflict|
families ...`` reruns one experiment of :mod:`mtdl_kit.lab` and writes its per-seed CSV and a summary with CIs, so
that an instructor can replicate a claim on fresh seeds (Zhao et al., Comput Biol Med 153:106496, 2023, frame the
families; the experiments are documented in docs/transfer_lab.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mtdl_kit.cli.arguments import add_lab_device_argument, label_budgets, positive_int
from mtdl_kit.models import FAMILIES
from mtdl_kit.regions.base import REGION_NAMES


def cmd_lab(args: argparse.Namespace) -> int:
    from mtdl_kit.launch import run_lab

    return run_lab(args.port, folder=args.dir, open_browser=not args.no_browser)


def report_lab_run(paths: Sequence[Path], sentences: Sequence[str]) -> int:
    """Print the files a lab experiment wrote and its reading (one sentence per line); exit code 0."""
    for path in paths:
        print(f"wrote {path}")
    for sentence in sentences:
        print(sentence)
    return 0


def cmd_lab_transfer(args: argparse.Namespace) -> int:
    """Experiment A of the transfer lab on the seeds the user chooses: per-seed CSV and a summary with CIs."""
    from mtdl_kit.lab import QUICK, TransferConfig, configure, parse_seeds, reading, run_transfer, write_outputs

    base = QUICK if args.quick else TransferConfig()
    budgets = label_budgets(args.budget) if args.budget else None
    cfg = configure(
        base,
        region=args.region,
        main=args.main,
        auxiliary=args.auxiliary,
        family=args.family,
        budgets=budgets,
        seeds=parse_seeds(args.seeds) if args.seeds else None,
    )
    out = Path(args.out)

    def report(run) -> None:
        value = run.metrics[cfg.main]
        score = ", ".join(f"{k}={v:.3f}" for k, v in value.items() if k != "n_cases")
        print(f"budget {run.budget:4d} seed {run.seed:4d} {run.arm:9s} steps {run.best_step:5d}  {score}", flush=True)

    result = run_transfer(cfg, cache=out / "cache", on_run=report)
    return report_lab_run(write_outputs(result, out), reading(result))


def cmd_lab_crossover(args: argparse.Namespace) -> int:
    """Experiment C of the transfer lab (the relatedness crossover) on the seeds the user chooses."""
    from mtdl_kit.lab import (
        configure,
        crossover_reading,
        default_crossover_config,
        parse_seeds,
        run_crossover,
        write_crossover_outputs,
    )

    region = args.region or "eye"
    base = default_crossover_config(region, quick=args.quick)
    budgets = label_budgets(args.budget) if args.budget else (base.budgets if args.quick else (16,))
    base = configure(base, family=args.family, budgets=budgets, seeds=parse_seeds(args.seeds) if args.seeds else None)
    out = Path(args.out)

    def report(rule: str, run) -> None:
        value = run.metrics[base.main]
        score = ", ".join(f"{k}={v:.3f}" for k, v in value.items() if k != "n_cases")
        print(f"rule {rule} budget {run.budget:4d} seed {run.seed:4d} {run.arm:9s} steps {run.best_step:5d}  {score}")

    result = run_crossover(base, cache=out / "cache", on_run=report)
    return report_lab_run(write_crossover_outputs(result, out), crossover_reading(result))


def cmd_lab_starved(args: argparse.Namespace) -> int:
    """Experiment E of the transfer lab (the starved task) on the seeds and methods the user chooses."""
    from mtdl_kit.lab import default_starved_config, parse_seeds, run_starved, starved_reading, write_starved_outputs

    def names(text: str | None) -> tuple[str, ...] | None:
        return tuple(x.strip() for x in text.split(",") if x.strip()) if text else None

    cfg = default_starved_config(
        args.region,
        quick=args.quick,
        seeds=parse_seeds(args.seeds) if args.seeds else None,
        methods=names(args.methods),
        targets=names(args.targets),
        adopted=args.adopted,
        max_steps=args.max_steps,
    )
    out = Path(args.out)

    def report(run) -> None:
        score = ", ".join(f"{k}={v:.3f}" for k, v in run.metrics[cfg.starved].items() if k != "n_cases")
        steps = f"steps {run.best_step:5d}/{run.steps_run:5d}"
        print(f"seed {run.seed:4d} {run.condition:22s} {steps}  {cfg.starved}: {score}", flush=True)

    result = run_starved(cfg, cache=out / "cache", on_run=report)
    return report_lab_run(write_starved_outputs(result, out), starved_reading(result))


def cmd_lab_adversarial(args: argparse.Namespace) -> int:
    """Experiment B of the transfer lab (a camera adversary coupled to the disease) on the seeds the user chooses."""
    from mtdl_kit.lab import (
        adversarial_reading,
        default_adversarial_config,
        parse_seeds,
        run_adversarial,
        write_adversarial_outputs,
    )

    cfg = default_adversarial_config(quick=args.quick, seeds=parse_seeds(args.seeds) if args.seeds else None)
    changes = {k: v for k, v in (("objective", args.objective), ("strength", args.strength)) if v is not None}
    if changes:
        from dataclasses import replace

        cfg = replace(cfg, **changes)
    cfg.validate()
    out = Path(args.out)

    def report(run) -> None:
        score = ", ".join(f"{t} auc={m['auc']:.3f}" for t, m in run.metrics.items() if "auc" in m)
        print(f"seed {run.seed:4d} {run.arm:22s} steps {run.best_step:5d}/{run.steps_run:5d}  {score}", flush=True)

    result = run_adversarial(cfg, cache=out / "cache", on_run=report)
    return report_lab_run(write_adversarial_outputs(result, out), adversarial_reading(result))


def cmd_lab_cascade(args: argparse.Namespace) -> int:
    """Experiment D of the transfer lab (a cascade in real stages, degraded masks) on the seeds the user chooses."""
    from mtdl_kit.lab import cascade_reading, default_cascade_config, parse_seeds, run_cascade, write_cascade_outputs

    cfg = default_cascade_config(
        args.region,
        quick=args.quick,
        seeds=parse_seeds(args.seeds) if args.seeds else None,
        budgets=label_budgets(args.budget) if args.budget else None,
    )
    out = Path(args.out)

    def report(run) -> None:
        steps = f"steps {run.best_step:5d}/{run.steps_run:5d}"
        print(f"seed {run.seed:4d} {run.stage:10s} budget {run.budget:4d} {steps} {run.seconds:6.1f} s", flush=True)

    result = run_cascade(cfg, cache=out / "cache", on_run=report)
    return report_lab_run(write_cascade_outputs(result, out), cascade_reading(result))


def cmd_lab_conflict(args: argparse.Namespace) -> int:
    """Experiment F of the transfer lab: does early gradient conflict predict the crossover's transfer?"""
    import pandas as pd

    from mtdl_kit.lab import (
        conflict_reading,
        default_conflict_config,
        parse_seeds,
        run_conflict,
        write_conflict_outputs,
    )

    runs_path = Path(args.crossover) / "runs.csv"
    if not runs_path.is_file():
        raise FileNotFoundError(
            f"No crossover runs at {runs_path}: run `mtdl-kit lab crossover --region {args.region} --seeds ... "
            f"--out {args.crossover}` first (the same seeds{' and --quick' if args.quick else ''})."
        )
    config = default_conflict_config(
        quick=args.quick,
        regions=(args.region,),
        seeds=parse_seeds(args.seeds) if args.seeds else None,
        budget=args.budget,
    )
    out = Path(args.out)

    def report(probe) -> None:
        print(
            f"rule {probe.rule} {probe.arm:9s} seed {probe.seed:4d} cosine {probe.early('cosine'):+.3f} "
            f"affinity aux->main {probe.early('affinity_aux_to_main'):+.4f}",
            flush=True,
        )

    result = run_conflict(config, {args.region: pd.read_csv(runs_path)}, cache=out / "cache", on_probe=report)
    return report_lab_run(write_conflict_outputs(result, out), conflict_reading(result))


def cmd_lab_families(args: argparse.Namespace) -> int:
    """Experiment G of the transfer lab (the families under the lab's protocol, two capacity rules) on chosen seeds."""
    from mtdl_kit.lab import (
        default_families_config,
        families_reading,
        parse_seeds,
        run_families,
        write_families_outputs,
    )
    from mtdl_kit.lab.families import fill_cache

    families = tuple(f.strip() for f in args.families.split(",") if f.strip()) if args.families else None
    cfg = default_families_config(
        args.region,
        quick=args.quick,
        seeds=parse_seeds(args.seeds) if args.seeds else None,
        families=families,
        device=args.device,
    )
    out = Path(args.out)

    def report(arm: str, run) -> None:
        steps = f"steps {run.best_step:5d}/{run.steps_run:5d}"
        print(f"seed {run.seed:4d} {arm:18s} {run.trained:30s} {steps} {run.seconds:6.1f} s", flush=True)

    if args.jobs > 1:  # the networks in parallel processes first; the summary then reads them from the cache
        fill_cache(cfg, out / "cache", jobs=args.jobs, on_run=report)
    result = run_families(cfg, cache=out / "cache", on_run=report)
    return report_lab_run(write_families_outputs(result, out), families_reading(result))


def add_lab_parser(sub: Any) -> None:
    """Add ``lab`` and its experiment subcommands to the subparsers ``sub`` of :func:`mtdl_kit.cli.build_parser`."""
    from mtdl_kit import launch as _launch

    # `mtdl-kit lab` alone starts JupyterLab on the lessons; `mtdl-kit lab transfer ...` runs the transfer lab
    lab = sub.add_parser(
        "lab",
        help="JupyterLab on the lessons, bound to 127.0.0.1 (needs `pip install 'mtdl-kit[lab]'`); "
        "`lab transfer` / `lab crossover` / `lab starved` / `lab adversarial` / `lab cascade` / `lab conflict` / "
        "`lab families` rerun the transfer lab's experiments A, C, E, B, D, F and G on seeds you choose",
        description=(
            "Without an EXPERIMENT: start JupyterLab on the bundled lessons. From a wheel install the lessons are "
            f"first copied into ./{_launch.LESSONS_FOLDER} (or --dir), never overwriting a copy you edited; from a "
            "source checkout notebooks/ is opened in place."
        ),
    )
    lab.add_argument("--port", type=int, default=None, help=f"default: {_launch.DEFAULT_LAB_PORT} or the next free one")
    lab.add_argument("--dir", default=None, help=f"lesson folder (default: ./{_launch.LESSONS_FOLDER} for a wheel)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    lab.set_defaults(func=cmd_lab)
    lab_sub = lab.add_subparsers(dest="lab_command", required=False, metavar="EXPERIMENT")
    lt = lab_sub.add_parser(
        "transfer",
        help="a label-starved main task with a related, shuffled or no auxiliary task (paired seeds, CIs)",
    )
    lt.add_argument("--region", default=None, choices=REGION_NAMES, help="default: eye")
    lt.add_argument("--main", default=None, help="main task (default: glaucoma)")
    lt.add_argument("--auxiliary", default=None, help="auxiliary task (default: disc_cup)")
    lt.add_argument("--family", default=None, choices=FAMILIES[:-1], help="multi-task family (default: hybrid)")
    lt.add_argument("--budget", default=None, help="main-task label budget(s), e.g. 32 or 16,32,64")
    lt.add_argument("--seeds", default=None, help="training seeds, e.g. 100-107 or 1,2,5 (default: 0-7)")
    lt.add_argument("--out", required=True, help="folder for runs.csv, summary.csv, summary.md and the run cache")
    lt.add_argument("--quick", action="store_true", help="the small quick configuration (a few minutes on a CPU)")
    lt.set_defaults(func=cmd_lab_transfer)
    lc = lab_sub.add_parser(
        "crossover",
        help="experiment C: the label follows feature A or B; auxiliary task = segmentation of A, of B, shuffled or "
        "none (paired seeds, CIs)",
    )
    from mtdl_kit.regions import all_regions

    crossover_regions = [n for n, r in all_regions().items() if r.coupling.other_segmentation]
    lc.add_argument("--region", default=None, choices=crossover_regions, help="default: eye")
    lc.add_argument("--family", default=None, choices=FAMILIES[:-1], help="multi-task family (default: hybrid)")
    lc.add_argument("--budget", default=None, help="main-task label budget(s), e.g. 16 or 16,64 (default: 16)")
    lc.add_argument("--seeds", default=None, help="training seeds, e.g. 100-107 or 1,2,5 (default: 0-7)")
    lc.add_argument("--out", required=True, help="folder for runs.csv, summary.csv, summary.md and the run cache")
    lc.add_argument("--quick", action="store_true", help="the small quick configuration (a few minutes on a CPU)")
    lc.set_defaults(func=cmd_lab_crossover)
    lf = lab_sub.add_parser(
        "conflict",
        help="experiment F: does the early gradient cosine / lookahead affinity of the crossover's networks predict "
        "their final transfer? (Spearman ρ, seed-bootstrap CI; needs a `lab crossover` run on the same seeds)",
    )
    lf.add_argument("--region", default="eye", choices=crossover_regions, help="default: eye")
    lf.add_argument(
        "--crossover", required=True, help="the --out folder of a `mtdl-kit lab crossover` run (its runs.csv)"
    )
    lf.add_argument(
        "--seeds", default=None, help="seeds of that crossover run, e.g. 100-107 (default: 0-7; quick: 0-2)"
    )
    lf.add_argument(
        "--out", required=True, help="folder for runs.csv, summary.csv, summary.md, measurements.csv, cache"
    )
    lf.add_argument("--budget", type=int, default=None, help="the crossover's main-task label budget (default: 16)")
    lf.add_argument("--quick", action="store_true", help="the quick protocol (for a `lab crossover --quick` run)")
    lf.set_defaults(func=cmd_lab_conflict)
    from mtdl_kit.lab.starved import METHODS, REGION_TASKS, TARGETS

    ls = lab_sub.add_parser(
        "starved",
        help="experiment E: a small-loss task (eye CDR, knee landmarks) under EW, UW, GradNorm, DWA, UPGrad on raw or "
        "standardised targets; every condition against EW on raw targets, per task (paired seeds, CIs)",
    )
    ls.add_argument("--region", default="eye", choices=tuple(REGION_TASKS), help="default: eye")
    ls.add_argument("--seeds", default=None, help="training seeds, e.g. 100-104 or 1,2,5 (default: 0-4; quick: 0-1)")
    ls.add_argument("--methods", default=None, help=f"comma list of weighting methods (default: {','.join(METHODS)})")
    ls.add_argument(
        "--targets",
        default=None,
        help=f"comma list of {','.join(TARGETS)} (default: both where the network has a regression task, else raw)",
    )
    ls.add_argument("--out", required=True, help="folder for runs.csv, summary.csv, summary.md and the run cache")
    ls.add_argument("--quick", action="store_true", help="the small quick configuration (about 2 min on a CPU)")
    ls.add_argument(
        "--adopted",
        action="store_true",
        help="the lab's adopted protocol (experiment G's): the chance guard and the region's training cases "
        "(the knee: 1,024)",
    )
    ls.add_argument("--max-steps", type=int, default=None, help="the step cap (default: the protocol's, 1,500)")
    ls.set_defaults(func=cmd_lab_starved)
    from mtdl_kit.lab.adversarial import ADVERSARY_OBJECTIVES

    la = lab_sub.add_parser(
        "adversarial",
        help="experiment B: a camera adversary whose camera follows the glaucoma label (or not), against no "
        "adversary and a shuffled-label adversary (paired seeds, CIs)",
    )
    la.add_argument("--seeds", default=None, help="training seeds, e.g. 100-107 or 1,2,5 (default: 0-7; quick: 0-1)")
    la.add_argument("--objective", default=None, choices=ADVERSARY_OBJECTIVES, help="default: confusion")
    la.add_argument("--strength", type=float, default=None, help="the adversary's strength (default: 30)")
    la.add_argument("--out", required=True, help="folder for runs.csv, summary.csv, summary.md and the run cache")
    la.add_argument("--quick", action="store_true", help="the small quick configuration (about a minute on a CPU)")
    la.set_defaults(func=cmd_lab_adversarial)

    ld = lab_sub.add_parser(
        "cascade",
        help="experiment D: a cascade in real stages (segmentation to its plateau, then a classifier on the image, "
        "the predicted mask or both), scored on predicted, reference and degraded masks (paired seeds, CIs)",
    )
    ld.add_argument("--region", default="eye", choices=("eye", "chest"), help="default: eye")
    ld.add_argument("--budget", default=None, help="main-task label budget(s), e.g. 16 or 16,256 (default: 16,256)")
    ld.add_argument("--seeds", default=None, help="training seeds, e.g. 100-107 or 1,2,5 (default: 0-7; quick: 0-1)")
    ld.add_argument("--out", required=True, help="folder for runs.csv, summary.csv, summary.md and the network cache")
    ld.add_argument("--quick", action="store_true", help="the small quick configuration (about 20 s on a CPU)")
    ld.set_defaults(func=cmd_lab_cascade)

    lg = lab_sub.add_parser(
        "families",
        help="experiment G: the four families against single-task networks under the lab's protocol (validation "
        "stopping), at equal total parameters and at equal per-task width (paired seeds, per-task CIs, Δm)",
    )
    lg.add_argument("--region", default="eye", choices=REGION_NAMES, help="default: eye")
    lg.add_argument("--families", default=None, help="comma list (default: parallel,cascaded,interacted,hybrid)")
    lg.add_argument("--seeds", default=None, help="training seeds, e.g. 100-107 or 1,2,5 (default: 0-7; quick: 0-1)")
    lg.add_argument("--out", required=True, help="folder for runs.csv, summary.csv, summary.md, curves.csv, cache")
    lg.add_argument("--quick", action="store_true", help="the small quick configuration (about 40 s on a CPU)")
    lg.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        help="train N networks at a time, each in its own process on one CPU thread, as the committed results "
        "were trained (e.g. 2 on a 2-core laptop). Default 1: in this process, on torch's threads",
    )
    add_lab_device_argument(lg)
    lg.set_defaults(func=cmd_lab_families)
