"""Live training for the dashboard: a per-session runner, a process-wide GPU lock, a CPU step cap.

The dashboard's Experiment page trains small multi-task models while students watch. This module
holds the non-UI logic so that it can be unit-tested without Streamlit:

- :func:`cap_steps`: on a CPU the number of steps is capped (:data:`CPU_STEP_CAP`) so that a
  lecture-room server stays responsive; on a GPU the request is kept (up to :data:`GPU_STEP_CAP`).
- :data:`TRAINING_LOCK` / :class:`TrainingSlot`: at most one training at a time per server process
  on a GPU; the other sessions' runs wait in state ``"queued"`` and say so.
- :class:`LiveRun`: one training run in a background thread on a **fresh per-session model**
  (built by :func:`mtdl_kit.experiments.train_run`; the shared, cached zoo models are never
  touched). Its :meth:`LiveRun.snapshot` is safe to read from the UI thread while it trains
  (Streamlit fragments poll it; the worker never calls ``st.*``).
- :func:`run_table`, :func:`baseline_comparison`: the session's runs, and a run against the zoo's
  single-task baselines.
- :func:`session_tradeoff` and :func:`pareto_figure`: the trade-off of a session's finished runs
  on two tasks, the Pareto-optimal runs marked (:func:`mtdl_kit.evaluation.non_dominated`).

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mtdl_kit.palette import OKABE_ITO

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: steps allowed per run when training on a CPU (a shared 2-core server stays responsive).
CPU_STEP_CAP = 200
#: steps allowed per run on a GPU.
GPU_STEP_CAP = 3000
#: phantoms in the held-out set of a live run (smaller than the zoo's 128: evaluation is quick).
LIVE_N_TEST = 64
#: run states, in order.
STATES = ("queued", "running", "done", "error", "cancelled")


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


class TrainingSlot:
    """At most ``limit`` concurrent trainings per process on accelerators; CPUs are bounded by the step cap.

    ``acquire(device_type, cancel)`` blocks while the slot is taken (the caller shows "queued") and
    returns ``False`` if ``cancel`` is set while waiting. ``waiting`` counts queued runs.
    """

    def __init__(self, limit: int = 1) -> None:
        self._sem = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.waiting = 0
        self.busy = 0

    def needs_slot(self, device_type: str) -> bool:
        """Accelerators (cuda, mps) take the slot; the CPU does not."""
        return device_type != "cpu"

    def acquire(self, device_type: str, cancel: threading.Event | None = None, poll: float = 0.1) -> bool:
        """Wait for the slot (no-op on CPU). ``False`` if cancelled while queued."""
        if not self.needs_slot(device_type):
            return True
        with self._lock:
            self.waiting += 1
        try:
            while not self._sem.acquire(timeout=poll):
                if cancel is not None and cancel.is_set():
                    return False
        finally:
            with self._lock:
                self.waiting -= 1
        with self._lock:
            self.busy += 1
        return True

    def release(self, device_type: str) -> None:
        """Free the slot taken by :meth:`acquire`."""
        if not self.needs_slot(device_type):
            return
        with self._lock:
            self.busy -= 1
        self._sem.release()


#: the process-wide slot every dashboard session shares (one training at a time on a GPU).
TRAINING_LOCK = TrainingSlot(1)


class _CancelledError(Exception):
    pass


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
    """One live training run: region, family, tasks, weighting and steps, trained in a daemon thread.

    The model is built fresh for the run (never a shared cached model). Create, then :meth:`start`;
    read :meth:`snapshot` from any thread; :meth:`cancel` stops it at the next step.
    """

    region: str
    family: str
    tasks: tuple[str, ...]
    weighting: str = "ew"
    steps: int = 100
    seed: int = 0
    size: int = 64
    batch_size: int = 8
    device: str = "auto"
    slot: TrainingSlot = field(default_factory=lambda: TRAINING_LOCK, repr=False)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        from mtdl_kit.regions import get_region

        self.tasks = tuple(t.name for t in get_region(self.region).select_tasks(list(self.tasks)))
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = "queued"
        self._step = 0
        self._rows: list[tuple[int, int, str, str, float]] = []
        self._metrics: dict[str, dict[str, float]] = {}
        self._message: str | None = None
        self._t0 = 0.0
        self._seconds = 0.0
        self.device_type = self._device_type()
        self.total_steps, self.cap_note = cap_steps(int(self.steps), self.device_type)
        self._message = self.cap_note
        self.config().validate()  # bad names fail here, in the caller's thread
        self._check_family()

    def _check_family(self) -> None:
        """Build the model once (cheap) so that e.g. 'single' with two tasks fails in the caller's thread."""
        from mtdl_kit.models import build_model
        from mtdl_kit.regions import get_region

        region = get_region(self.region)
        options = dict(self.config().model_options)
        build_model(
            self.family, region.select_tasks(list(self.tasks)), region.in_channels, region=self.region, **options
        )

    def _device_type(self) -> str:
        from mtdl_kit.device import pick_device

        return pick_device(self.device).type

    def config(self) -> Any:
        """The :class:`~mtdl_kit.experiments.RunConfig` of this run."""
        from mtdl_kit.experiments import RunConfig
        from mtdl_kit.zoo import ZOO_MODEL_OPTIONS

        return RunConfig(
            region=self.region,
            family=self.family,
            tasks=self.tasks,
            weighting=self.weighting if self.family != "single" else "ew",
            steps=getattr(self, "total_steps", int(self.steps)),
            batch_size=self.batch_size,
            size=self.size,
            n_train=max(64, self.batch_size * min(getattr(self, "total_steps", int(self.steps)), 64)),
            n_test=LIVE_N_TEST,
            seed=self.seed,
            device=self.device,
            model_options=dict(ZOO_MODEL_OPTIONS.get(self.family, {})),
        )

    @property
    def label(self) -> str:
        """Short description: ``eye/parallel/ew [disc_cup+glaucoma] 100 steps``."""
        return f"{self.region}/{self.family}/{self.weighting} [{'+'.join(self.tasks)}] {self.total_steps} steps"

    def start(self) -> LiveRun:
        """Start the background thread (once)."""
        if self._thread is not None:
            raise RuntimeError("This run was already started; create a new LiveRun to train again.")
        self._thread = threading.Thread(target=self._work, name=f"mtdl-live-{self.run_id}", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the run to stop (while queued, or at the next training step)."""
        self._cancel.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def finished(self) -> bool:
        """Done, failed or cancelled."""
        return self._state in ("done", "error", "cancelled")

    def snapshot(self) -> RunSnapshot:
        """A copy of the current state (thread-safe)."""
        with self._lock:
            seconds = self._seconds if self.finished or not self._t0 else time.perf_counter() - self._t0
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
            )

    def _set(self, **values: Any) -> None:
        with self._lock:
            for k, v in values.items():
                setattr(self, f"_{k}", v)

    def _callback(self, history: Any, event: str) -> None:
        if self._cancel.is_set():
            raise _CancelledError
        if event == "step":
            with self._lock:
                new = history.rows[len(self._rows) :]
                self._rows.extend(new)
                self._step = history.steps

    def _work(self) -> None:
        if self.slot.needs_slot(self.device_type):
            self._set(message=(self.cap_note or "") + " Queued: another training is using the GPU; it starts next.")
        if not self.slot.acquire(self.device_type, self._cancel):
            self._set(state="cancelled", message="Cancelled while queued.")
            return
        try:
            from mtdl_kit.experiments import train_run

            self._set(state="running", message=self.cap_note, t0=time.perf_counter())
            result = train_run(self.config(), progress=False, callbacks=[self._callback])
            metrics = {t: {k: float(v) for k, v in m.items()} for t, m in result.metrics.items()}
            with self._lock:
                self._rows = list(result.history.rows)
                self._step = self.total_steps
                self._metrics = metrics
                self._state = "done"
                self._seconds = time.perf_counter() - self._t0
            del result  # free the per-session model (and its GPU memory) now
        except _CancelledError:
            self._set(
                state="cancelled", message=f"Cancelled at step {self._step}.", seconds=time.perf_counter() - self._t0
            )
        except Exception as exc:  # shown to the user, never raised into the UI thread
            self._set(state="error", message=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - self._t0)
        finally:
            self.slot.release(self.device_type)
            if self.device_type == "cuda":
                import torch

                torch.cuda.empty_cache()

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


def run_table(runs: Sequence[LiveRun]) -> list[dict[str, Any]]:
    """One row per run for the session table: id, configuration, state, steps, seconds, primary metrics."""
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
            "device": snap.device,
        }
        for task, values in snap.metrics.items():
            name = primary_metric(region.task(task))
            row[f"{task} {name}"] = values.get(name, math.nan)
        rows.append(row)
    return rows


def baseline_comparison(
    region: str, metrics: Mapping[str, Mapping[str, float]], manifest: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Per task: the run's primary metric next to the zoo's single-task baseline (``None`` if not trained yet).

    ``delta`` is signed so that positive means the multi-task run is better.
    """
    from mtdl_kit.metrics import higher_is_better, primary_metric
    from mtdl_kit.regions import get_region
    from mtdl_kit.zoo import read_manifest, zoo_key

    entries = read_manifest() if manifest is None else manifest
    reg = get_region(region)
    rows = []
    for task, values in metrics.items():
        name = primary_metric(reg.task(task))
        entry = entries.get(zoo_key(region, "single", [task]))
        base = None if entry is None else entry.metrics.get(task, {}).get(name)
        value = values.get(name)
        delta = None
        if base is not None and value is not None and math.isfinite(value):
            delta = (value - base) if higher_is_better(name) else (base - value)
        rows.append(
            {"task": task, "metric": name, "this run": value, "single-task baseline (zoo)": base, "delta": delta}
        )
    return rows


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


def pareto_figure(tradeoff: dict[str, Any]) -> go.Figure:
    """Scatter of :func:`session_tradeoff`'s runs; the Pareto-optimal ones are large stars."""
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
    fig.update_layout(
        title="Trade-off of this session's runs (stars: Pareto-optimal)",
        xaxis_title=f"{tradeoff['x_task']} {tradeoff['x_metric']}",
        yaxis_title=f"{tradeoff['y_task']} {tradeoff['y_metric']}",
        height=380,
    )
    return fig


__all__ = [
    "CPU_STEP_CAP",
    "GPU_STEP_CAP",
    "TRAINING_LOCK",
    "LiveRun",
    "RunSnapshot",
    "TrainingSlot",
    "baseline_comparison",
    "cap_steps",
    "pareto_figure",
    "run_table",
    "session_tradeoff",
]
