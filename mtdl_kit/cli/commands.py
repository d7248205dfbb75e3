"""The ``mtdl-kit`` subcommands other than ``lab``: ``dashboard``, ``samples``, ``gallery``, ``regions``, ``train``,
``compare``, ``data check`` and ``zoo``.

Each takes the parsed arguments and returns the process's exit status; the heavy imports happen inside, so that
``mtdl-kit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mtdl_kit.models import FAMILIES


def cmd_samples(args: argparse.Namespace) -> int:
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


def cmd_gallery(args: argparse.Namespace) -> int:
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


def cmd_regions(args: argparse.Namespace) -> int:
    from mtdl_kit.regions.base import all_regions, regions_markdown_table

    if args.markdown:
        print(regions_markdown_table())
        return 0
    for region in all_regions().values():
        print(region.describe())
        print()
    return 0


def run_config(args: argparse.Namespace, **overrides) -> object:
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


def cmd_train(args: argparse.Namespace) -> int:
    import time

    from mtdl_kit.experiments import train_run

    cfg = run_config(args, family=args.family)
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


def cmd_compare(args: argparse.Namespace) -> int:
    from mtdl_kit.experiments import compare
    from mtdl_kit.models import MULTI_TASK_FAMILIES

    families = list(MULTI_TASK_FAMILIES) if args.families == "all" else [f.strip() for f in args.families.split(",")]
    weightings = [w.strip() for w in args.weightings.split(",") if w.strip()]
    cfg = run_config(args, weighting=weightings[0])
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


def cmd_data_check(args: argparse.Namespace) -> int:
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


def cmd_zoo_train(args: argparse.Namespace) -> int:
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


def cmd_zoo_verify(args: argparse.Namespace) -> int:
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


def cmd_zoo_import(args: argparse.Namespace) -> int:
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


def cmd_zoo_list(args: argparse.Namespace) -> int:
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


def cmd_dashboard(args: argparse.Namespace) -> int:
    from mtdl_kit.launch import run_dashboard

    return run_dashboard(args.port, open_browser=not args.no_browser)
