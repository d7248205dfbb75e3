"""The transfer lab's experiment A: the quick mode through the command line, pairing, controls, refusals."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from mtdl_kit.cli import main
from mtdl_kit.lab import ARMS, CONTRASTS, QUICK, TransferConfig, configure, parse_seeds, reading
from mtdl_kit.lab.transfer import _datasets, _LabView
from mtdl_kit.models import build_model
from mtdl_kit.regions import get_region


@pytest.mark.slow
def test_quick_mode_on_fresh_seeds_writes_runs_and_a_summary_with_intervals(tmp_path, capsys) -> None:
    out = tmp_path / "lab"
    assert main(["lab", "transfer", "--quick", "--seeds", "5-6", "--out", str(out)]) == 0
    runs = pd.read_csv(out / "runs.csv")
    summary = pd.read_csv(out / "summary.csv")
    assert set(runs["arm"]) == set(ARMS) and set(runs["seed"]) == {5, 6} and set(runs["budget"]) == {16}
    main_rows = runs[(runs["task"] == "glaucoma") & (runs["metric"] == "auc")]
    assert len(main_rows) == len(ARMS) * 2
    assert (main_rows["best_step"] <= main_rows["steps_run"]).all() and (
        main_rows["steps_run"] <= QUICK.max_steps
    ).all()
    for name, weights in CONTRASTS.items():
        row = summary[summary["contrast"] == name].iloc[0]
        # the contrast is the mean over seeds of the weighted per-seed AUCs
        per_seed = main_rows.pivot(index="seed", columns="arm", values="value")
        expected = sum(w * per_seed[a] for a, w in weights.items()).mean()
        assert row["value"] == pytest.approx(expected)
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
    text = (out / "summary.md").read_text()
    assert "related - shuffled" in text and ("better" in text or "worse" in text or "no detectable" in text)
    # a rerun reads the cache: same numbers
    capsys.readouterr()
    assert main(["lab", "transfer", "--quick", "--seeds", "5-6", "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"), summary)


def test_arms_are_paired_and_the_control_carries_no_information() -> None:
    cfg = configure(QUICK, n_train=12, budgets=(5,))
    train, val, test = _datasets(cfg, seed=3)
    eye = get_region("eye")
    tasks = eye.select_tasks([cfg.auxiliary, cfg.main])
    a = build_model(cfg.family, tasks, eye.in_channels, width=cfg.width, seed=3).state_dict()
    b = build_model(cfg.family, tasks, eye.in_channels, width=cfg.width, seed=3).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # related and shuffled start identical
    related = _LabView(train, cfg.main, 5, None, seed=3)
    shuffled = _LabView(train, cfg.main, 5, cfg.auxiliary, seed=3)
    assert [bool(related[i][f"{cfg.main}__present"]) for i in range(12)] == [True] * 5 + [False] * 7
    own = [related[i][cfg.auxiliary] for i in range(12)]
    swapped = [shuffled[i][cfg.auxiliary] for i in range(12)]
    assert not any(torch.equal(o, s) for o, s in zip(own, swapped, strict=True))  # a derangement
    # the same masks, only moved between cases: identical label statistics
    assert sorted(int(m.sum()) for m in own) == sorted(int(m.sum()) for m in swapped)
    assert torch.equal(related[0]["image"], shuffled[0]["image"])
    # validation and test splits do not depend on the seed; the training subset does
    other_train, other_val, _ = _datasets(cfg, seed=4)
    assert torch.equal(val[0]["image"], other_val[0]["image"])
    assert not torch.equal(train[0]["image"], other_train[0]["image"])
    assert test.split == "test" and val.split == "val"


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"main": "tumour"}, "not a task of eye"),
        ({"auxiliary": "glaucoma"}, "different tasks"),
        ({"budgets": (999,)}, "budgets"),
        ({"seeds": (1,)}, "seeds"),
        ({"family": "single"}, "family"),
    ],
)
def test_bad_configurations_are_refused(changes, match) -> None:
    with pytest.raises(ValueError, match=match):
        configure(TransferConfig(), **changes)


def test_seed_ranges() -> None:
    assert parse_seeds("100-103") == (100, 101, 102, 103)
    assert parse_seeds("1,2,5") == (1, 2, 5)
    for bad in ("a-b", "", "-3"):
        with pytest.raises(ValueError, match="seeds"):
            parse_seeds(bad)


def test_the_gain_per_budget_is_compared_across_budgets_paired_by_seed() -> None:
    """The shrinkage contrast: (related − none) at the smallest budget minus at each larger one, per seed."""
    from mtdl_kit.lab import run_transfer
    from mtdl_kit.lab.transfer import SHRINKAGE

    cfg = configure(
        QUICK, budgets=(4, 8), seeds=(0, 1), n_train=8, n_val=16, n_test=32, max_steps=10, eval_every=5, n_boot=100
    )
    result = run_transfer(cfg)
    rows = result.summary[result.summary["contrast"] == SHRINKAGE]
    assert rows["budget"].tolist() == [8], "one row per budget above the smallest"
    auc = result.runs_frame[(result.runs_frame["task"] == "glaucoma") & (result.runs_frame["metric"] == "auc")]
    per = auc.pivot_table(index="seed", columns=["budget", "arm"], values="value")
    expected = ((per[(4, "related")] - per[(4, "none")]) - (per[(8, "related")] - per[(8, "none")])).mean()
    row = rows.iloc[0]
    assert row["value"] == pytest.approx(expected)
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
    assert any(s.startswith("Gain (related − none) at 4 labels minus at 8") for s in reading(result))
