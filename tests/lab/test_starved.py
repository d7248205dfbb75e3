"""The transfer lab's experiment E (the starved task): the raw-targets switch, refusals, contrast signs, the command."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from mtdl_kit.cli import main
from mtdl_kit.data import PhantomDataset
from mtdl_kit.evaluation import Records
from mtdl_kit.evaluation.records import TaskRecords
from mtdl_kit.lab import STARVED_QUICK as QUICK
from mtdl_kit.lab import StarvedConfig, build_network, default_starved_config, starved_reading
from mtdl_kit.lab.starved import StarvedResult, StarvedRun, runs_frame, summarise
from mtdl_kit.losses import make_losses
from mtdl_kit.regions import get_region
from mtdl_kit.train import fit

EYE = get_region("eye")


def test_raw_targets_leave_the_regression_loss_in_the_tasks_units() -> None:
    cdr = EYE.task("cdr")
    spread = float(EYE.regression_spread(cdr)[0])
    assert spread == pytest.approx(0.15)
    output, target = torch.tensor([[0.55], [0.80]]), torch.tensor([[0.70], [0.40]])
    raw = make_losses([cdr], EYE, regression_targets="raw")["cdr"](output, target)
    standardised = make_losses([cdr], EYE)["cdr"](output, target)
    assert float(raw) == pytest.approx(float(((output - target) ** 2).mean()))  # the MSE in CDR units
    assert float(raw) != pytest.approx(float(standardised))
    assert float(standardised) == pytest.approx(float(raw) / spread**2)  # ~44x larger
    # only regression losses change
    seg = EYE.task("disc_cup")
    logits, mask = torch.randn(2, 3, 32, 32), torch.randint(0, 3, (2, 32, 32))
    a = make_losses([seg], EYE, regression_targets="raw")["disc_cup"](logits, mask)
    assert float(a) == pytest.approx(float(make_losses([seg], EYE)["disc_cup"](logits, mask)))
    with pytest.raises(ValueError, match="regression_targets"):
        make_losses([cdr], EYE, regression_targets="scaled")


def test_fit_trains_on_the_raw_loss_and_the_raw_network_has_an_unstandardised_head() -> None:
    cfg = replace(QUICK, size=32, width=4)
    raw_net, std_net = build_network(cfg, "raw", seed=3), build_network(cfg, "standardised", seed=3)
    assert float(raw_net.heads["cdr"].out_scale) == 1.0 and float(raw_net.heads["cdr"].out_shift) == 0.0
    assert float(std_net.heads["cdr"].out_scale) == pytest.approx(0.15)
    assert float(std_net.heads["cdr"].out_shift) == pytest.approx(0.6)
    data = PhantomDataset("eye", 4, size=32, tasks=list(cfg.tasks))
    first, recorded = {}, {}
    for targets in ("raw", "standardised"):
        net = build_network(cfg, "raw", seed=3)  # the same network: only fit's loss differs
        history = fit(
            net, data, steps=1, batch_size=4, cosine_every=0, progress=False, device="cpu", regression_targets=targets
        )
        first[targets] = {t: history.series("loss", t)[0][1] for t in cfg.tasks}
        recorded[targets] = history.config.get("regression_targets")
    assert recorded == {"raw": "raw", "standardised": None}  # the default is not recorded: old histories compare
    assert first["raw"]["cdr"] == pytest.approx(first["standardised"]["cdr"] * 0.15**2, rel=1e-4)
    assert first["raw"]["disc_cup"] == pytest.approx(first["standardised"]["disc_cup"], rel=1e-5)
    with pytest.raises(ValueError, match="regression_targets"):
        fit(build_network(cfg, "raw", seed=3), data, steps=1, progress=False, regression_targets="none")


def test_regions_get_their_starved_task_and_landmarks_only_the_weighting_axis() -> None:
    eye = default_starved_config("eye")
    assert (eye.starved, eye.others, eye.family) == ("cdr", ("disc_cup", "glaucoma"), "parallel")
    assert eye.conditions[0] == ("ew", "raw") and len(eye.conditions) == 10
    assert eye.level("upgrad") == "features" and eye.level("gradnorm") == "parameters"
    msk = default_starved_config("musculoskeletal", quick=True)
    assert (msk.starved, msk.others, msk.targets) == ("landmarks", ("bones",), ("raw",))
    assert [m for m, _ in msk.conditions] == ["ew", "uw", "gradnorm", "dwa", "upgrad"]
    # raw and standardised runs never share a cache entry with another experiment's configuration
    assert eye.key() != default_starved_config("eye", quick=True).key()


def test_the_adopted_protocol_guards_every_run_and_gives_the_knee_its_training_cases() -> None:
    from mtdl_kit.lab.families import default_families_config

    knee = default_starved_config("musculoskeletal", adopted=True)
    assert (knee.chance_guard, knee.n_train) == (True, 1024)
    assert knee.n_train == default_families_config("musculoskeletal").n_train  # experiment G's, one table
    assert (default_starved_config("eye", adopted=True).n_train, default_starved_config("eye").n_train) == (256, 256)
    assert not default_starved_config("musculoskeletal").chance_guard  # the committed runs' configuration
    quick = default_starved_config("musculoskeletal", quick=True, adopted=True)
    assert quick.chance_guard and quick.n_train == default_starved_config("musculoskeletal", quick=True).n_train
    assert default_starved_config("musculoskeletal", adopted=True, n_train=256).n_train == 256  # explicit wins
    assert knee.key() != default_starved_config("musculoskeletal").key()  # cached apart


@pytest.mark.parametrize(
    ("region", "changes", "match"),
    [
        ("nowhere", {}, "Unknown region"),
        ("eye", {"methods": ("ew", "bogus")}, "unknown weighting"),
        ("eye", {"methods": ("uw", "upgrad")}, "reference 'ew'"),
        ("eye", {"starved": "tumour"}, "not a task of eye"),
        ("eye", {"starved": "glaucoma", "others": ("disc_cup",)}, "regression or landmarks"),
        ("eye", {"others": ()}, "at least one task"),
        ("eye", {"targets": ("standardised",)}, "including 'raw'"),
        ("eye", {"targets": ("raw", "scaled")}, "targets"),
        ("musculoskeletal", {"targets": ("raw", "standardised")}, "landmarks have no raw/standardised pair"),
        ("eye", {"seeds": (1,)}, "seeds"),
        ("eye", {"family": "single"}, "family"),
    ],
)
def test_bad_arguments_are_refused(region, changes, match) -> None:
    with pytest.raises(ValueError, match=match):
        default_starved_config(region, **changes)


def test_the_command_refuses_an_unknown_method(tmp_path, capsys) -> None:
    assert main(["lab", "starved", "--quick", "--methods", "ew,bogus", "--out", str(tmp_path)]) == 2
    assert "unknown weighting" in capsys.readouterr().err
    assert not (tmp_path / "runs.csv").exists()


def test_the_command_runs_the_adopted_protocol_and_a_longer_cap(tmp_path, capsys, monkeypatch) -> None:
    import mtdl_kit.lab as lab

    seen = []

    def stop(cfg, **_):
        seen.append(cfg)
        raise ValueError("stopped before training")

    monkeypatch.setattr(lab, "run_starved", stop)
    argv = ["lab", "starved", "--quick", "--region", "musculoskeletal", "--adopted", "--max-steps", "90"]
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert (seen[0].chance_guard, seen[0].max_steps) == (True, 90)
    assert main(["lab", "starved", "--quick", "--max-steps", "0", "--out", str(tmp_path)]) == 2
    assert "max_steps" in capsys.readouterr().err


def _planted_runs(
    cfg: StarvedConfig, cdr_error: dict[str, float], wobble: dict[str, float], auc_noise: dict[str, float]
) -> list[StarvedRun]:
    """Runs with planted test records: per condition, the CDR error's size (``cdr_error`` times a per-seed
    case profile, plus ``wobble`` alternating in sign over cases: the same MAE, a different error per case)
    and the noise of the glaucoma scores."""
    n = 40
    labels = np.tile([0, 1], n // 2)
    target = np.linspace(0.35, 0.85, n).reshape(-1, 1)
    alternating = np.tile([1.0, -1.0], n // 2).reshape(-1, 1)
    runs = []
    for seed in cfg.seeds:
        rng = np.random.default_rng(seed)
        profile, sign = 1.0 + 0.2 * rng.random((n, 1)), rng.choice([-1.0, 1.0], (n, 1))
        for method, targets in cfg.conditions:
            name = f"{method}-{targets}"
            err = (cdr_error[name] * profile + wobble.get(name, 0.0) * alternating) * sign
            score = labels + auc_noise[name] * rng.normal(size=n)
            probs = np.stack([1 - 1 / (1 + np.exp(-score)), 1 / (1 + np.exp(-score))], axis=1)
            tasks = {
                "glaucoma": TaskRecords(EYE.task("glaucoma"), np.arange(n), {"probs": probs, "labels": labels}),
                "cdr": TaskRecords(EYE.task("cdr"), np.arange(n), {"pred": target + err, "target": target}),
            }
            records = Records(tuple(f"case{i}" for i in range(n)), tasks)
            metrics = {"cdr": {"mae": float(np.abs(err).mean())}, "glaucoma": {"auc": 0.0}}
            diag = {t: {"loss_early": 0.01 if t == "cdr" else 0.6, "loss_late": 0.0, "weight_mean": 1.0} for t in tasks}
            runs.append(StarvedRun(method, targets, seed, metrics, 10, 20, 1.0, 100, diag, records))
    return runs


def test_contrasts_are_against_ew_raw_with_better_positive_for_errors_and_scores() -> None:
    cfg = StarvedConfig(
        starved="cdr", others=("glaucoma",), methods=("ew", "uw"), targets=("raw", "standardised"), seeds=(0, 1, 2)
    )
    cdr_error = {"ew-raw": 0.10, "uw-raw": 0.02, "ew-standardised": 0.20, "uw-standardised": 0.10}
    auc_noise = {"ew-raw": 0.3, "uw-raw": 3.0, "ew-standardised": 0.3, "uw-standardised": 0.3}
    runs = _planted_runs(cfg, cdr_error, {"uw-standardised": 0.01}, auc_noise)
    summary = summarise(cfg, runs)
    rows = summary[summary["contrast"] != "mean"].set_index(["task", "condition"])
    assert set(rows["contrast"]) == {"uw-raw - ew-raw", "ew-standardised - ew-raw", "uw-standardised - ew-raw"}
    assert ("cdr", "ew-raw") not in rows.index  # the reference is not compared with itself
    mae = {r.condition: [] for r in runs}
    for r in runs:
        mae[r.condition].append(r.records["cdr"].values["pred"] - r.records["cdr"].values["target"])
    # a smaller error than EW-raw is a positive contrast: EW-raw's MAE minus the condition's, averaged over seeds
    for name in ("uw-raw", "ew-standardised"):
        expected = np.mean([np.abs(a).mean() - np.abs(b).mean() for a, b in zip(mae["ew-raw"], mae[name], strict=True)])
        assert rows.loc[("cdr", name), "value"] == pytest.approx(expected)
    assert rows.loc[("cdr", "uw-raw"), "value"] > 0.05 and rows.loc[("cdr", "uw-raw"), "verdict"] == "better"
    assert rows.loc[("cdr", "ew-standardised"), "value"] < -0.05
    assert rows.loc[("cdr", "ew-standardised"), "verdict"] == "worse"
    assert rows.loc[("cdr", "uw-standardised"), "ci_low"] < 0 < rows.loc[("cdr", "uw-standardised"), "ci_high"]
    assert rows.loc[("cdr", "uw-standardised"), "verdict"] == "no detectable difference"
    # a score (AUC): lower than EW-raw is negative
    assert rows.loc[("glaucoma", "uw-raw"), "value"] < 0 and rows.loc[("glaucoma", "uw-raw"), "verdict"] == "worse"
    means = summary[summary["contrast"] == "mean"].set_index(["task", "condition"])
    assert means.loc[("cdr", "uw-raw"), "median_steps_run"] == 20 and means.loc[("cdr", "uw-raw"), "n_seeds"] == 3
    text = " ".join(starved_reading(StarvedResult(cfg, runs, runs_frame(runs), summary)))
    assert "Recovered against ew-raw" in text and "uw-raw" in text and "steps: cdr 0.01 against glaucoma 0.6" in text


@pytest.mark.slow
def test_quick_command_writes_runs_and_a_summary_from_which_a_contrast_recomputes(tmp_path, capsys) -> None:
    out = tmp_path / "starved"
    argv = ["lab", "starved", "--quick", "--region", "eye", "--seeds", "5-6", "--methods", "ew,uw,upgrad"]
    assert main([*argv, "--out", str(out)]) == 0
    runs = pd.read_csv(out / "runs.csv")
    summary = pd.read_csv(out / "summary.csv")
    conditions = {f"{m}-{t}" for m in ("ew", "uw", "upgrad") for t in ("raw", "standardised")}
    assert set(runs["condition"]) == conditions and set(runs["seed"]) == {5, 6}
    cdr = runs[(runs["task"] == "cdr") & (runs["metric"] == "mae")]
    assert len(cdr) == len(conditions) * 2
    assert (cdr["best_step"] <= cdr["steps_run"]).all() and (cdr["steps_run"] <= QUICK.max_steps).all()
    per_seed = cdr.pivot(index="seed", columns="condition", values="value")
    row = summary[(summary["task"] == "cdr") & (summary["contrast"] == "upgrad-standardised - ew-raw")].iloc[0]
    # MAE: positive = a smaller error than EW-raw
    assert row["value"] == pytest.approx((per_seed["ew-raw"] - per_seed["upgrad-standardised"]).mean())
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
    assert row["verdict"] in ("better", "worse", "no detectable difference")
    assert set(summary["task"]) == {"disc_cup", "glaucoma", "cdr"}
    printed = capsys.readouterr().out
    assert "Starved task cdr (mae, lower is better; 2 seeds)" in printed
    # a rerun reads the cache: the same numbers
    assert main([*argv, "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"), summary)


def test_a_guarded_condition_stops_by_its_seeds_validation_chance_levels(monkeypatch) -> None:
    """With the protocol's chance guard on, experiment E's rule gets each task's validation chance level."""
    from mtdl_kit.lab import validation_chance
    from mtdl_kit.lab.starved import run_condition
    from mtdl_kit.regions import get_region

    cfg = replace(default_starved_config("musculoskeletal", quick=True), max_steps=30, chance_guard=True)
    seen = []
    original = StarvedConfig.stopping_rule

    def spy(self, tasks, *, chance=None):
        seen.append(chance)
        return original(self, tasks, chance=chance)

    monkeypatch.setattr(StarvedConfig, "stopping_rule", spy)
    run = run_condition(cfg, "ew", cfg.targets[0], seed=1)
    region = get_region("musculoskeletal")
    train, val, _ = cfg.splits(cfg.region, cfg.tasks, 1)
    tasks = region.select_tasks(list(cfg.tasks))
    assert seen == [validation_chance(tasks, train, val, region=region)]
    assert run.steps_run <= cfg.max_steps
    assert replace(cfg, chance_guard=False).key() != cfg.key(), "guarded runs are cached apart"
