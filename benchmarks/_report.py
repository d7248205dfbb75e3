"""Shared helpers for the benchmark scripts: machine description and RESULTS.md sections."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    """One line: date, CPU model, cores, Python, torch (if importable)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [_dt.date.today().isoformat(), cpu, f"{os.cpu_count()} cores", f"Python {platform.python_version()}"]
    try:
        import torch

        parts.append(f"torch {torch.__version__}")
        if torch.cuda.is_available():
            parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    except ImportError:
        pass
    return ", ".join(parts)


def write_section(name: str, markdown: str) -> None:
    """Replace (or append) the section ``name`` of RESULTS.md, delimited by HTML comments."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if begin in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def contrast_table(summary, keys: tuple[str, ...] = ()) -> list[str]:
    """Markdown rows of a lab summary: its ``keys`` (e.g. ``budget``), the contrast, value, 95 % CI, significant."""
    import math

    head = "".join(f"| {k} " for k in keys)
    lines = [f"{head}| contrast | value | 95 % CI | significant |", "|---:" * len(keys) + "|---|---:|---|---|"]
    for _, r in summary.iterrows():
        ci = "" if math.isnan(r["ci_low"]) else f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
        significant = r["significant"]
        unknown = significant is None or (isinstance(significant, float) and math.isnan(significant))
        sig = "" if unknown else ("yes" if significant else "no")
        first = "".join(f"| {r[k]} " for k in keys)
        lines.append(f"{first}| {r['contrast']} | {r['value']:+.3f} | {ci} | {sig} |")
    return lines


def add_seed_arguments(ap, cache: Path, *, quick_seeds: str = "0-1", quick_fresh: str = "10-11") -> None:
    """The options every lab benchmark shares: ``--seeds``, ``--replicate``, ``--cache``, ``--only-cached``."""
    ap.add_argument("--seeds", default=None, help=f"headline seeds (default: 0-7; quick: {quick_seeds})")
    ap.add_argument("--replicate", default=None, help=f"fresh seeds (default: 100-107; quick: {quick_fresh}; '' skips)")
    ap.add_argument("--cache", default=None, help=f"folder for finished runs (default: {cache})")
    ap.add_argument("--only-cached", action="store_true", help="summarise what is cached; train nothing")


def seed_sets(args, headline: tuple[int, ...], fresh: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(headline seeds, fresh seeds) from :func:`add_seed_arguments`' options; quick runs use two small sets."""
    from mtdl_kit.lab import parse_seeds

    if args.seeds:
        headline = parse_seeds(args.seeds)
    elif args.quick:
        headline = (0, 1)
    if args.replicate is not None:
        fresh = parse_seeds(args.replicate) if args.replicate else ()
    elif args.quick:
        fresh = (10, 11)
    return headline, fresh


def chance_lines(cfg, region: str, tasks, seeds, runs, stem: Path, *, write: bool, group: str = "arm") -> list[str]:
    """A lab seed set's chance-level bullets (:func:`mtdl_kit.lab.chance.chance_reading`: each seed's image-blind
    predictor on the test split, and the runs that do not beat it); with ``write`` the levels go to
    ``<stem>_chance.csv``. The levels are computed from phantoms, never trained, so they are cheap to redo."""
    from mtdl_kit.lab.chance import chance_frame, chance_reading

    chance = chance_frame(cfg, region, list(tasks), list(seeds))
    if write:
        chance.to_csv(f"{stem}_chance.csv", index=False)
    reading = chance_reading(runs, chance, group=group)
    return [
        "Chance (computed from the runs and each seed's image-blind predictor):",
        "",
        *[f"- {s}" for s in reading],
        "",
    ]
