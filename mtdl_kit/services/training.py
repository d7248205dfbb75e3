"""Live training for the dashboard: a bounded pool of worker processes, per-session runs, a CPU step cap.

The dashboard's Experiment page trains small multi-task models while students watch. This module
holds the non-UI logic so that it can be unit-tested without Streamlit:

- :func:`validate_training`: the training form checked before anything starts, in plain words
  (no task chosen, the single-task family with several tasks, a weighting method the family cannot
  serve such as a gradient method on a cascaded network, ``fixed`` without weights).
- :func:`cap_steps`: on a CPU the number of steps is capped (:data:`CPU_STEP_CAP`) so that a
  lecture-room server stays responsive; on a GPU the request is kept (up to :data:`GPU_STEP_CAP`).
- :class:`TrainingPool` / :func:`training_pool`: trainings run in a bounded pool of worker
  processes (``spawn``; ``$MTDL_KIT_TRAIN_WORKERS``, default :func:`default_workers`: half the
  cores, one on a GPU), never in the server's interpreter. Each worker uses one torch thread
  (``$MTDL_KIT_TRAIN_THREADS``) at a lower scheduling priority than the server
  (``$MTDL_KIT_TRAIN_NICE``, default :data:`WORKER_NICENESS`), and trains through
  the library (:func:`mtdl_kit.experiments.train_run`, i.e. :func:`mtdl_kit.train.fit`). Runs wait
  in a first-in-first-out queue (each knows its position), can be cancelled while queued or
  training, and stream their progress and curves back over a :mod:`multiprocessing` queue. The pool
  keeps each owner's runs (an owner is a browser session's token, e.g. from the page's URL) for
  :data:`KEEP_MINUTES` after they end, so a page reload finds them again; an owner may have at most
  :data:`MAX_ACTIVE_PER_OWNER` runs queued or training at once (a further Train is refused with a
  message, never dropped silently).
- :class:`LiveRun`: one run on a **fresh model** (built by :func:`mtdl_kit.experiments.train_run`
  in the worker; the shared, cached zoo models are never touched). :meth:`LiveRun.snapshot` is
  safe to read from the UI thread while it trains.
- :func:`run_table`, :func:`baseline_comparison`: the session's runs, and a run against single-task
  baselines trained under the same budget (:meth:`TrainingPool.baseline`, one per region, task and
  budget, shared by the sessions), never against the zoo's longer-trained ones.
- :data:`LIVE_STEPS` and its companions: the live recipe, from scratch in about half a minute.
- :func:`session_tradeoff` and :func:`pareto_figure`: the trade-off of a session's finished runs
  on two tasks, the Pareto-optimal runs marked (:func:`mtdl_kit.evaluation.non_dominated`).

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import multiprocessing as mp
import os
import queue
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import types
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtdl_kit.palette import OKABE_ITO

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: the live recipe, the Experiment page's defaults: 600 steps of batch 16 on 64-px phantoms from a fresh
#: model, the learning rate falling from 5e-3 to 0 on half a cosine (:func:`mtdl_kit.train.fit`). Chosen on
#: the eye's parallel network, whose disc/cup Dice and glaucoma ROC-AUC on held-out phantoms it takes past
#: 0.85 and 0.90 in about half a minute of one CPU thread (``benchmarks/bench_live.py``, RESULTS.md
#: "live"); at the old 200 steps of batch 8 and a constant 2e-3 the Dice was 0.05. A constant 3e-3 ended
#: between 0.84 and 0.89 over three seeds, a cosine from 3e-3 lower still (0.59-0.73), 8e-3 diverged once.
LIVE_STEPS = 600
LIVE_BATCH_SIZE = 16
LIVE_LR = 5e-3
LIVE_LR_SCHEDULE = "cosine"
LIVE_SIZE = 64
#: steps allowed per run when training on a CPU (a shared 2-core server stays responsive: a parallel
#: network's run stays within about a minute, a cascaded or interacted one about two).
CPU_STEP_CAP = 1200
#: steps allowed per run on a GPU.
GPU_STEP_CAP = 3000
#: phantoms in the held-out set of a live run (smaller than the zoo's 128: evaluation is quick).
LIVE_N_TEST = 64
#: run states, in order.
STATES = ("queued", "running", "done", "error", "cancelled")
#: environment variables of the pool.
WORKERS_ENV = "MTDL_KIT_TRAIN_WORKERS"
TRAIN_THREADS_ENV = "MTDL_KIT_TRAIN_THREADS"
KEEP_ENV = "MTDL_KIT_KEEP_RUNS_MINUTES"
#: minutes an owner's finished runs are kept (``$MTDL_KIT_KEEP_RUNS_MINUTES``): a page reload finds them.
KEEP_MINUTES = 60.0
#: runs one owner may have queued or training at once; one more Train is refused with a message.
MAX_ACTIVE_PER_OWNER = 2
#: runs waiting in the whole server's queue at most (beyond: refused, "the queue is full").
MAX_QUEUED = 64
#: runs kept per owner (the oldest finished ones go first).
MAX_RUNS_PER_OWNER = 20
#: seconds between two progress messages of a worker (the curves stream at this pace).
PROGRESS_EVERY = 0.25
#: a worker's scheduling priority relative to the server (``os.nice``, ``$MTDL_KIT_TRAIN_NICE``): when
#: the cores are busy the students' pages are answered first and the trainings slow down.
WORKER_NICENESS = 10
NICE_ENV = "MTDL_KIT_TRAIN_NICE"
#: same-budget single-task baselines a pool keeps (:meth:`TrainingPool.baseline`; the oldest ended go first).
MAX_BASELINES = 256
#: dead workers replaced per pool before it gives up (a worker that cannot even start).
MAX_RESTARTS = 10


def cap_steps(steps: int, device_type: str) -> tuple[int, str | None]:
    """``(steps to run, note)``: the request capped by the device's limit; the note says why, else ``None``.

    Raises:
        ValueError: ``steps`` is not a positive integer.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    cap = CPU_STEP_CAP if device_type == "cpu" else GPU_STEP_CAP
    if steps <= cap:
        return steps, None
    where = "on a CPU" if device_type == "cpu" else f"on {device_type}"
    return cap, f"{steps} steps requested; capped at {cap} {where} so the shared server stays responsive."


def validate_training(region: str, family: str, weighting: str, tasks: Sequence[str]) -> list[str]:
    """What is wrong with a training form, in plain words (an empty list: it can train).

    Checked before anything starts: a task chosen, the single-task family with exactly one task,
    the family able to train the tasks, and the weighting method able to serve the family (e.g. a
    gradient method such as UPGrad needs layers the tasks share, which a cascaded network has not;
    ``fixed`` needs a weight per task, which the form cannot set). The model and the method are
    built once, without training (:func:`mtdl_kit.experiments.incompatible_pairs`); results are cached.
    """
    return list(_validate(region, family, weighting.lower().replace("-", "_"), tuple(tasks)))


@lru_cache(maxsize=256)
def _validate(region: str, family: str, weighting: str, tasks: tuple[str, ...]) -> tuple[str, ...]:
    from mtdl_kit.experiments import RunConfig, incompatible_pairs
    from mtdl_kit.models import FAMILIES
    from mtdl_kit.regions import get_region
    from mtdl_kit.weighting import available_weightings

    try:
        reg = get_region(region)
    except ValueError as exc:
        return (str(exc),)
    if not tasks:
        return ("Choose at least one task to train.",)
    unknown = [t for t in tasks if t not in reg.task_names]
    if unknown:
        return (f"{', '.join(unknown)} is not a task of {region}; its tasks are {', '.join(reg.task_names)}.",)
    if family not in FAMILIES:
        return (f"Unknown family {family!r}; choose one of {', '.join(FAMILIES)}.",)
    if family == "single":
        if len(tasks) != 1:
            return (
                f"The single-task family trains one task; you chose {len(tasks)}. Keep exactly one task, "
                "or choose a multi-task family (parallel, cascaded, interacted, hybrid).",
            )
        return ()  # a single task always trains with equal weighting (the form's choice is ignored)
    if weighting not in available_weightings():
        return (f"Unknown weighting method {weighting!r}; choose one of {', '.join(available_weightings())}.",)
    if weighting == "fixed":
        return ("The fixed weighting needs a weight per task, which this form cannot set; choose another method.",)
    try:
        bad = incompatible_pairs(RunConfig(region=region, tasks=tasks), [family], [weighting])
    except ValueError as exc:  # the family cannot be built on these tasks (e.g. cascaded with one task)
        return (f"The {family} family cannot train {' + '.join(tasks)}: {str(exc).split('. ')[0]}.",)
    except ImportError as exc:  # an optional solver missing on this server
        return (f"{weighting} needs an optional solver that is not installed on this server ({exc}).",)
    if (family, weighting) in bad:
        reason = bad[(family, weighting)]
        return (
            f"{family} + {weighting} cannot train together: {reason}. Choose a loss-weighting method "
            "(e.g. ew, uw, dwa, rlw) or another family.",
        )
    if len(tasks) < 2 and weighting != "ew":
        return (f"{weighting} balances several tasks; with one task choose ew (or add a task).",)
    return ()


def default_workers() -> int:
    """Worker processes by default: ``$MTDL_KIT_TRAIN_WORKERS``, else one on a GPU and half the CPU cores
    elsewhere (at least one): the server keeps the other half for the students' pages."""
    env = os.environ.get(WORKERS_ENV)
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    import torch

    if torch.cuda.is_available():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 2
    return max(1, cores // 2)


def new_owner_token() -> str:
    """A fresh, unguessable owner token (32 hex digits): one browser session's key to its runs."""
    return secrets.token_hex(16)


_TOKEN = re.compile(r"[0-9a-f]{32}")


def valid_owner_token(token: Any) -> bool:
    """Whether ``token`` looks like :func:`new_owner_token`'s (anything else from a URL is ignored)."""
    return isinstance(token, str) and bool(_TOKEN.fullmatch(token))


class TrainingRefusedError(ValueError):
    """Train was pressed but the run cannot be queued (too many of the owner's runs, or the queue full)."""


@dataclass
class RunSnapshot:
    """A consistent copy of a :class:`LiveRun`'s state for the UI."""

    run_id: str
    state: str
    step: int
    total_steps: int
    rows: list[tuple[int, int, str, str, float]]
    metrics: dict[str, dict[str, float]]
    message: str | None
    seconds: float
    device: str
    #: 1-based place in the server's queue while queued (``None`` otherwise).
    position: int | None = None
    #: runs queued in all (while queued).
    queued: int = 0
    #: seconds spent waiting in the queue.
    waited: float = 0.0
    #: ``"training"`` or ``"evaluating"`` while running.
    phase: str = ""
    #: torch threads of the worker that trains the run.
    threads: int | None = None

    @property
    def progress(self) -> float:
        """Fraction of steps done in [0, 1]."""
        return 1.0 if self.state == "done" else min(1.0, self.step / max(1, self.total_steps))

    def history(self) -> Any:
        """The rows as a :class:`~mtdl_kit.history.History` (for :func:`mtdl_kit.viz.history_figure`)."""
        from mtdl_kit.history import History

        return History(rows=list(self.rows))


@dataclass
class LiveRun:
    """One live training run: region, family, tasks, weighting and steps, trained in a worker process.

    The model is built fresh for the run in the worker (never a shared cached model). Create (bad
    names and incompatible choices raise ``ValueError`` here, in the caller), then :meth:`start`
    (queues it in :func:`training_pool`, or ``pool``); read :meth:`snapshot` from any thread;
    :meth:`cancel` stops it while queued or at the next training step.
    """

    region: str
    family: str
    tasks: tuple[str, ...]
    weighting: str = "ew"
    steps: int = LIVE_STEPS
    seed: int = 0
    size: int = LIVE_SIZE
    batch_size: int = LIVE_BATCH_SIZE
    lr: float = LIVE_LR
    lr_schedule: str = LIVE_LR_SCHEDULE
    device: str = "auto"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        from mtdl_kit.regions import get_region

        self.tasks = tuple(t.name for t in get_region(self.region).select_tasks(list(self.tasks)))
        problems = validate_training(self.region, self.family, self.weighting, self.tasks)
        if problems:
            raise ValueError(" ".join(problems))
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._pool: TrainingPool | None = None
        self._cancel_requested = False
        self._state = "queued"
        self._phase = ""
        self._step = 0
        self._rows: list[tuple[int, int, str, str, float]] = []
        self._metrics: dict[str, dict[str, float]] = {}
        self._t_submit = 0.0
        self._t_start = 0.0
        self._seconds = 0.0
        self._waited = 0.0
        self._threads: int | None = None
        self.ended_at: float | None = None  # time.time() when it ended (the pool keeps it a while after)
        self.device_type = self._device_type()
        self.total_steps, self.cap_note = cap_steps(int(self.steps), self.device_type)
        self._message: str | None = self.cap_note
        self.config().validate()  # bad names fail here, in the caller's thread

    def _device_type(self) -> str:
        from mtdl_kit.device import pick_device

        return pick_device(self.device).type

    def config(self) -> Any:
        """The :class:`~mtdl_kit.experiments.RunConfig` of this run."""
        from mtdl_kit.experiments import RunConfig
        from mtdl_kit.zoo import ZOO_MODEL_OPTIONS

        steps = getattr(self, "total_steps", int(self.steps))
        return RunConfig(
            region=self.region,
            family=self.family,
            tasks=self.tasks,
            weighting=self.weighting if self.family != "single" else "ew",
            steps=steps,
            batch_size=self.batch_size,
            lr=self.lr,
            lr_schedule=self.lr_schedule,
            size=self.size,
            n_train=max(64, self.batch_size * min(steps, 64)),
            n_test=LIVE_N_TEST,
            seed=self.seed,
            device=self.device,
            model_options=dict(ZOO_MODEL_OPTIONS.get(self.family, {})),
        )

    @property
    def budget(self) -> tuple:
        """What a fair single-task baseline of this run shares with it: steps, batch size, learning rate and
        schedule, image size, training-set size and seed (the same training cases and initial seed)."""
        cfg = self.config()
        return (cfg.steps, cfg.batch_size, cfg.lr, cfg.lr_schedule, cfg.size, cfg.n_train, cfg.seed, self.device_type)

    @property
    def budget_text(self) -> str:
        """The budget in words: ``600 steps of batch 16, lr 0.005 (cosine), 64 px, 1024 training phantoms, seed 0``."""
        steps, batch, lr, schedule, size, n_train, seed, device = self.budget
        return (
            f"{steps} steps of batch {batch}, learning rate {lr:g} ({schedule}), {size} px, "
            f"{n_train} training phantoms, seed {seed}, on {device}"
        )

    @property
    def label(self) -> str:
        """Short description: ``eye/parallel/ew [disc_cup+glaucoma] 100 steps``."""
        weighting = self.weighting if self.family != "single" else "ew"
        return f"{self.region}/{self.family}/{weighting} [{'+'.join(self.tasks)}] {self.total_steps} steps"

    def start(self, pool: TrainingPool | None = None, owner: str | None = None) -> LiveRun:
        """Queue the run in ``pool`` (default :func:`training_pool`) under ``owner`` (once).

        Raises:
            RuntimeError: the run was already started.
            TrainingRefusedError: the owner has :data:`MAX_ACTIVE_PER_OWNER` runs queued or
                training, or the server's queue is full (the message says so).
        """
        if self._pool is not None:
            raise RuntimeError("This run was already started; create a new LiveRun to train again.")
        (pool or training_pool()).submit(self, owner)
        return self

    def cancel(self) -> None:
        """Stop the run: at once while queued, at the next training step while it trains."""
        with self._lock:
            self._cancel_requested = True
            pool = self._pool
        if pool is not None:
            pool.cancel(self)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the run ends (``True``) or ``timeout`` seconds pass (``False``)."""
        return self._finished.wait(timeout)

    @property
    def finished(self) -> bool:
        """Done, failed or cancelled."""
        return self._state in ("done", "error", "cancelled")

    def snapshot(self) -> RunSnapshot:
        """A copy of the current state (thread-safe)."""
        pool = self._pool
        position = pool.queue_position(self) if pool is not None and self._state == "queued" else None
        queued = pool.queued() if pool is not None and position is not None else 0
        with self._lock:
            now = time.perf_counter()
            seconds = self._seconds if self.finished or not self._t_start else now - self._t_start
            waited = self._waited if self._t_start or not self._t_submit else now - self._t_submit
            return RunSnapshot(
                run_id=self.run_id,
                state=self._state,
                step=self._step,
                total_steps=self.total_steps,
                rows=list(self._rows),
                metrics={k: dict(v) for k, v in self._metrics.items()},
                message=self._message,
                seconds=seconds,
                device=self.device_type,
                position=position,
                queued=queued,
                waited=waited,
                phase=self._phase,
                threads=self._threads,
            )

    # ---------------------------------------------------------------- updates from the pool's listener
    def _update(self, **values: Any) -> None:
        with self._lock:
            for k, v in values.items():
                setattr(self, f"_{k}", v)

    def _started(self, threads: int | None) -> None:
        with self._lock:
            self._t_start = time.perf_counter()
            self._waited = self._t_start - self._t_submit
            self._state, self._phase, self._threads = "running", "training", threads
            self._message = self.cap_note

    def _progress(self, step: int, rows: list, phase: str | None) -> None:
        with self._lock:
            self._rows.extend(rows)
            self._step = max(self._step, step)
            if phase:
                self._phase = phase

    def _end(self, state: str, message: str | None = None, **values: Any) -> None:
        with self._lock:
            if self.finished:
                return
            now = time.perf_counter()
            if self._t_start:
                self._seconds = now - self._t_start
            else:
                self._waited = now - self._t_submit if self._t_submit else 0.0
            for k, v in values.items():
                setattr(self, f"_{k}", v)
            self._state, self._phase, self._message = state, "", message
            self.ended_at = time.time()
        self._finished.set()

    def primary_metrics(self) -> dict[str, float]:
        """Task -> its primary metric (empty until done)."""
        from mtdl_kit.metrics import primary_metric
        from mtdl_kit.regions import get_region

        snap = self.snapshot()
        region = get_region(self.region)
        out = {}
        for task, values in snap.metrics.items():
            name = primary_metric(region.task(task))
            if name in values:
                out[task] = values[name]
        return out


# --------------------------------------------------------------------------------------------------
# The worker processes
# --------------------------------------------------------------------------------------------------


class _CancelledError(Exception):
    pass


def _worker_main(index: int, inbox: Any, events: Any, parent: int, threads: int, niceness: int) -> None:
    """A worker process: one torch thread, a lower priority; trains the runs it is given, one at a time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the server's terminal: the server stops us
    with contextlib.suppress(AttributeError, OSError):  # not available (Windows) or not allowed
        os.nice(niceness)
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already set
        torch.set_num_interop_threads(1)
    _worker_warmup()
    events.put(("ready", index, os.getpid(), torch.get_num_threads()))
    while True:
        try:
            task = inbox.get(timeout=2.0)
        except queue.Empty:
            if os.getppid() != parent:  # the server is gone
                return
            continue
        if task is None:
            return
        run_id, config, cancel_file = task
        _worker_run(index, run_id, config, cancel_file, events)


def _worker_warmup() -> None:
    """Import MONAI and the models' code and train one tiny step, so a class's first run starts at once.

    (A fresh process's first :func:`~mtdl_kit.experiments.train_run` spends ~10-30 s importing MONAI
    and warming its code paths on this 2-core machine; the next ones start within a second.)
    """
    from mtdl_kit.experiments import RunConfig, train_run

    cfg = RunConfig(region="eye", steps=1, batch_size=2, size=32, n_train=4, n_test=2, device="cpu")
    with contextlib.suppress(Exception):  # a failure here shows up, with its message, in the first real run
        train_run(cfg, progress=False)


def _worker_run(index: int, run_id: str, config: Any, cancel_file: str, events: Any) -> None:
    import torch

    from mtdl_kit.experiments import train_run

    t0 = time.perf_counter()
    sent = 0
    last = 0.0

    def callback(history: Any, event: str) -> None:
        nonlocal sent, last
        if os.path.exists(cancel_file):
            raise _CancelledError
        now = time.perf_counter()
        if event == "end" or now - last >= PROGRESS_EVERY:
            rows = history.rows[sent:]
            sent = len(history.rows)
            last = now
            events.put(("progress", index, run_id, history.steps, rows, "evaluating" if event == "end" else None))

    if os.path.exists(cancel_file):
        events.put(("cancelled", index, run_id, 0, time.perf_counter() - t0))
        return
    events.put(("started", index, run_id, torch.get_num_threads()))
    try:
        result = train_run(config, progress=False, callbacks=[callback])
        metrics = {t: {k: float(v) for k, v in m.items()} for t, m in result.metrics.items()}
        events.put(("done", index, run_id, metrics, list(result.history.rows), time.perf_counter() - t0))
        del result  # free the run's model now
    except _CancelledError:
        events.put(("cancelled", index, run_id, -1, time.perf_counter() - t0))
    except Exception as exc:  # reported to the user, never raised into the server
        events.put(("error", index, run_id, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0))
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


@contextlib.contextmanager
def _plain_main() -> Any:
    """Hide the ``__main__`` module from ``spawn`` while a worker starts.

    ``spawn`` re-runs the parent's main script in the child; in a Streamlit server that is the app
    script of whichever session runs (Streamlit installs it as ``__main__``), which must not run in a
    worker. The worker needs nothing from it (its target lives in this module).
    """
    real = sys.modules.get("__main__")
    stub = types.ModuleType("__main__")
    sys.modules["__main__"] = stub
    try:
        yield
    finally:
        if sys.modules.get("__main__") is stub and real is not None:
            sys.modules["__main__"] = real


@dataclass
class _Worker:
    index: int
    process: Any
    inbox: Any
    pid: int | None = None
    ready: bool = False
    run: LiveRun | None = None


class TrainingPool:
    """A bounded pool of training worker processes with a FIFO queue and per-owner run lists.

    Args:
        workers: worker processes (default :func:`default_workers`).
        threads: torch threads per worker (default ``$MTDL_KIT_TRAIN_THREADS`` or 1).
        keep_minutes: minutes an owner's ended runs are kept (default ``$MTDL_KIT_KEEP_RUNS_MINUTES``
            or :data:`KEEP_MINUTES`).
        max_active_per_owner: runs one owner may have queued or training at once.
        clock: ``time.time``-like clock for the keep period (tests).

    The workers start on :meth:`start` (or the first :meth:`submit`) and import torch once; runs
    submitted before a worker is ready wait in the queue. A worker that dies (e.g. killed for
    memory) fails its run with a message and is replaced.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        threads: int | None = None,
        keep_minutes: float | None = None,
        max_active_per_owner: int = MAX_ACTIVE_PER_OWNER,
        max_queued: int = MAX_QUEUED,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.size = workers or default_workers()
        self.threads = threads or max(1, int(os.environ.get(TRAIN_THREADS_ENV, "1")))
        minutes = keep_minutes if keep_minutes is not None else float(os.environ.get(KEEP_ENV, KEEP_MINUTES))
        self.keep_seconds = 60.0 * minutes
        self.niceness = int(os.environ.get(NICE_ENV, WORKER_NICENESS))
        self.max_active_per_owner = max_active_per_owner
        self.max_queued = max_queued
        self._clock = clock
        self._ctx = mp.get_context("spawn")
        self._lock = threading.RLock()
        self._queue: deque[LiveRun] = deque()
        self._workers: list[_Worker] = []
        self._owners: dict[str, list[LiveRun]] = {}
        self._runs: dict[str, LiveRun] = {}
        self._events: Any = None
        self._listener: threading.Thread | None = None
        self._cancel_dir = ""
        self._closed = False
        self._restarts = 0
        self._baselines: dict[tuple, LiveRun] = {}

    # ------------------------------------------------------------------------------------ lifecycle
    def start(self) -> TrainingPool:
        """Start the worker processes (idempotent); they import torch in the background."""
        with self._lock:
            if self._closed:
                raise RuntimeError("This training pool was shut down.")
            if self._workers:
                return self
            self._events = self._ctx.Queue()
            self._cancel_dir = tempfile.mkdtemp(prefix="mtdl-live-")
            self._workers = [self._spawn(i) for i in range(self.size)]
            self._listener = threading.Thread(target=self._listen, name="mtdl-train-pool", daemon=True)
            self._listener.start()
        return self

    def _spawn(self, index: int) -> _Worker:
        inbox = self._ctx.Queue()
        proc = self._ctx.Process(
            target=_worker_main,
            args=(index, inbox, self._events, os.getpid(), self.threads, self.niceness),
            name=f"mtdl-train-{index}",
            daemon=True,  # ends with the server
        )
        with _plain_main():
            proc.start()
        return _Worker(index, proc, inbox)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every run, stop the workers and remove the pool's temporary files."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            runs = list(self._runs.values())
            workers = list(self._workers)
        for run in runs:
            if not run.finished:
                self.cancel(run)
        for w in workers:
            with contextlib.suppress(OSError, ValueError):
                w.inbox.put(None)
        deadline = time.monotonic() + timeout
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.terminate()
                w.process.join(2.0)
        for run in runs:
            run._end("cancelled", "Cancelled: the server stopped.")
        if self._cancel_dir:
            shutil.rmtree(self._cancel_dir, ignore_errors=True)

    # ----------------------------------------------------------------------------------- the queue
    def submit(self, run: LiveRun, owner: str | None = None) -> LiveRun:
        """Queue ``run`` for ``owner`` (``None``: no owner list, e.g. a notebook or a test).

        Raises:
            TrainingRefusedError: the owner already has :attr:`max_active_per_owner` runs queued or
                training, or :attr:`max_queued` runs wait already.
        """
        self.start()
        with self._lock:
            self._purge()
            if run._pool is not None:
                raise RuntimeError("This run was already started; create a new LiveRun to train again.")
            if owner is not None:
                active = [r for r in self._owners.get(owner, []) if not r.finished]
                if len(active) >= self.max_active_per_owner:
                    raise TrainingRefusedError(
                        f"You already have {len(active)} runs queued or training "
                        f"({', '.join(r.run_id for r in active)}); wait for one to end or cancel one, then press "
                        "Train again."
                    )
            if len(self._queue) >= self.max_queued:
                raise TrainingRefusedError(
                    f"The server's training queue is full ({len(self._queue)} runs waiting); try again in a minute."
                )
            run._pool = self
            run._t_submit = time.perf_counter()
            self._runs[run.run_id] = run
            if owner is not None:
                runs = self._owners.setdefault(owner, [])
                runs.append(run)
                if len(runs) > MAX_RUNS_PER_OWNER:  # forget the oldest ended runs
                    ended = [r for r in runs if r.finished][: len(runs) - MAX_RUNS_PER_OWNER]
                    for r in ended:
                        runs.remove(r)
                        self._runs.pop(r.run_id, None)
            self._queue.append(run)
            if run._cancel_requested:
                self.cancel(run)
            self._dispatch()
        return run

    def baseline(self, like: LiveRun, task: str, *, train: bool = True) -> LiveRun | None:
        """The single-task baseline of ``task`` trained under ``like``'s budget, shared by every session.

        A multi-task run is compared with single-task networks trained on the same steps, batch size,
        learning-rate schedule, image size, training cases and seed (:attr:`LiveRun.budget`), not with
        the zoo's (trained longer): one baseline per region, task and budget for the pool's lifetime. The
        first request queues it without an owner (it counts against nobody's limit); later requests,
        from any session, get the same run; a failed or cancelled one is trained again on the next
        request. ``train=False`` only looks it up (``None`` if never requested).

        Raises:
            ValueError: ``task`` is not one of ``like``'s tasks.
            TrainingRefusedError: the server's queue is full.
        """
        if task not in like.tasks:
            raise ValueError(f"Task {task!r} is not one of the run's tasks {like.tasks}.")
        key = (like.region, task, like.budget)
        with self._lock:
            run = self._baselines.get(key)
            if run is not None and run._state in ("error", "cancelled") and train:
                run = None
            if run is None and train:
                run = LiveRun(
                    like.region,
                    "single",
                    (task,),
                    steps=like.total_steps,
                    seed=like.seed,
                    size=like.size,
                    batch_size=like.batch_size,
                    lr=like.lr,
                    lr_schedule=like.lr_schedule,
                    device=like.device,
                )
                self.submit(run)
                self._baselines.pop(key, None)
                self._baselines[key] = run
                if len(self._baselines) > MAX_BASELINES:  # forget the oldest ended ones
                    for old in [k for k, r in self._baselines.items() if r.finished][
                        : len(self._baselines) - MAX_BASELINES
                    ]:
                        self._runs.pop(self._baselines.pop(old).run_id, None)
            return run

    def baselines(self, run: LiveRun) -> dict[str, LiveRun | None]:
        """Task -> ``run``'s same-budget baseline already requested, or ``None`` (none for a single-task run)."""
        if run.family == "single":
            return {}
        return {task: self.baseline(run, task, train=False) for task in run.tasks}

    def cancel(self, run: LiveRun) -> None:
        """Cancel ``run``: removed from the queue at once, or stopped at its next training step."""
        with self._lock:
            if run in self._queue:
                self._queue.remove(run)
                run._end("cancelled", "Cancelled while queued.")
                return
            if not run.finished and self._cancel_dir:
                Path(self._cancel_dir, run.run_id).touch()
                run._update(message="Cancelling at the next training step…")

    def queue_position(self, run: LiveRun) -> int | None:
        """1-based place of ``run`` in the queue (``None`` when it is not waiting)."""
        with self._lock:
            try:
                return self._queue.index(run) + 1
            except ValueError:
                return None

    def queued(self) -> int:
        """Runs waiting for a worker."""
        with self._lock:
            return len(self._queue)

    def running(self) -> int:
        """Runs being trained."""
        with self._lock:
            return sum(1 for w in self._workers if w.run is not None)

    def ready_workers(self) -> int:
        """Workers that have imported torch and can train."""
        with self._lock:
            return sum(1 for w in self._workers if w.ready)

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers."""
        with self._lock:
            return [w.process.pid for w in self._workers if w.process.pid is not None]

    def runs(self, owner: str) -> list[LiveRun]:
        """``owner``'s runs, oldest first (ended runs stay :attr:`keep_seconds`)."""
        with self._lock:
            self._purge()
            return list(self._owners.get(owner, []))

    def _purge(self) -> None:
        now = self._clock()
        for owner in list(self._owners):
            kept = [r for r in self._owners[owner] if r.ended_at is None or now - r.ended_at < self.keep_seconds]
            for r in self._owners[owner]:
                if r not in kept:
                    self._runs.pop(r.run_id, None)
            if kept:
                self._owners[owner] = kept
            else:
                del self._owners[owner]

    def _dispatch(self) -> None:
        """Give queued runs to idle ready workers (call with the lock held)."""
        for w in self._workers:
            if not self._queue:
                return
            if w.ready and w.run is None and w.process.is_alive():
                run = self._queue.popleft()
                w.run = run
                w.inbox.put((run.run_id, run.config(), str(Path(self._cancel_dir, run.run_id))))

    # ---------------------------------------------------------------------------------- the events
    def _listen(self) -> None:
        checked = time.monotonic()
        while not self._closed:
            try:
                msg = self._events.get(timeout=1.0)
            except queue.Empty:
                msg = None
            except (EOFError, OSError):
                return
            if msg is not None:
                with contextlib.suppress(Exception):  # a malformed message must not stop the listener
                    self._handle(msg)
            if time.monotonic() - checked >= 1.0:
                checked = time.monotonic()
                self._check_workers()

    def _handle(self, msg: tuple) -> None:
        kind, index = msg[0], msg[1]
        with self._lock:
            worker = self._workers[index] if index < len(self._workers) else None
            if kind == "ready":
                if worker is not None:
                    worker.ready, worker.pid = True, msg[2]
                self._dispatch()
                return
            run = self._runs.get(msg[2])
        if run is None:
            return
        if kind == "started":
            run._started(msg[3])
        elif kind == "progress":
            run._progress(msg[3], msg[4], msg[5])
        else:
            if kind == "done":
                run._end("done", run.cap_note, metrics=msg[3], rows=list(msg[4]), step=run.total_steps)
            elif kind == "cancelled":
                run._end("cancelled", f"Cancelled at step {run.snapshot().step}.")
            else:
                run._end("error", msg[3])
            with self._lock:
                if worker is not None and worker.run is run:
                    worker.run = None
                if self._cancel_dir:
                    Path(self._cancel_dir, run.run_id).unlink(missing_ok=True)
                self._dispatch()

    def _check_workers(self) -> None:
        """Replace a dead worker (its run fails with a message); after :data:`MAX_RESTARTS`, fail the queue."""
        with self._lock:
            if self._closed:
                return
            for i, w in enumerate(self._workers):
                if w.process.is_alive():
                    continue
                if w.run is not None:
                    w.run._end(
                        "error",
                        f"The training worker stopped unexpectedly (exit code {w.process.exitcode}; out of memory?). "
                        "Press Train to try again.",
                    )
                    w.run = None
                if self._restarts < MAX_RESTARTS:
                    self._restarts += 1
                    self._workers[i] = self._spawn(i)
            if not any(w.process.is_alive() for w in self._workers):
                while self._queue:
                    self._queue.popleft()._end("error", "No training worker could start on this server; see its log.")
            self._dispatch()


_POOL: TrainingPool | None = None
_POOL_LOCK = threading.Lock()


def training_pool() -> TrainingPool:
    """The process-wide pool every dashboard session shares (created on first use, not started)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = TrainingPool()
            atexit.register(_POOL.shutdown)
        return _POOL


def run_table(runs: Sequence[LiveRun]) -> list[dict[str, Any]]:
    """One row per run for the session table: id, configuration, state, steps, seconds (training, and
    waiting in the queue), device, primary metrics."""
    from mtdl_kit.metrics import primary_metric
    from mtdl_kit.regions import get_region

    rows = []
    for run in runs:
        snap = run.snapshot()
        region = get_region(run.region)
        row: dict[str, Any] = {
            "run": snap.run_id,
            "region": run.region,
            "family": run.family,
            "weighting": run.weighting if run.family != "single" else "ew",
            "tasks": "+".join(run.tasks),
            "state": snap.state,
            "steps": f"{snap.step}/{snap.total_steps}",
            "seconds": round(snap.seconds, 1),
            "waited s": round(snap.waited, 1),
            "device": snap.device,
        }
        for task, values in snap.metrics.items():
            name = primary_metric(region.task(task))
            row[f"{task} {name}"] = values.get(name, math.nan)
        rows.append(row)
    return rows


def baseline_comparison(
    run: LiveRun, metrics: Mapping[str, Mapping[str, float]], baselines: Mapping[str, LiveRun | None]
) -> list[dict[str, Any]]:
    """Per task: the run's primary metric next to its single-task baseline under the same budget.

    ``baselines`` maps each task to its baseline run (:meth:`TrainingPool.baseline`) or ``None`` when
    not requested; the baseline's value is ``None`` until it is done, and its state says why.
    ``delta`` is signed so that positive means the multi-task run is better.
    """
    from mtdl_kit.metrics import higher_is_better, primary_metric
    from mtdl_kit.regions import get_region

    reg = get_region(run.region)
    rows = []
    for task, values in metrics.items():
        name = primary_metric(reg.task(task))
        base_run = baselines.get(task)
        snap = base_run.snapshot() if base_run is not None else None
        base = snap.metrics.get(task, {}).get(name) if snap is not None and snap.state == "done" else None
        value = values.get(name)
        delta = None
        if base is not None and value is not None and math.isfinite(value) and math.isfinite(base):
            delta = (value - base) if higher_is_better(name) else (base - value)
        rows.append(
            {
                "task": task,
                "metric": name,
                "this run": value,
                "single-task, same budget": base,
                "baseline": "not trained" if snap is None else snap.state,
                "delta": delta,
            }
        )
    return rows


def live_recipe_note(root: str | Path | None = None) -> str:
    """The live recipe in words, with its measured time to the eye target when ``live.csv`` has it.

    The seconds and metrics are read from ``benchmarks/results/live.csv`` (``benchmarks/bench_live.py``),
    never typed in: a rerun of the benchmark changes the sentence.
    """
    recipe = (
        f"Defaults (the live recipe): a fresh model, {LIVE_STEPS} steps of batch {LIVE_BATCH_SIZE} on {LIVE_SIZE}-px "
        f"phantoms, the learning rate falling from {LIVE_LR:g} to 0 on a {LIVE_LR_SCHEDULE} schedule; "
        "metrics on held-out phantoms no run trains on."
    )
    from mtdl_kit.results import load_results

    try:
        frame = load_results("live", root=root, region="eye", family="parallel")
    except (FileNotFoundError, ValueError):
        return recipe + " Its time to quality has not been measured on this installation (benchmarks/bench_live.py)."
    runs = frame.groupby("seed").agg(seconds=("seconds", "first"), met=("met", "all"))
    if runs.empty:
        return recipe
    device = str(frame["device"].iloc[0])
    targeted = frame[frame["target"].notna()]
    targets = ", ".join(
        f"{task} {grp['metric'].iloc[0]} ≥ {grp['target'].iloc[0]:g} (lowest {grp['value'].min():.2f})"
        for task, grp in targeted.groupby("task", sort=False)
    )
    verdict = (
        f"met the target in all {len(runs)} runs"
        if bool(runs["met"].all())
        else f"met the target in {int(runs['met'].sum())} of {len(runs)} runs"
    )
    return (
        f"{recipe} Measured on {device}, {frame['measured'].iloc[0]}: the eye's parallel network {verdict} — "
        f"{targets} — in a median of {runs['seconds'].median():.0f} s from Train to metrics "
        '(benchmarks/RESULTS.md, "live").'
    )


def session_tradeoff(runs: Sequence[LiveRun], region: str) -> dict[str, Any] | None:
    """The finished runs of ``region`` on the first two tasks they all share, the Pareto-optimal ones marked.

    Returns:
        ``None`` when no run of ``region`` is done or the done runs share fewer than two tasks; else
        ``x_task``, ``y_task``, ``x_metric``, ``y_metric`` (the tasks' primary metrics),
        ``higher_is_better`` (per axis) and ``runs``: one dict per run with ``run``, ``name``, ``x``,
        ``y`` (NaN when the run has no value) and ``pareto`` (:func:`~mtdl_kit.evaluation.non_dominated`).
    """
    from mtdl_kit.evaluation import non_dominated
    from mtdl_kit.metrics import higher_is_better, primary_metric
    from mtdl_kit.regions import get_region

    reg = get_region(region)
    done = [r for r in runs if r.region == region and r.snapshot().state == "done"]
    common = [t for t in reg.task_names if all(t in r.tasks for r in done)]
    if not done or len(common) < 2:
        return None
    tx, ty = common[0], common[1]
    mx, my = primary_metric(reg.task(tx)), primary_metric(reg.task(ty))
    better = (higher_is_better(mx), higher_is_better(my))
    values = [r.primary_metrics() for r in done]
    points = [(float(v.get(tx, math.nan)), float(v.get(ty, math.nan))) for v in values]
    front = non_dominated(points, better)
    return {
        "x_task": tx,
        "y_task": ty,
        "x_metric": mx,
        "y_metric": my,
        "higher_is_better": better,
        "runs": [
            {"run": r.run_id, "name": f"{r.family}/{r.weighting} {r.run_id}", "x": x, "y": y, "pareto": keep}
            for r, (x, y), keep in zip(done, points, front, strict=True)
        ],
    }


#: metrics whose values lie in [0, 1] by definition (Dice, ROC-AUC, accuracies, recalls, ECE)
UNIT_INTERVAL_METRICS: frozenset[str] = frozenset(
    {"dice", "auc", "accuracy", "balanced_accuracy", "sensitivity", "specificity", "ece"}
)
#: share of the span added on either side, so a star on the domain's edge and its label stay inside
AXIS_PAD = 0.06


def axis_range(metric: str, values: Sequence[float]) -> list[float]:
    """A fixed axis range for ``metric``: its domain, not the points' spread, so the axes do not jump.

    Metrics in [0, 1] by definition (:data:`UNIT_INTERVAL_METRICS`; the Brier score when every point is
    at most 1) get [0, 1]; errors and distances (MAE, RMSE, mm) get [0, the largest of ``values``],
    the candidate points (every finished run of the session), or [0, 1] without one. Padded by
    :data:`AXIS_PAD` of the span on each side.
    """
    from mtdl_kit.metrics import metric_base

    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    base = metric_base(metric)
    if base in UNIT_INTERVAL_METRICS or (base == "brier" and all(v <= 1 for v in finite)):
        high = 1.0
    else:
        high = max([v for v in finite if v > 0], default=1.0)
    pad = AXIS_PAD * high
    return [-pad, high + pad]


def pareto_figure(tradeoff: dict[str, Any]) -> go.Figure:
    """Scatter of :func:`session_tradeoff`'s runs; the Pareto-optimal ones are large stars.

    The axes' ranges are fixed by :func:`axis_range` (a metric's domain, e.g. [0, 1] for Dice and
    ROC-AUC), so one run does not get axes of -0.5 to 1.5 and adding a run does not rescale them;
    each axis title says which direction is better.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, row in enumerate(tradeoff["runs"]):
        on_front = bool(row["pareto"])
        fig.add_trace(
            go.Scatter(
                x=[row["x"]],
                y=[row["y"]],
                mode="markers+text",
                text=[row["run"]],
                textposition="top center",
                name=row["name"],
                marker={
                    "size": 14 if on_front else 9,
                    "color": OKABE_ITO[i % 7],
                    "symbol": "star" if on_front else "circle",
                },
            )
        )
    better = tradeoff["higher_is_better"]
    fig.update_layout(
        title="Trade-off of this session's runs (stars: Pareto-optimal)",
        xaxis_title=f"{tradeoff['x_task']} {tradeoff['x_metric']} ({'higher' if better[0] else 'lower'} is better)",
        yaxis_title=f"{tradeoff['y_task']} {tradeoff['y_metric']} ({'higher' if better[1] else 'lower'} is better)",
        height=380,
    )
    runs = tradeoff["runs"]
    fig.update_xaxes(range=axis_range(tradeoff["x_metric"], [r["x"] for r in runs]), autorange=False)
    fig.update_yaxes(range=axis_range(tradeoff["y_metric"], [r["y"] for r in runs]), autorange=False)
    return fig


__all__ = [
    "CPU_STEP_CAP",
    "GPU_STEP_CAP",
    "KEEP_MINUTES",
    "LIVE_BATCH_SIZE",
    "LIVE_LR",
    "LIVE_LR_SCHEDULE",
    "LIVE_SIZE",
    "LIVE_STEPS",
    "MAX_ACTIVE_PER_OWNER",
    "MAX_BASELINES",
    "LiveRun",
    "RunSnapshot",
    "TrainingPool",
    "TrainingRefusedError",
    "axis_range",
    "baseline_comparison",
    "cap_steps",
    "default_workers",
    "live_recipe_note",
    "new_owner_token",
    "pareto_figure",
    "run_table",
    "session_tradeoff",
    "training_pool",
    "valid_owner_token",
    "validate_training",
]
