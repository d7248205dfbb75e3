"""Training edge cases of issue 15: UW's log-variances and weight decay, NaN gradients of finite losses,
a trunk frozen during training, and strict JSON in the run folder."""

from __future__ import annotations

import json
import math

import pytest
import torch

import mtdl_kit.train as train_module
from mtdl_kit.experiments import RunConfig, train_run
from mtdl_kit.history import History, to_json
from mtdl_kit.train import TrainingDivergedError, fit


def _strict(text: str) -> object:
    """Parse JSON as RFC 8259 does: the NaN / Infinity tokens Python writes by default are errors."""

    def refuse(token: str) -> object:
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def test_weighting_parameters_are_not_decayed(eye_data, small_model, monkeypatch):
    """UW's log-variances sit in a parameter group with weight_decay=0; the network keeps the decay asked for."""
    groups = []
    real_adam = torch.optim.Adam

    class SpyAdam(real_adam):
        def __init__(self, params, **kwargs):
            super().__init__(params, **kwargs)
            groups.extend(self.param_groups)

    monkeypatch.setattr(torch.optim, "Adam", SpyAdam)
    model = small_model()
    fit(model, eye_data, weighting="uw", steps=2, batch_size=8, weight_decay=0.5, progress=False, cosine_every=0)
    assert len(groups) == 2
    net_group, uw_group = groups
    assert net_group["weight_decay"] == 0.5 and uw_group["weight_decay"] == 0.0
    assert [tuple(p.shape) for p in uw_group["params"]] == [(len(model.tasks),)]  # the log-variances only
    assert {id(p) for p in net_group["params"]} == {id(p) for p in model.parameters() if p.requires_grad}


def test_a_nan_gradient_of_a_finite_loss_stops_fit_naming_task_and_step(eye_data, small_model, monkeypatch):
    real = train_module.compute_losses
    calls = []

    def poisoned(loss_fns, outputs, batch):
        losses = real(loss_fns, outputs, batch)
        calls.append(1)
        if len(calls) == 3:  # step 2: the value is unchanged, its gradient is NaN
            out = outputs["cdr"]
            losses["cdr"] = losses["cdr"] + torch.sqrt((out - out.detach()).abs().sum())
        return losses

    monkeypatch.setattr(train_module, "compute_losses", poisoned)
    model = small_model()
    with pytest.raises(TrainingDivergedError, match=r"At step 2 \(epoch 0\): ew: non-finite gradient .*\['cdr'\]"):
        fit(model, eye_data, steps=4, batch_size=8, progress=False, cosine_every=0)
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())  # no NaN reached the weights


@pytest.mark.parametrize("weighting", ["ew", "upgrad"])
def test_freezing_the_trunk_during_fit(eye_data, small_model, weighting):
    """Gradient cosines skip frozen parameters; a gradient method then says what to do instead of crashing."""
    model = small_model()
    frozen = {}

    def freeze_after_first_step(history, event):
        if event == "step" and not frozen:
            for name, p in model.named_parameters():
                if any(p is q for q in model.shared_parameters()):
                    p.requires_grad_(False)
                    frozen[name] = p.detach().clone()

    options = {"weighting": weighting, "steps": 3, "batch_size": 8, "progress": False, "cosine_every": 1}
    if weighting == "upgrad":
        with pytest.raises(ValueError, match=r"every shared parameter .* is frozen now .*Unfreeze"):
            fit(model, eye_data, callbacks=[freeze_after_first_step], **options)
        return
    history = fit(model, eye_data, callbacks=[freeze_after_first_step], **options)
    assert history.steps == 3 and history.series("cosine", history.names("cosine")[0])[-1][0] == 0
    for name, p in model.named_parameters():
        if name in frozen:
            torch.testing.assert_close(p.detach(), frozen[name])


def test_metrics_json_holds_null_for_an_undefined_metric(tmp_path):
    """One test case: the AUC is undefined. metrics.json says null (RFC 8259), never the NaN token."""
    cfg = RunConfig(region="eye", steps=1, batch_size=2, n_train=4, n_test=1, size=32, width=4)
    result = train_run(cfg, out=tmp_path / "run", progress=False)
    assert math.isnan(result.metrics["glaucoma"]["auc"])
    metrics = _strict((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["glaucoma"]["auc"] is None and metrics["cdr"]["mae"] == pytest.approx(result.metrics["cdr"]["mae"])
    for name in ("config.json", "history.json"):
        _strict((tmp_path / "run" / name).read_text())


def test_history_writes_nan_as_null_and_reads_it_back(tmp_path):
    h = History(config={"lr": 1e-3})
    h.add(0, 0, "weight", "a", math.nan)
    h.add(0, 0, "cosine", "a|b", math.inf)
    h.add(0, 0, "loss", "a", 0.5)
    h.save(tmp_path / "h.json")
    assert _strict((tmp_path / "h.json").read_text())["rows"][0][4] is None
    again = History.load(tmp_path / "h.json")
    assert math.isnan(again.rows[0][4]) and math.isnan(again.rows[1][4]) and again.rows[2] == (0, 0, "loss", "a", 0.5)
    assert to_json({"a": [1.0, float("nan")], "b": (float("-inf"), 2)}) == '{"a": [1.0, null], "b": [null, 2]}'
