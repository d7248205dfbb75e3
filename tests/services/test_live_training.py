"""Unit tests of mtdl_kit.services.training (the dashboard's live training, no Streamlit): the form's check,
the step cap, and the pool of worker processes (queue, cancel, owners' runs, a dead worker)."""

from __future__ import annotations

import math
import os
import time

import pytest

from mtdl_kit.evaluation import non_dominated
from mtdl_kit.services import training, training_report, training_workers


def test_cap_steps_cpu_and_gpu():
    assert training.cap_steps(50, "cpu") == (50, None)
    steps, note = training.cap_steps(10_000, "cpu")
    assert steps == training.CPU_STEP_CAP and "capped" in note
    assert training.cap_steps(1000, "cuda") == (1000, None)
    assert training.cap_steps(10**6, "cuda")[0] == training.GPU_STEP_CAP
    for bad in (0, -3, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            training.cap_steps(bad, "cpu")


@pytest.mark.parametrize(
    ("family", "weighting", "tasks", "words"),
    [
        ("parallel", "ew", (), "at least one task"),
        ("single", "ew", ("disc_cup", "glaucoma"), "single-task family trains one task"),
        ("cascaded", "upgrad", ("disc_cup", "glaucoma"), "cascaded + upgrad cannot train together"),
        ("cascaded", "mgda", ("disc_cup", "glaucoma"), "shares no layer"),
        ("cascaded", "ew", ("glaucoma",), "cascaded family cannot train glaucoma"),
        ("parallel", "fixed", ("disc_cup", "glaucoma"), "needs a weight per task"),
        ("parallel", "upgrad", ("glaucoma",), "at least 2"),
        ("parallel", "nope", ("glaucoma", "cdr"), "Unknown weighting"),
        ("nofamily", "ew", ("glaucoma", "cdr"), "Unknown family"),
        ("parallel", "ew", ("tumour",), "not a task of eye"),
    ],
)
def test_the_form_is_checked_in_plain_words(family, weighting, tasks, words):
    problems = training.validate_training("eye", family, weighting, tasks)
    assert len(problems) == 1 and words in problems[0], problems


@pytest.mark.parametrize(
    ("family", "weighting", "tasks"),
    [
        ("parallel", "upgrad", ("disc_cup", "glaucoma")),
        ("cascaded", "uw", ("disc_cup", "glaucoma", "cdr")),
        ("hybrid", "ew", ("disc_cup", "glaucoma")),
        ("single", "upgrad", ("glaucoma",)),  # a single task trains with ew whatever the form says
    ],
)
def test_compatible_choices_pass(family, weighting, tasks):
    assert training.validate_training("eye", family, weighting, tasks) == []


def test_bad_names_fail_in_the_caller():
    with pytest.raises(ValueError):
        training.LiveRun("eye", "parallel", ("nope",), device="cpu")
    with pytest.raises(ValueError):
        training.LiveRun("eye", "nofamily", ("glaucoma", "cdr"), device="cpu")
    with pytest.raises(ValueError, match="single"):
        training.LiveRun("eye", "single", ("glaucoma", "cdr"), device="cpu")
    with pytest.raises(ValueError):
        training.LiveRun("eye", "cascaded", ("glaucoma",), device="cpu")
    with pytest.raises(ValueError, match="cannot train together"):
        training.LiveRun("eye", "cascaded", ("disc_cup", "glaucoma"), weighting="upgrad", device="cpu")


def test_cpu_step_cap_applies_to_runs():
    run = training.LiveRun("eye", "parallel", ("disc_cup", "glaucoma"), steps=10_000, device="cpu")
    assert run.total_steps == training.CPU_STEP_CAP
    assert "capped" in run.snapshot().message
    assert run.config().steps == training.CPU_STEP_CAP
    assert run.snapshot().state == "queued" and run.snapshot().position is None  # not submitted yet


def test_live_defaults_are_the_live_recipe():
    r = training.LiveRun("eye", "parallel", ("disc_cup", "glaucoma"), device="cpu")
    cfg = r.config()
    assert (cfg.steps, cfg.batch_size, cfg.lr, cfg.lr_schedule, cfg.size) == (
        training.LIVE_STEPS,
        training.LIVE_BATCH_SIZE,
        training.LIVE_LR,
        training.LIVE_LR_SCHEDULE,
        training.LIVE_SIZE,
    )
    assert training.LIVE_STEPS <= training.CPU_STEP_CAP, "the defaults must not be capped on a CPU"
    assert r.cap_note is None
    assert "600 steps of batch 16" in r.budget_text and "cosine" in r.budget_text


def test_budget_tells_fair_baselines_apart():
    a = training.LiveRun("eye", "parallel", ("disc_cup", "glaucoma"), device="cpu")
    same = training.LiveRun("eye", "interacted", ("disc_cup", "glaucoma"), weighting="uw", device="cpu")
    assert a.budget == same.budget, "family and weighting are what is compared, not the budget"
    for change in ({"steps": 300}, {"seed": 1}, {"lr": 1e-3}, {"lr_schedule": "constant"}, {"batch_size": 8}):
        other = training.LiveRun("eye", "parallel", ("disc_cup", "glaucoma"), device="cpu", **change)
        assert other.budget != a.budget, change


def test_live_recipe_note_reads_the_measured_table(tmp_path):
    assert "not been measured" in training_report.live_recipe_note(root=tmp_path, device_type="cpu")
    rows = []
    for seed, (seconds, dice, met) in enumerate([(31.0, 0.90, True), (29.0, 0.88, True), (40.0, 0.84, False)]):
        for task, metric, value, target in (("disc_cup", "dice", dice, 0.85), ("glaucoma", "auc", 0.95, 0.90)):
            rows.append(
                f"2026-12-02,cpu (AMD),eye,parallel,{seed},600,{seconds},{task},{metric},{value},{target},{met}"
            )
    header = "measured,device,region,family,seed,steps,seconds,task,metric,value,target,met"
    (tmp_path / "live.csv").write_text("\n".join([header, *rows]) + "\n")
    note = training_report.live_recipe_note(root=tmp_path, device_type="cpu")
    assert "met the target in 2 of 3 runs" in note
    assert "median of 31 s" in note and "lowest 0.84" in note and "cpu (AMD)" in note
    assert training.CPU_RECIPE.text() in note and "On a GPU" not in note, "no GPU sentence without a GPU table"
    gpu_rows = [
        f"2026-12-04,NVIDIA H200,eye,parallel,{seed},300,{seconds},{task},{metric},{value},{target},True"
        for seed, seconds in enumerate([6.2, 5.8, 7.1])
        for task, metric, value, target in (("disc_cup", "dice", 0.9, 0.85), ("glaucoma", "auc", 0.97, 0.90))
    ]
    (tmp_path / "live_gpu.csv").write_text("\n".join([header, *gpu_rows]) + "\n")
    note = training_report.live_recipe_note(root=tmp_path, device_type="cpu")
    assert note.index("median of 31 s") < note.index("On a GPU"), "this server's device comes first"
    assert f"On a GPU the recipe is {training.GPU_RECIPE.text()}; measured on NVIDIA H200" in note
    assert "median of 6.2 s" in note and '"live-gpu"' in note
    on_gpu = training_report.live_recipe_note(root=tmp_path, device_type="cuda")
    assert on_gpu.startswith(f"Defaults on this server's GPU (the live recipe): {training.GPU_RECIPE.text()}")
    assert on_gpu.index("median of 6.2 s") < on_gpu.index("On a CPU the recipe is") < on_gpu.index("median of 31 s")


def test_live_recipe_follows_the_device():
    assert training.live_recipe("cuda") is training.GPU_RECIPE
    assert training.live_recipe("cpu") is training.live_recipe("mps") is training.CPU_RECIPE
    gpu = training.GPU_RECIPE
    # same images seen in fewer, larger steps (a GPU step costs about the same at batch 16 or 32)
    assert gpu.steps * gpu.batch_size == training.CPU_RECIPE.steps * training.CPU_RECIPE.batch_size
    run = training.LiveRun("eye", "parallel", ("disc_cup",), device="cpu")
    assert (run.steps, run.batch_size, run.lr) == (training.LIVE_STEPS, training.LIVE_BATCH_SIZE, training.LIVE_LR)
    assert run.config().n_train == training.CPU_RECIPE.max_train
    mine = training.LiveRun("eye", "parallel", ("disc_cup",), device="cpu", steps=100, batch_size=64, lr=1e-3)
    cfg = mine.config()
    assert (cfg.steps, cfg.batch_size, cfg.lr) == (100, 64, 1e-3), "a choice the user made is kept"
    assert cfg.n_train == training.CPU_RECIPE.max_train, "at most max_train phantoms are generated"
    assert training.LiveRun("eye", "parallel", ("disc_cup",), device="cpu", steps=3).config().n_train == 64


def test_owner_tokens():
    a, b = training.new_owner_token(), training.new_owner_token()
    assert a != b and training.valid_owner_token(a)
    for bad in (None, "", "abc", a.upper(), a + "0", "../" + a[3:], 12):
        assert not training.valid_owner_token(bad)


def test_default_workers_leave_the_server_a_core(monkeypatch):
    monkeypatch.setenv(training_workers.WORKERS_ENV, "3")
    assert training_workers.default_workers() == 3
    monkeypatch.delenv(training_workers.WORKERS_ENV)
    assert training_workers.default_workers() >= 1


@pytest.mark.parametrize("name", ["MTDL_KIT_TRAIN_WORKERS", "MTDL_KIT_TRAIN_THREADS", "MTDL_KIT_TRAIN_NICE"])
def test_a_pool_setting_that_is_not_a_number_fails_naming_it(monkeypatch, name):
    monkeypatch.setenv(name, "two")
    with pytest.raises(ValueError, match=rf"\${name}='two' is not a whole number; set it to a whole number or unset"):
        training_workers.TrainingPool()


def test_an_empty_pool_setting_is_unset(monkeypatch):
    monkeypatch.setenv(training_workers.KEEP_ENV, " ")
    monkeypatch.setenv(training_workers.WORKERS_ENV, "")
    pool = training_workers.TrainingPool(2)
    assert pool.keep_seconds == 60.0 * training_workers.KEEP_MINUTES
    assert training_workers.default_workers() >= 1
    monkeypatch.setenv(training_workers.KEEP_ENV, "1.5")
    assert training_workers.TrainingPool(2).keep_seconds == 90.0


def test_pareto_front():
    pts = [(0.8, 0.7), (0.9, 0.6), (0.7, 0.6), (math.nan, 0.9)]
    assert non_dominated(pts, [True, True]) == [True, True, False, True]
    # lower is better on the second axis
    assert non_dominated([(0.8, 1.0), (0.8, 2.0)], [True, False]) == [True, False]


# ------------------------------------------------------------------------------- the worker pool


class Clock:
    """``time.time`` plus an offset the test moves forward (the pool's keep period)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="module")
def clock():
    return Clock()


@pytest.fixture(scope="module")
def pool(clock):
    """One worker process for the module's tests (it imports torch and MONAI once)."""
    p = training_workers.TrainingPool(1, keep_minutes=10, clock=clock).start()
    yield p
    p.shutdown()


def run(steps: int, **kw) -> training.LiveRun:
    return training.LiveRun("eye", "parallel", ("disc_cup", "glaucoma"), steps=steps, batch_size=4, device="cpu", **kw)


def test_a_run_trains_in_a_worker_process_with_one_thread(pool):
    r = run(4).start(pool, owner="alice")
    assert r.join(600), r.snapshot()
    snap = r.snapshot()
    assert snap.state == "done", snap.message
    assert snap.threads == 1, "a worker trains with one torch thread"
    assert os.getpid() not in pool.worker_pids() and pool.worker_pids()
    assert snap.progress == 1.0 and snap.step == 4 and snap.waited >= 0 and snap.seconds > 0
    assert set(snap.metrics) == {"disc_cup", "glaucoma"}
    assert snap.history().names("loss") == ["disc_cup", "glaucoma"]  # the curves streamed back
    table = training_report.run_table([r])
    assert table[0]["state"] == "done" and "disc_cup dice" in table[0] and "waited s" in table[0]
    rows = training_report.baseline_comparison(r, snap.metrics, {})
    assert {x["task"] for x in rows} == {"disc_cup", "glaucoma"}
    assert all(x["single-task, same budget"] is None and x["baseline"] == "not trained" for x in rows)
    with pytest.raises(RuntimeError, match="already started"):
        r.start(pool)
    assert pool.runs("alice") == [r] and pool.runs("bob") == []  # an owner sees only their runs


def test_same_budget_baselines_are_trained_once_and_shared(pool):
    r = run(3, seed=5).start(pool, owner="dora")
    assert r.join(600) and r.snapshot().state == "done"
    assert pool.baseline(r, "glaucoma", train=False) is None, "looked up, never requested"
    assert pool.baselines(r) == {"disc_cup": None, "glaucoma": None}
    with pytest.raises(ValueError, match="not one of the run's tasks"):
        pool.baseline(r, "cdr")
    base = pool.baseline(r, "glaucoma")
    assert base.family == "single" and base.tasks == ("glaucoma",)
    assert base.budget == r.budget, "the same steps, batch, schedule, size, training cases and seed"
    assert base.join(600) and base.snapshot().state == "done", base.snapshot().message
    # another session training the same budget gets the same baseline, not a new run
    twin = run(3, seed=5, weighting="uw")
    assert pool.baseline(twin, "glaucoma") is base and pool.baseline(twin, "glaucoma", train=False) is base
    assert pool.runs("dora") == [r], "a baseline belongs to no owner"
    assert pool.baselines(r) == {"disc_cup": None, "glaucoma": base}
    assert pool.baselines(training.LiveRun("eye", "single", ("glaucoma",), device="cpu")) == {}
    rows = training_report.baseline_comparison(r, r.snapshot().metrics, {"glaucoma": base, "disc_cup": None})
    by_task = {x["task"]: x for x in rows}
    auc = base.snapshot().metrics["glaucoma"]["auc"]
    assert by_task["glaucoma"]["single-task, same budget"] == auc and by_task["glaucoma"]["baseline"] == "done"
    if math.isfinite(auc) and math.isfinite(by_task["glaucoma"]["this run"]):
        assert by_task["glaucoma"]["delta"] == pytest.approx(by_task["glaucoma"]["this run"] - auc)
    assert by_task["disc_cup"]["single-task, same budget"] is None and by_task["disc_cup"]["baseline"] == "not trained"
    other = run(4, seed=5)  # a different budget: a different baseline
    assert pool.baseline(other, "glaucoma", train=False) is None


@pytest.mark.slow
def test_queue_positions_cancel_and_the_owner_limit(pool):
    first = run(150).start(pool, owner="carol")
    second = run(4).start(pool, owner="carol")
    deadline = time.time() + 600
    while first.snapshot().state == "queued" and time.time() < deadline:
        time.sleep(0.2)
    assert first.snapshot().state == "running"
    snap = second.snapshot()
    assert snap.state == "queued" and snap.position == 1 and snap.queued == 1
    with pytest.raises(training.TrainingRefusedError, match="already have 2 runs"):
        run(4).start(pool, owner="carol")  # a third click is refused with a message, not dropped
    second.cancel()
    assert second.join(5) and second.snapshot().state == "cancelled"
    assert "while queued" in second.snapshot().message
    while first.snapshot().step < 2 and time.time() < deadline:
        time.sleep(0.2)
    first.cancel()
    assert first.join(120)
    snap = first.snapshot()
    assert snap.state == "cancelled" and "Cancelled at step" in snap.message and snap.step < 150
    third = run(3).start(pool, owner="carol")  # both ended: Train works again
    assert third.join(600) and third.snapshot().state == "done"
    assert [r.run_id for r in pool.runs("carol")] == [first.run_id, second.run_id, third.run_id]


def test_runs_are_kept_for_the_keep_period_then_forgotten(pool, clock):
    r = run(2).start(pool, owner="dave")
    assert r.join(600)
    assert pool.runs("dave") == [r]  # a reload with the same token finds it
    clock.offset = pool.keep_seconds + 1
    try:
        assert pool.runs("dave") == []
    finally:
        clock.offset = 0.0


@pytest.mark.slow
def test_a_dead_worker_fails_its_run_and_is_replaced(pool):
    r = run(150).start(pool, owner="erin")
    deadline = time.time() + 600
    while r.snapshot().step < 1 and time.time() < deadline:
        time.sleep(0.2)
    (pid,) = pool.worker_pids()
    os.kill(pid, 9)
    assert r.join(60)
    assert r.snapshot().state == "error" and "stopped unexpectedly" in r.snapshot().message
    after = run(2).start(pool, owner="erin")  # the replacement worker trains the next run
    assert after.join(600) and after.snapshot().state == "done"
    assert pool.worker_pids() != [pid]
