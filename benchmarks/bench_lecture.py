"""Lecture benchmark (issue 19): the real dashboard server, driven over its websocket as browsers drive it.

The server is ``mtdl-kit dashboard``'s own command line (:func:`mtdl_kit.launch.dashboard_command`:
Streamlit's ``streamlit run dashboard/app.py`` with the project's flags and warm-up), started as a
subprocess. Each simulated student is one websocket session on ``/_stcore/stream`` speaking
Streamlit's own protobuf messages (``streamlit.proto``): a ``BackMsg.rerun_script`` carrying the
query string and the states of every widget on screen (as the frontend's widget manager sends them),
the ``ForwardMsg`` deltas of each script run until its ``script_finished``, the URL updates
(``page_info_changed``) echoed back in the next request, the images fetched from ``/media/`` once,
and the fragments' timers (``auto_rerun``) replayed as the frontend does (a fragment rerun every
interval until the next full run). Nothing in the server is instrumented.

Measured per interaction: **felt latency** (the client sends its rerun request → the run's
``script_finished``), of which **server run** (``new_session`` → ``script_finished``: the script's
own run time on the server) and **queue** (send → ``new_session``: waiting for the interpreter), and
the images' arrival. After every interaction the student's page is checked against the student's own
widgets: the zoo models named in the captions must be those :func:`mtdl_kit.services.resolve_model`
picks for the student's region, family and tasks, the case's labels those of the student's bundled
case, and the URL's region and case the student's; a page that instead matches another student's
state is a **leak**. Errors are exception elements, error alerts, disconnects and timeouts. The
server's resident memory (server process; server plus training workers) is sampled with psutil.
The client (:class:`Session`, the Explore model, the board) lives in ``lecture_client.py``, the
server and its memory sampler in ``lecture_server.py``.

Scenarios (``--scenarios``, all by default):

- ``arrival``: N students arriving within 10 s at a just-started server: connect → first complete
  render (the models' outputs on screen).
- ``warm``: N students on Explore with think times (``--think``), warm server.
- ``training``: one live training alone, then N students with ``--trainings`` live trainings started
  together (each its own session on the Experiment page): students' latency, and each training's time
  next to the one alone.
- ``long``: N students for ``--long-minutes`` (20 for the issue's target): resident memory over time.
- ``gc``: the warm scenario on two fresh servers side by side: Streamlit's full collection after every
  script run (``--runner.postScriptGC true``, heap not frozen: the old set-up) vs the lecture set-up.
- ``browser``: a few real chromium pages (Playwright, Debian chromium) doing the same interactions as
  the same number of simulated students, felt latency measured from the browser's own websocket
  frames: the cross-check of the simulation.

Usage: ``python benchmarks/bench_lecture.py [--quick] [--students 30] [--scenarios warm,arrival,...]
[--long-minutes 20] [--no-write]``; writes the "lecture" section of RESULTS.md and
``benchmarks/results/lecture/``. Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import random
import re
import resource
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lecture_client import FINISHED_OK, Board, ExploreModel, Session, explore_student, pct
from lecture_server import RssSampler, Server, load_avg

from mtdl_kit.services.training import LIVE_STEPS

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results" / "lecture"  # not the wheel's results tables (benchmarks/results/*.csv)

#: the issue's targets.
TARGETS = {
    "warm_p95_s": 1.0,
    "arrival_first_render_s": 10.0,
    "training_p95_s": 1.5,
    "training_ratio": 1.5,
    "rss_gb": 3.0,
    "rss_growth": 0.10,
}
FREEZE = "MTDL_KIT_GC_FREEZE"  # mtdl_kit.services.warmup.FREEZE_ENV
PROGRESS = re.compile(r"step (\d+)/(\d+) · ([\d.]+) s training · waited ([\d.]+) s")


# ==================================================================================================
# Scenarios
# ==================================================================================================


async def open_students(server: Server, n: int, spread: float, board: Board, prefix: str = "s") -> list[Session]:
    """``n`` students arriving uniformly within ``spread`` seconds; records each one's first complete render."""
    sessions: list[Session] = []
    firsts = board.first_renders

    async def arrive(i: int) -> None:
        await asyncio.sleep(spread * i / max(1, n - 1) if n > 1 else 0.0)
        s = Session(server.url, f"{prefix}{i:02d}")
        t = time.perf_counter()
        try:
            run = await s.open(timeout=300)
            if not s.model_keys():  # a page without the models' outputs: wait for the next complete run
                await s.wait_for(lambda x: bool(x.model_keys()), 300)
            firsts[s.name] = time.perf_counter() - t
            board.check(s, "open", run)
        except Exception as exc:
            board.errors.append(f"{s.name}: open: {type(exc).__name__}: {exc}")
        sessions.append(s)

    await asyncio.gather(*(arrive(i) for i in range(n)))
    return sorted(sessions, key=lambda s: s.name)


async def run_class(
    server: Server,
    n: int,
    think: float,
    seconds: float,
    seed: int,
    arrive_within: float = 5.0,
    max_interactions: int | None = None,
    mix: str = "class",
):
    """``n`` students open Explore (within ``arrive_within`` s) and interact for ``seconds``."""
    board = Board(ExploreModel())
    sessions = await open_students(server, n, arrive_within, board)
    board.interactions.clear()  # the opening renders are not interactions
    board.t0 = time.perf_counter()
    until = time.perf_counter() + seconds
    await asyncio.gather(
        *(
            explore_student(s, board, random.Random(seed * 1000 + i), think, until, max_interactions, mix)
            for i, s in enumerate(sessions)
        )
    )
    for s in sessions:
        board.errors += [f"{s.name}: {e}" for e in s.errors]
        await s.close()
    return board, sessions


def summarise(board: Board, sessions: list[Session] | None = None) -> dict[str, Any]:
    lat = [i.latency for i in board.interactions]
    return {
        "students": len({i.student for i in board.interactions}) if board.interactions else 0,
        "interactions": len(lat),
        "p50_s": pct(lat, 0.5),
        "p95_s": pct(lat, 0.95),
        "max_s": max(lat, default=float("nan")),
        "server_p50_s": pct([i.server for i in board.interactions], 0.5),
        "server_p95_s": pct([i.server for i in board.interactions], 0.95),
        "queue_p95_s": pct([i.queue for i in board.interactions], 0.95),
        "media_p95_s": pct([i.media for i in board.interactions], 0.95),
        "checks": len(board.interactions),
        "failed_checks": sum(not i.ok for i in board.interactions),
        "failed_examples": [f"{i.student} {i.kind}: {i.detail}" for i in board.interactions if not i.ok][:5],
        "leaks": sum(i.leak for i in board.interactions),
        "errors": list(board.errors),
        "fragment_reruns": sum(s.fragment_reruns for s in sessions or []),
    }


async def scenario_arrival(server: Server, n: int, spread: float) -> dict[str, Any]:
    """A just-started server (health check passed): ``n`` students arrive within ``spread`` s."""
    board = Board(ExploreModel())
    t = time.perf_counter()
    sessions = await open_students(server, n, spread, board)
    firsts = list(board.first_renders.values())
    out = {
        "students": n,
        "spread_s": spread,
        "first_render_p50_s": pct(firsts, 0.5),
        "first_render_p95_s": pct(firsts, 0.95),
        "first_render_max_s": max(firsts, default=float("nan")),
        "rendered": len(firsts),
        "since_server_start_s": time.perf_counter() - server.t_start,
        "wall_s": time.perf_counter() - t,
        "failed_checks": sum(not i.ok for i in board.interactions),
        "leaks": sum(i.leak for i in board.interactions),
        "errors": list(board.errors) + [f"{s.name}: {e}" for s in sessions for e in s.errors],
    }
    for s in sessions:
        await s.close()
    return out


async def trainer(server: Server, name: str, steps: int, timeout: float) -> dict[str, Any]:
    """A student who opens the Experiment page, trains ``steps`` steps (parallel, ew) and waits for the end."""
    s = Session(server.url, name, fetch_media=False)
    out: dict[str, Any] = {"student": name, "steps": steps}
    t = time.perf_counter()
    try:
        await s.open()
        await s.navigate("experiment")
        s.set("exp_family", "parallel")
        s.set("exp_weighting", "ew")
        s.set("exp_steps", float(steps))
        submit = next(
            e.button.id for e in s.page.values() if e.WhichOneof("type") == "button" and e.button.is_form_submitter
        )
        t_click = time.perf_counter()
        await s.rerun(triggers=[submit])

        def state(x: Session) -> str | None:
            for text in x.texts(("markdown",)):
                m = re.search(r"state: \*\*(done|error|cancelled)\*\*", text)
                if m:
                    return m.group(1)
            return None

        ended = await s.wait_for(lambda x: state(x) is not None, timeout)
        out["state"] = state(s) if ended else "timeout"
        progress = [PROGRESS.search(x) for x in s.texts(("progress",))]
        progress = [m for m in progress if m]
        if progress:
            out["train_s"] = float(progress[-1].group(3))
            out["waited_s"] = float(progress[-1].group(4))
        out["wall_s"] = time.perf_counter() - t_click
        out["fragment_reruns"] = s.fragment_reruns
        redraws = [r.server for r in s._runs.values() if r.fragment and r.finished]
        out["redraw_p50_s"], out["redraw_p95_s"] = pct(redraws, 0.5), pct(redraws, 0.95)
        out["errors"] = list(s.errors) + list(s.alerts)
    except Exception as exc:
        out["state"] = "failed"
        out["errors"] = [f"{type(exc).__name__}: {exc}", *s.errors]
    finally:
        out["total_s"] = time.perf_counter() - t
        await s.close()
    return out


async def scenario_training(server: Server, n: int, k: int, steps: int, think: float, seed: int) -> dict[str, Any]:
    """One training alone, then ``n`` students on Explore while ``k`` trainings start together."""
    alone = await trainer(server, "alone", steps, timeout=1800)
    print(f"  training alone: {alone}", flush=True)
    board = Board(ExploreModel())
    sessions = await open_students(server, n, 5.0, board)
    board.interactions.clear()
    board.t0 = time.perf_counter()
    stop = asyncio.Event()
    until = time.perf_counter() + 10**6

    async def students() -> None:
        tasks = [
            asyncio.create_task(explore_student(s, board, random.Random(seed * 1000 + i), think, until))
            for i, s in enumerate(sessions)
        ]
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def trainings() -> list[dict[str, Any]]:
        await asyncio.sleep(2 * think)  # the class is interacting when the trainings start
        try:
            return await asyncio.gather(*(trainer(server, f"trainer{j}", steps, 1800) for j in range(k)))
        finally:
            stop.set()

    _, runs = await asyncio.gather(students(), trainings())
    for s in sessions:
        board.errors += [f"{s.name}: {e}" for e in s.errors]
        await s.close()
    out = summarise(board, sessions)
    out.update(alone=alone, trainings=list(runs), workers=_workers_of(server))
    return out


def _workers_of(server: Server) -> int:
    """The server's training worker processes (its spawned children, not multiprocessing's resource tracker)."""
    import psutil

    with contextlib.suppress(psutil.Error):
        children = psutil.Process(server.proc.pid).children(recursive=False)
        return sum(1 for c in children if "spawn_main" in " ".join(c.cmdline()))
    return 0


# ==================================================================================================
# The browser cross-check
# ==================================================================================================


async def scenario_browser(server: Server, pages: int, interactions: int, think: float, seed: int) -> dict[str, Any]:
    """``pages`` chromium pages doing Explore interactions; felt latency from their own websocket frames."""
    from playwright.async_api import async_playwright
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return {"skipped": "Debian chromium is not installed"}
    latencies: list[float] = []
    errors: list[str] = []

    async def one(p: Any, browser: Any, i: int) -> None:
        rng = random.Random(seed * 100 + i)
        context = await browser.new_context(viewport={"width": 1400, "height": 1400})
        page = await context.new_page()
        sent: list[float] = []
        done: list[float] = []

        def on_ws(ws: Any) -> None:
            def out(payload: Any) -> None:
                if isinstance(payload, bytes):
                    msg = BackMsg()
                    msg.ParseFromString(payload)
                    if msg.WhichOneof("type") == "rerun_script" and not msg.rerun_script.fragment_id:
                        sent.append(time.perf_counter())

            def inc(payload: Any) -> None:
                if isinstance(payload, bytes):
                    msg = ForwardMsg()
                    msg.ParseFromString(payload)
                    if msg.WhichOneof("type") == "script_finished" and msg.script_finished == FINISHED_OK:
                        done.append(time.perf_counter())

            ws.on("framesent", out)
            ws.on("framereceived", inc)

        page.on("websocket", on_ws)
        try:
            await page.goto(server.url)
            await page.get_by_text(re.compile(r"ms on (cpu|cuda)")).first.wait_for(timeout=180_000)  # the outputs
            for _ in range(interactions):
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
                n_done = len(done)
                roll = rng.random()
                if roll < 0.5:
                    toggles = page.locator("[data-testid=stCheckbox]").filter(
                        has_text=re.compile(r"^(grade|tumour_area)$")
                    )
                    await toggles.first.wait_for(timeout=60_000)  # (re)drawn by the previous run
                    await toggles.nth(rng.randrange(max(1, await toggles.count()))).click()
                else:
                    thumb = page.locator("[data-testid=stSlider]").filter(has_text="Bundled case").get_by_role("slider")
                    await thumb.focus()
                    await page.keyboard.press("ArrowRight")
                t = time.perf_counter()
                while len(done) <= n_done and time.perf_counter() - t < 120:
                    await asyncio.sleep(0.02)
                if len(done) > n_done and sent:
                    latencies.append(done[-1] - max(x for x in sent if x <= done[-1]))
                else:
                    errors.append(f"page {i}: no script_finished within 120 s")
            if await page.locator("[data-testid=stException]").count():
                errors.append(f"page {i}: the page shows an exception")
        except Exception as exc:
            errors.append(f"page {i}: {type(exc).__name__}: {exc}")
        finally:
            await context.close()

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        await asyncio.gather(*(one(p, browser, i) for i in range(pages)))
        await browser.close()
    return {
        "pages": pages,
        "interactions": len(latencies),
        "p50_s": pct(latencies, 0.5),
        "p95_s": pct(latencies, 0.95),
        "max_s": max(latencies, default=float("nan")),
        "errors": errors,
    }


# ==================================================================================================
# Main
# ==================================================================================================


@dataclass
class Plan:
    students: int
    think: float
    warm_seconds: float
    arrival_spread: float
    trainings: int
    train_steps: int
    long_minutes: float
    gc_seconds: float
    browser_pages: int
    browser_interactions: int


def plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        return Plan(
            students=args.students or 4,
            think=args.think,
            warm_seconds=20,
            arrival_spread=3,
            trainings=2,
            train_steps=10,
            long_minutes=args.long_minutes or 1,
            gc_seconds=15,
            browser_pages=2,
            browser_interactions=3,
        )
    return Plan(
        students=args.students or 30,
        think=args.think,
        warm_seconds=90,
        arrival_spread=10,
        trainings=4,
        train_steps=args.train_steps,
        long_minutes=args.long_minutes or 20,
        gc_seconds=60,
        browser_pages=5,
        browser_interactions=10,
    )


def write_csv(name: str, rows: list[dict[str, Any]]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.csv"
    if rows:
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few students, short runs (development)")
    ap.add_argument("--students", type=int, default=0, help="simulated students (default 30, quick 4)")
    ap.add_argument("--think", type=float, default=5.0, help="mean think time between interactions (s)")
    ap.add_argument(
        "--train-steps",
        type=int,
        default=LIVE_STEPS,
        help=f"steps of each live training (default {LIVE_STEPS}: the Experiment page's default, the live recipe)",
    )
    ap.add_argument("--long-minutes", type=float, default=0, help="length of the memory run (default 20, quick 1)")
    ap.add_argument("--scenarios", default="arrival,warm,training,long,gc,browser")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment of the main server, e.g. MTDL_KIT_TRAIN_WORKERS=2 or MTDL_KIT_TRAIN_NICE=0 (repeatable)",
    )
    ap.add_argument("--no-write", action="store_true", help="print only; RESULTS.md and the CSVs stay untouched")
    ap.add_argument("--beside", default="", help="what else ran on the machine during the run (said in RESULTS.md)")
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite RESULTS.md's section from the last run's lecture.json (with --beside), running nothing",
    )
    args = ap.parse_args()
    if args.report_only:
        results = json.loads((RESULTS_DIR / "lecture.json").read_text())
        if args.beside:
            results["beside"] = args.beside
        (RESULTS_DIR / "lecture.json").write_text(json.dumps(results, indent=1, default=str))
        from _report import write_section

        write_section("lecture", report(results))
        return
    p = plan(args)
    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    results: dict[str, Any] = {
        "beside": args.beside,
        "plan": p.__dict__,
        "load_before": load_avg(),
        "started": time.strftime("%Y-%m-%d %H:%M"),
    }
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    print(f"lecture benchmark: {p}, scenarios {wanted}, load {results['load_before']}", flush=True)

    main_scenarios = [s for s in wanted if s in ("arrival", "warm", "training", "long", "browser")]
    if main_scenarios:
        server_env = dict(kv.split("=", 1) for kv in args.server_env)
        results["server_env"] = server_env
        server = Server(env=server_env)
        boot = server.start()
        results["boot_s"] = boot
        try:
            with RssSampler(server.proc.pid, every=2.0) as rss:
                if "arrival" in wanted:
                    print("arrival…", flush=True)
                    results["arrival"] = asyncio.run(scenario_arrival(server, p.students, p.arrival_spread))
                    print(f"  {results['arrival']}", flush=True)
                results["warm_up_idle_s"] = server.wait_idle()
                if "warm" in wanted:
                    print("warm…", flush=True)
                    board, sessions = asyncio.run(run_class(server, p.students, p.think, p.warm_seconds, args.seed))
                    results["warm"] = summarise(board, sessions)
                    write_rows = [i.__dict__ for i in board.interactions]
                    if not args.no_write:
                        write_csv("warm_interactions", write_rows)
                    print(f"  { {k: v for k, v in results['warm'].items() if k != 'errors'} }", flush=True)
                    print(f"  errors: {results['warm']['errors'][:5]}", flush=True)
                if "training" in wanted:
                    print("training…", flush=True)
                    results["training"] = asyncio.run(
                        scenario_training(server, p.students, p.trainings, p.train_steps, p.think, args.seed + 1)
                    )
                    print(f"  {results['training']}", flush=True)
                    if not args.no_write:
                        t = results["training"]
                        rows = [{"phase": "alone", **t["alone"]}, *({"phase": "class", **x} for x in t["trainings"])]
                        keys = ["phase", "student", "steps", "state", "train_s", "waited_s", "wall_s", "redraw_p50_s"]
                        write_csv("trainings", [{k: row.get(k) for k in keys} for row in rows])
                if "browser" in wanted:
                    print("browser…", flush=True)
                    sim_board, sim_sessions = asyncio.run(
                        run_class(
                            server,
                            p.browser_pages,
                            p.think,
                            3 * p.browser_interactions * p.think,
                            args.seed + 2,
                            max_interactions=p.browser_interactions,
                            mix="browser",
                        )
                    )
                    results["browser_sim"] = summarise(sim_board, sim_sessions)
                    results["browser"] = asyncio.run(
                        scenario_browser(server, p.browser_pages, p.browser_interactions, p.think, args.seed + 3)
                    )
                    print(f"  browser {results['browser']}, simulated {results['browser_sim']}", flush=True)
                if "long" in wanted:
                    print(f"long ({p.long_minutes} min)…", flush=True)
                    t_long = time.perf_counter() - rss.t0
                    board, sessions = asyncio.run(
                        run_class(server, p.students, p.think, 60 * p.long_minutes, args.seed + 4)
                    )
                    results["long"] = summarise(board, sessions)
                    results["long"]["t_start"] = t_long
                results["rss"] = list(rss.samples)
        finally:
            server.stop()
            results["server_log_errors"] = server.log_errors()
            results["warmup_events"] = server.warmup_events()
    if "gc" in wanted:
        results["gc"] = {}
        for name, extra, env in (
            (
                "postScriptGC on, heap not frozen (before)",
                ["--runner.postScriptGC", "true"],
                {FREEZE: "0"},
            ),
            ("postScriptGC off, heap frozen (lecture set-up)", [], {}),
        ):
            print(f"gc: {name}…", flush=True)
            server = Server(extra=extra, env=env)
            server.start()
            try:
                warm = asyncio.run(scenario_arrival(server, 1, 0))  # the first visit: the models' outputs on screen
                server.wait_idle()
                board, sessions = asyncio.run(run_class(server, p.students, p.think, p.gc_seconds, args.seed + 5))
                results["gc"][name] = summarise(board, sessions)
                results["gc"][name]["first_visit_s"] = warm["first_render_max_s"]
                print(f"  {results['gc'][name]}", flush=True)
            finally:
                server.stop()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    results["bench_cpu_s"] = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    results["load_after"] = load_avg()
    md = report(results)
    print(md)
    if not args.no_write:
        from _report import write_section

        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / "lecture.json").write_text(json.dumps(results, indent=1, default=str))
        if results.get("rss"):
            write_csv(
                "rss",
                [{"t_s": round(t, 1), "server_gb": round(a, 3), "tree_gb": round(b, 3)} for t, a, b in results["rss"]],
            )
        write_section("lecture", md)


def report(r: dict[str, Any]) -> str:
    from _report import machine

    def ok(flag: bool) -> str:
        return "meets" if flag else "**misses**"

    p = r["plan"]
    lines = [
        "## Lecture: the real server under a class (`benchmarks/bench_lecture.py`)",
        "",
        f"Machine: {machine()}. Run started {r['started']}; load average (1/5/15 min) {r['load_before']} before, "
        f"{r['load_after']} after. "
        + (
            f"**This machine was shared** ({r['beside']}): the numbers are upper bounds for a quiet machine; rerun "
            "there to confirm. "
            if r.get("beside")
            else "Nothing else was started on the machine during the run (`--beside` names what was). "
        )
        + "The simulated students run in the benchmark's own process on the same cores "
        f"({r['bench_cpu_s']:.0f} s of CPU in all).",
        "",
        "Server: `mtdl-kit dashboard`'s command line (`streamlit run dashboard/app.py`, `--runner.postScriptGC "
        "false`, the warm-up started with the process"
        + (f"; environment {r['server_env']}" if r.get("server_env") else "")
        + "), each student a websocket session speaking Streamlit's "
        f"protobufs; think time {p['think']:.0f} s ±50 %; interactions on Explore: a new bundled case (40 %), a "
        "task toggle (30 %), the family (15 %), the region (15 %). Felt latency: request sent → `script_finished`; "
        "server run: `new_session` → `script_finished`.",
        "",
        "| scenario | measure | value | target | |",
        "|---|---|---|---|---|",
    ]
    if "arrival" in r:
        a = r["arrival"]
        met = a["first_render_max_s"] <= TARGETS["arrival_first_render_s"] and a["rendered"] == a["students"]
        lines.append(
            f"| {a['students']} students arriving within {a['spread_s']:.0f} s at a just-started server "
            f"(health check after {r.get('boot_s', float('nan')):.1f} s) | first complete render (models' outputs) "
            f"| p50 {a['first_render_p50_s']:.1f} s, p95 {a['first_render_p95_s']:.1f} s, max "
            f"{a['first_render_max_s']:.1f} s ({a['rendered']}/{a['students']} rendered; errors {len(a['errors'])}, "
            f"leaks {a['leaks']}) | every one ≤ 10 s | {ok(met)} |"
        )
    if "warm" in r:
        w = r["warm"]
        lines.append(
            f"| {w['students']} students, warm server, {p['warm_seconds']:.0f} s | felt latency "
            f"| p50 {w['p50_s']:.2f} s, p95 {w['p95_s']:.2f} s, max {w['max_s']:.2f} s "
            f"({w['interactions']} interactions; "
            f"server run p50 {w['server_p50_s']:.2f} s, p95 {w['server_p95_s']:.2f} s; images in by p95 "
            f"{w['media_p95_s']:.2f} s) | p95 ≤ 1 s | {ok(w['p95_s'] <= TARGETS['warm_p95_s'])} |"
        )
        lines.append(
            f"| | errors; state checks failed; leaks | {len(w['errors'])}; {w['failed_checks']} of {w['checks']}; "
            f"{w['leaks']} | 0; 0 | {ok(not w['errors'] and not w['leaks'] and not w['failed_checks'])} |"
        )
    if "training" in r:
        t = r["training"]
        alone = t["alone"].get("train_s", float("nan"))
        runs = t["trainings"]
        ratios = [x.get("train_s", float("nan")) / alone for x in runs]
        lines.append(
            f"| {t['students']} students + {len(runs)} live trainings ({p['train_steps']} steps each, started "
            f"together; {t['workers']} worker process(es)) | students' felt latency | p50 {t['p50_s']:.2f} s, p95 "
            f"{t['p95_s']:.2f} s ({t['interactions']} interactions; errors {len(t['errors'])}, leaks {t['leaks']}, "
            f"checks failed {t['failed_checks']}) | p95 ≤ 1.5 s | {ok(t['p95_s'] <= TARGETS['training_p95_s'])} |"
        )
        detail = ", ".join(
            f"{x.get('train_s', float('nan')):.0f} s (+{x.get('waited_s', float('nan')):.0f} s queued)" for x in runs
        )
        redraw = [x.get("redraw_p50_s", float("nan")) for x in runs]
        lines.append(
            f"| | a training page's progress panel (its own fragment, redrawn every second) | server run per "
            f"redraw p50 {pct(redraw, 0.5):.3f} s (median of the trainers' medians) | — | |"
        )
        lines.append(
            f"| | each training's time vs alone ({alone:.0f} s) | {detail}; ratio max "
            f"{max(ratios, default=float('nan')):.2f} (training time; the queue wait is separate) | ≤ 1.5× "
            f"| {ok(max(ratios, default=99) <= TARGETS['training_ratio'])} |"
        )
    if r.get("rss"):
        samples = r["rss"]
        peak_tree = max(s[2] for s in samples)
        peak_server = max(s[1] for s in samples)
        lines.append(
            f"| the whole run ({samples[-1][0] / 60:.0f} min) | resident memory, peak | server {peak_server:.2f} GB, "
            f"server + training workers {peak_tree:.2f} GB | ≤ 3 GB | {ok(peak_tree <= TARGETS['rss_gb'])} |"
        )
    events = r.get("warmup_events") or []
    ready = next((e for e in events if e["event"] == "ready"), None)
    done = next((e for e in events if e["event"] == "done"), None)
    collections = [e for e in events if e["event"] == "gc"]
    if ready and done:
        sec = done["seconds"]
        filled = (
            f", its cached outputs (predictions, pictures, wiring of the bundled cases) {sec['prefill_first']:.1f} s"
            if "prefill_first" in sec
            else ""
        )
        later = (
            f", the other regions' caches {sec['prefill']:.1f} s (pausing between regions)" if "prefill" in sec else ""
        )
        lines.append(
            f"| server warm-up | before serving: imports {sec.get('imports', 0):.1f} s, the first region's "
            f"{ready['models']} models {sec.get('first_models', 0):.1f} s{filled}; after: the other zoo models "
            f"{sec.get('models', 0):.1f} s{later}, training workers started {sec.get('pool', 0):.1f} s "
            f"({done['models']} models, {done['frozen']:,} objects frozen) | — | — | |"
        )
    if collections:
        lines.append(
            f"| periodic full collection (every 60 s, heap frozen) | duration | max "
            f"{1000 * max(e['seconds'] for e in collections):.0f} ms over {len(collections)} collections; objects "
            f"scanned at the end {collections[-1]['tracked']:,} | — | |"
        )
    if "long" in r:
        lg = r["long"]
        samples = [s for s in r["rss"] if s[0] >= lg["t_start"]]
        if samples:
            t0, t_end = samples[0][0], samples[-1][0]
            ref_t = t0 + min(300.0, (t_end - t0) / 4)
            ref = min(samples, key=lambda s: abs(s[0] - ref_t))[1]
            end = samples[-1][1]
            growth = (end - ref) / ref
            lines.append(
                f"| {lg['students']} students for {(t_end - t0) / 60:.1f} min | server memory growth after the first "
                f"{(ref_t - t0) / 60:.1f} min | {ref:.2f} → {end:.2f} GB ({100 * growth:+.1f} %); felt latency p95 "
                f"{lg['p95_s']:.2f} s over {lg['interactions']} interactions, errors {len(lg['errors'])}, leaks "
                f"{lg['leaks']} | ≤ +10 % after 5 min | {ok(growth <= TARGETS['rss_growth'])} |"
            )
    if "gc" in r:
        g = r["gc"]
        names = list(g)
        if len(names) == 2:
            before, after = g[names[0]], g[names[1]]
            for name in names:
                x = g[name]
                lines.append(
                    f"| GC side by side: {name} | felt latency ({x['students']} students, {p['gc_seconds']:.0f} s) "
                    f"| p50 {x['p50_s']:.2f} s, p95 {x['p95_s']:.2f} s; server run p50 {x['server_p50_s']:.2f} s "
                    f"({x['interactions']} interactions) | — | |"
                )
            lines.append(
                f"| | ratio before / after | p95 {before['p95_s'] / after['p95_s']:.1f}×, server run p50 "
                f"{before['server_p50_s'] / after['server_p50_s']:.1f}× | — | |"
            )
    if "browser" in r and "p95_s" in r["browser"]:
        b, s = r["browser"], r["browser_sim"]
        lines.append(
            f"| real-browser cross-check: {b['pages']} chromium pages vs {s['students']} simulated students "
            f"| felt latency | browser p50 {b['p50_s']:.2f} s, p95 {b['p95_s']:.2f} s ({b['interactions']} "
            f"interactions, errors {len(b['errors'])}); simulated p50 {s['p50_s']:.2f} s, p95 {s['p95_s']:.2f} s | "
            f"agree within 0.25 s or 50 % at p50 | {ok(abs(b['p50_s'] - s['p50_s']) <= max(0.25, 0.5 * s['p50_s']))} |"
        )
    errs = [e for k in ("arrival", "warm", "training", "long") if k in r for e in r[k].get("errors", [])]
    if errs or r.get("server_log_errors"):
        lines += ["", "Errors (first 5): " + "; ".join((errs + r.get("server_log_errors", []))[:5])]
    lines += [
        "",
        "Per-interaction rows: `benchmarks/results/lecture/warm_interactions.csv`; memory samples: "
        "`benchmarks/results/lecture/rss.csv`; everything: `benchmarks/results/lecture/lecture.json`.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
