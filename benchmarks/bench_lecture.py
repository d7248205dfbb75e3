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
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from mtdl_kit.services.training import LIVE_STEPS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
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
FINISHED_OK = 0  # ForwardMsg.FINISHED_SUCCESSFULLY
FINISHED_EARLY = 2  # FINISHED_EARLY_FOR_RERUN
FINISHED_FRAGMENT = 3  # FINISHED_FRAGMENT_RUN_SUCCESSFULLY
FREEZE = "MTDL_KIT_GC_FREEZE"  # mtdl_kit.services.warmup.FREEZE_ENV
WARMUP_LOG = "MTDL_KIT_WARMUP_LOG"  # mtdl_kit.services.warmup.LOG_ENV
MODEL_CAPTION = re.compile(r"Model `([^`]+)`")
PROGRESS = re.compile(r"step (\d+)/(\d+) · ([\d.]+) s training · waited ([\d.]+) s")


def pct(values: Iterable[float], q: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


# ==================================================================================================
# The protocol client: one browser tab
# ==================================================================================================


@dataclass
class Run:
    """One script run as the client saw it (times from ``time.perf_counter``)."""

    sent: float
    started: float | None = None
    finished: float | None = None
    status: int | None = None
    run_id: str = ""
    media_done: float | None = None
    fragment: bool = False

    @property
    def latency(self) -> float:
        return (self.finished or float("nan")) - self.sent

    @property
    def server(self) -> float:
        return (self.finished or float("nan")) - (self.started or float("nan"))

    @property
    def queue(self) -> float:
        return (self.started or float("nan")) - self.sent


class Session:
    """One simulated browser tab on the dashboard: a websocket session speaking Streamlit's protobufs.

    It keeps what a browser keeps: the page (elements by delta path), the value of every widget on
    it, the URL's query string, the page hashes of the navigation, the fetched images, and the
    fragments' auto-rerun timers.
    """

    def __init__(self, base_url: str, name: str, *, query: str = "", fetch_media: bool = True) -> None:
        self.base = base_url.rstrip("/")
        self.name = name
        self.query_string = query
        self.fetch_media = fetch_media
        self.page: dict[tuple[int, ...], Any] = {}
        self._building: dict[tuple[int, ...], Any] = {}
        self._full_run = False
        self.widgets: dict[str, Any] = {}  # widget id -> WidgetState proto (the browser's value)
        self.pages: dict[str, tuple[str, str]] = {}  # url path -> (page script hash, page name)
        self.page_hash = ""
        self.errors: list[str] = []
        self.alerts: list[str] = []  # error alerts (st.error) of the latest full run
        self.media: set[str] = set()
        self.media_bytes = 0
        self.fragment_reruns = 0
        self.bytes_in = 0
        self._ws: Any = None
        self._reader: asyncio.Task | None = None
        self._auto: dict[str, asyncio.Task] = {}
        self._runs: dict[str, Run] = {}  # script run id -> Run
        self._pending_full: list[Run] = []  # full-run requests waiting for their run to start
        self._changed = asyncio.Event()
        self.closed = False

    # ------------------------------------------------------------------------------------ transport
    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        url = self.base.replace("http://", "ws://") + "/_stcore/stream"
        self._ws = await connect(url, subprotocols=["streamlit"], max_size=None, open_timeout=60, ping_interval=None)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        self.closed = True
        for task in self._auto.values():
            task.cancel()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader

    async def _read(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            async for data in self._ws:
                self.bytes_in += len(data)
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._on_message(msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self.closed:
                self.errors.append(f"websocket: {type(exc).__name__}: {exc}")
        finally:
            if not self.closed:
                self.errors.append("websocket closed by the server")
                self.closed = True
            self._changed.set()

    # ------------------------------------------------------------------------------------ messages
    def _on_message(self, msg: Any) -> None:
        kind = msg.WhichOneof("type")
        now = time.perf_counter()
        if kind == "new_session":
            run_id = msg.metadata.run.script_run_id
            fragments = list(msg.metadata.run.fragment_ids)
            self.page_hash = msg.new_session.page_script_hash or self.page_hash
            for page in msg.new_session.app_pages:
                self.pages[page.url_pathname] = (page.page_script_hash, page.page_name)
            if fragments:
                run = Run(sent=now, fragment=True)
            else:
                self._full_run = True
                self._building = {}
                for task in self._auto.values():  # the frontend clears the fragments' timers on a full run
                    task.cancel()
                self._auto.clear()
                run = self._pending_full.pop(0) if self._pending_full else Run(sent=now)
            run.started, run.run_id = now, run_id
            self._runs[run_id] = run
        elif kind == "delta":
            delta = msg.delta
            if delta.WhichOneof("type") == "new_element":
                path = tuple(msg.metadata.delta_path)
                element = delta.new_element
                (self._building if self._full_run else self.page)[path] = element
                self._widget_from_element(element)
                etype = element.WhichOneof("type")
                if etype == "exception":
                    self.errors.append(f"exception: {element.exception.type}: {element.exception.message}")
        elif kind == "script_finished":
            status = msg.script_finished
            run = self._runs.get(msg.metadata.run.script_run_id)
            if status != FINISHED_FRAGMENT and self._full_run:
                if status == FINISHED_OK:
                    self.page = self._building
                else:
                    self.page = {**self.page, **self._building}
                self._full_run = False
                self._prune_widgets()
            if run is not None:
                run.finished, run.status = now, status
            self.alerts = [
                e.alert.body for e in self.page.values() if e.WhichOneof("type") == "alert" and e.alert.format == 1
            ]
            self._changed.set()
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "navigation":
            for page in msg.navigation.app_pages:
                self.pages[page.url_pathname] = (page.page_script_hash, page.page_name)
        elif kind == "auto_rerun":
            fragment, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            if fragment and fragment not in self._auto:
                self._auto[fragment] = asyncio.create_task(self._auto_rerun(fragment, interval))

    async def _auto_rerun(self, fragment: str, interval: float) -> None:
        while not self.closed:
            await asyncio.sleep(interval)
            self.fragment_reruns += 1
            await self._send(fragment_id=fragment, auto=True)

    # ------------------------------------------------------------------------------------- widgets
    def _widget_from_element(self, element: Any) -> None:
        """The browser's value of a widget: its default when first shown, the server's when it sets one."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        etype = element.WhichOneof("type")
        w = getattr(element, etype)
        wid = getattr(w, "id", "")
        if not wid or etype in ("button", "download_button", "file_uploader", "plotly_chart", "dataframe"):
            return
        known = wid in self.widgets
        if known and not getattr(w, "set_value", False):
            return
        state = WidgetState(id=wid)
        if etype == "checkbox":
            state.bool_value = w.value if w.set_value else w.default
        elif etype in ("radio", "selectbox"):
            if w.set_value and w.raw_value:
                state.string_value = w.raw_value
            elif w.HasField("default") and len(w.options):
                state.string_value = w.options[w.default]
            else:
                return
        elif etype == "slider":
            values = list(w.value) if w.set_value else list(w.default)
            if w.type == 2:  # select_slider: option strings
                state.string_array_value.data.extend([w.options[int(v)] for v in values])
            else:
                state.double_array_value.data.extend(values)
        elif etype == "number_input":
            state.double_value = w.value if w.set_value else w.default
        elif etype == "multiselect":
            values = list(w.raw_values) if w.set_value else [w.options[i] for i in w.default]
            state.string_array_value.data.extend(values)
        else:
            return
        self.widgets[wid] = state

    def _prune_widgets(self) -> None:
        """Forget the widgets no longer on the page (the frontend unmounts them, and their state)."""
        on_page = {getattr(getattr(e, e.WhichOneof("type")), "id", "") for e in self.page.values()}
        for wid in [w for w in self.widgets if w not in on_page]:
            del self.widgets[wid]

    def widget_id(self, key: str) -> str | None:
        """The id of the widget with user key ``key`` on the page (ids end with ``-<key>``)."""
        for wid in self.widgets:
            if wid.endswith("-" + key):
                return wid
        return None

    def element(self, key: str) -> Any:
        """The element proto of the widget with user key ``key`` on the page."""
        for e in self.page.values():
            w = getattr(e, e.WhichOneof("type"))
            if getattr(w, "id", "").endswith("-" + key):
                return w
        return None

    def value(self, key: str) -> Any:
        """The browser's value of the widget with user key ``key`` (``None`` if not on the page)."""
        wid = self.widget_id(key)
        if wid is None:
            return None
        state = self.widgets[wid]
        which = state.WhichOneof("value")
        v = getattr(state, which)
        return list(v.data) if hasattr(v, "data") else v

    def set(self, key: str, value: Any) -> None:
        """Change a widget, as a click or a key press in the browser does (sent with the next request)."""
        wid = self.widget_id(key)
        if wid is None:
            raise KeyError(f"{self.name}: no widget {key!r} on the page")
        state = self.widgets[wid]
        which = state.WhichOneof("value")
        if which in ("double_array_value", "string_array_value"):
            getattr(state, which).ClearField("data")
            getattr(state, which).data.extend(value if isinstance(value, list) else [value])
        else:
            setattr(state, which, value)

    # ------------------------------------------------------------------------------------ requests
    async def _send(self, *, fragment_id: str = "", auto: bool = False, triggers: Iterable[str] = (), page_hash=None):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        if self.closed:
            return
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = self.query_string
        rerun.page_script_hash = page_hash if page_hash is not None else self.page_hash
        rerun.fragment_id = fragment_id
        rerun.is_auto_rerun = auto
        rerun.widget_states.widgets.extend(self.widgets.values())
        for wid in triggers:
            rerun.widget_states.widgets.append(WidgetState(id=wid, trigger_value=True))
        try:
            await self._ws.send(msg.SerializeToString())
        except Exception as exc:
            self.errors.append(f"send: {type(exc).__name__}: {exc}")
            self.closed = True

    async def rerun(self, *, triggers: Iterable[str] = (), page_hash=None, timeout: float = 120.0) -> Run:
        """Send the page's widget states (a click, a key press, a page load) and wait for the full run's end."""
        run = Run(sent=time.perf_counter())
        self._pending_full.append(run)
        await self._send(triggers=triggers, page_hash=page_hash)
        deadline = time.perf_counter() + timeout
        while True:
            if run.finished is not None and run.status == FINISHED_OK:
                break
            if run.finished is not None:  # interrupted (a rerun of the app): the next full run is ours
                nxt = Run(sent=run.sent)
                self._pending_full.insert(0, nxt)
                run = nxt
            if self.closed:
                raise ConnectionError(f"{self.name}: the connection closed during a run")
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                with contextlib.suppress(ValueError):
                    self._pending_full.remove(run)
                raise TimeoutError(f"{self.name}: no script_finished within {timeout:.0f} s")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        if self.fetch_media:
            await self._fetch_media()
        run.media_done = time.perf_counter()
        return run

    async def wait_for(self, predicate: Callable[[Session], bool], timeout: float) -> bool:
        """Wait until ``predicate(self)`` holds after a run (a fragment's redraw included)."""
        deadline = time.perf_counter() + timeout
        while not predicate(self):
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or self.closed:
                return False
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    async def open(self, timeout: float = 180.0) -> Run:
        """Connect and load the app's first page, as a browser's page load does."""
        await self.connect()
        return await self.rerun(page_hash="", timeout=timeout)

    async def navigate(self, url_path: str, timeout: float = 120.0) -> Run:
        """Open another page of the navigation (its URL path, e.g. ``experiment``)."""
        page_hash, _ = self.pages[url_path]
        return await self.rerun(page_hash=page_hash, timeout=timeout)

    # ------------------------------------------------------------------------------------- reading
    def texts(self, kinds: tuple[str, ...] = ("markdown", "alert", "heading", "text")) -> list[str]:
        """The page's texts in document order (markdown and captions, alerts, headings)."""
        out = []
        for path in sorted(self.page):
            e = self.page[path]
            etype = e.WhichOneof("type")
            if etype == "progress":
                if "progress" in kinds:
                    out.append(e.progress.text)
            elif etype in kinds:
                out.append(getattr(e, etype).body)
        return out

    def tables(self) -> list[Any]:
        """The page's dataframes (``st.dataframe`` sent inline as Arrow), as pandas DataFrames, in page order."""
        import pyarrow as pa

        out = []
        for path in sorted(self.page):
            e = self.page[path]
            if e.WhichOneof("type") == "dataframe" and e.dataframe.arrow_data.data:
                out.append(pa.ipc.open_stream(e.dataframe.arrow_data.data).read_all().to_pandas())
        return out

    def model_keys(self) -> set[str]:
        return {m for t in self.texts(("markdown",)) for m in MODEL_CAPTION.findall(t)}

    def case_labels(self) -> list[str]:
        """The bullet lines under "Labels of this case"."""
        header = [
            p
            for p, e in self.page.items()
            if e.WhichOneof("type") == "markdown" and "Labels of this case" in e.markdown.body
        ]
        if not header:
            return []
        parent = header[0][:-1]
        lines = [
            (p, e.markdown.body)
            for p, e in self.page.items()
            if p[:-1] == parent and e.WhichOneof("type") == "markdown" and e.markdown.body.startswith("- ")
        ]
        return [b[2:] for _, b in sorted(lines)]

    async def _fetch_media(self) -> None:
        urls = []
        for e in self.page.values():
            if e.WhichOneof("type") == "imgs":
                urls += [img.url for img in e.imgs.imgs if img.url.startswith("/media/") and img.url not in self.media]
        if urls:
            self.media.update(urls)
            sizes = await asyncio.gather(*(http_get(self.base + u) for u in urls), return_exceptions=True)
            for u, size in zip(urls, sizes, strict=True):
                if isinstance(size, BaseException):
                    self.errors.append(f"media {u}: {size}")
                else:
                    self.media_bytes += size


async def http_get(url: str) -> int:
    """GET ``url`` over a fresh HTTP/1.1 connection (as a browser fetches an image); returns the body's size."""
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    reader, writer = await asyncio.open_connection(host, int(port or 80))
    writer.write(f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if b" " in head else b"?"
    if status != b"200":
        raise OSError(f"HTTP {status.decode()}")
    return len(body)


# ==================================================================================================
# Explore: what a student does, and what the page must then show
# ==================================================================================================


class ExploreModel:
    """What the Explore page must show for a student's widgets (computed with the library, as the server does)."""

    def __init__(self) -> None:
        from mtdl_kit import REGION_NAMES, get_region
        from mtdl_kit.services import manifest_stamp, read_manifest_or_empty

        self.regions = list(REGION_NAMES)
        self._titles = {n: get_region(n).title for n in REGION_NAMES}
        self.manifest = read_manifest_or_empty(manifest_stamp()[0])
        self._labels: dict[tuple[str, int], list[str]] = {}

    def state(self, s: Session) -> dict[str, Any] | None:
        """The student's own state, read from the student's widgets (``None`` off the bundled-sample Explore)."""
        title = s.value("region")
        case = s.value("case")
        family = s.value("explore_family")
        if title is None or case is None or family is None:
            return None
        region = self.region_of(title)
        from mtdl_kit import get_region

        tasks = [t for t in get_region(region).task_names if s.value(f"task:{region}:{t}")]
        return {"region": region, "case": int(case[0]), "family": family, "tasks": tuple(tasks)}

    def region_of(self, label: str) -> str:
        """The region a sidebar option names (its name, its title, or the title's first part)."""
        for name, title in self._titles.items():
            if label in (name, title, title.split(" — ")[0]) or label.lower() == name:
                return name
        raise ValueError(f"no region is shown as {label!r}")

    def keys(self, st: dict[str, Any]) -> set[str]:
        from mtdl_kit.models import MULTI_TASK_FAMILIES
        from mtdl_kit.services import resolve_model

        if not st["tasks"]:
            return set()
        families = list(MULTI_TASK_FAMILIES) if st["family"] not in MULTI_TASK_FAMILIES else [st["family"]]
        keys = {resolve_model(st["region"], f, st["tasks"], self.manifest).key for f in families}
        return {k for k in keys if k}

    def labels(self, region: str, case: int) -> list[str]:
        if (region, case) not in self._labels:
            from mtdl_kit import get_region
            from mtdl_kit.data import load_samples
            from mtdl_kit.viz import describe_targets

            self._labels[(region, case)] = list(describe_targets(get_region(region), load_samples(region)[case]))
        return self._labels[(region, case)]

    def observed(self, s: Session) -> dict[str, Any]:
        q = parse_qs(s.query_string)
        return {
            "keys": s.model_keys(),
            "labels": s.case_labels(),
            "url_region": (q.get("region") or [None])[0],
            "url_case": (q.get("case") or [None])[0],
        }

    def matches(self, obs: dict[str, Any], st: dict[str, Any]) -> list[str]:
        """What of ``obs`` differs from state ``st`` (empty: the page shows exactly ``st``)."""
        bad = []
        if obs["keys"] != self.keys(st):
            bad.append(f"models {sorted(obs['keys'])} != {sorted(self.keys(st))}")
        if st["tasks"] and obs["labels"] != self.labels(st["region"], st["case"]):
            bad.append(f"labels {obs['labels'][:1]} != {self.labels(st['region'], st['case'])[:1]}")
        if obs["url_region"] is not None and obs["url_region"] != st["region"]:
            bad.append(f"URL region {obs['url_region']} != {st['region']}")
        if obs["url_case"] is not None and obs["url_case"] != str(st["case"]):
            bad.append(f"URL case {obs['url_case']} != {st['case']}")
        return bad

    def interact(self, s: Session, rng: random.Random, mix: str = "class") -> str:
        """Change one widget the way a student would; returns what was changed.

        ``mix="class"``: a new bundled case 40 %, a task toggle 30 %, the family 15 %, the region 15 %;
        ``mix="browser"``: what the real-browser cross-check's pages do (the next case, or the grade or
        tumour-area toggle of the brain, half and half).
        """
        st = self.state(s)
        assert st is not None
        roll = rng.random()
        if mix == "browser":
            if roll < 0.5:
                task = rng.choice(["grade", "tumour_area"])
                s.set(f"task:brain:{task}", task not in st["tasks"])
                return "toggle"
            s.set("case", float(min(st["case"] + 1, int(self._slider_max(s, "case")))))
            return "case"
        if roll < 0.40:
            n = int(self._slider_max(s, "case")) + 1
            s.set("case", float(rng.choice([c for c in range(n) if c != st["case"]])))
            return "case"
        if roll < 0.70:
            from mtdl_kit import get_region

            names = list(get_region(st["region"]).task_names)
            task = rng.choice(names)
            on = task in st["tasks"]
            if on and len(st["tasks"]) == 1:  # keep one task on
                task = rng.choice([t for t in names if t != task])
                on = False
            s.set(f"task:{st['region']}:{task}", not on)
            return "toggle"
        if roll < 0.85:
            options = list(s.element("explore_family").options)
            s.set("explore_family", rng.choice([o for o in options if o != st["family"]]))
            return "family"
        options = list(s.element("region").options)
        s.set("region", rng.choice([o for o in options if self.region_of(o) != st["region"]]))
        return "region"

    @staticmethod
    def _slider_max(s: Session, key: str) -> float:
        return s.element(key).max


@dataclass
class Interaction:
    student: str
    kind: str
    t: float  # seconds since the scenario started
    latency: float
    server: float
    queue: float
    media: float
    ok: bool
    leak: bool
    detail: str = ""


@dataclass
class Board:
    """What every student of a scenario is showing now (for the leak check) and what was measured."""

    model: ExploreModel
    t0: float = field(default_factory=time.perf_counter)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    interactions: list[Interaction] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first_renders: dict[str, float] = field(default_factory=dict)  # student -> seconds to the first complete render

    def check(self, s: Session, kind: str, run: Run) -> Interaction:
        st = self.model.state(s)
        obs = self.model.observed(s)
        bad = ["the Explore widgets are missing"] if st is None else self.model.matches(obs, st)
        leak = False
        if bad:
            leak = any(
                not self.model.matches(obs, other) for name, other in self.states.items() if name != s.name and other
            )
        if st is not None:
            self.states[s.name] = st
        for alert in s.alerts:
            self.errors.append(f"{s.name}: error shown: {alert[:200]}")
        rec = Interaction(
            s.name,
            kind,
            run.sent - self.t0,
            run.latency,
            run.server,
            run.queue,
            (run.media_done or run.finished or 0) - run.sent,
            not bad,
            leak,
            "; ".join(bad),
        )
        self.interactions.append(rec)
        return rec


async def explore_student(
    s: Session,
    board: Board,
    rng: random.Random,
    think: float,
    until: float,
    max_interactions: int | None = None,
    mix: str = "class",
) -> None:
    """Interact with Explore with a think time of ``think`` (±50 %) until ``until`` (perf_counter)."""
    done = 0
    while time.perf_counter() < until and (max_interactions is None or done < max_interactions):
        await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
        if time.perf_counter() >= until:
            break
        try:
            kind = board.model.interact(s, rng, mix)
            run = await s.rerun()
        except Exception as exc:
            board.errors.append(f"{s.name}: {type(exc).__name__}: {exc}")
            return
        board.check(s, kind, run)
        done += 1


# ==================================================================================================
# The server
# ==================================================================================================


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``mtdl-kit dashboard``'s command line as a subprocess (extra Streamlit flags and env per variant)."""

    def __init__(self, *, extra: Iterable[str] = (), env: dict[str, str] | None = None, log: Path | None = None):
        from mtdl_kit import launch

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [*launch.dashboard_command(self.port, ROOT / "dashboard" / "app.py"), *extra]
        self.log = log or Path(tempfile.mkstemp(prefix="lecture-server-", suffix=".log")[1])
        self.warmup_log = Path(tempfile.mkstemp(prefix="lecture-warmup-", suffix=".jsonl")[1])
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", WARMUP_LOG: str(self.warmup_log), **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.t_start = 0.0

    def start(self, timeout: float = 120.0) -> float:
        """Start and wait for the health check; returns the seconds it took."""
        self.t_start = time.perf_counter()
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:  # loopback
                    if reply.read() == b"ok":
                        return time.perf_counter() - self.t_start
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not become healthy")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def warmup_events(self) -> list[dict[str, Any]]:
        """The server's warm-up and periodic-collection timings (``$MTDL_KIT_WARMUP_LOG``'s JSON lines)."""
        if not self.warmup_log.exists():
            return []
        return [json.loads(line) for line in self.warmup_log.read_text().splitlines() if line.strip()]

    def log_errors(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if "Traceback" in line or line.startswith("Error")]

    def wait_idle(self, timeout: float = 300.0, below: float = 15.0, window: float = 3.0) -> float:
        """Wait for the warm-up's ``done`` event, then until the server and its workers use under ``below`` % CPU
        for ``window`` s. (CPU alone is not enough: the cache filler pauses between regions.)"""
        import psutil

        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout and not any(e["event"] == "done" for e in self.warmup_events()):
            time.sleep(0.5)
        root = psutil.Process(self.proc.pid)
        while time.perf_counter() - t0 < timeout:
            procs = [root, *root.children(recursive=True)]
            before = sum(p.cpu_times().user + p.cpu_times().system for p in procs if p.is_running())
            time.sleep(window)
            with contextlib.suppress(psutil.Error):
                after = sum(p.cpu_times().user + p.cpu_times().system for p in procs if p.is_running())
                if 100 * (after - before) / window < below:
                    return time.perf_counter() - t0
        return time.perf_counter() - t0


class RssSampler:
    """Resident memory of the server process and of its whole tree (training workers), every ``every`` s."""

    def __init__(self, pid: int, every: float = 2.0) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float, float]] = []  # (t, server GB, tree GB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.perf_counter()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import psutil

        root = psutil.Process(self.pid)
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                server = root.memory_info().rss
                tree = server + sum(c.memory_info().rss for c in root.children(recursive=True))
                self.samples.append((time.perf_counter() - self.t0, server / 2**30, tree / 2**30))
            self._stop.wait(self.every)

    def peak(self, col: int = 2) -> float:
        return max((s[col] for s in self.samples), default=float("nan"))

    def at(self, t: float, col: int = 1) -> float:
        """The sample closest to ``t`` seconds."""
        if not self.samples:
            return float("nan")
        return min(self.samples, key=lambda s: abs(s[0] - t))[col]


def load_avg() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"
    except OSError:
        return "n/a"


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
