"""The dashboard server's warm-up for a lecture: torch, MONAI and the zoo models loaded once, early.

A class of students must not wait for (or slow down) the import of torch and MONAI and the loading
of the zoo models, and the server must not spend its time in full garbage collections once those
are in memory (issue 19: a full collection after every script run cost ~0.3-0.6 s on this 2-core
machine, 91 % of the interpreter lock under load). This module, UI-free, does both:

- :func:`start` (idempotent, cheap to call on every rerun) starts one background thread per
  process that imports torch (one intra-op thread per forward pass on a CPU:
  ``$MTDL_KIT_TORCH_THREADS``, default 1), MONAI and the models' code, then loads the zoo models
  (:func:`mtdl_kit.services.zoo_models.load_shared_model`, shared by every session): the first
  region's models first, then :func:`ready` is true, then the rest of the zoo
  (``$MTDL_KIT_WARMUP_MODELS``: ``all``, the default; ``first``: the first region only; ``none``).
  ``mtdl-kit dashboard`` starts it when the server process starts (:mod:`mtdl_kit.launch`), before
  the first student connects; the dashboard also calls it at its first script run.
- After the imports (:func:`ready`) and again after the zoo (:func:`done`), the heap built so far
  is moved out of the collector's sight with :func:`gc.freeze` (after a collection, so no garbage is
  frozen): a full collection then scans only what sessions allocated since, milliseconds instead of
  half a second. With ``runner.postScriptGC`` off (the dashboard's configuration), Python's own
  generational thresholds still run, and a collector thread runs a full collection every
  ``$MTDL_KIT_GC_SECONDS`` (default 60; 0 disables) so cyclic garbage is bounded in time.
- :func:`wait_ready` blocks the calling thread (e.g. a page's script run) until the imports and the
  first region's models are in, without polling and without rerunning anything.
- Optionally (``start(pool=True)``, as ``mtdl-kit dashboard`` does) the live-training worker
  processes (:func:`mtdl_kit.services.training_workers.training_pool`) are started once the zoo is loaded,
  so a class's first Train click does not wait for a worker to import torch.
- Optionally (``start(prefill=fn)``) the application's own caches are filled too: ``fn(regions)``
  is called with the first region before :func:`ready` (so the first students find that region's
  predictions, thumbnails and wiring computed) and, once the zoo is loaded, with each other region
  in turn, pausing as long as each took (:data:`PREFILL_PAUSE`): the students already connected
  share the interpreter lock with it.
  The dashboard's filler is ``prefill_caches`` in ``dashboard/views/common.py`` (its
  ``st.cache_*`` functions); :func:`mtdl_kit.launch.dashboard_prefill` hands it over, so this module
  stays UI-free. A failing filler is reported in :func:`status` (``prefill_error``) and the pages
  compute what they need on their first visit, as without it. Issue 19: without it, the first
  minute of a class was slow while 30 students filled those caches at the same time.

:func:`status` returns the timings (seconds per phase, models loaded, objects frozen, collections
run and their durations), which a page can show; with ``$MTDL_KIT_WARMUP_LOG`` naming a file, the
same timings are appended to it as JSON lines (the lecture benchmark reads them). Research and
teaching use only — not for clinical use.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: environment variables read by :func:`start`.
MODELS_ENV = "MTDL_KIT_WARMUP_MODELS"
THREADS_ENV = "MTDL_KIT_TORCH_THREADS"
GC_SECONDS_ENV = "MTDL_KIT_GC_SECONDS"
FREEZE_ENV = "MTDL_KIT_GC_FREEZE"
LOG_ENV = "MTDL_KIT_WARMUP_LOG"
#: seconds between the collector thread's full collections (``$MTDL_KIT_GC_SECONDS``).
DEFAULT_GC_SECONDS = 60.0
#: after the server serves, the cache filler pauses this many times as long as each region took, so
#: the first students' script runs get most of the interpreter lock while it fills the other regions
PREFILL_PAUSE = 1.0


@dataclass
class WarmupState:
    """What the warm-up thread did so far (read it with :func:`status`)."""

    ready: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.time)
    #: the imports or the first region's models failed (the pages that need torch say so)
    error: str | None = None
    #: the rest of the zoo or the worker pool failed (the first region works)
    later_error: str | None = None
    #: phase -> seconds (``imports``, ``first_models``, ``models``, ``gc``, ``pool``)
    seconds: dict[str, float] = field(default_factory=dict)
    #: the application's cache filler failed (the pages compute on first use instead)
    prefill_error: str | None = None
    models: int = 0
    failed_models: list[str] = field(default_factory=list)
    frozen: int = 0
    collections: int = 0
    last_collection_s: float = 0.0
    max_collection_s: float = 0.0


_STATE: WarmupState | None = None
_LOCK = threading.Lock()


def _log(event: str, **values: Any) -> None:
    """One JSON line to ``$MTDL_KIT_WARMUP_LOG`` (a file; unset: nothing): the warm-up's and the collector's timings."""
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    import json

    with contextlib.suppress(OSError), open(path, "a") as f:
        f.write(json.dumps({"t": time.time(), "event": event, **values}) + "\n")


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _freeze() -> int:
    """Collect, then move every object alive now into the permanent generation (never scanned again)."""
    if os.environ.get(FREEZE_ENV, "1") == "0":
        return 0
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def _model_order(manifest: dict[str, Any], first_region: str) -> tuple[list[str], list[str]]:
    """The zoo keys of ``first_region`` (its full multi-task models first), then all the others."""
    from mtdl_kit.models import MULTI_TASK_FAMILIES
    from mtdl_kit.zoo import zoo_key

    full = [zoo_key(first_region, f) for f in MULTI_TASK_FAMILIES]
    first = [k for k in full if k in manifest]
    first += [k for k, e in manifest.items() if getattr(e, "region", None) == first_region and k not in first]
    rest = [k for k in manifest if k not in first]
    return first, rest


def _load(keys: list[str], manifest: dict[str, Any], state: WarmupState) -> None:
    from mtdl_kit.services.zoo_models import load_shared_model

    for key in keys:
        try:
            load_shared_model(manifest[key])
            state.models += 1
        except Exception as exc:  # a broken or missing file: the page says so when it needs that model
            state.failed_models.append(f"{key}: {type(exc).__name__}: {exc}")


#: fills an application's caches for the given regions (``start(prefill=...)``)
Prefill = Callable[[Sequence[str]], Any]


def _prefill(fill: Prefill | None, regions: Sequence[str], state: WarmupState, phase: str) -> None:
    """Run the application's cache filler for ``regions``, timed as ``phase``; a failure is recorded, not raised."""
    if fill is None or not regions or state.prefill_error:
        return
    t = time.perf_counter()
    try:
        fill(list(regions))
    except Exception as exc:  # the pages fill their caches on first use instead
        state.prefill_error = f"{type(exc).__name__}: {exc}"
        _log("prefill_error", error=state.prefill_error)
    state.seconds[phase] = time.perf_counter() - t


def _work(state: WarmupState, models: str, pool: bool, fill: Prefill | None = None) -> None:
    t0 = time.perf_counter()
    try:
        import torch

        if not torch.cuda.is_available():  # a few cores shared by many sessions: one thread per forward
            torch.set_num_threads(max(1, int(os.environ.get(THREADS_ENV, "1"))))
        import monai  # noqa: F401

        import mtdl_kit.inference
        import mtdl_kit.models
        import mtdl_kit.viz  # noqa: F401  (plotly: the pages' figures)

        state.seconds["imports"] = time.perf_counter() - t0
        first: list[str] = []
        rest: list[str] = []
        manifest: dict[str, Any] = {}
        if models != "none":
            from mtdl_kit import REGION_NAMES
            from mtdl_kit.services.zoo_models import manifest_stamp, read_manifest_or_empty

            manifest = read_manifest_or_empty(manifest_stamp()[0])
            first, rest = _model_order(manifest, REGION_NAMES[0])
            t1 = time.perf_counter()
            _load(first, manifest, state)
            state.seconds["first_models"] = time.perf_counter() - t1
            _prefill(fill, REGION_NAMES[:1], state, "prefill_first")
        t1 = time.perf_counter()
        state.frozen = _freeze()
        state.seconds["gc"] = time.perf_counter() - t1
    except Exception as exc:  # shown by the pages that need torch
        state.error = f"{type(exc).__name__}: {exc}"
        _log("error", error=state.error)
        state.ready.set()
        state.done.set()
        return
    _log("ready", seconds=dict(state.seconds), models=state.models, frozen=state.frozen)
    state.ready.set()
    try:
        if models == "all" and rest:
            t1 = time.perf_counter()
            _load(rest, manifest, state)
            state.seconds["models"] = time.perf_counter() - t1
        if models == "all":
            from mtdl_kit import REGION_NAMES

            t1 = time.perf_counter()
            for region in REGION_NAMES[1:]:  # one region at a time, pausing between: students come first
                t2 = time.perf_counter()
                _prefill(fill, [region], state, f"prefill_{region}")
                time.sleep(PREFILL_PAUSE * (time.perf_counter() - t2))
            state.seconds["prefill"] = time.perf_counter() - t1
            state.frozen = _freeze()
        if pool:
            from mtdl_kit.services.training_workers import training_pool

            t1 = time.perf_counter()
            training_pool().start()
            state.seconds["pool"] = time.perf_counter() - t1
    except Exception as exc:  # the first region works; say what failed
        state.later_error = f"{type(exc).__name__}: {exc}"
    finally:
        state.seconds["total"] = time.perf_counter() - t0
        _log(
            "done",
            seconds=dict(state.seconds),
            models=state.models,
            frozen=state.frozen,
            error=state.later_error,
            prefill_error=state.prefill_error,
        )
        state.done.set()


def _collector(state: WarmupState, period: float, stop: threading.Event | None = None) -> None:
    """A full collection every ``period`` seconds (until ``stop``): cyclic garbage is bounded in time, not per rerun."""
    stop = stop or threading.Event()
    while not stop.wait(period):
        t = time.perf_counter()
        gc.collect()
        dt = time.perf_counter() - t
        state.collections += 1
        state.last_collection_s = dt
        state.max_collection_s = max(state.max_collection_s, dt)
        if os.environ.get(LOG_ENV):
            _log("gc", seconds=dt, tracked=len(gc.get_objects()), frozen=gc.get_freeze_count())


def start(*, models: str | None = None, pool: bool = False, prefill: Prefill | None = None) -> WarmupState:
    """Start the warm-up once per process (later calls return the same state at once).

    Args:
        models: ``"all"`` (default, or ``$MTDL_KIT_WARMUP_MODELS``), ``"first"`` (the first region's
            models only) or ``"none"`` (imports only).
        pool: also start the live-training worker processes once the zoo is loaded.
        prefill: the application's cache filler, called with a list of region names: the first
            region before :func:`ready`, the others after the rest of the zoo (``models="all"``
            only); not called with ``models="none"``.
    """
    global _STATE
    if _STATE is not None:
        return _STATE
    with _LOCK:
        if _STATE is not None:
            return _STATE
        choice = (models or os.environ.get(MODELS_ENV) or "all").lower()
        if choice not in ("all", "first", "none"):
            raise ValueError(f"warm-up models must be 'all', 'first' or 'none', got {choice!r}.")
        state = WarmupState()
        if prefill is not None and not callable(prefill):
            raise TypeError(f"prefill must be a callable taking a list of region names, got {prefill!r}.")
        fill = prefill if choice != "none" else None
        threading.Thread(target=_work, args=(state, choice, pool, fill), name="mtdl-warmup", daemon=True).start()
        period = _env_float(GC_SECONDS_ENV, DEFAULT_GC_SECONDS)
        if period > 0:
            threading.Thread(target=_collector, args=(state, period), name="mtdl-gc", daemon=True).start()
        _STATE = state
        return state


def started() -> bool:
    """Whether :func:`start` was called in this process."""
    return _STATE is not None


def ready() -> bool:
    """Whether torch, MONAI, the models' code and the first region's zoo models are loaded (or failed)."""
    return _STATE is not None and _STATE.ready.is_set()


def done() -> bool:
    """Whether the whole warm-up (all zoo models, the worker pool if asked) has finished."""
    return _STATE is not None and _STATE.done.is_set()


def wait_ready(timeout: float | None = None) -> bool:
    """Start the warm-up if needed and block until :func:`ready` (or ``timeout`` seconds); returns :func:`ready`."""
    return start().ready.wait(timeout)


def status() -> dict[str, Any]:
    """The warm-up's timings and counters, and the collector's (empty before :func:`start`)."""
    s = _STATE
    if s is None:
        return {}
    return {
        "ready": s.ready.is_set(),
        "done": s.done.is_set(),
        "error": s.error,
        "later_error": s.later_error,
        "prefill_error": s.prefill_error,
        "seconds": dict(s.seconds),
        "models": s.models,
        "failed_models": list(s.failed_models),
        "frozen_objects": s.frozen,
        "gc_collections": s.collections,
        "gc_last_s": s.last_collection_s,
        "gc_max_s": s.max_collection_s,
        "gc_counts": gc.get_count(),
        "torch_loaded": "torch" in sys.modules,
    }


__all__ = ["WarmupState", "done", "ready", "start", "started", "status", "wait_ready"]
