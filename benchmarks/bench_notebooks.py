"""Quick-mode run time of every tutorial notebook (issue 6: ≤ 60 s each, ≤ 12 min in all).

Each notebook runs top to bottom in a fresh ``python3`` kernel with one intra-op thread
(``OMP_NUM_THREADS=1``, as in ``tests/test_notebooks.py``), one after the other; the wall time
includes the kernel start. Writes the "notebooks" section of ``benchmarks/RESULTS.md``.

Run: ``.venv/bin/python benchmarks/bench_notebooks.py`` (a few minutes).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from _report import machine, write_section  # noqa: E402

PER_NOTEBOOK_S = 60.0
TOTAL_S = 12 * 60.0


def run(path: Path) -> float:
    """Execute one notebook in quick mode; returns the wall time in seconds."""
    import nbformat
    from notebook_client import notebook_client  # scripts/: the shell reply polled in slices (nbclient#312)

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    notebook_client(nb, cwd=path.parent, timeout=600).execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    rows = []
    for p in paths:
        seconds = run(p)
        rows.append((p.name, seconds))
        print(f"{p.name}: {seconds:.1f} s", flush=True)
    total = sum(s for _, s in rows)
    over = [n for n, s in rows if s > PER_NOTEBOOK_S]
    lines = [
        "## Notebooks in quick mode (issue 6)",
        "",
        f"Measured {machine()}. Each notebook top to bottom in a fresh kernel, `QUICK = True`, one thread, "
        f"sequentially. Budget: ≤ {PER_NOTEBOOK_S:.0f} s each, ≤ {TOTAL_S / 60:.0f} min in all.",
        "",
        "| notebook | seconds |",
        "|---|---|",
        *[f"| {n} | {s:.1f} |" for n, s in rows],
        f"| **total** | **{total:.0f} ({total / 60:.1f} min)** |",
        "",
        ("Every notebook is within its budget." if not over else f"Over {PER_NOTEBOOK_S:.0f} s: {', '.join(over)}.")
        + (" The total is within 12 min." if total <= TOTAL_S else " The total exceeds 12 min."),
    ]
    if not args.no_write:
        write_section("notebooks", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
