"""evaluate(): the one way to score a model, whatever form the test set comes in."""

from __future__ import annotations

import math

import pytest
import torch

from mtdl_kit.data import PhantomDataset
from mtdl_kit.evaluation import Evaluation, collect_predictions, compute_metrics, evaluate
from mtdl_kit.models import build_model
from mtdl_kit.regions import get_region

EYE = get_region("eye")


@pytest.fixture(scope="module")
def model_and_data():
    model = build_model("parallel", EYE.tasks, EYE.in_channels, width=4, seed=0)
    data = PhantomDataset("eye", 6, split="test", size=32)
    return model, data


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for task in a:
        assert a[task].keys() == b[task].keys()
        for name, value in a[task].items():
            other = b[task][name]
            assert (math.isnan(value) and math.isnan(other)) or value == pytest.approx(other), (task, name)


def test_every_form_of_test_set_gives_the_same_metrics(model_and_data) -> None:
    model, data = model_and_data
    spacing = EYE.spacing_mm(32)
    reference = collect_predictions(
        model, torch.utils.data.DataLoader(data, batch_size=4), model.tasks, spacing_mm=spacing
    )
    expected = {t.name: compute_metrics(t, reference) for t in model.tasks}
    cases = [data[i] for i in range(len(data))]
    batches = list(torch.utils.data.DataLoader(data, batch_size=4))
    for form in (data, torch.utils.data.DataLoader(data, batch_size=3), cases, batches):
        got = evaluate(model, form, region=EYE)
        assert isinstance(got, Evaluation)
        _same(got.metrics, expected)
        assert got.records.case_ids == reference.case_ids
    # the dataset knows its region: the spacing (HD95 in mm) follows without being told
    _same(evaluate(model, data).metrics, expected)


def test_subset_of_tasks_and_errors(model_and_data) -> None:
    model, data = model_and_data
    got = evaluate(model, data, tasks=EYE.select_tasks(["glaucoma"]))
    assert list(got.metrics) == ["glaucoma"]
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(model, data, batch_size=0)
    with pytest.raises(ValueError, match="tasks="):
        evaluate(lambda x: {}, data)
