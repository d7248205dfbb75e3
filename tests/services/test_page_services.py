"""Unit tests of mtdl_kit.services: zoo models, predictions, clinicians, uploads (dashboard logic without Streamlit)."""

from __future__ import annotations

import numpy as np
import pytest

from mtdl_kit import get_region
from mtdl_kit.data import DataError
from mtdl_kit.inference import resize_sample
from mtdl_kit.services import (
    MODEL_SIZE,
    calibration_note,
    classification_rows,
    joint_picture,
    predict,
    read_dashboard_upload,
    regression_rows,
    reliability_table,
    resolve_model,
    tradeoff_sentences,
)
from mtdl_kit.zoo import ZooEntry


def _entry(region, family, tasks, metrics=None):
    file = f"{region}-{family}.pt" if family != "single" else f"{region}-single-{tasks[0]}.pt"
    return ZooEntry(region, family, tuple(tasks), {}, 0, "0", metrics or {}, file, "0" * 64, 1, 1.0, "cpu")


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
    p = predict(model, s)
    assert p.outputs["disc_cup"].shape == (128, 128) and p.outputs["glaucoma"].shape == (2,)
    assert p.latency_ms > 0 and p.device == "cpu"
    pic = joint_picture(region, s, p, ["glaucoma"], opacity=0.5)
    assert pic.shape == (128, 128, 3) and pic.dtype == np.uint8
    rows = classification_rows(region, s, {"parallel": p}, ["glaucoma"])
    assert rows[0]["decision"] in region.task("glaucoma").class_names
    assert regression_rows(region, s, {"parallel": p}, ["glaucoma"]) == []
    assert len(regression_rows(region, s, {"parallel": p}, ["cdr"])) == 1
    assert MODEL_SIZE == 64


def test_calibration_note_and_reliability():
    assert "0.31" in calibration_note(MANIFEST["eye-parallel"], "glaucoma")
    assert "no held-out calibration" in calibration_note(None, "glaucoma")
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.45, 0.55]])
    table = reliability_table(probs, np.array([0, 1, 1, 0]), n_bins=5)
    assert table["cases"].sum() == 4


def test_tradeoff_sentences_from_numbers():
    region = get_region("eye")
    multi = {"disc_cup": {"dice": 0.80, "dice/cup": 0.7}, "glaucoma": {"auc": 0.9}}
    single = {"disc_cup": {"dice": 0.85, "dice/cup": 0.7}, "glaucoma": None}
    lines = tradeoff_sentences(region, "parallel", multi, single, 24)
    assert any("disc_cup Dice from 0.85" in line and "to 0.80" in line and "worse" in line for line in lines)
    assert any("cup Dice" in line and "about the same" in line for line in lines)
    assert any("No single-task glaucoma model" in line for line in lines)


def test_dashboard_upload_refuses_undecodable_names():
    with pytest.raises(DataError, match="not valid UTF-8"):
        read_dashboard_upload("caf\ufffd.png", b"\x89PNG", "eye")
    with pytest.raises(DataError, match="empty"):
        read_dashboard_upload("a.png", b"", "eye")
