"""services.evaluate_on_samples: what the For clinicians page scores, as plain numbers and arrays."""

from __future__ import annotations

import numpy as np

from mtdl_kit import get_region
from mtdl_kit.services import evaluate_on_samples, reliability_table


def test_evaluate_on_samples_returns_plain_metrics_and_probabilities():
    from mtdl_kit.models import build_for_region

    region = get_region("eye")
    model = build_for_region("eye", "parallel", width=4).eval()
    samples = [region.sample(i, size=64) for i in range(6)]
    out = evaluate_on_samples(model, region, samples, size=32, batch_size=4)  # two batches: 4 + 2
    assert set(out) == {"metrics", "probs"}
    assert set(out["metrics"]) == set(region.task_names)
    assert out["metrics"]["disc_cup"]["n_cases"] == 6
    probs, labels = out["probs"]["glaucoma"]
    assert set(out["probs"]) == {"glaucoma"}
    assert isinstance(probs, np.ndarray) and probs.shape == (6, 2) and labels.shape == (6,)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    assert reliability_table(probs, labels)["cases"].sum() == 6
