from __future__ import annotations

import numpy as np
import pytest
import torch

from mtdl_kit.analysis import case_table, conflict_summary, output_correlation, stage_gradient_cosines, task_affinity
from mtdl_kit.data import PhantomDataset
from mtdl_kit.history import History
from mtdl_kit.regions import get_region

EYE = get_region("eye")


def test_conflict_summary_from_history():
    h = History()
    for step, cos in enumerate([0.5, -0.2, 0.1, -0.4]):
        h.add(step, 0, "cosine", "a|b", cos)
    summary = conflict_summary(h).set_index("pair")
    assert summary.loc["a|b", "conflict_fraction"] == 0.5
    assert summary.loc["a|b", "mean_cosine"] == pytest.approx(0.0)
    assert summary.loc["a|b", "min_cosine"] == -0.4
    with pytest.raises(ValueError, match="no gradient cosines"):
        conflict_summary(History())


def test_stage_cosines_cover_every_shared_block(small_model):
    model = small_model()
    ds = PhantomDataset("eye", 4, size=64)
    batch = torch.utils.data.default_collate([ds[i] for i in range(4)])
    frame = stage_gradient_cosines(model, batch, region=EYE)
    shared_blocks = {b.name for b in model.blocks if b.owner == "shared"}
    assert set(frame["block"]) == shared_blocks
    assert len(frame) == len(shared_blocks) * 3  # three task pairs
    assert frame["cosine"].between(-1, 1).all()
    with pytest.raises(ValueError, match="no shared blocks"):
        stage_gradient_cosines(small_model("cascaded"), batch, region=EYE)


def test_task_affinity_shape_sign_and_model_untouched(small_model):
    model = small_model()
    before = [p.detach().clone() for p in model.parameters()]
    z = task_affinity(model, PhantomDataset("eye", 8, size=64), lr=1e-2, batches=1, region=EYE)
    assert list(z.index) == list(EYE.task_names) == list(z.columns)
    assert np.isfinite(z.to_numpy()).all()
    assert (np.diag(z.to_numpy()) > 0).all(), "a step on a task's own gradient lowers its own loss"
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_case_table_and_output_correlation(small_model):
    model = small_model()
    table = case_table(model, PhantomDataset("eye", 10, size=64), EYE)
    assert len(table) == 10
    for col in ("pred:cdr", "true:cdr", "pred:glaucoma", "true:glaucoma", "pred:cdr:vertical CDR"):
        assert col in table.columns
    corr = output_correlation(table, columns=["true:cdr", "true:glaucoma", "true:cdr:vertical CDR"])
    assert corr.loc["true:cdr", "true:cdr:vertical CDR"] == pytest.approx(1.0)
    assert corr.loc["true:cdr", "true:glaucoma"] > 0.5  # relatedness 1: glaucoma follows CDR
    with pytest.raises(ValueError, match="allowed are"):
        output_correlation(table, method="magic")
