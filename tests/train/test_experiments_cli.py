from __future__ import annotations

import json

import pytest

from mtdl_kit import cli
from mtdl_kit.experiments import RunConfig, compare, train_run


def test_train_run_writes_a_run_folder(tmp_path):
    cfg = RunConfig(region="eye", family="hybrid", steps=4, batch_size=4, n_train=8, n_test=6, size=64, width=4)
    result = train_run(cfg, out=tmp_path / "run", progress=False)
    for name in ("config.json", "history.json", "metrics.json", "model.pt", "model.pt.sha256", "report.html"):
        assert (tmp_path / "run" / name).exists(), name
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics) == {"disc_cup", "glaucoma", "cdr"}
    assert "not for clinical use" in (tmp_path / "run" / "report.html").read_text()
    assert result.records is not None


def test_run_config_validation():
    with pytest.raises(ValueError, match="allowed families"):
        RunConfig(region="eye", family="star").validate()
    with pytest.raises(ValueError, match="allowed tasks"):
        RunConfig(region="eye", tasks=("nope",)).validate()
    with pytest.raises(ValueError, match="steps"):
        RunConfig(region="eye", steps=0).validate()


def test_train_run_with_validation_stopping_follows_the_lab_rule():
    """n_val > 0: steps is a cap, every task's primary metric is validated, the best evaluation's weights are kept."""
    cfg = RunConfig(
        region="eye", tasks=("disc_cup", "glaucoma"), steps=40, batch_size=4, n_train=8, n_test=6, size=32, width=4,
        n_val=8, eval_every=5, patience=1, min_evaluations=2, device="cpu",
    )  # fmt: skip
    result = train_run(cfg, progress=False)
    config = result.history.config
    assert config["steps_run"] <= 40 and 10 <= config["best_step"] <= config["steps_run"]
    assert config["best_step"] % 5 == 0  # an evaluation step, after the warm-up (2 evaluations)
    assert {"disc_cup/dice", "glaucoma/auc"} <= set(result.history.names("metric"))
    fixed = train_run(RunConfig(**{**cfg.__dict__, "n_val": 0, "steps": 7}), progress=False)
    assert "best_step" not in fixed.history.config  # n_val = 0: exactly `steps` steps, no selection


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"n_val": -1}, "n_val must be an integer >= 0"),
        ({"n_val": 8, "eval_every": 0}, "eval_every must be a positive integer"),
        ({"n_val": 8, "patience": 0}, "patience must be a positive integer"),
        ({"n_val": 8, "min_evaluations": -1}, "min_evaluations must be an integer >= 0"),
        ({"n_val": 8, "data_dir": "."}, "validation split"),
    ],
)
def test_validation_stopping_fields_fail_fast(fields, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(region="eye", **fields).validate()


def test_compare_tiny_gives_delta_m_with_ci():
    base = RunConfig(
        region="eye", tasks=("disc_cup", "glaucoma"), steps=2, batch_size=4, n_train=8, n_test=8, size=64, width=4
    )
    result = compare(
        base, families=("parallel",), weightings=("ew",), seeds=(0, 1), n_boot=50, min_seeds=2, progress=False
    )
    row = result.table.iloc[0]
    assert row["family"] == "parallel" and row["ci_low"] <= row["delta_m_%"] <= row["ci_high"]
    assert "| family |" in result.to_markdown()
    with pytest.raises(ValueError, match="at least two tasks"):
        compare(RunConfig(region="eye", tasks=("glaucoma",)), progress=False)


def test_cli_train_and_compare(tmp_path, capsys):
    common = [
        "--region",
        "eye",
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--n-train",
        "8",
        "--n-test",
        "6",
        "--width",
        "4",
        "--quiet",
    ]
    assert (
        cli.main(
            [
                "train",
                *common,
                "--family",
                "parallel",
                "--tasks",
                "disc_cup,glaucoma",
                "--weighting",
                "uw",
                "--out",
                str(tmp_path / "t"),
            ]
        )
        == 0
    )
    assert (tmp_path / "t" / "report.html").exists()
    assert (
        cli.main(
            [
                "compare",
                *common,
                "--tasks",
                "disc_cup,glaucoma",
                "--families",
                "parallel",
                "--weightings",
                "ew",
                "--seeds",
                "2",
                "--out",
                str(tmp_path / "c"),
            ]
        )
        == 0
    )
    assert (tmp_path / "c" / "compare.md").read_text().startswith("# Δm on eye")
    assert cli.main(["train", *common, "--tasks", "nope"]) == 2
    assert "allowed tasks" in capsys.readouterr().err


def test_compare_reports_incompatible_pairs_instead_of_crashing():
    from mtdl_kit.experiments import incompatible_pairs

    base = RunConfig(
        region="eye", tasks=("disc_cup", "glaucoma"), steps=1, batch_size=4, n_train=4, n_test=8, size=32, width=4
    )
    pairs = incompatible_pairs(base, ("parallel", "cascaded"), ("ew", "upgrad"))
    assert set(pairs) == {("cascaded", "upgrad")}
    result = compare(
        base, families=("cascaded",), weightings=("ew", "upgrad"), seeds=(0, 1), n_boot=20, min_seeds=2, progress=False
    )
    notes = dict(zip(result.table["weighting"], result.table["note"].fillna(""), strict=True))
    assert notes["upgrad"].startswith("not applicable") and notes["ew"] == ""
    with pytest.raises(ValueError, match="Unknown weighting"):
        incompatible_pairs(base, ("parallel",), ("magic",))
