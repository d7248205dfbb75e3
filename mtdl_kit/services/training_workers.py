"""Live training's worker processes: the bounded pool that trains each :class:`~mtdl_kit.services.training.LiveRun`.

Trainings run in a bounded pool of worker processes (``spawn``; ``$MTDL_KIT_TRAIN_WORKERS``, default
:func:`default_workers`: half the cores, one on a GPU), never in the server's interpreter. Each worker
uses one torch thread (``$MTDL_KIT_TRAIN_THREADS``) at a lower scheduling priority than the server
(``$MTDL_KIT_TRAIN_NICE``, default :data:`WORKER_NICENESS`), and trains through the library
(:func:`mtdl_kit.experiments.train_run`, i.e. :func:`mtdl_kit.train.fit`). Runs wait in a
first-in-first-out queue (each knows its position), can be cancelled while queued or training, and
stream their progress and curves back over a :mod:`multiprocessing` queue. The pool keeps each owner's
runs (an owner is a browser session's token, e.g. from the page's URL) for :data:`KEEP_MINUTES` after
they end, so a page reload finds them again; an owner may have at most :data:`MAX_ACTIVE_PER_OWNER` runs
queued or training at once (a further Train is refused with a message, never dropped silently). The pool
also trains the same-budget single-task baselines (:meth:`TrainingPool.baseline`, one per region, task
and budget, shared by the sessions). :func:`training_pool` is the server's one pool.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing as mp
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
import types
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtdl_kit.services.training import LiveRun, TrainingRefusedError

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


def env_number(name: str, default: float, convert: Callable[[str], float] = int) -> float:
    """The pool's setting ``$name`` converted by ``convert`` (``int`` or ``float``), ``default`` when unset or empty.

    Raises:
        ValueError: the variable is set to something ``convert`` cannot read; the message names it and the fix.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return convert(text)
    except ValueError:
        kind = "a whole number" if convert is int else "a number"
        raise ValueError(f"${name}={text!r} is not {kind}; set it to {kind} or unset it.") from None


def default_workers() -> int:
    """Worker processes by default: ``$MTDL_KIT_TRAIN_WORKERS``, else one on a GPU and half the CPU cores
    elsewhere (at least one): the server keeps the other half for the students' pages.

    Raises:
        ValueError: ``$MTDL_KIT_TRAIN_WORKERS`` is set but not a whole number (it is not ignored).
    """
    configured = env_number(WORKERS_ENV, 0)
    if configured:
        return max(1, int(configured))
    import torch

    if torch.cuda.is_available():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 2
    return max(1, cores // 2)


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
    and warming its code paths on this 2-core machine; the next ones start within a second.) The step
    runs where the runs will (``device="auto"``), so on a GPU the CUDA context and the mixed-precision
    kernels are ready before the first student presses Train.
    """
    from mtdl_kit.experiments import RunConfig, train_run

    cfg = RunConfig(region="eye", steps=1, batch_size=2, size=32, n_train=4, n_test=2, device="auto")
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
        self.threads = threads or max(1, int(env_number(TRAIN_THREADS_ENV, 1)))
        minutes = keep_minutes if keep_minutes is not None else env_number(KEEP_ENV, KEEP_MINUTES, float)
        self.keep_seconds = 60.0 * minutes
        self.niceness = int(env_number(NICE_ENV, WORKER_NICENESS))
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


__all__ = ["KEEP_MINUTES", "MAX_ACTIVE_PER_OWNER", "MAX_BASELINES", "TrainingPool", "default_workers", "training_pool"]
