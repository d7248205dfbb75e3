"""Unit tests of mtdl_kit.services.training (the dashboard's live-training logic, no Streamlit)."""

from __future__ import annotations

import math
import threading
import time

import pytest

from mtdl_kit.evaluation import non_dominated
from mtdl_kit.services import training


def test_cap_steps_cpu_and_gpu():
    assert training.cap_steps(50, "cpu") == (50, None)
    steps, note = training.cap_steps(10_000, "cpu")
    assert steps == training.CPU_STEP_CAP and "capped" in note
    assert training.cap_steps(1000, "cuda") == (1000, None)
    assert training.cap_steps(10**6, "cuda")[0] == training.GPU_STEP_CAP
    for bad in (0, -3, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            training.cap_steps(bad, "cpu")


def test_slot_serialises_gpu_runs_and_ignores_cpu():
    slot = training.TrainingSlot(1)
    assert slot.acquire("cpu") and slot.acquire("cpu")  # the CPU takes no slot
    assert slot.acquire("cuda")
    got = []

    def second():
        got.append(slot.acquire("cuda"))

    t = threading.Thread(target=second)
    t.start()
    time.sleep(0.3)
    assert got == [] and slot.waiting == 1  # queued behind the first
    slot.release("cuda")
    t.join(5)
    assert got == [True] and slot.waiting == 0
    slot.release("cuda")


def test_slot_cancel_while_queued():
    slot = training.TrainingSlot(1)
    assert slot.acquire("cuda")
    cancel = threading.Event()
    out = []
    t = threading.Thread(target=lambda: out.append(slot.acquire("cuda", cancel, poll=0.05)))
    t.start()
    cancel.set()
    t.join(5)
    assert out == [False]
    slot.release("cuda")


def test_pareto_front():
    pts = [(0.8, 0.7), (0.9, 0.6), (0.7, 0.6), (math.nan, 0.9)]
    assert non_dominated(pts, [True, True]) == [True, True, False, True]
    # lower is better on the second axis
    assert non_dominated([(0.8, 1.0), (0.8, 2.0)], [True, False]) == [True, False]


def test_bad_names_fail_in_the_caller():
    with pytest.raises(ValueError):
        training.LiveRun("eye", "parallel", ("nope",), device="cpu")
    with pytest.raises(ValueError):
        training.LiveRun("eye", "nofamily", ("glaucoma", "cdr"), device="cpu")
    with pytest.raises(ValueError, match="single"):
        training.LiveRun("eye", "single", ("glaucoma", "cdr"), device="cpu")
    with pytest.raises(ValueError):
        training.LiveRun("eye", "cascaded", ("glaucoma",), device="cpu")


def test_live_run_trains_a_fresh_model_and_reports(monkeypatch):
    run = training.LiveRun("eye", "parallel", ("disc_cup", "glaucoma"), steps=4, batch_size=4, device="cpu")
    assert run.snapshot().state == "queued"
    run.start()
    run.join(300)
    snap = run.snapshot()
    assert snap.state == "done", snap.message
    assert snap.progress == 1.0 and snap.step == 4
    assert set(snap.metrics) == {"disc_cup", "glaucoma"}
    assert snap.history().names("loss") == ["disc_cup", "glaucoma"]
    table = training.run_table([run])
    assert table[0]["state"] == "done" and "disc_cup dice" in table[0]
    rows = training.baseline_comparison("eye", snap.metrics, manifest={})
    assert {r["task"] for r in rows} == {"disc_cup", "glaucoma"}
    assert all(r["single-task baseline (zoo)"] is None for r in rows)
    with pytest.raises(RuntimeError):
        run.start()


def test_live_run_cancel_and_errors_never_raise():
    run = training.LiveRun("eye", "parallel", ("disc_cup", "glaucoma"), steps=150, batch_size=4, device="cpu")
    run.cancel()
    run.start()
    run.join(300)
    assert run.snapshot().state == "cancelled"


def test_cpu_step_cap_applies_to_runs():
    run = training.LiveRun("eye", "parallel", ("disc_cup", "glaucoma"), steps=10_000, device="cpu")
    assert run.total_steps == training.CPU_STEP_CAP
    assert "capped" in run.snapshot().message
    assert run.config().steps == training.CPU_STEP_CAP


def test_second_gpu_run_is_queued_until_the_first_ends():
    slot = training.TrainingSlot(1)
    assert slot.acquire("cuda")  # another session's training holds the GPU
    run = training.LiveRun("eye", "parallel", ("disc_cup", "glaucoma"), steps=2, batch_size=4, device="cpu", slot=slot)
    run.device_type = "cuda"  # pretend: the accelerator path (the model still trains on the CPU here)
    run.start()
    time.sleep(0.5)
    snap = run.snapshot()
    assert snap.state == "queued" and "Queued" in snap.message
    slot.release("cuda")
    run.join(300)
    assert run.snapshot().state == "done"
    assert slot.busy == 0 and slot.waiting == 0
