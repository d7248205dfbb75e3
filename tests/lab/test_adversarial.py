"""Experiment B's building blocks: two cameras coupled to the disease, the information-free control, one run per arm."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from mtdl_kit.data import PhantomDataset
from mtdl_kit.lab.adversarial import (
    ADVERSARIAL_ARMS,
    CAMERA_GAINS,
    PATTERN_AMPLITUDE,
    AdversarialConfig,
    TwoCameraView,
    camera_of,
    ganin_ramp,
    run_adversarial_arm,
)

TINY = AdversarialConfig(
    n_train=24,
    n_val=16,
    n_test=24,
    size=32,
    width=4,
    max_steps=6,
    eval_every=3,
    patience=2,
    min_evaluations=1,
    batch_size=8,
    seeds=(0, 1),
)


@pytest.mark.parametrize("agreement", [0.5, 0.9])
def test_the_camera_follows_the_label_as_often_as_asked(agreement):
    labels = np.arange(4000) % 2
    cameras = np.array([camera_of(seed, int(y), agreement) for seed, y in enumerate(labels)])
    assert abs(float(np.mean(cameras == labels)) - agreement) < 0.03
    assert abs(float(np.mean(cameras)) - 0.5) < 0.03, "both cameras equally common when the label is balanced"
    assert [camera_of(7, 1, agreement) for _ in range(3)] == [camera_of(7, 1, agreement)] * 3, "deterministic"


def test_the_view_applies_each_cameras_colour_balance_and_adds_the_target():
    base = PhantomDataset("eye", 12, split="val", size=32, tasks=["glaucoma"], cache=True)
    view = TwoCameraView(base, "glaucoma", 0.9)
    for i in range(len(base)):
        item, raw = view[i], base[i]
        camera = int(item["camera"])
        assert camera == int(view.cameras[i])
        expected = (raw["image"] * torch.tensor(CAMERA_GAINS[camera])[:, None, None]).clamp(0, 1)
        assert torch.allclose(item["image"], expected)
        assert int(item["glaucoma"]) == int(raw["glaucoma"]), "the main label is the phantom's"
        assert item["case_id"] == f"val-{base.seed_of(i)}", "a case is its phantom, whichever camera took it"


def test_the_shuffled_control_keeps_the_label_statistics_but_not_the_case():
    base = PhantomDataset("eye", 40, split="val", size=32, tasks=["glaucoma"], cache=True)
    true = TwoCameraView(base, "glaucoma", 0.9)
    shuffled = TwoCameraView(base, "glaucoma", 0.9, shuffle_seed=3)
    assert sorted(shuffled.targets.tolist()) == sorted(true.targets.tolist())
    assert np.array_equal(shuffled.cameras, true.cameras), "the images keep their camera"
    assert all(torch.equal(shuffled[i]["image"], true[i]["image"]) for i in range(3))


def test_config_is_checked_and_keyed():
    for bad, words in (
        ({"region": "brain"}, "RGB region"),
        ({"main": "disc_cup"}, "two-class classification"),
        ({"site_agreement": 0.3}, "site_agreement"),
        ({"strength": 0.0}, "strength"),
        ({"strength_schedule": "linear"}, "strength_schedule"),
        ({"camera_signature": "blur"}, "camera_signature"),
        ({"objective": "flip"}, "objective"),
        ({"seeds": (1,)}, "seeds"),
    ):
        with pytest.raises(ValueError, match=words):
            AdversarialConfig(**bad).validate()
    base = AdversarialConfig()
    assert base.key() == AdversarialConfig(seeds=(5, 6)).key(), "seeds are not part of the key"
    assert base.key() != AdversarialConfig(strength=0.5).key() != AdversarialConfig(site_agreement=0.8).key()
    assert base.key() != AdversarialConfig(strength_schedule="ganin").key()
    assert base.key() != AdversarialConfig(camera_signature="pattern").key()
    assert base.key() != AdversarialConfig(objective="confusion").key()
    assert base.key() == "3b13e3b2ba", "fields added later, at their first value, keep the earlier runs' cache"
    assert base.arm_agreement("adversary") == 0.9 and base.arm_agreement("none_independent") == 0.5
    with pytest.raises(ValueError, match="Unknown arm"):
        base.arm_agreement("related")


@pytest.mark.parametrize("arm", ADVERSARIAL_ARMS)
def test_every_arm_trains_and_is_scored(arm):
    run = run_adversarial_arm(TINY, arm, 0)
    assert run.arm == arm and run.steps_run >= 3 and run.seconds > 0
    expected = {"glaucoma"} if arm.startswith("none") else {"glaucoma", "camera"}
    assert set(run.metrics) == expected and "auc" in run.metrics["glaucoma"]
    assert run.records is not None


def test_run_adversarial_reports_the_contrasts_of_the_arms_it_ran_and_resumes(tmp_path, monkeypatch):
    from mtdl_kit.lab import adversarial

    arms = ("none", "adversary", "shuffled")
    result = adversarial.run_adversarial(TINY, arms=arms, cache=tmp_path)
    assert len(result.runs) == 2 * len(arms) and set(result.runs_frame["arm"]) == set(arms)
    rows = result.summary.set_index("contrast")
    assert {"mean: none", "adversary - none", "adversary - shuffled", "shuffled - none"} <= set(rows.index)
    assert "coupling interaction" not in rows.index, "a contrast needs every one of its arms"
    low, high = rows.loc["adversary - none", ["ci_low", "ci_high"]]
    assert low <= rows.loc["adversary - none", "value"] <= high

    def no_training(*_a, **_k):
        raise AssertionError("a cached run was trained again")

    monkeypatch.setattr(adversarial, "run_adversarial_arm", no_training)
    again = adversarial.run_adversarial(TINY, arms=arms, cache=tmp_path)
    assert again.summary["value"].tolist() == pytest.approx(result.summary["value"].tolist(), nan_ok=True)
    with pytest.raises(ValueError, match="arms must be among"):
        adversarial.run_adversarial(TINY, arms=("related",))


def test_ganins_ramp_starts_at_zero_and_approaches_the_full_strength():
    values = [ganin_ramp(p / 10) for p in range(11)]
    assert values[0] == 0.0 and values[-1] == pytest.approx(1.0, abs=1e-4)
    assert all(a < b for a, b in itertools.pairwise(values))
    assert ganin_ramp(0.5) == pytest.approx(2 / (1 + np.exp(-5)) - 1)


def test_the_scheduled_adversary_trains_and_is_scored():
    from dataclasses import replace

    cfg = replace(TINY, strength_schedule="ganin", strength=2.0, max_steps=4, eval_every=2)
    run = run_adversarial_arm(cfg, "adversary", 1)
    assert run.steps_run >= 2 and set(run.metrics) == {"glaucoma", "camera"}


def test_the_pattern_signature_marks_only_camera_b_with_a_faint_checkerboard():
    base = PhantomDataset("eye", 16, split="val", size=32, tasks=["glaucoma"], cache=True)
    view = TwoCameraView(base, "glaucoma", 0.5, signature="pattern")
    assert set(view.cameras.tolist()) == {0, 1}
    for i in range(len(base)):
        diff = view[i]["image"] - base[i]["image"]
        if view.cameras[i] == 0:
            assert torch.equal(diff, torch.zeros_like(diff)), "camera A shows the phantom as drawn"
        else:
            assert float(diff.abs().max()) <= PATTERN_AMPLITUDE + 1e-6
            inside = (base[i]["image"] > 0.05) & (base[i]["image"] < 0.95)  # where clamping cannot bite
            yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
            checker = PATTERN_AMPLITUDE * (1 - 2 * ((yy // 2 + xx // 2) % 2)).float()  # sign flips every 2 px
            assert inside.any() and torch.allclose(diff[inside], checker.expand_as(diff)[inside], atol=1e-6)
    with pytest.raises(ValueError, match="signature"):
        TwoCameraView(base, "glaucoma", 0.5, signature="blur")


def test_the_confusion_adversary_trains_records_its_validation_curves_and_keeps_them_in_the_cache(tmp_path):
    from dataclasses import replace

    from mtdl_kit.lab import adversarial

    cfg = replace(TINY, objective="confusion", strength=3.0, max_steps=4, eval_every=2)
    run = run_adversarial_arm(cfg, "adversary", 1)
    assert run.steps_run >= 2 and set(run.metrics) == {"glaucoma", "camera"}
    assert set(run.validation) == {"glaucoma/auc", "camera/auc"}
    assert [step for step, _ in run.validation["camera/auc"]][:2] == [2.0, 4.0] or run.steps_run < 4
    result = adversarial.run_adversarial(cfg, arms=("none", "adversary"), cache=tmp_path)
    again = adversarial.run_adversarial(cfg, arms=("none", "adversary"), cache=tmp_path)
    assert [r.validation for r in again.runs] == [r.validation for r in result.runs]


def test_lab_adversarial_command_reruns_experiment_b_on_chosen_seeds(tmp_path, capsys):
    import pandas as pd

    from mtdl_kit.cli import main
    from mtdl_kit.lab import default_adversarial_config

    assert default_adversarial_config().objective == "confusion" and default_adversarial_config().n_train == 1024
    out = tmp_path / "b"
    assert main(["lab", "adversarial", "--quick", "--seeds", "5-6", "--out", str(out)]) == 0
    runs = pd.read_csv(out / "runs.csv")
    assert set(runs["seed"]) == {5, 6} and set(runs["arm"]) == set(ADVERSARIAL_ARMS)
    summary = pd.read_csv(out / "summary.csv").set_index("contrast")
    assert {"adversary - none", "adversary - shuffled", "coupling interaction"} <= set(summary.index)
    printed = capsys.readouterr().out
    row = summary.loc["adversary - none"]
    assert f"adversary - none: {row['value']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]" in printed
    assert "camera head on the test set" in printed and "confusion" in (out / "summary.md").read_text()
    # a bad choice fails clearly, before any training
    assert main(["lab", "adversarial", "--quick", "--strength", "-1", "--out", str(tmp_path / "x")]) == 2
    assert "strength must be a positive" in capsys.readouterr().err
