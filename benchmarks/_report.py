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
    """Replace the section ``name`` of RESULTS.md, delimited by HTML comments, or add it beside its relatives
    (``section_insertion_point``)."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if begin in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        at = section_insertion_point(text, name)
        text = text.rstrip() + "\n\n" + block + "\n" if at is None else text[:at] + "\n\n" + block + text[at:]
    RESULTS.write_text(with_contents(text))


def section_insertion_point(text: str, name: str) -> int | None:
    """Where a new section ``name`` goes in ``text``: just after the last section that shares the most leading
    dash-separated words with it (``families-lab-size128-brain`` joins the ``families-lab-*`` sections), of those
    the ones that also share its last words if any do (it follows ``families-lab-n_train1024-brain``). A group's
    ``*-notes`` sections, written by hand, stay last in it: a new section goes before them, unless it is a notes
    section itself. ``None`` (append at the end) when no section shares its first word."""

    def shared(a: list[str], b: list[str]) -> int:  # leading words in common
        return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))

    words, is_notes = name.split("-"), name.endswith("-notes")
    sections = [
        (m["name"].split("-"), m.end())
        for m in _BLOCK.finditer(text)
        if m["name"] != CONTENTS and (is_notes or not m["name"].endswith("-notes"))
    ]
    lead = max((shared(words, other) for other, _ in sections), default=0)
    if lead == 0:
        return None
    group = [(other, end) for other, end in sections if shared(words, other) == lead]
    trail = max(shared(words[::-1], other[::-1]) for other, _ in group)
    return max(end for other, end in group if shared(words[::-1], other[::-1]) == trail)


CONTENTS = "contents"
_BLOCK = re.compile(r"<!-- BEGIN (?P<name>[^ ]+) -->\n(?P<body>.*?)<!-- END (?P=name) -->", re.S)
_HEADING = re.compile(r"^(?P<hashes>#{1,6}) (?P<title>.+)$", re.M)


def heading_anchor(title: str, seen: dict[str, int]) -> str:
    """The anchor GitHub gives a heading (github-slugger: lower case, punctuation, symbols and superscripts dropped,
    spaces to hyphens, ``-1``, ``-2`` ... on repeats); ``seen`` counts the anchors given so far in the document."""
    import unicodedata

    def kept(c: str) -> bool:  # letters, marks, decimal and letter numbers, "-", "_" and spaces survive
        category = unicodedata.category(c)
        return c in "-_ " or category[0] in "LM" or category in ("Nd", "Nl")

    slug = "".join(c for c in title.lower() if kept(c)).replace(" ", "-")
    count = seen.get(slug, 0)
    seen[slug] = count + 1
    return slug if count == 0 else f"{slug}-{count}"


def contents_block(text: str) -> str:
    """RESULTS.md's table of contents for ``text`` (without its contents block): one line per section, its first
    heading linked and the section's name, which the lessons and notes cite; level-3 sections indented."""
    seen = {"contents": 1}  # the contents heading itself comes first
    anchors = {m.start(): heading_anchor(m["title"], seen) for m in _HEADING.finditer(text)}
    lines = ["## Contents", "", "Sections in page order, each with the name the lessons and notes cite it by.", ""]
    for block in _BLOCK.finditer(text):
        first = _HEADING.search(text, block.start("body"), block.end("body"))
        if first is None or len(first["hashes"]) not in (2, 3):
            continue
        indent = "  " * (len(first["hashes"]) - 2)
        title = first["title"].replace("[", "\\[").replace("]", "\\]")
        lines.append(f"{indent}- [{title}](#{anchors[first.start()]}) · `{block['name']}`")
    return f"<!-- BEGIN {CONTENTS} -->\n" + "\n".join(lines) + f"\n<!-- END {CONTENTS} -->"


def with_contents(text: str) -> str:
    """``text`` with its contents block regenerated, placed before the first section (generated, never hand-edited)."""
    text = re.sub(r"\s*<!-- BEGIN contents -->.*?<!-- END contents -->\s*", "\n\n", text, count=1, flags=re.S)
    first = text.find("<!-- BEGIN ")
    head, rest = (text, "") if first < 0 else (text[:first], text[first:])
    return head.rstrip() + "\n\n" + contents_block(text) + "\n\n" + rest


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
    predictor on the test split, and the runs that do not beat it), and for a reconstruction task the noisy input's
    score and the runs worse than it (:func:`mtdl_kit.lab.chance.copy_input_reading`); with ``write`` the levels go
    to ``<stem>_chance.csv`` and ``<stem>_copyinput.csv``. They are computed from phantoms, never trained, so they are
    cheap to redo."""
    from mtdl_kit.lab.chance import chance_frame, chance_reading, copy_input_frame, copy_input_reading

    chance = chance_frame(cfg, region, list(tasks), list(seeds))
    if write:
        chance.to_csv(f"{stem}_chance.csv", index=False)
    reading = chance_reading(runs, chance, group=group)
    lines = [
        "Chance (computed from the runs and each seed's image-blind predictor):",
        "",
        *[f"- {s}" for s in reading],
        "",
    ]
    floor = copy_input_frame(cfg, region, list(tasks), seed=next(iter(seeds)))
    if floor.empty:
        return lines
    if write:
        floor.to_csv(f"{stem}_copyinput.csv", index=False)
    return [
        *lines,
        "A reconstruction's floor (computed from the runs and the noisy input returned unchanged, "
        "`lab.chance.copy_input_frame`):",
        "",
        *[f"- {s}" for s in copy_input_reading(runs, floor, group=group)],
        "",
    ]


if __name__ == "__main__":  # refresh the contents after a hand-written section was added or moved
    RESULTS.write_text(with_contents(RESULTS.read_text()))
