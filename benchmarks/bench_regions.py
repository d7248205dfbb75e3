"""Phantom generation speed per region (target: >= 100 samples/s per core at 128 x 128).

Run: ``.venv/bin/python benchmarks/bench_regions.py [--n 300] [--size 128]``. Single process, one
thread; median of 3 repeats of ``n`` samples each. Writes the "regions" section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, write_section

from mtdl_kit.regions import REGION_NAMES, get_region

TARGET = 100.0


def measure(name: str, n: int, size: int, repeats: int = 3) -> float:
    region = get_region(name)
    region.sample(0, size=size)  # warm caches
    rates = []
    for r in range(repeats):
        t0 = time.perf_counter()
        for seed in range(r * n, (r + 1) * n):
            region.sample(seed, size=size)
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    rows = []
    for name in REGION_NAMES:
        rate = measure(name, args.n, args.size)
        rows.append((name, rate))
        print(f"{name:16s} {rate:7.1f} samples/s  ({1000 / rate:5.2f} ms/sample)", flush=True)
    lines = [
        f"## Phantom generation speed ({args.size} x {args.size}, one core)",
        "",
        f"Measured {machine()}; `benchmarks/bench_regions.py --n {args.n}`, median of 3 x {args.n} samples, "
        f"one process, one thread. Target: >= {TARGET:.0f} samples/s per core.",
        "",
        "| region | samples/s | ms/sample | target met |",
        "|---|---:|---:|:---:|",
    ]
    lines += [f"| {n} | {r:.0f} | {1000 / r:.2f} | {'yes' if r >= TARGET else 'NO'} |" for n, r in rows]
    if not args.no_write:
        write_section("regions", "\n".join(lines))
        print("wrote the 'regions' section of benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
