"""The ``mtdl-kit`` command line: ``dashboard``, ``lab``, ``samples``, ``gallery``, ``regions``, ``train``, ``zoo`` ...

Every subcommand validates its arguments and exits with a one-line message naming the problem.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mtdl_kit import DISCLAIMER, __version__
from mtdl_kit.models import FAMILIES
from mtdl_kit.regions.base import REGION_NAMES


def _region_list(text: str) -> list[str]:
    names = list(REGION_NAMES) if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in REGION_NAMES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown region(s) {bad}; allowed: all or a comma list of {REGION_NAMES}")
    return names


def _cmd_samples(args: argparse.Namespace) -> int:
    from mtdl_kit.data import default_root, verify_samples, write_samples

    root = Path(args.out) if args.out else default_root()
    if args.verify:
        problems = verify_samples(root, args.regions)
        for p in problems:
            print(f"PROBLEM {p}")
        print(f"{len(problems)} problem(s) in {root}")
        return 1 if problems else 0
    manifest = write_samples(root, args.regions, progress=not args.quiet)
    for name in args.regions:
        entry = manifest["regions"][name]
        print(f"{name:16s} {len(entry['seeds'])} cases at {entry['size']} px -> {root / name}")
    print(f"manifest: {root / 'manifest.json'}")
    return 0


def _cmd_gallery(args: argparse.Namespace) -> int:
    from mtdl_kit.regions.base import get_region
    from mtdl_kit.viz import gallery_figure

    items = [(get_region(n), get_region(n).sample(args.seed, size=args.size)) for n in args.regions]
    fig = gallery_figure(items, title=f"mtdl-kit phantoms — the review's eight regions (seed {args.seed})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".html":
        fig.write_html(out, include_plotlyjs="cdn" if args.cdn else True)
    elif out.suffix.lower() in (".png", ".svg", ".pdf"):
        try:
            fig.write_image(out, scale=args.scale)
        except Exception as exc:  # kaleido needs a Chrome/Chromium; say so instead of a traceback
            print(f"error: could not write {out} ({exc}); install Debian chromium or use a .html path", file=sys.stderr)
            return 1
    else:
        raise ValueError(f"--out must end in .html, .png, .svg or .pdf, got {out.name!r}.")
    print(f"wrote {out}")
    return 0


def _cmd_regions(args: argparse.Namespace) -> int:
    from mtdl_kit.regions.base import all_regions, regions_markdown_table

    if args.markdown:
        print(regions_markdown_table())
        return 0
    for region in all_regions().values():
        print(region.describe())
        print()
    return 0


def _run_config(args: argparse.Namespace, **overrides) -> object:
    from mtdl_kit.experiments import RunConfig

    tasks = None if args.tasks in (None, "all") else tuple(n.strip() for n in args.tasks.split(",") if n.strip())
    fields = {
        "region": args.region,
        "tasks": tasks,
        "weighting": getattr(args, "weighting", "ew"),
        "level": args.level,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "size": args.size,
        "n_train": args.n_train,
        "n_test": args.n_test,
        "relatedness": args.relatedness,
        "nuisance": args.nuisance,
        "width": args.width,
        "seed": getattr(args, "seed", 0),
        "device": args.device,
    }
    if getattr(args, "data_dir", None):
        fields.update(data_dir=args.data_dir, task_map=args.task_map, mask_values=args.mask_values)
    fields.update(overrides)
    return RunConfig(**fields)


def _cmd_train(args: argparse.Namespace) -> int:
    import time

    from mtdl_kit.experiments import train_run

    cfg = _run_config(args, family=args.family)
    cfg.validate()
    out = (
        Path(args.out)
        if args.out
        else Path("runs") / f"{args.region}-{args.family}-{args.weighting}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    result = train_run(cfg, out=out, progress=not args.quiet)
    for task, metrics in result.metrics.items():
        shown = ", ".join(f"{k}={v:.3f}" for k, v in list(metrics.items())[:4])
        print(f"{task:16s} {shown}")
    print(f"run folder: {out} (config.json, history.json, metrics.json, model.pt, report.html)")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from mtdl_kit.experiments import compare
    from mtdl_kit.models import MULTI_TASK_FAMILIES

    families = list(MULTI_TASK_FAMILIES) if args.families == "all" else [f.strip() for f in args.families.split(",")]
    weightings = [w.strip() for w in args.weightings.split(",") if w.strip()]
    cfg = _run_config(args, weighting=weightings[0])
    result = compare(
        cfg,
        families=families,
        weightings=weightings,
        seeds=list(range(args.seeds)),
        min_seeds=min(3, args.seeds),
        progress=not args.quiet,
    )
    out = Path(args.out) if args.out else Path("runs") / f"compare-{args.region}"
    out.mkdir(parents=True, exist_ok=True)
    md = result.to_markdown()
    header = (
        f"# Δm on {args.region} ({args.seeds} seeds, {args.steps} steps, relatedness {args.relatedness})\n\n"
        "Δm = mean relative per-task change vs single-task baselines with the same budget (%), "
        "95 % paired bootstrap CI over seeds and test cases.\n\n"
    )
    (out / "compare.md").write_text(header + md + "\n")
    result.table.to_csv(out / "compare.csv", index=False)
    print(md)
    print(f"wrote {out / 'compare.md'} and {out / 'compare.csv'}")
    return 0


def _cmd_zoo_train(args: argparse.Namespace) -> int:
    from mtdl_kit.zoo import default_root, train_zoo

    root = Path(args.root) if args.root else default_root()

    def report(entry) -> None:
        from mtdl_kit.metrics import primary_metric
        from mtdl_kit.regions.base import get_region

        region = get_region(entry.region)
        parts = []
        for task, m in entry.metrics.items():
            name = primary_metric(region.task(task))
            parts.append(f"{task} {name}={'n/a' if m.get(name) is None else format(m[name], '.3f')}")
        scores = ", ".join(parts)
        print(f"{entry.key:32s} {entry.train_seconds:7.1f} s  {entry.size_bytes / 1024:6.1f} kB  {scores}", flush=True)

    entries = train_zoo(
        [args.region] if args.region else None,
        [args.family] if args.family else list(FAMILIES),
        root=root,
        recipe=args.recipe,
        steps=args.steps,
        size=args.size,
        batch_size=args.batch_size,
        width=args.width,
        seed=args.seed,
        weighting=args.weighting,
        device=args.device,
        skip_existing=args.skip_existing,
        progress=not args.quiet,
        on_model=report,
    )
    print(f"{len(entries)} model(s) in {root / 'manifest.json'}")
    return 0


def _cmd_zoo_verify(args: argparse.Namespace) -> int:
    from mtdl_kit.zoo import default_root, quick_keys, verify_zoo, verify_zoo_quick

    root = Path(args.root) if args.root else default_root()
    regions = [args.region] if args.region else None
    options = {"regions": regions, "tolerance": args.tolerance, "progress": not args.quiet}
    problems = verify_zoo_quick(root, **options) if args.quick else verify_zoo(root, **options)
    for problem in problems:
        print(f"PROBLEM {problem}")
    scope = (
        f"quick: every file's sha256 and size, {len(quick_keys(root, regions=regions))} model(s) re-scored"
        if args.quick
        else "every model re-scored"
    )
    print(f"{len(problems)} problem(s) in {root} ({scope}; tolerance {args.tolerance:g} on each task's primary metric)")
    return 1 if problems else 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from mtdl_kit.launch import run_dashboard

    return run_dashboard(args.port, open_browser=not args.no_browser)


def _cmd_lab(args: argparse.Namespace) -> int:
    from mtdl_kit.launch import run_lab

    return run_lab(args.port, folder=args.dir, open_browser=not args.no_browser)


def _cmd_zoo_import(args: argparse.Namespace) -> int:
    from mtdl_kit.zoo import MANIFEST as MANIFEST_NAME
    from mtdl_kit.zoo import ZooError, default_root, import_region

    root = Path(args.root) if args.root else default_root()
    try:
        entries = import_region(args.source, root, args.region)
    except ZooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = entries[0].image_size
    print(f"imported {len(entries)} {args.region} model(s) ({size} px) from {args.source} into {root / MANIFEST_NAME}")
    return 0


def _cmd_zoo_list(args: argparse.Namespace) -> int:
    from mtdl_kit.zoo import default_root, zoo_table

    root = Path(args.root) if args.root else default_root()
    rows = zoo_table(root)
    if not rows:
        print(f"no zoo models in {root}; train them with `mtdl-kit zoo train`")
        return 1
    for row in rows:
        scores = ", ".join(f"{k}={'n/a' if v is None else f'{v:.3f}'}" for k, v in row["metrics"].items())
        print(f"{row['key']:32s} {row['size_kb']:7.1f} kB {row['train_s']:7.1f} s  {scores}")
    print(f"{len(rows)} model(s) in {root}")
    return 0


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", required=True, choices=REGION_NAMES)
    p.add_argument("--tasks", default="all", help="all or a comma list of the region's task names")
    p.add_argument("--level", default="parameters", choices=("parameters", "features"))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--size", type=int, default=64, help="image size (multiple of 16)")
    p.add_argument("--n-train", type=int, default=512)
    p.add_argument("--n-test", type=int, default=128)
    p.add_argument("--relatedness", type=float, default=1.0)
    p.add_argument("--nuisance", default=None)
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=None, help="output folder (default: runs/...)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_data_arguments(p, required=False)


def _task_map(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if not pairs or any(len(pair) != 2 or not pair[0].strip() or not pair[1].strip() for pair in pairs):
        raise argparse.ArgumentTypeError(f"expected COLUMN=TASK pairs separated by commas, got {text!r}")
    return {k.strip(): v.strip() for k, v in pairs}


def _mask_values(text: str) -> dict[int, int]:
    """``"255:1,128:2"`` -> ``{255: 1, 128: 2}`` (stored mask value -> class index)."""
    out: dict[int, int] = {}
    for item in text.split(","):
        parts = [part.strip() for part in item.split(":")]
        try:
            stored, cls = (int(part) for part in parts) if len(parts) == 2 else (None, None)
        except ValueError:
            stored, cls = None, None
        if stored is None or cls is None or cls < 0:
            raise argparse.ArgumentTypeError(
                f"expected STORED:CLASS pairs of integers separated by commas (class >= 0), e.g. 255:1,128:2; "
                f"got {text!r} (bad item {item.strip()!r})"
            )
        if stored in out:
            raise argparse.ArgumentTypeError(f"the stored value {stored} is mapped twice in {text!r}")
        out[stored] = cls
    return out


def _add_data_arguments(p: argparse.ArgumentParser, required: bool) -> None:
    if required:
        p.add_argument("path", help="dataset folder (images/ + labels.csv, or dataset.json) or MedMNIST .npz")
    else:
        p.add_argument(
            "--data-dir", default=None, help="train on your own dataset (folder + CSV, dataset.json or .npz)"
        )
    p.add_argument("--task-map", type=_task_map, default=None, help="rename your columns: COLUMN=TASK[,COLUMN=TASK...]")
    p.add_argument(
        "--mask-values",
        type=_mask_values,
        default=None,
        help="remap stored mask values to class indices: STORED:CLASS[,STORED:CLASS...], e.g. 255:1 for 0/255 "
        "masks (values not listed keep their value)",
    )


def _cmd_data_check(args: argparse.Namespace) -> int:
    """Every problem of every case in one pass, then what will be treated as unlabelled (exit 1 on problems)."""
    from mtdl_kit.data import check_dataset

    tasks = None if args.tasks in (None, "all") else [n.strip() for n in args.tasks.split(",") if n.strip()]
    options = {"tasks": tasks, "task_map": args.task_map, "mask_values": args.mask_values}
    result = check_dataset(args.path, args.region, **options)
    for problem in result:
        print(f"PROBLEM {problem}")
    for note in result.notes:
        print(f"NOTE {note}")
    if result:
        print(f"{len(result)} problem(s) in {args.path}")
        return 1
    print(f"OK {result.summary}")
    return 0


def _budgets(text: str) -> tuple[int, ...]:
    """``"16,256"`` -> ``(16, 256)``; a clear error for anything else."""
    try:
        return tuple(int(b) for b in text.split(",") if b.strip())
    except ValueError:
        raise ValueError(
            f"--budget must be label counts separated by commas, e.g. 16 or 16,256; got {text!r}."
        ) from None


def _report_lab_run(paths: Sequence[Path], sentences: Sequence[str]) -> int:
    """Print the files a lab experiment wrote and its reading (one sentence per line); exit code 0."""
    for path in paths:
        print(f"wrote {path}")
    for sentence in sentences:
        print(sentence)
    return 0


def _cmd_lab_transfer(args: argparse.Namespace) -> int:
    """Experiment A of the transfer lab on the seeds the user chooses: per-seed CSV and a summary with CIs."""
    from mtdl_kit.lab import QUICK, TransferConfig, configure, parse_seeds, reading, run_transfer, write_outputs

    base = QUICK if args.quick else TransferConfig()
    budgets = _budgets(args.budget) if args.budget else None
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
    return _report_lab_run(write_outputs(result, out), reading(result))


def _cmd_lab_crossover(args: argparse.Namespace) -> int:
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
    budgets = _budgets(args.budget) if args.budget else (base.budgets if args.quick else (16,))
    base = configure(base, family=args.family, budgets=budgets, seeds=parse_seeds(args.seeds) if args.seeds else None)
    out = Path(args.out)

    def report(rule: str, run) -> None:
        value = run.metrics[base.main]
        score = ", ".join(f"{k}={v:.3f}" for k, v in value.items() if k != "n_cases")
        print(f"rule {rule} budget {run.budget:4d} seed {run.seed:4d} {run.arm:9s} steps {run.best_step:5d}  {score}")

    result = run_crossover(base, cache=out / "cache", on_run=report)
    return _report_lab_run(write_crossover_outputs(result, out), crossover_reading(result))


def _cmd_lab_starved(args: argparse.Namespace) -> int:
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
    return _report_lab_run(write_starved_outputs(result, out), starved_reading(result))


def _cmd_lab_adversarial(args: argparse.Namespace) -> int:
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
    return _report_lab_run(write_adversarial_outputs(result, out), adversarial_reading(result))


def _cmd_lab_cascade(args: argparse.Namespace) -> int:
    """Experiment D of the transfer lab (a cascade in real stages, degraded masks) on the seeds the user chooses."""
    from mtdl_kit.lab import cascade_reading, default_cascade_config, parse_seeds, run_cascade, write_cascade_outputs

    cfg = default_cascade_config(
        args.region,
        quick=args.quick,
        seeds=parse_seeds(args.seeds) if args.seeds else None,
        budgets=_budgets(args.budget) if args.budget else None,
    )
    out = Path(args.out)

    def report(run) -> None:
        steps = f"steps {run.best_step:5d}/{run.steps_run:5d}"
        print(f"seed {run.seed:4d} {run.stage:10s} budget {run.budget:4d} {steps} {run.seconds:6.1f} s", flush=True)

    result = run_cascade(cfg, cache=out / "cache", on_run=report)
    return _report_lab_run(write_cascade_outputs(result, out), cascade_reading(result))


def _cmd_lab_conflict(args: argparse.Namespace) -> int:
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
    return _report_lab_run(write_conflict_outputs(result, out), conflict_reading(result))


def _cmd_lab_families(args: argparse.Namespace) -> int:
    """Experiment G of the transfer lab (the families under the lab's protocol, two capacity rules) on chosen seeds."""
    from mtdl_kit.lab import (
        default_families_config,
        families_reading,
        parse_seeds,
        run_families,
        write_families_outputs,
    )

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

    result = run_families(cfg, cache=out / "cache", on_run=report)
    return _report_lab_run(write_families_outputs(result, out), families_reading(result))


def add_lab_device_argument(parser: argparse.ArgumentParser) -> None:
    """``--device``: where a lab experiment's networks train (:attr:`mtdl_kit.lab.protocol.LabProtocol.device`)."""
    from mtdl_kit.lab.protocol import LAB_DEVICES

    parser.add_argument(
        "--device",
        default="cpu",
        choices=LAB_DEVICES,
        help="where every network trains (default: cpu, as every committed result; cuda trains under autocast, and "
        "its runs are cached under their own key and say where they ran)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(
        prog="mtdl-kit",
        description=f"Multi-task deep learning for medical imaging, a teaching toolkit. {DISCLAIMER}",
    )
    p.add_argument("--version", action="version", version=f"mtdl-kit {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from mtdl_kit import launch as _launch

    db = sub.add_parser(
        "dashboard",
        help="serve the Streamlit dashboard on http://127.0.0.1:PORT (Ctrl+C stops)",
        description=(
            "Start the dashboard shipped with this installation (python -m streamlit run), bound to 127.0.0.1 only."
        ),
    )
    db.add_argument("--port", type=int, default=_launch.DEFAULT_DASHBOARD_PORT)
    db.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    db.set_defaults(func=_cmd_dashboard)

    s = sub.add_parser("samples", help="write (or --verify) the bundled samples in data_samples/")
    s.add_argument("--regions", type=_region_list, default=list(REGION_NAMES), help="all or comma list")
    s.add_argument("--out", default=None, help="store root (default: data_samples/ or $MTDL_KIT_SAMPLES)")
    s.add_argument("--verify", action="store_true", help="check hashes and regenerate every case from its seed")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd_samples)

    g = sub.add_parser("gallery", help="figure of every region's phantom with overlays and labels")
    g.add_argument(
        "--out", default="docs/gallery.png", help="output file: .html (interactive) or .png/.svg/.pdf (needs chromium)"
    )
    g.add_argument("--regions", type=_region_list, default=list(REGION_NAMES))
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--size", type=int, default=256)
    g.add_argument("--scale", type=float, default=1.0)
    g.add_argument("--cdn", action="store_true", help="load plotly.js from a CDN in the HTML (smaller file)")
    g.set_defaults(func=_cmd_gallery)

    t = sub.add_parser("train", help="train one family with one weighting method; writes a run folder")
    _add_run_arguments(t)
    t.add_argument("--family", default="parallel", choices=FAMILIES)
    t.add_argument("--weighting", default="ew")
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=_cmd_train)

    c = sub.add_parser("compare", help="families x weightings vs single-task baselines: Δm with 95%% CI")
    _add_run_arguments(c)
    c.add_argument("--families", default="all", help="all or a comma list")
    c.add_argument("--weightings", default="ew", help="comma list, e.g. ew,uw,upgrad")
    c.add_argument("--seeds", type=int, default=3)
    c.set_defaults(func=_cmd_compare)

    d = sub.add_parser("data", help="your own datasets: `data check PATH --region R` lists every problem")
    data_sub = d.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    dc = data_sub.add_parser("check", help="list all problems of a dataset at once (exit status 1 if any)")
    _add_data_arguments(dc, required=True)
    dc.add_argument("--region", required=True, choices=REGION_NAMES)
    dc.add_argument("--tasks", default="all", help="all or a comma list of the region's task names")
    dc.set_defaults(func=_cmd_data_check)

    z = sub.add_parser("zoo", help="pretrained zoo: `zoo train`, `zoo verify`, `zoo list`")
    zoo_sub = z.add_subparsers(dest="zoo_command", required=True, metavar="ACTION")
    from mtdl_kit import zoo as _zoo

    zt = zoo_sub.add_parser("train", help="(re)train zoo models and update the manifest")
    zt.add_argument("--region", default=None, choices=REGION_NAMES, help="default: all regions")
    zt.add_argument("--family", default=None, choices=FAMILIES, help="default: all, incl. single-task")
    zt.add_argument(
        "--recipe",
        default="lab",
        choices=sorted(_zoo.RECIPES),
        help="lab (the models in data_samples/weights): the transfer lab's validation stopping at 128 px, 256 px "
        "for the abdomen (at most 4000 steps; docs/zoo.md); lab-to-cap: the same without the early stop (every "
        "model to 4000 steps, its best validation evaluation kept); fixed: wave 1's 1500 steps at 64 px",
    )
    zt.add_argument("--steps", type=int, default=None, help="default: the recipe's (an upper bound under lab)")
    zt.add_argument("--size", type=int, default=None, help="image size (multiple of 16); default: the recipe's")
    zt.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    zt.add_argument("--width", type=int, default=None)
    zt.add_argument("--seed", type=int, default=_zoo.DEFAULT_SEED)
    zt.add_argument(
        "--weighting",
        default=None,
        help="loss weighting of the multi-task models (default: ew; uw for musculoskeletal, see docs/zoo.md)",
    )
    zt.add_argument("--device", default="auto")
    zt.add_argument("--skip-existing", action="store_true", help="keep models whose file and config match")
    zt.add_argument("--root", default=None, help="zoo folder (default: data_samples/weights or $MTDL_KIT_ZOO)")
    zt.add_argument("--quiet", action="store_true", help="no progress bar")
    zt.set_defaults(func=_cmd_zoo_train)
    zv = zoo_sub.add_parser("verify", help="check sha256 and recompute held-out metrics (exit status 1 if any problem)")
    zv.add_argument("--region", default=None, choices=REGION_NAMES, help="default: all regions in the manifest")
    zv.add_argument("--tolerance", type=float, default=_zoo.DEFAULT_TOLERANCE)
    zv.add_argument("--root", default=None, help="zoo folder (default: data_samples/weights or $MTDL_KIT_ZOO)")
    zv.add_argument(
        "--quick",
        action="store_true",
        help=f"check every file's sha256 and size, but re-score only one model per region (the "
        f"{_zoo.QUICK_FAMILY} network on all its tasks) on its full held-out test set: ~10 s instead of ~1 min",
    )
    zv.add_argument("--quiet", action="store_true", help="no progress bar")
    zv.set_defaults(func=_cmd_zoo_verify)
    zi = zoo_sub.add_parser(
        "import", help="swap a region's complete model set trained in another folder (`zoo train --root DIR`) in"
    )
    zi.add_argument("--from", dest="source", required=True, help="the zoo folder the region was trained in")
    zi.add_argument("--region", required=True, choices=REGION_NAMES)
    zi.add_argument(
        "--root", default=None, help="zoo folder to update (default: data_samples/weights or $MTDL_KIT_ZOO)"
    )
    zi.set_defaults(func=_cmd_zoo_import)
    zl = zoo_sub.add_parser("list", help="the zoo's models with their held-out primary metrics")
    zl.add_argument("--root", default=None, help="zoo folder (default: data_samples/weights or $MTDL_KIT_ZOO)")
    zl.set_defaults(func=_cmd_zoo_list)

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
    lab.set_defaults(func=_cmd_lab)
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
    lt.set_defaults(func=_cmd_lab_transfer)
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
    lc.set_defaults(func=_cmd_lab_crossover)
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
    lf.set_defaults(func=_cmd_lab_conflict)
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
    ls.set_defaults(func=_cmd_lab_starved)
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
    la.set_defaults(func=_cmd_lab_adversarial)

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
    ld.set_defaults(func=_cmd_lab_cascade)

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
    add_lab_device_argument(lg)
    lg.set_defaults(func=_cmd_lab_families)

    r = sub.add_parser("regions", help="list the regions, their tasks and coupling rules")
    r.add_argument("--markdown", action="store_true", help="print a markdown table (as in the README)")
    r.set_defaults(func=_cmd_regions)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mtdl-kit`` console command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
