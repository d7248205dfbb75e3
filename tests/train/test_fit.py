from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from mtdl_kit.data import PhantomDataset
from mtdl_kit.losses import compute_losses, make_losses
from mtdl_kit.regions import get_region
from mtdl_kit.train import TrainingDivergedError, fit

EYE = get_region("eye")


def _mean_loss(history, task, steps):
    values = [v for s, v in history.series("loss", task) if s in steps]
    return float(np.mean(values))


def test_fit_lowers_every_loss_and_records_history(eye_data, eye_val, small_model):
    model = small_model()
    events = []
    h = fit(
        model,
        eye_data,
        steps=30,
        batch_size=8,
        lr=3e-3,
        progress=False,
        eval_data=eye_val,
        cosine_every=5,
        callbacks=[lambda hist, ev: events.append(ev)],
    )
    assert h.steps == 30
    for t in EYE.task_names:
        assert _mean_loss(h, t, range(27, 30)) < _mean_loss(h, t, range(0, 3)), t
    assert set(h.names("weight")) == set(EYE.task_names)
    assert h.last("weight", "glaucoma") == 1.0  # equal weighting is weight 1 per task
    assert len(h.series("cosine", "disc_cup|glaucoma")) == 6
    metrics = h.names("metric")
    assert "disc_cup/dice" in metrics or any(m.startswith("disc_cup/") for m in metrics)
    assert events.count("step") == 30 and events[-1] == "end" and "eval" in events
    frame = h.to_frame()
    assert list(frame.columns) == ["step", "epoch", "kind", "name", "value"]
    assert h.config["device"] == "cpu" and h.config["precision"] == "fp32"


def test_same_seed_same_history_and_weights(eye_data, small_model):
    def run():
        m = small_model(seed=3)
        h = fit(m, eye_data, steps=6, batch_size=8, seed=11, progress=False, cosine_every=2)
        rows = [r for r in h.rows if r[2] != "step_time"]
        return rows, [p.detach().clone() for p in m.parameters()]

    (rows_a, w_a), (rows_b, w_b) = run(), run()
    assert rows_a == rows_b
    assert all(torch.equal(a, b) for a, b in zip(w_a, w_b, strict=True))


def test_epochs_and_dwa_end_epoch(eye_data, small_model):
    h = fit(small_model(), eye_data, epochs=3, batch_size=8, weighting="dwa", progress=False, cosine_every=0)
    assert h.steps == 3 * 3
    w = [v for _, v in h.series("weight", "glaucoma")]
    assert w[0] == pytest.approx(1.0)
    assert not h.series("cosine", "disc_cup|glaucoma")


class _NaNTargets(torch.utils.data.Dataset):
    def __init__(self, base):
        self.base = base
        self.region = base.region

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        item = dict(self.base[i])
        item["cdr"] = torch.full_like(item["cdr"], math.nan)
        return item


def test_nan_loss_stops_with_task_and_step(eye_data, small_model):
    with pytest.raises(TrainingDivergedError, match=r"task 'cdr'.*step 0"):
        fit(small_model(), _NaNTargets(eye_data), steps=3, batch_size=8, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": 2, "epochs": 1}, "exactly one"),
        ({}, "exactly one"),
        ({"steps": 0}, "positive integer"),
        ({"steps": 2, "lr": -1.0}, "lr must be"),
        ({"steps": 2, "weighting": "nope"}, "nope"),
        ({"steps": 2, "device": "tpu"}, "allowed values"),
        ({"steps": 2, "amp": True}, "CUDA"),
    ],
)
def test_bad_arguments_fail_before_training(eye_data, kwargs, match, small_model):
    with pytest.raises(ValueError, match=match):
        fit(small_model(), eye_data, progress=False, **kwargs)


def test_gradient_method_on_cascaded_fails_at_construction(eye_data, small_model):
    model = small_model("cascaded")
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="cascaded"):
        fit(model, eye_data, steps=2, weighting="upgrad", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_masked_losses_for_partially_labelled_batches(small_model):
    model = small_model()
    ds = PhantomDataset("eye", 4, size=64)
    batch = torch.utils.data.default_collate([ds[i] for i in range(4)])
    batch["glaucoma__present"] = torch.tensor([True, False, True, False])
    batch["cdr__present"] = torch.zeros(4, dtype=torch.bool)
    losses = compute_losses(make_losses(EYE.tasks, EYE), model(batch["image"]), batch)
    assert float(losses["cdr"].detach()) == 0.0 and losses["cdr"].requires_grad
    full = compute_losses(make_losses(EYE.tasks, EYE), model(batch["image"]), {**batch, "glaucoma__present": None})
    assert float(losses["glaucoma"].detach()) != pytest.approx(float(full["glaucoma"].detach()))
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.task_parameters("disc_cup"))


def test_cosine_schedule_falls_from_lr_to_zero(eye_data, small_model):
    h = fit(
        small_model(), eye_data, steps=8, batch_size=8, lr=4e-3, lr_schedule="cosine", progress=False, cosine_every=0
    )
    rates = [v for _, v in h.series("lr", "lr")]
    expected = [4e-3 * 0.5 * (1 + math.cos(math.pi * s / 8)) for s in range(8)]
    assert rates == pytest.approx(expected), "the rate each step used: half a cosine over the budget"
    assert rates[0] == pytest.approx(4e-3) and all(a > b for a, b in itertools.pairwise(rates))
    assert h.config["lr_schedule"] == "cosine"
    constant = fit(small_model(), eye_data, steps=3, batch_size=8, lr=4e-3, progress=False, cosine_every=0)
    assert {v for _, v in constant.series("lr", "lr")} == {4e-3}
    assert "lr_schedule" not in constant.config, "recorded only off the default"
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        fit(small_model(), eye_data, steps=2, lr_schedule="linear", progress=False)
