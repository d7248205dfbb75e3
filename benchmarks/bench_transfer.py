"""The transfer lab, experiment A: headline run and its replication on fresh seeds -> RESULTS.md "transfer".

Runs :func:`mtdl_kit.lab.run_transfer` (every arm × label budget × seed, resumable through a cache),
once on the headline seeds and once on fresh seeds (the replication an instructor can repeat with
``mtdl-kit lab transfer --seeds ...``), plus a diagnostic: how well the *predicted* mask of the
related arm carries the main label by itself (ROC-AUC of the cup's share of the predicted disc),
against the same quantity on the true masks. It writes the per-run and summary CSVs to
``benchmarks/results/transfer_a_*.csv`` and the section "transfer" of RESULTS.md, whose reading is
computed from the intervals.

Run: ``.venv/bin/python benchmarks/bench_transfer.py`` (``--quick`` for a smoke run; ``--budgets``,
``--seeds``, ``--replicate`` to choose; ``--cache DIR`` keeps finished runs across sessions).
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

from _report import contrast_table, machine, write_section

from mtdl_kit.lab import QUICK, TransferConfig, configure, parse_seeds, reading, run_arm, run_transfer
from mtdl_kit.lab.transfer import _datasets
from mtdl_kit.regions import get_region

RESULTS = Path(__file__).resolve().parent / "results"


def mask_diagnostic(cfg: TransferConfig, budget: int, seed: int) -> dict[str, float]:
    """ROC-AUC of the cup's share of the disc, from the related arm's predicted masks and from the truth."""
    import torch

    from mtdl_kit.metrics import roc_auc

    data = _datasets(cfg, seed)
    run = run_arm(cfg, "related", budget, seed, datasets=data, keep_model=True)
    model, test = run.model.eval(), data[2]
    pred, true, labels = [], [], []
    with torch.inference_mode():
        for i in range(len(test)):
            item = test[i]
            probs = torch.softmax(model(item["image"][None])[cfg.auxiliary], 1)[0]
            pred.append(float(probs[2].sum() / (probs[1:].sum() + 1e-6)))
            mask = item[cfg.auxiliary]
            true.append(float((mask == 2).sum() / ((mask >= 1).sum() + 1e-6)))
            labels.append(int(item[cfg.main]))

    def auc(x: list[float]) -> float:
        v = np.asarray(x)
        return float(roc_auc(np.stack([1 - v, v], 1), np.asarray(labels)))

    return {
        "predicted": auc(pred),
        "true": auc(true),
        "head": run.metrics[cfg.main]["auc"],
        "dice": run.metrics[cfg.auxiliary]["dice"],
    }


def steps_table(result) -> list[str]:
    runs = result.runs_frame
    main = runs[(runs["task"] == result.config.main) & (runs["metric"] == "auc")]
    grouped = main.groupby(["budget", "arm"]).agg(
        best_step=("best_step", "median"), steps_run=("steps_run", "median"), seconds=("seconds", "median")
    )
    lines = ["| budget | arm | median best step | median steps run | median s/run |", "|---:|---|---:|---:|---:|"]
    for (budget, arm), r in grouped.iterrows():
        lines.append(f"| {budget} | {arm} | {r['best_step']:.0f} | {r['steps_run']:.0f} | {r['seconds']:.0f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--region",
        default="eye",
        help="eye (default; tables transfer_a_<run>_*, section 'transfer') or another region with a coupled "
        "segmentation, e.g. chest (tables transfer_a_<region>_<run>_*, section 'transfer-<region>')",
    )
    ap.add_argument("--budgets", default=None, help="comma list of main-task label budgets")
    ap.add_argument("--seeds", default=None, help="headline seeds, e.g. 0-7")
    ap.add_argument("--replicate", default=None, help="fresh seeds for the replication, e.g. 100-107 ('' to skip)")
    ap.add_argument("--replicate-budgets", default=None, help="replication budgets (default: the headline ones)")
    ap.add_argument("--cache", default=None, help="folder for finished runs (default: a folder under /tmp)")
    ap.add_argument(
        "--select-after-warmup",
        action="store_true",
        help="the first min_evaluations evaluations cannot be selected (LabProtocol.select_after_warmup)",
    )
    ap.add_argument("--no-write", action="store_true", help="fill the cache only: no CSV, no RESULTS section")
    args = ap.parse_args()
    base = QUICK if args.quick else TransferConfig()
    if args.select_after_warmup:
        from dataclasses import replace

        base = replace(base, select_after_warmup=True)
    budgets = tuple(int(b) for b in args.budgets.split(",")) if args.budgets else None
    coupling = get_region(args.region).coupling
    cfg = configure(
        base,
        region=args.region,
        main=coupling.classification,
        auxiliary=coupling.segmentation,
        budgets=budgets,
        seeds=parse_seeds(args.seeds) if args.seeds else None,
    )
    # the eye's tables predate the region axis and keep their names
    prefix = "transfer_a" if args.region == "eye" else f"transfer_a_{args.region}"
    section = "transfer" if args.region == "eye" else f"transfer-{args.region}"
    fresh = args.replicate if args.replicate is not None else ("10-12" if args.quick else "100-107")
    cache = Path(args.cache) if args.cache else Path("/tmp/mtdl-kit-transfer-cache")
    t0 = time.perf_counter()

    def report(run) -> None:
        print(f"{run.budget:4d} seed {run.seed:4d} {run.arm:9s} auc {run.metrics[cfg.main]['auc']:.3f}", flush=True)

    headline = run_transfer(cfg, cache=cache, on_run=report)
    results = [("headline", headline)]
    if fresh:
        rb = tuple(int(b) for b in args.replicate_budgets.split(",")) if args.replicate_budgets else cfg.budgets
        again = configure(cfg, seeds=parse_seeds(fresh), budgets=rb)
        results.append(("replication", run_transfer(again, cache=cache, on_run=report)))
    if args.no_write:
        return
    diagnostic = mask_diagnostic(cfg, cfg.budgets[0], cfg.seeds[0]) if cfg.region == "eye" else None
    minutes = (time.perf_counter() - t0) / 60
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        for name, res in results:
            res.runs_frame.assign(run=name).to_csv(RESULTS / f"{prefix}_{name}_runs.csv", index=False)
            res.summary.assign(run=name).to_csv(RESULTS / f"{prefix}_{name}_summary.csv", index=False)
    lines = [
        "## The transfer lab, experiment A: a label-starved main task (`benchmarks/bench_transfer.py`)"
        + ("" if cfg.region == "eye" else f" — {cfg.region}"),
        "",
        f"Machine: {machine()}; {minutes:.0f} min in all (cached runs are reused). "
        f"{cfg.region}: main task {cfg.main} (ROC-AUC), auxiliary task {cfg.auxiliary} labelled on all "
        f"{cfg.n_train} training cases; the main label on `budget` of them. Arms: `none` (single-task), "
        f"`related` ({cfg.family}, guide_summary={cfg.guide_summary}), `shuffled` (the same network with the "
        "auxiliary masks permuted across cases: same statistics, no information). Every arm stops by the same "
        "validation rule (best checkpoint by every trained task's primary metric, patience "
        f"{cfg.patience} × {cfg.eval_every} steps, at most {cfg.max_steps}); contrasts are mean per-seed "
        "differences in AUC points with a paired hierarchical bootstrap CI (seeds and test cases).",
        "",
        f"Config: `{asdict(cfg)}`",
        "",
    ]
    for name, res in results:
        lines += [f"### {name.capitalize()}: seeds {list(res.config.seeds)}", ""]
        lines += [*contrast_table(res.summary, ("budget",)), ""]
        lines += ["Reading (computed from the intervals):", "", *[f"- {s}" for s in reading(res)], ""]
        lines += ["Steps each arm used (validation stopping):", "", *steps_table(res), ""]
    if diagnostic is not None:
        lines += [
            "### Diagnostic: is the information in the predicted mask?",
            "",
            f"Related arm, budget {cfg.budgets[0]}, seed {cfg.seeds[0]}: disc/cup Dice {diagnostic['dice']:.3f}; the "
            f"cup's share of the predicted disc separates {cfg.main} with ROC-AUC {diagnostic['predicted']:.3f} "
            f"(true masks: {diagnostic['true']:.3f}) — what the network's own {cfg.main} head reached: "
            f"{diagnostic['head']:.3f}. A gap between the two says the head does not read what the mask holds.",
        ]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        write_section(section, text)


if __name__ == "__main__":
    main()
