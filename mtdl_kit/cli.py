"""The ``mtdl-kit`` command line: ``samples``, ``gallery``, ``regions`` (more subcommands follow).

Every subcommand validates its arguments and exits with a one-line message naming the problem.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mtdl_kit import DISCLAIMER, __version__
from mtdl_kit.regions.base import REGION_NAMES


def _region_list(text: str) -> list[str]:
    names = list(REGION_NAMES) if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in REGION_NAMES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown region(s) {bad}; allowed: all or a comma list of {REGION_NAMES}")
    return names


def _cmd_samples(args: argparse.Namespace) -> int:
    from mtdl_kit.data.samples import default_root, verify_samples, write_samples

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(
        prog="mtdl-kit",
        description=f"Multi-task deep learning for medical imaging, a teaching toolkit. {DISCLAIMER}",
    )
    p.add_argument("--version", action="version", version=f"mtdl-kit {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
