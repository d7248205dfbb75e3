"""Benchmark the architecture families: parameters and CPU time per region.

For every region (its full task set) and family it measures, on ``--threads`` CPU threads:

* parameters (and the ratio to the parallel network of the same tasks),
* forward ms and forward+backward ms for a batch of ``--batch`` images of ``--size``² in train mode
  (the loss is the sum of the outputs' mean squares; its cost is negligible),
* inference ms for one image (``eval()`` + ``torch.inference_mode``), ``--infer-calls`` calls per
  round; the budget is ≤ 10 ms for every region × family network.

Cascaded and interacted networks run their task columns as grouped convolutions in inference
(:mod:`mtdl_kit.models.grouped`); the same model is also timed with ``grouped_inference = False``
(the per-task modules, as before the grouped runner) in the same rounds, so the old-vs-new ratio is
measured side by side.

Times are medians over ``--repeats`` runs after ``--warmup`` runs; the models of a region are
measured round-robin so that background load affects them alike. A MONAI ``UNet(8, 16, 32, 64)``
is measured the same way as a yardstick of the machine's speed at the time. The single-task
baselines are the capacity-matched ones of :func:`mtdl_kit.models.build_baselines`.

Usage::

    .venv/bin/python benchmarks/bench_models.py                    # all regions, updates benchmarks/RESULTS.md
    .venv/bin/python benchmarks/bench_models.py --regions eye --repeats 5 --out -   # quick look, stdout only
    .venv/bin/python benchmarks/bench_models.py --inference-only   # only the inference budget, its own section
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mtdl_kit.models import MULTI_TASK_FAMILIES, build_baselines, build_model  # noqa: E402
from mtdl_kit.models.heads import is_dense  # noqa: E402
from mtdl_kit.regions import REGION_NAMES, get_region  # noqa: E402


def cpu_model() -> str:
    """The ``lscpu`` model name (falls back to ``platform.processor()``)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def _loss(out: dict[str, torch.Tensor] | torch.Tensor) -> torch.Tensor:
    values = out.values() if isinstance(out, dict) else [out]
    return sum(v.float().pow(2).mean() for v in values)  # type: ignore[return-value]


#: suffix of the per-task (before grouping) inference timing of a cascaded / interacted network
PER_TASK = " (per-task)"
GROUPED_FAMILIES = ("cascaded", "interacted")


class Timer:
    """Collect forward, forward+backward and single-image inference times of one model.

    Args:
        model: the network.
        in_channels: image channels.
        batch: training batch size.
        size: image side.
        infer_calls: single-image inference calls per round.
        per_task: time only inference, with ``grouped_inference = False`` (the per-task modules).
        inference_only: time only inference.
    """

    def __init__(
        self,
        model: nn.Module,
        in_channels: int,
        batch: int,
        size: int,
        infer_calls: int = 1,
        per_task: bool = False,
        inference_only: bool = False,
    ) -> None:
        self.model = model
        self.x = torch.rand(batch, in_channels, size, size)
        self.x1 = torch.rand(1, in_channels, size, size)
        self.infer_calls = infer_calls
        self.per_task = per_task
        self.inference_only = inference_only or per_task
        self.fwd: list[float] = []
        self.fb: list[float] = []
        self.inf: list[float] = []

    def infer(self, record: bool) -> None:
        m = self.model
        m.eval()
        grouped = getattr(m, "grouped_inference", None)
        if self.per_task:
            m.grouped_inference = False
        try:
            with torch.inference_mode():
                for _ in range(self.infer_calls):
                    t0 = time.perf_counter()
                    m(self.x1)
                    t1 = time.perf_counter()
                    if record:
                        self.inf.append((t1 - t0) * 1e3)
        finally:
            if grouped is not None:
                m.grouped_inference = grouped

    def run(self, record: bool) -> None:
        if self.inference_only:
            self.infer(record)
            return
        m = self.model
        m.train()
        t0 = time.perf_counter()
        out = m(self.x)
        t1 = time.perf_counter()
        del out
        m.zero_grad(set_to_none=True)
        t2 = time.perf_counter()
        _loss(m(self.x)).backward()
        t3 = time.perf_counter()
        if record:
            self.fwd.append((t1 - t0) * 1e3)
            self.fb.append((t3 - t2) * 1e3)
        self.infer(record)

    def medians(self) -> tuple[float, float, float]:
        nan = float("nan")
        fwd = statistics.median(self.fwd) if self.fwd else nan
        fb = statistics.median(self.fb) if self.fb else nan
        return fwd, fb, statistics.median(self.inf)


def measure(
    models: dict[str, tuple[nn.Module, int]],
    batch: int,
    size: int,
    warmup: int,
    repeats: int,
    infer_calls: int = 1,
    inference_only: bool = False,
):
    """Round-robin timing of several models; returns name -> (fwd, fb, inference) medians.

    A key ending in :data:`PER_TASK` times only the inference of its model with the per-task modules.
    """
    timers = {
        k: Timer(m, c, batch, size, infer_calls, per_task=k.endswith(PER_TASK), inference_only=inference_only)
        for k, (m, c) in models.items()
    }
    for _ in range(warmup):
        for t in timers.values():
            t.run(record=False)
    for _ in range(repeats):
        for t in timers.values():
            t.run(record=True)
    return {k: t.medians() for k, t in timers.items()}


BUDGET_MS = 10.0


def inference_table(
    regions: list[str],
    families: list[str],
    results: dict[str, dict[str, tuple[float, float, float]]],
    flag: Callable[[str], str],
) -> tuple[list[str], str, str, str, int, int]:
    """The single-image inference table: every region x family, per-task / grouped side by side.

    Returns:
        (rows, header, rule, speed-up summary, networks within :data:`BUDGET_MS`, networks).
    """
    inf_rows: list[str] = []
    within = total = 0
    ratios: dict[str, list[float]] = {f: [] for f in GROUPED_FAMILIES if f in families}
    for rname in regions:
        res = results[rname]
        cells = []
        for fam in families:
            inf = res[fam][2]
            total += 1
            within += inf <= BUDGET_MS
            cells.append(f"{inf:.1f}" if inf <= BUDGET_MS else f"**{inf:.1f}**")
        for fam in ratios:
            old, new = res[fam + PER_TASK][2], res[fam][2]
            ratios[fam].append(old / new)
            cells.append(f"{old:.1f} / {new:.1f} = {old / new:.2f}x")
        inf_rows.append(f"| {rname}{flag(rname)} | " + " | ".join(cells) + " |")
    header = "| region | " + " | ".join(f"{f} ms" for f in families)
    header += "".join(f" | {f}: per-task / grouped ms" for f in ratios) + " |"
    rule = "|---|" + "---:|" * (len(families) + len(ratios))
    ratio_text = "; ".join(
        f"{f} {min(r):.2f}-{max(r):.2f}x (median {statistics.median(r):.2f}x)" for f, r in ratios.items() if r
    )
    return inf_rows, header, rule, ratio_text, within, total


def inference_text(
    args: argparse.Namespace, rows: list[str], header: str, rule: str, ratio_text: str, within: int, total: int
) -> list[str]:
    """Markdown lines of the inference-budget table and how it was measured."""
    return [
        f"### Single-image inference at {args.size}² on {args.threads} threads: budget ≤ {BUDGET_MS:.0f} ms",
        "",
        f"{within} of {total} region × family networks within the budget (values above it in bold). Median of "
        f"{args.repeats} rounds x {args.infer_calls} calls, `eval()` + `inference_mode`, models of a region "
        "round-robin. Cascaded and interacted networks run their task columns as grouped convolutions in "
        "inference (`mtdl_kit/models/grouped.py`); the per-task column times the same model with "
        "`grouped_inference = False`, i.e. the per-task modules as before, in the same rounds "
        f"(old / new; speed-up {ratio_text}). Outputs are equal to float rounding "
        "(`tests/models/test_grouped.py`); training runs the per-task modules.",
        "",
        header,
        rule,
        *rows,
    ]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--regions", default=",".join(REGION_NAMES), help="comma-separated region names")
    ap.add_argument("--families", default=",".join(MULTI_TASK_FAMILIES))
    ap.add_argument("--no-singles", action="store_true", help="skip the single-task baselines")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--infer-calls", type=int, default=5, help="single-image inference calls per round")
    ap.add_argument("--width", type=int, default=None, help="backbone width (default: the library default)")
    ap.add_argument("--retries", type=int, default=4, help="re-measure a region whose yardstick shows a busy machine")
    ap.add_argument("--tolerance", type=float, default=1.2, help="busy if yardstick > tolerance x its quiet time")
    ap.add_argument("--pause", type=float, default=10.0, help="seconds to wait before a re-measurement")
    ap.add_argument(
        "--inference-only",
        action="store_true",
        help="time only single-image inference of the region x family networks (RESULTS.md section 'models-inference')",
    )
    ap.add_argument("--out", default="RESULTS.md", help="'RESULTS.md' (its 'models' section), a markdown file, or '-'")
    ap.add_argument(
        "--section",
        default="models-inference",
        help="the RESULTS.md section --inference-only writes (e.g. 'models-inference-256' for the abdomen at 256 px)",
    )
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    wkw: dict[str, int] = {} if args.width is None else {"width": args.width}
    load0 = os.getloadavg()
    started = time.perf_counter()

    from monai.networks.nets import UNet

    def unet() -> nn.Module:
        return UNet(2, 1, 3, channels=(8, 16, 32, 64), strides=(2, 2, 2))

    # quiet-machine time of the yardstick: best of a few short calibration runs and of all regions' runs
    only = args.inference_only
    yard = 2 if only else 1  # which yardstick time tells a busy machine: inference, or forward+backward
    calib = [
        measure({"_unet": (unet(), 1)}, args.batch, args.size, 2, 5, args.infer_calls, only)["_unet"] for _ in range(3)
    ]
    baseline = tuple(min(c[i] for c in calib) for i in range(3))
    print(
        f"yardstick calibration: fwd {baseline[0]:.1f} ms, fwd+bwd {baseline[1]:.1f} ms, "
        f"inference {baseline[2]:.1f} ms",
        flush=True,
    )

    built: dict[str, tuple[dict[str, tuple[nn.Module, int]], list[str]]] = {}
    results: dict[str, dict[str, tuple[float, float, float]]] = {}
    for rname in regions:
        region = get_region(rname)
        models: dict[str, tuple[nn.Module, int]] = {"_unet": (unet(), 1)}
        for fam in families:
            models[fam] = (build_model(fam, region.tasks, region.in_channels, region=rname, **wkw), region.in_channels)
            if fam in GROUPED_FAMILIES:  # the same model, inference through the per-task modules
                models[fam + PER_TASK] = models[fam]
        if "parallel" not in models:
            models["parallel"] = (build_model("parallel", region.tasks, region.in_channels, **wkw), region.in_channels)
        variants = []
        if not only and "parallel" in families and sum(is_dense(t) for t in region.tasks) >= 2:
            variants.append("parallel (per-task decoders)")
            models[variants[-1]] = (
                build_model("parallel", region.tasks, region.in_channels, dense_decoder="per_task", **wkw),
                region.in_channels,
            )
        if not (args.no_singles or only):
            for tname, m in build_baselines(region.tasks, region.in_channels, **wkw).items():
                models[f"single:{tname}"] = (m, region.in_channels)
        built[rname] = (models, variants)
        results[rname] = measure(models, args.batch, args.size, args.warmup, args.repeats, args.infer_calls, only)
        print(f"{rname}: yardstick {results[rname]['_unet'][yard]:.1f} ms", flush=True)

    def quiet_time() -> float:
        return min([baseline[yard]] + [r["_unet"][yard] for r in results.values()])

    # re-measure the regions whose yardstick shows that other processes competed for the cores
    for attempt in range(args.retries):
        busy = [r for r in regions if results[r]["_unet"][yard] > args.tolerance * quiet_time()]
        if not busy:
            break
        print(f"busy regions {busy} (yardstick > {args.tolerance} x {quiet_time():.1f} ms), attempt {attempt + 1}")
        time.sleep(args.pause)
        for rname in busy:
            again = measure(built[rname][0], args.batch, args.size, args.warmup, args.repeats, args.infer_calls, only)
            if again["_unet"][yard] < results[rname]["_unet"][yard]:
                results[rname] = again

    def busy_flag(rname: str) -> str:
        return "" if results[rname]["_unet"][yard] <= args.tolerance * quiet_time() else " (busy)"

    if only:
        load1 = os.getloadavg()
        rows_, header, rule, ratio_text, within, total = inference_table(regions, families, results, busy_flag)
        yard_ms = ", ".join(f"{r} {results[r]['_unet'][2]:.1f}" for r in regions)
        now = dt.datetime.now().astimezone()
        text = "\n".join(
            [
                "## Inference budget of the architecture families (`benchmarks/bench_models.py --inference-only`)",
                "",
                f"Measured {now:%Y-%m-%d %H:%M %Z} on `{cpu_model()}` ({os.cpu_count()} cores visible), "
                f"`torch.set_num_threads({args.threads})`, torch {torch.__version__}, Python "
                f"{platform.python_version()}. Yardstick MONAI `UNet(8, 16, 32, 64)` single-image inference in the "
                f"same rounds, ms: {yard_ms} (quietest {quiet_time():.1f}; rows marked (busy) exceeded "
                f"{args.tolerance}x it after {args.retries} re-measurements). Load average before/after: "
                f"{load0[0]:.2f} / {load1[0]:.2f} on {os.cpu_count()} cores. "
                f"Total run {time.perf_counter() - started:.0f} s.",
                "",
                *inference_text(args, rows_, header, rule, ratio_text, within, total),
            ]
        )
        return _write(args.out, args.section, text)

    rows: list[str] = []
    single_rows: list[str] = []
    ref_times: list[tuple[float, float, float]] = []
    budget: list[str] = []
    spreads: list[str] = []
    yardsticks: list[str] = []
    for rname in regions:
        region = get_region(rname)
        models, variants = built[rname]
        res = results[rname]
        ref_times.append(res["_unet"])
        yardsticks.append(f"{rname} {res['_unet'][1]:.1f}")
        flag = "" if res["_unet"][yard] <= args.tolerance * quiet_time() else " (busy)"
        p_ref = n_params(models["parallel"][0])
        tasks = ", ".join(f"{t.name} ({t.kind[:3]})" for t in region.tasks)
        shown = [*families, *variants]
        sizes = [n_params(models[k][0]) for k in models if k != "_unet" and k not in variants and PER_TASK not in k]
        spreads.append(f"{rname} {max(sizes) / min(sizes):.2f}")
        for fam in shown:
            m = models[fam][0]
            fwd, fb, inf = res[fam]
            opts = getattr(m, "options", {})
            note = f"sub-width {opts['sub_width']}, MLP {opts['hidden']}" if "sub_width" in opts else ""
            if fam == "parallel":
                budget.append(f"{rname}: {fb:.1f} ms {'≤' if fb <= 60 else '>'} 60; inference {inf:.1f} ms")
            rows.append(
                f"| {rname}{flag} | {fam} | {n_params(m):,} | {n_params(m) / p_ref:.2f} | "
                f"{fwd:.1f} | {fb:.1f} | {inf:.1f} | {note} |"
            )
        for key in res:
            if key.startswith("single:"):
                m = models[key][0]
                fwd, fb, inf = res[key]
                opts = m.options
                single_rows.append(
                    f"| {rname}{flag} | {key[7:]} | {m.tasks[0].kind} | {n_params(m):,} | {n_params(m) / p_ref:.2f} | "
                    f"{fwd:.1f} | {fb:.1f} | {inf:.1f} | width {opts.get('sub_width', m.width)}, "
                    f"MLP {opts.get('hidden', '-')} |"
                )
        print(f"{rname}: {tasks}", flush=True)
        for r in rows[-len(shown) :]:
            print("  " + r, flush=True)
    load1 = os.getloadavg()
    elapsed = time.perf_counter() - started

    inf_rows, inf_header, inf_rule, ratio_text, within, total = inference_table(regions, families, results, busy_flag)

    ref = [statistics.median(v[i] for v in ref_times) for i in range(3)]
    now = dt.datetime.now().astimezone()
    lines = [
        "## Architecture families: parameters and CPU time (`benchmarks/bench_models.py`)",
        "",
        f"Measured {now:%Y-%m-%d %H:%M %Z} on `{cpu_model()}` ({os.cpu_count()} cores visible), "
        f"`torch.set_num_threads({args.threads})`, torch {torch.__version__}, MONAI {__import__('monai').__version__}, "
        f"Python {platform.python_version()}. Batch {args.batch} x C x {args.size}x{args.size}, train mode; "
        f"inference = one image, `eval()` + `inference_mode`. Median of {args.repeats} runs after {args.warmup} "
        "warm-up runs, models of a region measured round-robin. Loss = sum of the outputs' mean squares.",
        "",
        f"Yardstick in the same run: MONAI `UNet(8, 16, 32, 64)` on 1x{args.size}² — forward {ref[0]:.1f} ms, "
        f"forward+backward {ref[1]:.1f} ms, inference {ref[2]:.1f} ms (median over regions; per region, "
        f"forward+backward ms: {', '.join(yardsticks)}; quietest {quiet_time():.1f} ms). A region is re-measured "
        f"(up to {args.retries} times) when its yardstick exceeds {args.tolerance}x the quietest, i.e. when other "
        "processes competed for the two cores; rows marked (busy) never got a quiet slot. "
        f"Load average before/after: {load0[0]:.2f} / {load1[0]:.2f}. Total run {elapsed:.0f} s.",
        "",
        "Params ratio = parameters / parallel network of the same tasks at the same width. Cascaded and "
        "interacted networks shrink their sub-networks (sub-width, MLP hidden size) to match it.",
        "",
        "| region | family | params | ratio | fwd ms | fwd+bwd ms | infer ms (1 image) | matching |",
        "|---|---|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
        "Parallel family against the budget (forward+backward ≤ 60 ms for the batch, inference ≤ 10 ms): "
        + "; ".join(budget)
        + ".",
        "",
        *inference_text(args, inf_rows, inf_header, inf_rule, ratio_text, within, total),
        "",
        "Notes on fairness and cost:",
        "",
        "- Parameter spread (largest / smallest of the four families and the matched single-task baselines, "
        "per region): " + ", ".join(spreads) + ". Every network is within ±25 % of the parallel one.",
        "- Cascaded networks have one network per task and interacted networks one encoder column per task, so "
        "at the nominal width they would have about T times the encoder parameters; `build_model` shrinks their "
        "sub-networks (sub-width) and tunes the MLP hidden size to match the parallel network "
        "(`match_params=False` turns this off). Their extra training time is the price of T narrow encoders: on "
        "two CPU threads a narrow encoder costs almost as much as a wide one (per-operation overhead dominates). "
        "In inference the T columns run as one grouped convolution per layer (the cascade's source network "
        "first, then its downstream networks grouped), which removes most of that overhead.",
        "- Hybrid networks are the parallel trunk plus mask-guided heads (twice the pooled features + area "
        "fractions), hence +6-9 % parameters; the hand-over itself is free.",
        "- Single-task baselines of global tasks (classification, regression) have no decoder, so they are widened "
        "(width 9, larger MLP) to the parallel network's size; dense baselines keep width 8 (width 9 would "
        "overshoot).",
        "- `parallel (per-task decoders)` (regions with two dense tasks) shows the cost of the alternative to the "
        "default shared decoder trunk: one more U-Net decoder per dense task.",
    ]
    if single_rows:
        lines += [
            "",
            "Single-task baselines (`build_baselines`, capacity-matched to the region's parallel network):",
            "",
            "| region | task | kind | params | ratio | fwd ms | fwd+bwd ms | infer ms | size |",
            "|---|---|---|---:|---:|---:|---:|---:|---|",
            *single_rows,
        ]
    return _write(args.out, "models", "\n".join(lines) + "\n")


def _write(out: str, section: str, text: str) -> int:
    """Print ``text``, or write it to a file, or to its section of benchmarks/RESULTS.md."""
    if out == "-":
        print(text)
    elif out == "RESULTS.md":
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from _report import write_section

        write_section(section, text)
        print(f"wrote the {section!r} section of benchmarks/RESULTS.md")
    else:
        Path(out).write_text(text)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
