"""The ``mtdl-kit`` argument parser and entry point.

Every subcommand validates its arguments and exits with a one-line message naming the problem.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mtdl_kit import DISCLAIMER, __version__
from mtdl_kit.cli.arguments import add_data_arguments, add_run_arguments, region_list
from mtdl_kit.cli.commands import (
    cmd_compare,
    cmd_dashboard,
    cmd_data_check,
    cmd_gallery,
    cmd_regions,
    cmd_samples,
    cmd_train,
    cmd_zoo_import,
    cmd_zoo_list,
    cmd_zoo_train,
    cmd_zoo_verify,
)
from mtdl_kit.cli.lab import add_lab_parser
from mtdl_kit.models import FAMILIES
from mtdl_kit.regions.base import REGION_NAMES


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
    db.set_defaults(func=cmd_dashboard)

    s = sub.add_parser("samples", help="write (or --verify) the bundled samples in data_samples/")
    s.add_argument("--regions", type=region_list, default=list(REGION_NAMES), help="all or comma list")
    s.add_argument("--out", default=None, help="store root (default: data_samples/ or $MTDL_KIT_SAMPLES)")
    s.add_argument("--verify", action="store_true", help="check hashes and regenerate every case from its seed")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_samples)

    g = sub.add_parser("gallery", help="figure of every region's phantom with overlays and labels")
    g.add_argument(
        "--out", default="docs/gallery.png", help="output file: .html (interactive) or .png/.svg/.pdf (needs chromium)"
    )
    g.add_argument("--regions", type=region_list, default=list(REGION_NAMES))
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--size", type=int, default=256)
    g.add_argument("--scale", type=float, default=1.0)
    g.add_argument("--cdn", action="store_true", help="load plotly.js from a CDN in the HTML (smaller file)")
    g.set_defaults(func=cmd_gallery)

    t = sub.add_parser("train", help="train one family with one weighting method; writes a run folder")
    add_run_arguments(t)
    t.add_argument("--family", default="parallel", choices=FAMILIES)
    t.add_argument("--weighting", default="ew")
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=cmd_train)

    c = sub.add_parser("compare", help="families x weightings vs single-task baselines: Δm with 95%% CI")
    add_run_arguments(c)
    c.add_argument("--families", default="all", help="all or a comma list")
    c.add_argument("--weightings", default="ew", help="comma list, e.g. ew,uw,upgrad")
    c.add_argument("--seeds", type=int, default=3)
    c.set_defaults(func=cmd_compare)

    d = sub.add_parser("data", help="your own datasets: `data check PATH --region R` lists every problem")
    data_sub = d.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    dc = data_sub.add_parser("check", help="list all problems of a dataset at once (exit status 1 if any)")
    add_data_arguments(dc, required=True)
    dc.add_argument("--region", required=True, choices=REGION_NAMES)
    dc.add_argument("--tasks", default="all", help="all or a comma list of the region's task names")
    dc.set_defaults(func=cmd_data_check)

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
    zt.set_defaults(func=cmd_zoo_train)
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
    zv.set_defaults(func=cmd_zoo_verify)
    zi = zoo_sub.add_parser(
        "import", help="swap a region's complete model set trained in another folder (`zoo train --root DIR`) in"
    )
    zi.add_argument("--from", dest="source", required=True, help="the zoo folder the region was trained in")
    zi.add_argument("--region", required=True, choices=REGION_NAMES)
    zi.add_argument(
        "--root", default=None, help="zoo folder to update (default: data_samples/weights or $MTDL_KIT_ZOO)"
    )
    zi.set_defaults(func=cmd_zoo_import)
    zl = zoo_sub.add_parser("list", help="the zoo's models with their held-out primary metrics")
    zl.add_argument("--root", default=None, help="zoo folder (default: data_samples/weights or $MTDL_KIT_ZOO)")
    zl.set_defaults(func=cmd_zoo_list)

    add_lab_parser(sub)

    r = sub.add_parser("regions", help="list the regions, their tasks and coupling rules")
    r.add_argument("--markdown", action="store_true", help="print a markdown table (as in the README)")
    r.set_defaults(func=cmd_regions)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mtdl-kit`` console command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
