"""Bad and real input files through the dashboard's upload path: outcome, message, time and memory.

Two tables for the "bad-inputs" section of ``benchmarks/RESULTS.md``:

1. **Bad-input corpus** (``tests/file_builders.py``: malformed and edge-case files of every format,
   written from arrays, plus pydicom's CT_small/MR_small): each file is read by
   :func:`mtdl_kit.data.read_upload` (what :func:`mtdl_kit.services.upload_sample` calls) in a
   fresh subprocess, after a warm-up that imports the readers. Measured: wall time of the call
   and its extra memory, i.e. the peak resident set size during the call (``VmHWM`` after
   resetting it through ``/proc/self/clear_refs``, Linux) minus the resident size before it.
   Checked: no exception other than ``DataError`` (a crash), every call within 5 s and 500 MB
   (else "unbounded"; a call killed after 60 s counts too), every refusal naming the file, the
   problem and the fix (a non-empty hint), and the outcome the corpus expects.
2. **Real files**: the sample data that ship with the installed pydicom and nibabel wheels
   (nilearn is not a dependency), read in this process; each must be accepted where it holds an
   image and refused for the reason ``tests/file_builders.REAL_FILE_REFUSALS`` names otherwise.

Run: ``.venv/bin/python benchmarks/bench_bad_inputs.py [--no-write] [--only KIND]`` (a few minutes).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, write_section  # noqa: E402
from file_builders import ACCEPTED, corpus, real_files  # noqa: E402

LIMIT_S = 5.0
LIMIT_MB = 500.0
KILL_S = 60


# --------------------------------------------------------------------------------------------------
# Child: one upload, measured
# --------------------------------------------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _hwm_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak RSS (Linux >= 4.0, Documentation/filesystems/proc.rst)
        return True
    except OSError:
        return False


def child(path: str, name: str, options: dict) -> dict:
    """Read one upload after a warm-up; the outcome with its time and extra memory."""
    import numpy as np
    from file_builders import _dicom, _nifti, png_bytes

    from mtdl_kit.data import DataError, read_upload

    warnings.simplefilter("ignore")
    grey = (np.arange(48 * 40).reshape(48, 40) % 200).astype(np.uint8)
    for warm_name, warm in (("w.png", png_bytes(grey)), ("w.dcm", _dicom(grey.astype(np.int16))), ("w.nii.gz", None)):
        read_upload(warm_name, warm if warm is not None else _nifti(np.stack([grey] * 20, -1), gz=True), "brain")
    data = Path(path).read_bytes()
    gc.collect()
    before = _rss_mb()
    exact = _reset_peak()
    start = time.perf_counter()
    result: dict = {}
    try:
        sample = read_upload(name, data, "brain", **options)
        result.update(outcome=ACCEPTED, message=" ".join(sample.meta["notes"] + sample.meta["warnings"]))
    except DataError as exc:
        result.update(outcome="refused", message=str(exc), hint=bool(exc.hint), named=str(exc).startswith(exc.file))
    except Exception as exc:  # a crash: the contract is DataError
        result.update(outcome="crash", message=f"{type(exc).__name__}: {exc}")
    result["seconds"] = time.perf_counter() - start
    peak = _hwm_mb() if exact else None
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.update(extra_mb=max(0.0, peak - before), exact_memory=exact)
    return result


# --------------------------------------------------------------------------------------------------
# Parent: the corpus, one subprocess per file; the real files in-process
# --------------------------------------------------------------------------------------------------


def run_case(case, folder: Path) -> dict:
    data = case.make()
    if data is None:
        return {"outcome": "skipped", "message": "not applicable to this installation", "seconds": 0, "extra_mb": 0}
    path = folder / f"{case.kind}.bin"
    path.write_bytes(data)
    command = [
        sys.executable,
        __file__,
        "--child",
        str(path),
        "--name",
        case.name,
        "--options",
        json.dumps(case.options),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=KILL_S, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"outcome": "killed", "message": f"killed after {KILL_S} s", "seconds": KILL_S, "extra_mb": 0}
    finally:
        path.unlink()
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"outcome": "crash", "message": f"exit {done.returncode}: {tail[0][:200]}", "seconds": 0, "extra_mb": 0}
    result = json.loads(lines[-1])
    result["bytes"] = len(data)
    return result


def verdict(case, result: dict) -> tuple[bool, str]:
    """Whether the outcome is the expected one, bounded, and (for refusals) says problem and fix."""
    if result["outcome"] == "skipped":
        return True, "skipped"
    if result["outcome"] in ("crash", "killed"):
        return False, result["outcome"]
    if result["seconds"] > LIMIT_S or result["extra_mb"] > LIMIT_MB:
        return False, "unbounded"
    if case.expect == ACCEPTED:
        ok = result["outcome"] == ACCEPTED and case.says in result["message"]
        return ok, "yes" if ok else "unexpected refusal" if result["outcome"] != ACCEPTED else "note missing"
    if result["outcome"] != "refused":
        return False, "accepted, expected a refusal"
    if not (result.get("hint") and result.get("named")):
        return False, "message lacks the file or the fix"
    return (case.expect in result["message"]), "yes" if case.expect in result["message"] else "other message"


def _short(message: str) -> str:
    from mtdl_kit.data import ACCEPTED as FORMATS

    text = message.replace(FORMATS, "(+ the accepted formats)").replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 260 else text[:257] + "..."


def _shown_name(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace").replace("\x07", "\\x07")


def bad_input_table(cases: list, results: list[dict]) -> tuple[list[str], dict]:
    rows = [
        "| # | kind | upload | what | outcome | message, or notes and warnings | s | extra MB | as expected |",
        "|---:|---|---|---|---|---|---:|---:|:---:|",
    ]
    summary = defaultdict(int)
    worst_s = max(zip((r["seconds"] for r in results), (c.kind for c in cases), strict=True))
    worst_mb = max(zip((r["extra_mb"] for r in results), (c.kind for c in cases), strict=True))
    for i, (case, result) in enumerate(zip(cases, results, strict=True), 1):
        ok, why = verdict(case, result)
        summary[result["outcome"]] += 1
        summary["ok"] += ok
        summary["unbounded"] += why in ("unbounded", "killed")
        summary["crash"] += result["outcome"] == "crash"
        if result["outcome"] == "refused":
            summary["with_fix"] += bool(result.get("hint") and result.get("named"))
        name = _shown_name(case.name).replace("|", "\\|")
        rows.append(
            f"| {i} | `{case.kind}` | `{name}` | {case.what}{' (heavy)' if case.heavy else ''} | {result['outcome']} | "
            f"{_short(result['message']) or '—'} | {result['seconds']:.2f} | {result['extra_mb']:.0f} | "
            f"{'yes' if ok else '**' + why + '**'} |"
        )
    summary["worst_s"], summary["worst_s_kind"] = worst_s
    summary["worst_mb"], summary["worst_mb_kind"] = worst_mb
    summary["exact_memory"] = all(r.get("exact_memory", True) for r in results)
    return rows, summary


def real_file_table() -> tuple[list[str], dict]:
    """The pydicom and nibabel sample files, grouped by folder and outcome."""
    from mtdl_kit.data import DataError, read_upload

    warnings.simplefilter("ignore")
    groups: dict[tuple, list] = defaultdict(list)
    summary = defaultdict(int)
    slowest = (0.0, "")
    for package, rel, path, expected in real_files():
        data = path.read_bytes()
        start = time.perf_counter()
        try:
            read_upload(path.name, data, "brain")
            outcome, message = ACCEPTED, ""
        except DataError as exc:
            outcome, message = "refused", str(exc)
        except Exception as exc:
            outcome, message = "crash", f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        slowest = max(slowest, (seconds, rel))
        ok = (outcome == expected) if expected == ACCEPTED else (outcome == "refused" and expected in message)
        summary["files"] += 1
        summary[outcome] += 1
        summary["ok"] += ok
        folder = rel.rsplit("/", 1)[0] if "/" in rel else "."
        reason = message.split(": ", 1)[1] if ": " in message else message
        groups[(package, folder, outcome, reason, ok)].append(rel.rsplit("/", 1)[-1])
    summary["slowest_s"], summary["slowest"] = slowest
    rows = ["| package | folder | files | outcome | reason | correct |", "|---|---|---|---|---|:---:|"]
    for (package, folder, outcome, reason, ok), names in sorted(groups.items(), key=lambda kv: kv[0][:3]):
        shown = ", ".join(f"`{n}`" for n in names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        rows.append(
            f"| {package} | `{folder}` | {len(names)}: {shown} | {outcome} | {_short(reason) or '—'} | "
            f"{'yes' if ok else '**no**'} |"
        )
    return rows, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--only", help="run the corpus cases whose kind contains this text (no RESULTS.md)")
    parser.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.name, json.loads(args.options))), flush=True)
        return
    import nibabel
    import PIL
    import pydicom

    cases = [c for c in corpus(heavy=True) if not args.only or args.only in c.kind]
    results = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mtdl-bad-inputs-") as tmp:
        for case in cases:
            result = run_case(case, Path(tmp))
            results.append(result)
            ok, why = verdict(case, result)
            print(
                f"{case.kind:30s} {result['outcome']:9s} {result['seconds']:6.2f} s {result['extra_mb']:6.0f} MB "
                f"{'ok' if ok else why.upper()}  {result['message'][:110]}",
                flush=True,
            )
    bad_rows, bad = bad_input_table(cases, results)
    if args.only:
        return
    real_rows, real = real_file_table()
    total = time.perf_counter() - t0
    kinds = len(cases)
    groups = sorted({c.group for c in cases})
    lines = [
        "## Bad and real input files (`benchmarks/bench_bad_inputs.py`)",
        "",
        f"Measured {machine()} (2-core x86-64, no GPU); Pillow {PIL.__version__}, pydicom {pydicom.__version__}, "
        f"nibabel {nibabel.__version__}. Total run {total:.0f} s.",
        "",
        f"**Headline:** {kinds} kinds of malformed or edge-case uploads ({', '.join(groups)}), each read by "
        f"`mtdl_kit.data.read_upload` (the dashboard's path, `mtdl_kit.services.upload_sample`) in a fresh "
        f"subprocess: **{bad['crash']} crashes, {bad['unbounded']} unbounded** (limit {LIMIT_S:.0f} s and "
        f"{LIMIT_MB:.0f} MB per upload), {bad['accepted']} accepted, {bad['refused']} refused, "
        f"{bad['ok']}/{kinds} as expected; **{bad['with_fix']}/{bad['refused']} refusals name the file, the "
        f"problem and the fix**. Worst time {bad['worst_s']:.2f} s (`{bad['worst_s_kind']}`), worst extra "
        f"memory {bad['worst_mb']:.0f} MB (`{bad['worst_mb_kind']}`).",
        "",
        "Time: wall time of the `read_upload` call, after a warm-up that imports the readers. Extra MB: the "
        "peak resident set size during the call minus the resident size before it"
        + (
            " (Linux `VmHWM`, reset through `/proc/self/clear_refs`)."
            if bad["exact_memory"]
            else " (`ru_maxrss`: the reset of the peak was refused here, so a value may include the warm-up)."
        )
        + " Heavy cases (tens of megapixels, a 240 MB volume) run only here; `tests/data/test_upload_corpus.py` "
        "runs the others in every test run. Before issue 15 a 909-byte 16x20000 PNG took the dashboard past "
        "3.5 GB, a 100000x16 PNG raised MemoryError and an 8000x7999 RGB PNG cost 49 s and 3.2 GB.",
        "",
        *bad_rows,
        "",
        f"### Real files: the sample data of pydicom {pydicom.__version__} and nibabel {nibabel.__version__}",
        "",
        f"{real['files']} files (pydicom `data/test_files`, `charset_files`, `palettes`; nibabel's `tests/data` "
        f"folders; source code and READMEs left out; nilearn is not installed): {real['accepted']} accepted, "
        f"{real['refused']} refused, {real['crash']} crashes; **{real['ok']}/{real['files']} as expected** "
        f"(accepted wherever the file holds an image the installed decoders read; otherwise refused for the reason "
        f"`tests/file_builders.REAL_FILE_REFUSALS` names). Slowest {real['slowest_s']:.2f} s (`{real['slowest']}`). "
        "Rows group the files of a folder with the same outcome and reason.",
        "",
        *real_rows,
    ]
    print(
        f"bad inputs: {bad['ok']}/{kinds} ok, {bad['crash']} crashes, {bad['unbounded']} unbounded; "
        f"real files: {real['ok']}/{real['files']} ok"
    )
    if not args.no_write:
        write_section("bad-inputs", "\n".join(lines))
        print("wrote the 'bad-inputs' section of benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
