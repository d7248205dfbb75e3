"""Experiment D: degraded masks at a chosen Dice, the classifiers' inputs, the staged cascade and its command."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtdl_kit.data import PhantomDataset
from mtdl_kit.lab import CASCADE_ARMS, QUICK_CASCADE, default_cascade_config, run_cascade
from mtdl_kit.lab.cascade import (
    HandOverView,
    contrasts,
    handover_errors,
    level_name,
    reference_masks,
    summary_reading,
)
from mtdl_kit.lab.degrade import degrade_mask, degrade_masks, mask_dice, warp_mask


def _masks(region: str, task: str, n: int = 4, size: int = 64) -> torch.Tensor:
    data = PhantomDataset(region, n, split="test", size=size, tasks=[task], cache=True)
    return reference_masks(data, task)


def test_a_zero_warp_is_the_identity_and_a_larger_one_moves_more():
    mask = _masks("eye", "disc_cup", 1)[0]
    assert torch.equal(warp_mask(mask, 0.0, seed=3), mask)
    dice = [float(mask_dice(warp_mask(mask, m, seed=3), mask, 3)[0]) for m in (0.05, 0.5, 2.0, 8.0)]
    assert dice[0] > 0.95 and dice[-1] < 0.5, dice
    assert torch.equal(warp_mask(mask, 1.0, seed=3), warp_mask(mask, 1.0, seed=3)), "deterministic given the seed"
    assert not torch.equal(warp_mask(mask, 1.0, seed=3), warp_mask(mask, 1.0, seed=4))


@pytest.mark.parametrize(("region", "task"), [("eye", "disc_cup"), ("chest", "lungs_heart")])
def test_degraded_masks_land_on_the_requested_dice(region, task):
    masks = _masks(region, task, 6)
    for level in (0.95, 0.85, 0.70):
        degraded, dice = degrade_masks(masks, 3, level, tolerance=0.015)
        assert np.all(np.abs(dice - level) <= 0.015), (level, dice)
        np.testing.assert_allclose(mask_dice(degraded, masks, 3), dice)
        assert set(degraded.unique().tolist()) <= {0, 1, 2}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.integers(0, 40), target=st.floats(0.6, 0.97))
def test_the_reported_dice_is_the_dice_of_the_returned_mask(case, target):
    data = PhantomDataset("chest", 1, split="test", size=48, tasks=["lungs_heart"], base_seed=case)
    mask = torch.as_tensor(data[0]["lungs_heart"])
    degraded, dice = degrade_mask(mask, 3, target, seed=case, tolerance=0.02)
    assert dice == pytest.approx(float(mask_dice(degraded, mask, 3)[0]))
    assert abs(dice - target) <= 0.02


def test_degrading_rejects_what_it_cannot_do():
    mask = _masks("eye", "disc_cup", 1)[0]
    with pytest.raises(ValueError, match="target_dice"):
        degrade_mask(mask, 3, 1.2, seed=0)
    with pytest.raises(ValueError, match="no foreground"):
        degrade_mask(torch.zeros_like(mask), 3, 0.8, seed=0)
    assert torch.equal(degrade_mask(mask, 3, 1.0, seed=0)[0], mask)


def test_handover_errors_measure_what_the_label_follows():
    from mtdl_kit.regions import get_region

    eye = get_region("eye")
    truth = _masks("eye", "disc_cup", 6)
    assert handover_errors(eye, truth, truth, 64) == (0.0, 0.0)
    no_cup = truth.clone()
    no_cup[no_cup == 2] = 1  # every cup drawn as rim: CDR 0, every glaucoma case becomes normal
    cdr = [eye.measure(m.numpy(), eye.spacing_mm(64))["cdr"] for m in truth]
    error, flips = handover_errors(eye, truth, no_cup, 64)
    assert error == pytest.approx(float(np.mean(cdr)))
    assert flips == pytest.approx(float(np.mean([c > 0.6 for c in cdr])))


def test_each_arm_reads_what_it_says():
    base = PhantomDataset("eye", 5, split="val", size=32, tasks=["disc_cup", "glaucoma"], cache=True)
    masks = reference_masks(base, "disc_cup")
    image = HandOverView(base, "image", "glaucoma", split="val")
    only = HandOverView(base, "mask", "glaucoma", masks, num_classes=3, split="val")
    both = HandOverView(base, "image + mask", "glaucoma", masks, num_classes=3, split="val")
    item = base[2]
    assert torch.equal(image[2]["image"], item["image"])
    assert only[2]["image"].shape == (2, 32, 32)
    assert torch.equal(only[2]["image"][0] == 1, masks[2] == 1) and torch.equal(only[2]["image"][1] == 1, masks[2] == 2)
    assert torch.equal(both[2]["image"], torch.cat([item["image"], only[2]["image"]]))
    assert {v[2]["case_id"] for v in (image, only, both)} == {"val-2"}, "the same case id whatever the arm reads"
    assert int(both[2]["glaucoma"]) == int(item["glaucoma"]) and "disc_cup" not in both[2]
    with pytest.raises(ValueError, match="one mask per case"):
        HandOverView(base, "mask", "glaucoma", masks[:3], num_classes=3)
    with pytest.raises(ValueError, match="reads must be"):
        HandOverView(base, "pixels", "glaucoma")


def test_configurations_are_checked_before_any_training():
    assert default_cascade_config("chest").main == "cardiomegaly"
    assert default_cascade_config("chest").source == "lungs_heart"
    with pytest.raises(ValueError, match="source_max_steps"):
        default_cascade_config("eye", source_max_steps=100)
    with pytest.raises(ValueError, match="dice_levels"):
        default_cascade_config("eye", dice_levels=(0.9, 1.0))
    with pytest.raises(ValueError, match="budgets"):
        default_cascade_config("eye", budgets=(1000,))
    assert QUICK_CASCADE.key("source") != QUICK_CASCADE.key("classifier")
    # the degraded levels change neither network: adding a level reuses every trained network
    other = replace(QUICK_CASCADE, dice_levels=(0.85, 0.7))
    assert other.key("source") == QUICK_CASCADE.key("source")
    assert other.key("classifier") == QUICK_CASCADE.key("classifier")
    assert other.key("degraded") != QUICK_CASCADE.key("degraded")


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cascade-cache")
    return run_cascade(QUICK_CASCADE, cache=cache), cache


def test_the_staged_cascade_reports_every_arm_input_and_contrast(quick_result):
    result, _ = quick_result
    cfg = result.config
    frame = result.runs_frame
    assert set(frame["stage"]) == {"source", *CASCADE_ARMS}
    main = frame[frame["task"] == cfg.main]
    assert set(main[main["stage"] == "direct"]["input"]) == {"image"}
    for arm in ("mask_only", "image_mask"):
        assert set(main[main["stage"] == arm]["input"]) == {"predicted", "true", level_name(0.85)}
    summary = result.summary.set_index(["budget", "contrast"])
    for name in contrasts(cfg):
        row = summary.loc[(16, name)]
        assert row["ci_low"] <= row["value"] <= row["ci_high"], name
    # the Dice of the masks handed over: the reference is perfect, the predicted masks are the source network's
    assert summary.loc[(0, "mean dice: true"), "value"] == 1.0
    source_dice = frame[(frame["stage"] == "source") & (frame["metric"] == "dice")]["value"].mean()
    assert summary.loc[(0, "mean dice: predicted"), "value"] == pytest.approx(source_dice, abs=1e-9)
    assert abs(summary.loc[(0, "mean dice: dice_0.85"), "value"] - 0.85) <= cfg.dice_tolerance
    assert summary.loc[(0, "measurement error: true"), "value"] == 0.0
    assert summary.loc[(0, "rule flips: true"), "value"] == 0.0
    assert summary.loc[(0, "measurement error: dice_0.85"), "metric"] == "cdr_mae"
    # a contrast is the mean over seeds of the per-seed differences of the arms' metrics
    per_seed = main[main["metric"] == "auc"].pivot_table(index="seed", columns=["stage", "input"], values="value")
    direct = per_seed[("direct", "image")]
    expected = (per_seed[("mask_only", "predicted")] - direct).mean()
    assert summary.loc[(16, "mask_only@predicted - direct"), "value"] == pytest.approx(expected)


def test_a_rerun_reads_the_verified_networks_from_the_cache(quick_result):
    result, cache = quick_result
    again = run_cascade(QUICK_CASCADE, cache=cache)
    pd.testing.assert_frame_equal(again.summary, result.summary)
    cols = ["stage", "seed", "input", "metric", "value", "best_step", "steps_run"]
    pd.testing.assert_frame_equal(again.runs_frame[cols], result.runs_frame[cols])
    # a tampered network is refused, not loaded
    record = sorted(cache.glob("*-mask_only-b16-s0.json"))[0]
    checkpoint = record.with_suffix(".pt")
    checkpoint.write_bytes(checkpoint.read_bytes() + b"x")
    with pytest.raises(ValueError, match="sha256"):
        run_cascade(QUICK_CASCADE, cache=cache)
    assert "sha256" in json.loads(record.read_text())


def test_lab_cascade_command_reruns_experiment_d_on_chosen_seeds(tmp_path, capsys):
    from mtdl_kit.cli import main

    out = tmp_path / "d"
    assert main(["lab", "cascade", "--quick", "--region", "chest", "--seeds", "5-6", "--out", str(out)]) == 0
    runs = pd.read_csv(out / "runs.csv")
    assert set(runs["seed"]) == {5, 6} and set(runs["stage"]) == {"source", *CASCADE_ARMS}
    summary = pd.read_csv(out / "summary.csv").set_index("contrast")
    row = summary.loc["image_mask@predicted - direct"]
    printed = capsys.readouterr().out
    assert f"image + mask {row['value']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]" in printed
    assert "lungs_heart -> cardiomegaly" in (out / "summary.md").read_text()
    # the lessons read the committed table: the same sentences from the CSV alone
    for sentence in summary_reading(pd.read_csv(out / "summary.csv")):
        assert sentence in printed
    assert main(["lab", "cascade", "--quick", "--budget", "many", "--out", str(tmp_path / "x")]) == 2
    assert "--budget must be label counts" in capsys.readouterr().err
