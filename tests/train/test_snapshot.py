"""``fit(snapshot=...)``: a run killed anywhere continues from its last validation evaluation to the same weights
and History as a run never interrupted (the transfer lab's hour-long networks survive a session's end)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from mtdl_kit.checkpoint import CheckpointError
from mtdl_kit.data import PhantomDataset
from mtdl_kit.models import build_model
from mtdl_kit.regions import get_region
from mtdl_kit.stopping import ValidationStopping
from mtdl_kit.train import fit

EYE = get_region("eye")
TASKS = EYE.select_tasks(["disc_cup", "glaucoma", "cdr"])
TRAIN = PhantomDataset("eye", 20, size=32, tasks=[t.name for t in TASKS])  # 3 batches of 8 (the last dropped)
VAL = PhantomDataset("eye", 12, size=32, split="val", tasks=[t.name for t in TASKS])
STEPS, EVERY = 24, 5  # evaluations at 5, 10, 15, 20: inside epochs and at none of their ends


class _Augmented(torch.utils.data.Dataset):
    """TRAIN with a noise augmentation drawn from Python's, numpy's and torch's global generators, which a
    snapshot must carry over."""

    region = TRAIN.region

    def __len__(self) -> int:
        return len(TRAIN)

    def __getitem__(self, index: int) -> dict:
        item = dict(TRAIN[index])
        scale = 0.05 * (1 + float(np.random.rand()) + random.random())
        item["image"] = item["image"] + scale * torch.randn_like(item["image"])
        return item


class _KilledError(Exception):
    """Stands for the session's end: the process dies between two steps."""


def _kill_after(steps: set[int]):
    """A callback that kills the run once each time it has done one of ``steps`` steps."""

    def callback(history, event: str) -> None:
        if event == "step" and history.steps in steps:
            steps.discard(history.steps)
            raise _KilledError

    return callback


def _run(weighting: str, snapshot: Path | None, kills: set[int] = frozenset(), *, seed: int = 3, data=TRAIN, **options):
    """Train a fresh eye network (a run per call, as a new process would), killed after ``kills`` and continued
    each time from ``snapshot``; returns the final model and History."""
    pending = set(kills)
    callbacks = [_kill_after(pending)] if pending else []
    while True:
        model = build_model("parallel", TASKS, EYE.in_channels, width=4, seed=seed, region="eye")
        rule = ValidationStopping.on_primary_metrics(TASKS, patience=2, min_evaluations=1)
        try:
            history = fit(
                model, data, weighting=weighting, steps=STEPS, batch_size=8, lr=3e-3, seed=seed, eval_data=VAL,
                eval_every=EVERY, stopping=rule, progress=False, device="cpu", cosine_every=4, snapshot=snapshot,
                callbacks=callbacks, **options,
            )  # fmt: skip
            return model, history
        except _KilledError:
            continue


def _same_run(a, b) -> None:
    (model_a, history_a), (model_b, history_b) = a, b
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a), "the weights differ"
    rows_a = [r for r in history_a.rows if r[2] != "step_time"]  # wall clock
    rows_b = [r for r in history_b.rows if r[2] != "step_time"]
    assert rows_a == rows_b
    config_b = {k: v for k, v in history_b.config.items() if k not in ("resumed_at", "seconds_before_resume")}
    assert history_a.config == config_b


@pytest.mark.parametrize("weighting", ["ew", "uw", "dwa", "rlw", "gradnorm", "upgrad"])
def test_a_killed_run_continues_to_the_weights_and_history_of_one_never_killed(weighting: str, tmp_path) -> None:
    """Killed at step 7 (its snapshot of step 5: mid-epoch) and at step 21 (of step 20): each method's own state
    (UW's log-variances in the optimizer, DWA's loss history, RLW's generator, GradNorm's Adam) continues too."""
    snapshot = tmp_path / "run.snapshot"
    whole = _run(weighting, None)
    killed = _run(weighting, snapshot, {7, 21})
    _same_run(whole, killed)
    assert killed[1].config["resumed_at"] == [5, 20]
    assert killed[1].config["seconds_before_resume"] > 0
    assert not snapshot.exists() and not Path(f"{snapshot}.sha256").exists(), "a finished run leaves no snapshot"


def test_an_augmentation_continues_with_the_global_generators_where_they_were(tmp_path) -> None:
    snapshot = tmp_path / "run.snapshot"
    whole = _run("ew", None, data=_Augmented())
    _same_run(whole, _run("ew", snapshot, {12}, data=_Augmented()))
    with pytest.raises(AssertionError):  # the augmentation matters: without it the run differs
        _same_run(whole, _run("ew", None))


@settings(max_examples=6, deadline=None)
@given(kills=st.sets(st.integers(1, STEPS - 1), min_size=1, max_size=3), seed=st.integers(0, 50))
def test_wherever_a_run_is_killed_it_ends_as_if_it_never_was(kills: set[int], seed: int, tmp_path_factory) -> None:
    snapshot = tmp_path_factory.mktemp("snap") / "run.snapshot"
    _same_run(_run("ew", None, seed=seed), _run("ew", snapshot, kills, seed=seed))


def test_a_snapshot_of_another_run_is_refused_by_name(tmp_path) -> None:
    snapshot = tmp_path / "run.snapshot"
    with pytest.raises(_KilledError):
        fit(
            build_model("parallel", TASKS, EYE.in_channels, width=4, seed=0, region="eye"), TRAIN, steps=STEPS,
            batch_size=8, seed=0, eval_data=VAL, eval_every=EVERY, progress=False, device="cpu", snapshot=snapshot,
            callbacks=[_kill_after({7})],
        )  # fmt: skip
    assert snapshot.exists()
    with pytest.raises(ValueError, match=r"written by another run \(seed: this run 1, the snapshot 0\); delete it"):
        fit(
            build_model("parallel", TASKS, EYE.in_channels, width=4, seed=0, region="eye"), TRAIN, steps=STEPS,
            batch_size=8, seed=1, eval_data=VAL, eval_every=EVERY, progress=False, device="cpu", snapshot=snapshot,
        )  # fmt: skip
    snapshot.write_bytes(snapshot.read_bytes()[:-10])  # truncated as a full disk would leave it
    with pytest.raises(CheckpointError, match=r"does not match the expected .* Delete run\.snapshot"):
        fit(
            build_model("parallel", TASKS, EYE.in_channels, width=4, seed=0, region="eye"), TRAIN, steps=STEPS,
            batch_size=8, seed=0, eval_data=VAL, eval_every=EVERY, progress=False, device="cpu", snapshot=snapshot,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"eval_data": None}, "pass eval_data=<a validation split>, eval_every"),
        ({"data": DataLoader(TRAIN, batch_size=8)}, "as a Dataset, not a DataLoader"),
        ({"weighting": "nash_mtl"}, "'nash_mtl' keeps state outside its state_dict"),
    ],
)
def test_what_a_snapshot_cannot_continue_is_refused_before_training(options: dict, match: str, tmp_path) -> None:
    arguments = {"data": TRAIN, "eval_data": VAL, "eval_every": EVERY, **options}
    model = build_model("parallel", TASKS, EYE.in_channels, width=4, seed=0, region="eye")
    with pytest.raises(ValueError, match=match):
        fit(model, steps=STEPS, batch_size=8, progress=False, device="cpu", snapshot=tmp_path / "s", **arguments)
    assert not any(tmp_path.iterdir())
