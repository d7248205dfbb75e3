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
    assert set(out) == {"metrics", "probs", "records"} and out["records"].n_cases == 6
    assert set(out["metrics"]) == set(region.task_names)
    assert out["metrics"]["disc_cup"]["n_cases"] == 6
    probs, labels = out["probs"]["glaucoma"]
    assert set(out["probs"]) == {"glaucoma"}
    assert isinstance(probs, np.ndarray) and probs.shape == (6, 2) and labels.shape == (6,)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    assert reliability_table(probs, labels)["cases"].sum() == 6


def test_compare_with_single_in_plain_words_with_an_interval(tmp_path, monkeypatch):
    import dataclasses

    import pytest

    from mtdl_kit.data.samples import demo_seed
    from mtdl_kit.services import compare_with_single, load_shared_model
    from mtdl_kit.zoo import read_manifest, zoo_key

    zoo = read_manifest()
    keys = [zoo_key("eye", "parallel"), *(zoo_key("eye", "single", [t]) for t in ("disc_cup", "glaucoma"))]
    if not all(k in zoo for k in keys):
        pytest.skip("the eye models of the zoo are not trained yet")
    region = get_region("eye")
    size = zoo[keys[0]].image_size
    cases = [region.sample(demo_seed(i), size=size) for i in range(32)]
    multi = evaluate_on_samples(load_shared_model(zoo[keys[0]]), region, cases, size=size)["records"]
    single = {
        "disc_cup": evaluate_on_samples(load_shared_model(zoo[keys[1]]), region, cases, size=size)["records"],
        "glaucoma": evaluate_on_samples(load_shared_model(zoo[keys[2]]), region, cases, size=size)["records"],
        "cdr": None,
    }
    rows = compare_with_single(region, "parallel", multi, single, n_boot=200)
    by_task = {r["task"]: r for r in rows}
    assert set(by_task) == {"Optic disc rim and optic cup", "Glaucoma suspect", "Vertical cup-to-disc ratio"}
    seg = by_task["Optic disc rim and optic cup"]
    assert "overlap of the outline" in seg["sentence"] and "95 % interval" in seg["sentence"]
    assert "over 32 held-out phantoms" in seg["sentence"]
    assert seg["verdict"] in (
        "the multi-task model is better here",
        "the multi-task model is worse here",
        "these 32 cases cannot tell",
    )
    assert "nothing to compare" in by_task["Vertical cup-to-disc ratio"]["sentence"]
    for r in rows:  # no internal names, no causal wording
        assert "disc_cup" not in r["sentence"] and "Adding" not in r["sentence"] and "changed" not in r["sentence"]
    # a baseline below chance is flagged: the same records with the classes swapped rank worse than chance
    tr = single["glaucoma"]["glaucoma"]
    flipped = dataclasses.replace(tr, values={**tr.values, "probs": tr.values["probs"][:, ::-1]})
    worse = dataclasses.replace(single["glaucoma"], tasks={"glaucoma": flipped})
    rows = compare_with_single(region, "parallel", multi, {**single, "glaucoma": worse}, n_boot=200)
    glaucoma = next(r for r in rows if r["task"] == "Glaucoma suspect")
    assert "worse than chance" in glaucoma["sentence"]
    assert "early stop" not in glaucoma["sentence"], "no retrained baseline is recorded for the eye"
    # a baseline retrained without the early stop (bench_zoo --unstopped) is quoted beside it
    (tmp_path / "zoo_unstopped.csv").write_text(
        "key,task,metric,shipped,unstopped,unstopped_best_step,meets_bar_unstopped\n"
        "eye-single-glaucoma,glaucoma,auc,0.412,0.934,2700,True\n"
    )
    monkeypatch.setenv("MTDL_KIT_RESULTS", str(tmp_path))
    rows = compare_with_single(region, "parallel", multi, single, n_boot=200)
    glaucoma = next(r for r in rows if r["task"] == "Glaucoma suspect")
    assert "retrained without the validation rule's early stop" in glaucoma["sentence"]
    assert "0.93 against the shipped model's 0.41" in glaucoma["sentence"]
    disc = next(r for r in rows if r["task"] == "Optic disc rim and optic cup")
    assert "early stop" not in disc["sentence"], "only the task whose baseline was retrained"
