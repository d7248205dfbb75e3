"""The dashboard server's warm-up (mtdl_kit.services.warmup): what it loads, in which order, the frozen heap,
the periodic collection, and that it starts once per process."""

from __future__ import annotations

import gc
import threading

import pytest

from mtdl_kit.models import MULTI_TASK_FAMILIES
from mtdl_kit.services import warmup, zoo_models
from mtdl_kit.zoo import read_manifest, zoo_key

ZOO = read_manifest()


def test_the_first_regions_full_models_load_first():
    first, rest = warmup._model_order(ZOO, "eye")
    full = [zoo_key("eye", f) for f in MULTI_TASK_FAMILIES if zoo_key("eye", f) in ZOO]
    assert first[: len(full)] == full
    assert all(ZOO[k].region == "eye" for k in first) and not any(ZOO[k].region == "eye" for k in rest)
    assert sorted(first + rest) == sorted(ZOO)


def test_work_imports_loads_the_first_region_and_reports(monkeypatch):
    monkeypatch.setenv(warmup.FREEZE_ENV, "0")  # the test process's heap stays as it is
    state = warmup.WarmupState()
    warmup._work(state, "first", pool=False)
    assert state.ready.is_set() and state.done.is_set() and state.error is None
    first, _ = warmup._model_order(zoo_models.read_manifest_or_empty(zoo_models.manifest_stamp()[0]), "brain")
    assert state.models == len(first) and not state.failed_models
    assert {"imports", "first_models", "gc", "total"} <= set(state.seconds)
    # the models are the shared ones: a page asking for one gets the same object, not a second copy
    entry = ZOO[first[0]]
    assert zoo_models.load_shared_model(entry) is zoo_models.load_shared_model(entry)


def test_a_failing_import_is_reported_not_raised(monkeypatch):
    monkeypatch.setenv(warmup.FREEZE_ENV, "0")

    def broken(*a, **k):
        raise OSError("disk gone")

    monkeypatch.setattr(warmup, "_model_order", broken)
    state = warmup.WarmupState()
    warmup._work(state, "all", pool=False)
    assert state.ready.is_set() and state.done.is_set()
    assert state.error == "OSError: disk gone"


def test_freeze_moves_the_heap_out_of_the_collectors_sight(monkeypatch):
    monkeypatch.delenv(warmup.FREEZE_ENV, raising=False)
    try:
        assert warmup._freeze() > 0 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    monkeypatch.setenv(warmup.FREEZE_ENV, "0")
    assert warmup._freeze() == 0


def test_the_collector_runs_full_collections_until_stopped():
    state = warmup.WarmupState()
    stop = threading.Event()
    t = threading.Thread(target=warmup._collector, args=(state, 0.02, stop), daemon=True)
    t.start()
    try:
        for _ in range(500):
            if state.collections >= 2:
                break
            stop.wait(0.01)
    finally:
        stop.set()
        t.join(5)
    assert state.collections >= 2 and state.max_collection_s >= state.last_collection_s >= 0
    assert not t.is_alive()


def test_start_is_once_per_process(monkeypatch):
    monkeypatch.setattr(warmup, "_STATE", None)
    monkeypatch.setenv(warmup.MODELS_ENV, "none")
    monkeypatch.setenv(warmup.FREEZE_ENV, "0")
    monkeypatch.setenv(warmup.GC_SECONDS_ENV, "0")
    state = warmup.start()
    assert warmup.start() is state and warmup.started()
    assert warmup.wait_ready(120) and warmup.ready()
    status = warmup.status()
    assert status["ready"] and status["error"] is None and status["models"] == 0 and status["torch_loaded"]
    with pytest.raises(ValueError, match="'all', 'first' or 'none'"):
        monkeypatch.setattr(warmup, "_STATE", None)
        warmup.start(models="some")


def test_prefill_fills_the_first_region_before_ready_and_the_others_after(monkeypatch):
    """The application's cache filler: the first region before :func:`ready` (students start there), then the rest."""
    from mtdl_kit import REGION_NAMES

    monkeypatch.setenv(warmup.FREEZE_ENV, "0")
    monkeypatch.setattr(warmup, "_load", lambda keys, manifest, state: None)  # the models are not the point here
    state = warmup.WarmupState()
    calls: list[tuple[list[str], bool]] = []
    monkeypatch.setattr(warmup, "PREFILL_PAUSE", 0.0)
    warmup._work(state, "all", pool=False, fill=lambda regions: calls.append((regions, state.ready.is_set())))
    assert calls == [(list(REGION_NAMES[:1]), False), *(([r], True) for r in REGION_NAMES[1:])]
    assert {"prefill_first", "prefill"} <= set(state.seconds) and state.prefill_error is None
    # "first" fills the first region only
    state, calls = warmup.WarmupState(), []
    warmup._work(state, "first", pool=False, fill=lambda regions: calls.append((regions, state.ready.is_set())))
    assert calls == [(list(REGION_NAMES[:1]), False)]


def test_a_failing_prefill_is_reported_and_the_warm_up_goes_on(monkeypatch):
    monkeypatch.setenv(warmup.FREEZE_ENV, "0")
    monkeypatch.setattr(warmup, "_load", lambda keys, manifest, state: None)
    monkeypatch.setattr(warmup, "PREFILL_PAUSE", 0.0)
    calls = []

    def broken(regions):
        calls.append(regions)
        raise KeyError("no such page")

    state = warmup.WarmupState()
    warmup._work(state, "all", pool=False, fill=broken)
    assert state.ready.is_set() and state.done.is_set() and state.error is None and state.later_error is None
    assert state.prefill_error == "KeyError: 'no such page'"
    assert len(calls) == 1  # after a failure the filler is not called again (the pages fill on first use)


def test_start_refuses_a_prefill_that_is_not_callable(monkeypatch):
    monkeypatch.setattr(warmup, "_STATE", None)
    with pytest.raises(TypeError, match="prefill must be a callable"):
        warmup.start(prefill="views.common")
    assert warmup._STATE is None
