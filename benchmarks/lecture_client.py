"""The lecture benchmark's websocket client: one simulated browser tab, and what a student does on Explore.

A :class:`Session` is one websocket session on ``/_stcore/stream`` speaking Streamlit's own protobuf
messages (``streamlit.proto``), keeping what a browser keeps; :class:`ExploreModel` says what a
student's page must show for the student's own widgets, and :class:`Board` records every interaction
with its latency and check. Used by ``bench_lecture.py`` and ``tests/dashboard/test_lecture_client.py``.
Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

FINISHED_OK = 0  # ForwardMsg.FINISHED_SUCCESSFULLY
FINISHED_FRAGMENT = 3  # FINISHED_FRAGMENT_RUN_SUCCESSFULLY
MODEL_CAPTION = re.compile(r"Model `([^`]+)`")


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
