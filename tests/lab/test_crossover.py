"""The transfer lab's experiment C (relatedness crossover): roles of the two rules, refusals, the quick command."""

from __future__ import annotations

import pandas as pd
import pytest

from mtdl_kit.cli import main
from mtdl_kit.lab import CROSSOVER_ARMS, QUICK, crossover_configs, default_crossover_config
from mtdl_kit.regions import get_region


@pytest.mark.parametrize(
    ("region", "a", "b"), [("eye", "disc_cup", "rnfl_defect"), ("chest", "lungs_heart", "consolidation")]
)
def test_the_two_rules_swap_which_auxiliary_task_is_related(region, a, b) -> None:
    rules = crossover_configs(default_crossover_config(region))
    assert (rules["A"].relatedness, rules["A"].auxiliary, rules["A"].unrelated) == (1.0, a, b)
    assert (rules["B"].relatedness, rules["B"].auxiliary, rules["B"].unrelated) == (0.0, b, a)
    for cfg in rules.values():
        assert cfg.arms == ("none", "related", "shuffled", "unrelated")
        assert cfg.arm_tasks("unrelated") == (cfg.unrelated, cfg.main)
        # everything but the rule is shared: the same protocol, seeds and budgets
        assert (cfg.seeds, cfg.budgets, cfg.max_steps, cfg.family) == (
            rules["A"].seeds,
            rules["A"].budgets,
            rules["A"].max_steps,
            rules["A"].family,
        )
    # the two rules never share a cached run
    assert rules["A"].key() != rules["B"].key()


def test_the_label_follows_feature_b_at_relatedness_0_and_its_mask_carries_it() -> None:
    """The mechanism the crossover needs: under rule B the related mask's area orders the label."""
    import numpy as np

    from mtdl_kit.metrics import roc_auc

    for region, b in (("eye", "rnfl_defect"), ("chest", "consolidation")):
        reg = get_region(region)
        area, labels = [], []
        for seed in range(60):
            s = reg.sample(seed, size=48, relatedness=0.0)
            area.append(float(s.targets[b].sum()))
            labels.append(int(s.targets[reg.coupling.classification]))
        v = np.asarray(area) / (max(area) + 1e-9)
        assert roc_auc(np.stack([1 - v, v], 1), np.asarray(labels)) > 0.85, region


def test_regions_without_a_second_segmentation_and_other_main_tasks_are_refused() -> None:
    with pytest.raises(ValueError, match="no segmentation target for its second feature"):
        crossover_configs(default_crossover_config("brain"))
    with pytest.raises(ValueError, match="coupled label"):
        crossover_configs(default_crossover_config("eye", main="cdr"))


@pytest.mark.slow
def test_quick_crossover_command_writes_the_interaction_and_reads_its_cache(tmp_path, capsys) -> None:
    out = tmp_path / "crossover"
    assert main(["lab", "crossover", "--quick", "--seeds", "5-6", "--out", str(out)]) == 0
    runs = pd.read_csv(out / "runs.csv")
    summary = pd.read_csv(out / "summary.csv").set_index("contrast")
    assert set(runs["rule"]) == {"A", "B"} and set(runs["seed"]) == {5, 6}
    auc = runs[(runs["task"] == "glaucoma") & (runs["metric"] == "auc")]
    assert len(auc) == 2 * len(CROSSOVER_ARMS) * 2
    assert (auc["steps_run"] <= QUICK.max_steps).all()
    per = auc.pivot_table(index="seed", columns=["rule", "arm"], values="value")
    expected = (
        0.5 * (per[("A", "related")] - per[("A", "unrelated")])
        + 0.5 * (per[("B", "related")] - per[("B", "unrelated")])
    ).mean()
    assert summary.loc["interaction", "value"] == pytest.approx(expected)
    assert summary.loc["difficulty: none B - none A", "value"] == pytest.approx(
        (per[("B", "none")] - per[("A", "none")]).mean()
    )
    row = summary.loc["interaction"]
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
    text = (out / "summary.md").read_text()
    assert "interaction" in text and "Single-task difficulty" in text and "RNFL" in text
    capsys.readouterr()
    assert main(["lab", "crossover", "--quick", "--seeds", "5-6", "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv").set_index("contrast"), summary)


def test_each_rule_takes_the_label_noise_of_the_regions_calibration(monkeypatch) -> None:
    from dataclasses import replace

    reg = get_region("chest")
    monkeypatch.setattr(type(reg), "coupling", replace(reg.coupling, anatomy_label_noise=0.2, other_label_noise=0.05))
    rules = crossover_configs(default_crossover_config("chest"))
    assert (rules["A"].label_noise, rules["B"].label_noise) == (0.2, 0.05)
    with pytest.raises(ValueError, match="label noise from the region's calibration"):
        crossover_configs(replace(default_crossover_config("chest"), label_noise=0.1))


def test_label_noise_reaches_training_and_validation_labels_but_never_the_test_labels() -> None:
    from dataclasses import replace

    from mtdl_kit.lab.transfer import _datasets

    clean = configure_small(replace(default_crossover_config("chest", quick=True), relatedness=1.0))
    noisy = replace(clean, label_noise=0.3)
    assert noisy.key() != clean.key()
    assert replace(clean, label_noise=0.0).key() == clean.key()
    for part, changed in (("train", True), ("val", True), ("test", False)):
        index = {"train": 0, "val": 1, "test": 2}[part]
        a, b = _datasets(clean, 0)[index], _datasets(noisy, 0)[index]
        flips = sum(
            int(a.sample(i).targets["cardiomegaly"]) != int(b.sample(i).targets["cardiomegaly"]) for i in range(len(a))
        )
        assert (flips > 0) == changed, (part, flips)
        if changed:  # about 30 % of the labels, and the images are the same cases
            assert 0.1 * len(a) < flips < 0.5 * len(a), (part, flips)
            assert (a.sample(0).image == b.sample(0).image).all()


def configure_small(cfg):
    from dataclasses import replace

    return replace(cfg, n_train=40, n_val=32, n_test=32, size=32)


def test_the_chance_guard_is_a_protocol_field_that_needs_its_levels_and_changes_the_key_only_when_on() -> None:
    from dataclasses import replace

    cfg = default_crossover_config("eye")
    on = replace(cfg, chance_guard=True)
    assert cfg.chance_guard is False and cfg.key() == "5d7adeeaa6"  # off: the cached eye runs stay valid
    assert on.key() != cfg.key()
    tasks = get_region("eye").select_tasks(["disc_cup", "glaucoma"])
    levels = {"disc_cup": 0.6, "glaucoma": 0.5}
    assert cfg.stopping_rule(tasks, chance=levels).chance is None, "off: the levels are not used"
    assert on.stopping_rule(tasks, chance=levels).chance == {"disc_cup/dice": 0.6, "glaucoma/auc": 0.5}
    with pytest.raises(ValueError, match=r"tasks \['glaucoma'\] have no validation chance level"):
        on.stopping_rule(tasks, chance={"disc_cup": 0.6})
    with pytest.raises(ValueError, match="chance_guard is on"):
        on.stopping_rule(tasks)
    undefined = on.stopping_rule(tasks, chance={"disc_cup": 0.6, "glaucoma": float("nan")})
    assert undefined.chance == {"disc_cup/dice": 0.6}, "an AUC undefined on the validation split is not guarded"


def test_selection_after_the_warmup_is_a_protocol_field_that_changes_the_key_only_when_on() -> None:
    from dataclasses import replace

    from mtdl_kit.lab.starved import StarvedConfig

    cfg = default_crossover_config("eye")
    assert cfg.select_after_warmup is False and cfg.key() == "5d7adeeaa6"  # the cached eye runs stay valid
    on = replace(cfg, select_after_warmup=True)
    assert on.key() != cfg.key()
    tasks = get_region("eye").select_tasks(["disc_cup", "glaucoma"])
    assert (cfg.stopping_rule(tasks).warmup, on.stopping_rule(tasks).warmup) == (0, cfg.min_evaluations)
    assert on.stopping_rule(tasks).monitor == ("disc_cup/dice", "glaucoma/auc")
    assert StarvedConfig().select_after_warmup is True
