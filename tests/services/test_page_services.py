"""Unit tests of mtdl_kit.services: zoo models, predictions, clinicians, uploads (dashboard logic without Streamlit)."""

from __future__ import annotations

import numpy as np
import pytest

from mtdl_kit import get_region
from mtdl_kit.data import DataError
from mtdl_kit.inference import resize_sample
from mtdl_kit.services import (
    calibration_note,
    classification_rows,
    joint_picture,
    predict,
    read_dashboard_upload,
    regression_rows,
    reliability_table,
    resolve_model,
    verdict,
)
from mtdl_kit.zoo import ZooEntry


def _entry(region, family, tasks, metrics=None, size=64):
    file = f"{region}-{family}.pt" if family != "single" else f"{region}-single-{tasks[0]}.pt"
    config = {"size": size}
    return ZooEntry(region, family, tuple(tasks), config, 0, "0", metrics or {}, file, "0" * 64, 1, 1.0, "cpu")


EYE = ("disc_cup", "glaucoma", "cdr")
MANIFEST = {
    e.key: e
    for e in (
        _entry("eye", "parallel", EYE, {"glaucoma": {"ece": 0.31, "n_cases": 128.0}}),
        _entry("eye", "single", ("glaucoma",)),
    )
}


def test_resolve_model_exact_hidden_single_missing():
    full = resolve_model("eye", "parallel", list(EYE), MANIFEST)
    assert full.how == "exact" and full.key == "eye-parallel" and not full.hidden
    hidden = resolve_model("eye", "parallel", ["cdr", "disc_cup"], MANIFEST)
    assert hidden.how == "hidden" and hidden.hidden == ("glaucoma",) and hidden.shown == ("disc_cup", "cdr")
    assert "hidden" in hidden.note
    single = resolve_model("eye", "parallel", ["glaucoma"], MANIFEST)
    assert single.key == "eye-single-glaucoma" and "single-task" in single.note
    missing = resolve_model("eye", "hybrid", list(EYE), MANIFEST)
    assert missing.key is None and "not in the zoo yet" in missing.note and "--family hybrid" in missing.note
    with pytest.raises(ValueError):
        resolve_model("eye", "parallel", [], MANIFEST)


def test_region_model_size_comes_from_the_manifest_one_size_per_region():
    from mtdl_kit.services import region_model_size
    from mtdl_kit.zoo import LAB_RECIPE, read_manifest

    assert region_model_size("eye", MANIFEST) == 64
    big = {
        e.key: e
        for e in (_entry("brain", "parallel", ("tumour",), size=128), _entry("brain", "single", ("tumour",), size=128))
    }
    assert region_model_size("brain", {**MANIFEST, **big}) == 128
    assert region_model_size("chest", MANIFEST) == LAB_RECIPE.size_for("chest")  # no chest model: the recipe's
    mixed = {**MANIFEST, "eye-hybrid": _entry("eye", "hybrid", EYE, size=128)}
    with pytest.raises(
        ValueError, match=r"different image sizes \(64 px: eye-parallel, eye-single-glaucoma; 128 px: eye-hybrid\)"
    ):
        region_model_size("eye", mixed)
    bundled = read_manifest()
    for region in {e.region for e in bundled.values()}:  # the shipped zoo: one size per region, the recipe's
        assert region_model_size(region, bundled) == LAB_RECIPE.size_for(region)


def test_resize_sample_keeps_labels_consistent():
    s = get_region("musculoskeletal").sample(3, size=128)
    small = resize_sample(s, 64)
    assert small.image.shape[-2:] == (64, 64)
    assert small.targets["bones"].shape == (64, 64) and small.targets["bones"].dtype == s.targets["bones"].dtype
    assert set(np.unique(small.targets["bones"])) <= set(np.unique(s.targets["bones"]))
    np.testing.assert_allclose(small.targets["landmarks"], (s.targets["landmarks"] + 0.5) / 2 - 0.5)
    np.testing.assert_array_equal(small.targets["jsw"], s.targets["jsw"])
    assert small.spacing_mm == pytest.approx(2 * s.spacing_mm)
    assert resize_sample(small, 64) is small


def test_predict_and_joint_outputs():
    from mtdl_kit.models import build_for_region

    region = get_region("eye")
    model = build_for_region("eye", "parallel", width=4).eval()
    s = region.sample(0, size=128)
    p = predict(model, s, size=64)
    assert p.outputs["disc_cup"].shape == (128, 128) and p.outputs["glaucoma"].shape == (2,)
    assert p.latency_ms > 0 and p.device == "cpu"
    pic = joint_picture(region, s, p, ["glaucoma"], opacity=0.5)
    assert pic.shape == (128, 128, 3) and pic.dtype == np.uint8
    rows = classification_rows(region, s, {"parallel": p}, ["glaucoma"])
    assert rows[0]["decision"] in region.task("glaucoma").class_names
    assert regression_rows(region, s, {"parallel": p}, ["glaucoma"]) == []
    assert len(regression_rows(region, s, {"parallel": p}, ["cdr"])) == 1


def test_calibration_note_and_reliability():
    assert "0.31" in calibration_note(MANIFEST["eye-parallel"], "glaucoma")
    assert "no held-out calibration" in calibration_note(None, "glaucoma")
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.45, 0.55]])
    table = reliability_table(probs, np.array([0, 1, 1, 0]), n_bins=5)
    assert table["cases"].sum() == 4


def test_one_rule_for_better_same_worse_the_interval():
    from mtdl_kit.evaluation.delta import Estimate

    assert verdict(Estimate(0.05, 0.01, 0.09), 128) == "the multi-task model is better here"
    assert verdict(Estimate(-0.05, -0.09, -0.01), 128) == "the multi-task model is worse here"
    # a large point estimate with an interval across 0 is not "better": the cases cannot tell
    assert verdict(Estimate(0.20, -0.01, 0.41), 24) == "these 24 cases cannot tell"
    assert verdict(Estimate(0.0, float("nan"), float("nan")), 24) == "these 24 cases cannot tell"


def test_the_page_words_the_library_verdict_it_has_no_rule_of_its_own(monkeypatch):
    """Issue 13: one verdict rule. The page's words follow mtdl_kit.verdicts.verdict on every interval."""
    from mtdl_kit.evaluation.delta import Estimate
    from mtdl_kit.services import clinicians
    from mtdl_kit.verdicts import BETTER, NULL, WORSE
    from mtdl_kit.verdicts import verdict as library_verdict

    words = {BETTER: "is better here", WORSE: "is worse here", NULL: "these 10 cases cannot tell"}
    for low, high in [(0.01, 0.2), (-0.2, -0.01), (-0.1, 0.1), (0.0, 0.3), (-0.3, 0.0), (0.0, 0.0)]:
        want = library_verdict((low + high) / 2, low, high, unit="").word
        assert words[want] in verdict(Estimate((low + high) / 2, low, high), 10), (low, high)
    # the page delegates: a library rule that says "worse" everywhere makes the page say "worse"
    monkeypatch.setattr(
        clinicians, "library_verdict", lambda value, low, high, **kw: library_verdict(-1.0, -2.0, -1.0, **kw)
    )
    assert verdict(Estimate(0.05, 0.01, 0.09), 128) == "the multi-task model is worse here"


def test_reliability_table_leaves_empty_bins_out():
    probs = np.array([[0.9, 0.1], [0.95, 0.05], [0.15, 0.85]])
    table = reliability_table(probs, np.array([0, 1, 1]), n_bins=5)
    assert list(table["bin"]) == ["0.8–1.0"] and not table.isna().any().any()
    assert table["cases"].sum() == 3 and table["confidence"].iloc[0] == round((0.9 + 0.95 + 0.85) / 3, 2)


def test_dashboard_upload_refuses_undecodable_names():
    with pytest.raises(DataError, match="not valid UTF-8"):
        read_dashboard_upload("caf\ufffd.png", b"\x89PNG", "eye")
    with pytest.raises(DataError, match="empty"):
        read_dashboard_upload("a.png", b"", "eye")


def test_calibration_summary_says_the_reading_once():
    from mtdl_kit.services import calibration_summary

    entries = {"parallel": MANIFEST["eye-parallel"], "hybrid": MANIFEST["eye-parallel"], "missing": None}
    text = calibration_summary(entries, "glaucoma")
    assert "parallel 0.31, hybrid 0.31" in text and text.count("ranking, not as a risk") == 1
    assert "no held-out calibration" in calibration_summary({"x": None}, "glaucoma")


def test_output_tables_round_numbers_to_their_precision():
    from mtdl_kit.services import Prediction

    region = get_region("brain")
    s = region.sample(0, size=64)
    pred = Prediction(
        {"grade": np.array([1e-9, 1 - 1e-9]), "tumour_area": np.array([286.5479, 100.26, 42.7])},
        latency_ms=1.0,
        device="cpu",
    )
    cls = classification_rows(region, s, {"parallel": pred}, ["grade"])[0]
    assert cls["P(LGG)"] == 0.0 and cls["P(HGG)"] == 1.0
    reg = regression_rows(region, s, {"parallel": pred}, ["tumour_area"])
    assert reg[0]["predicted"] == 287.0 and reg[0]["quantity"].endswith("(mm²)")
    assert reg[0]["error"] == round(reg[0]["predicted"] - reg[0]["truth"], 0)
