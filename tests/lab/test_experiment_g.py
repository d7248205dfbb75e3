"""Experiment G: the four families against single-task networks under the lab's protocol, at two capacity rules."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from mtdl_kit.lab import QUICK_FAMILIES, default_families_config, families_reading, run_families
from mtdl_kit.lab.families import (
    ACROSS,
    DELTA_M,
    build_network,
    cached_count,
    config_of_runs,
    network_digest,
    networks_of,
    summary_reading,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_families


def test_the_configuration_names_what_is_wrong():
    with pytest.raises(ValueError, match="families must be distinct names"):
        default_families_config("eye", quick=True, families=("parallel", "siamese"))
    with pytest.raises(ValueError, match="rules must be distinct values"):
        default_families_config("eye", quick=True, rules=("params", "flops"))
    with pytest.raises(ValueError, match="not tasks of eye"):
        default_families_config("eye", quick=True, tasks=("disc_cup", "lungs_heart"))
    with pytest.raises(ValueError, match="at least two distinct tasks"):
        default_families_config("eye", quick=True, tasks=("glaucoma",))
    with pytest.raises(ValueError, match="unknown weighting"):
        default_families_config("eye", quick=True, weighting="magic")
    with pytest.raises(ValueError, match="seeds must be at least 2"):
        default_families_config("eye", quick=True, seeds=(3,))


def test_regions_whose_structures_64_px_does_not_resolve_run_at_their_resolving_size():
    """The brain's necrotic core and pathology's nuclei need 128 px, the abdomen's enhancing rim 256; the rest 64 px."""
    assert {r: default_families_config(r).size for r in ("brain", "abdomen", "pathology", "eye", "cardiac")} == {
        "brain": 128, "abdomen": 256, "pathology": 128, "eye": 64, "cardiac": 64,
    }  # fmt: skip
    assert default_families_config("brain", size=64).size == 64  # an explicit size wins
    assert default_families_config("brain", quick=True).size == QUICK_FAMILIES.size
    # the size is part of the cache key: 64-px and 128-px runs never share a cached network
    assert default_families_config("brain").key() != default_families_config("brain", size=64).key()


def test_the_knee_brain_and_pathology_train_on_the_cases_their_single_task_networks_need_and_every_region_is_guarded():
    """At 256 cases the knee's JSW, the brain's grade and tumour area and the pathology's score and count networks
    do not beat chance or barely do; at 1,024 they learn (RESULTS "families-lab-n_train1024-*")."""
    regions = ("musculoskeletal", "brain", "pathology", "eye", "chest", "cardiac", "other")
    sizes = {r: default_families_config(r).n_train for r in regions}
    big = {"musculoskeletal": 1024, "brain": 1024, "pathology": 1024}
    assert sizes == {**big, "eye": 256, "chest": 256, "cardiac": 256, "other": 256}
    assert default_families_config("musculoskeletal", n_train=256).n_train == 256  # an explicit size wins
    assert default_families_config("musculoskeletal", quick=True).n_train == QUICK_FAMILIES.n_train
    knee = default_families_config("musculoskeletal")
    assert knee.key() != default_families_config("musculoskeletal", n_train=256).key()
    assert knee.chance_guard and QUICK_FAMILIES.chance_guard
    assert knee.key() != replace(knee, chance_guard=False).key(), "guarded runs are cached apart"


def test_a_committed_runs_table_names_the_configuration_it_was_trained_under():
    rows = [{"budget": 256, "seed": s, "arm": "parallel", "task": "bones", "value": 0.9} for s in (0, 1)]
    before = config_of_runs("musculoskeletal", pd.DataFrame(rows))
    assert (before.n_train, before.chance_guard, before.seeds, before.size) == (256, False, (0, 1), 64)
    after = config_of_runs("musculoskeletal", pd.DataFrame(rows).assign(budget=1024, chance_guard=True))
    assert (after.n_train, after.chance_guard) == (1024, True)
    assert after.key() == replace(default_families_config("musculoskeletal"), seeds=(0, 1)).key()
    with pytest.raises(ValueError, match="one configuration"):
        config_of_runs("musculoskeletal", pd.DataFrame(rows).assign(budget=[256, 1024]))


def test_where_the_networks_train_is_part_of_the_configuration_and_its_cache_key():
    """The CPU keeps the committed keys; a GPU's autocast runs are cached apart and a runs table says where it ran."""
    cpu = default_families_config("abdomen")
    assert cpu.device == "cpu"
    assert "device" not in cpu.key_fields({"device": "cpu", "size": 256}), "the committed caches keep their keys"
    assert cpu.key() != default_families_config("abdomen", device="cuda").key()
    with pytest.raises(ValueError, match="device must be one of"):
        default_families_config("abdomen", device="auto")  # a comparison states where it ran
    rows = [{"budget": 256, "seed": s, "arm": "parallel", "task": "liver_lesion", "value": 0.9} for s in (0, 1)]
    assert config_of_runs("abdomen", pd.DataFrame(rows)).device == "cpu"  # tables written before the column
    gpu = config_of_runs("abdomen", pd.DataFrame(rows).assign(device="cuda", chance_guard=True))
    assert gpu.device == "cuda" and gpu.key() == replace(cpu, device="cuda", seeds=(0, 1)).key()
    with pytest.raises(ValueError, match="devices"):
        config_of_runs("abdomen", pd.DataFrame(rows).assign(device=["cpu", "cuda"]))


def test_a_guarded_network_stops_by_its_seeds_validation_chance_levels(monkeypatch):
    from mtdl_kit.lab import FamiliesConfig, validation_chance
    from mtdl_kit.lab.families import train_network
    from mtdl_kit.regions import get_region

    cfg = default_families_config("musculoskeletal", quick=True, tasks=("bones", "jsw"), max_steps=30)
    seen = []
    original = FamiliesConfig.stopping_rule

    def spy(self, tasks, *, chance=None):
        rule = original(self, tasks, chance=chance)
        seen.append(rule.chance)
        return rule

    monkeypatch.setattr(FamiliesConfig, "stopping_rule", spy)
    network = networks_of(cfg, "single@width")["jsw"]
    run = train_network(cfg, network, seed=1)
    train, val, _ = cfg.splits(cfg.region, cfg.task_names(), 1)
    region = get_region("musculoskeletal")
    expected = validation_chance(region.select_tasks(["jsw"]), train, val, region=region)
    assert seen == [{"jsw/mae": expected["jsw"]}] and expected["jsw"] > 0
    assert run.steps_run <= cfg.max_steps
    train_network(replace(cfg, chance_guard=False), network, seed=1)
    assert seen[-1] is None, "off: the plain rule"


def test_a_test_split_without_every_grade_is_refused_before_any_network_trains():
    from mtdl_kit.lab import train_families

    trained = []
    knee = default_families_config("musculoskeletal", quick=True, size=32)  # the joint space grades only 0, 3, 4
    with pytest.raises(ValueError, match=r"no case of kl_grade class\(es\) \[1, 2\].*use a larger size"):
        train_families(knee, on_run=lambda arm, run: trained.append(run))
    assert trained == []


def test_the_quick_mode_grades_the_knee_at_a_size_that_resolves_its_joint_space():
    from mtdl_kit.lab.families import QUICK_SIZES, check_test_classes, seed_splits

    knee = default_families_config("musculoskeletal", quick=True)
    assert knee.size == QUICK_SIZES["musculoskeletal"] == 48
    check_test_classes(knee, seed_splits(knee, knee.seeds[0])[2])  # every grade present: does not raise


def test_the_capacity_rules_build_what_they_say():
    cfg = default_families_config("chest", quick=True)
    assert cfg.arms() == (
        "single@params",
        "single@width",
        "parallel",
        "cascaded@params",
        "cascaded@width",
        "interacted@params",
        "interacted@width",
        "hybrid",
    )

    def params(arm: str, key: str = "all") -> int:
        return build_network(cfg, networks_of(cfg, arm)[key], seed=0).parameter_count()["total"]

    parallel = params("parallel")
    for family in ("cascaded", "interacted"):
        matched, wide = params(f"{family}@params"), params(f"{family}@width")
        assert abs(matched / parallel - 1) <= 0.25, (family, matched, parallel)
        assert wide > 2 * matched, (family, wide, matched)  # every task's sub-network at full width
    # the single-task networks: sized like the parallel network under `params`, nominal width under `width`
    assert params("single@params", "cardiomegaly") > params("single@width", "cardiomegaly")
    assert abs(params("single@params", "cardiomegaly") / parallel - 1) <= 0.25
    # a network both rules build alike is one network (trained once per seed); different ones are not
    seg = [network_digest(cfg, networks_of(cfg, f"single@{r}")["lungs_heart"]) for r in ("params", "width")]
    cls = [network_digest(cfg, networks_of(cfg, f"single@{r}")["cardiomegaly"]) for r in ("params", "width")]
    assert seg[0] == seg[1] and cls[0] != cls[1]
    assert dict(networks_of(cfg, "cascaded@width")["all"].options)["cascade_mode"] == "two_stage"
    with pytest.raises(ValueError, match="is not one of this configuration's"):
        networks_of(cfg, "parallel@width")


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    cache = tmp_path_factory.mktemp("families-cache")
    trained = []
    result = run_families(QUICK_FAMILIES, cache=cache, on_run=lambda arm, run: trained.append((run.network, run.seed)))
    return result, cache, trained


def test_every_family_is_compared_per_task_and_in_delta_m_under_both_rules(quick_result):
    result, _, _ = quick_result
    cfg = result.config
    tasks = list(cfg.task_names())
    summary = result.summary
    for rule in cfg.rules:
        for family in cfg.families:
            arm = family if family in ("parallel", "hybrid") else f"{family}@{rule}"
            rows = summary[summary["contrast"] == f"{arm} - single@{rule}"]
            assert sorted(rows["task"]) == sorted([*tasks, DELTA_M]), (arm, rule)
            assert (rows["ci_low"] <= rows["value"]).all() and (rows["value"] <= rows["ci_high"]).all()
    # a per-task contrast is the mean over seeds of the per-seed difference, signed so that positive is better
    runs = result.runs_frame
    for task, metric, sign in (("glaucoma", "auc", 1.0), ("cdr", "mae", -1.0)):
        chosen = runs[(runs["task"] == task) & (runs["metric"] == metric)]
        per_seed = chosen.pivot_table(index="seed", columns="arm", values="value")
        expected = sign * (per_seed["hybrid"] - per_seed["single@width"]).mean()
        row = summary[(summary["contrast"] == "hybrid - single@width") & (summary["task"] == task)].iloc[0]
        assert row["value"] == pytest.approx(expected)
    # across rules: the networks that differ are compared; the segmentation baseline, built alike, is not
    across = summary[summary["rule"] == ACROSS]
    assert set(across["contrast"]) == {
        "single@width - single@params",
        "cascaded@width - cascaded@params",
        "interacted@width - interacted@params",
    }
    assert "disc_cup" not in set(across[across["contrast"] == "single@width - single@params"]["task"])
    assert set(summary["verdict"]) <= {"", "better", "worse", "no detectable difference"}


def test_runs_record_their_steps_and_validation_curves(quick_result):
    result, cache, trained = quick_result
    cfg = result.config
    runs = result.runs_frame
    assert (runs["steps_run"] <= cfg.max_steps).all() and (runs["best_step"] <= runs["steps_run"]).all()
    assert (runs["at_cap"] == (runs["steps_run"] >= cfg.max_steps)).all()
    assert (runs["device"] == "cpu").all(), "every row says where its network trained"
    curves = result.curves
    for (arm, seed), group in curves.groupby(["arm", "seed"]):
        steps_run = runs[(runs["arm"] == arm) & (runs["seed"] == seed)]["steps_run"].max()
        assert group["step"].max() <= steps_run
        assert group["step"].min() == cfg.eval_every
    # the shared segmentation baseline was trained once per seed, then read from the cache
    distinct = set(trained)
    assert len(trained) == len(distinct) + len(cfg.seeds)  # the disc/cup baseline serves both rules
    assert cached_count(cfg, cache) == (len(distinct), len(distinct))
    assert any(line.startswith("Networks that reached the") for line in families_reading(result))


def test_a_rerun_reads_every_run_from_the_cache(quick_result):
    result, cache, _ = quick_result
    again = run_families(QUICK_FAMILIES, cache=cache)
    pd.testing.assert_frame_equal(again.summary, result.summary)
    pd.testing.assert_frame_equal(again.curves, result.curves)
    fewer = replace(QUICK_FAMILIES, seeds=(0, 1, 2))
    have, need = cached_count(fewer, cache)
    assert have < need


def test_lab_families_command_writes_a_verdict_source(tmp_path, capsys):
    from mtdl_kit.cli import main
    from mtdl_kit.verdicts import verdicts

    out = tmp_path / "g"
    argv = ["lab", "families", "--quick", "--region", "chest", "--families", "parallel", "--seeds", "3-4"]
    assert main([*argv, "--out", str(out)]) == 0
    runs = pd.read_csv(out / "runs.csv")
    assert set(runs["seed"]) == {3, 4} and set(runs["arm"]) == {"single@params", "single@width", "parallel"}
    assert (out / "curves.csv").exists() and "chest" in (out / "summary.md").read_text()
    printed = capsys.readouterr().out
    summary = pd.read_csv(out / "summary.csv")
    dm = summary[(summary["contrast"] == "parallel - single@params") & (summary["task"] == DELTA_M)].iloc[0]
    assert f"parallel Δm {dm['value']:+.1f} % [{dm['ci_low']:+.1f}, {dm['ci_high']:+.1f}]" in printed
    # the lessons read the committed table: the same sentences from the CSV alone
    for sentence in summary_reading(summary):
        assert sentence in printed
    # the lessons read such a table through the one verdict rule: Δm in %, tasks in their metric's units
    (tmp_path / "transfer_g_chest_test_summary.csv").write_text((out / "summary.csv").read_text())
    table = verdicts("transfer_g_chest_test", root=tmp_path, contrast="parallel - single@params")
    row = table[table["task"] == DELTA_M].iloc[0]
    assert row["text"].endswith("]") and " % [" in row["text"] and row["verdict"] == dm["verdict"]
    assert main([*argv, "--families", "siamese", "--out", str(tmp_path / "x")]) == 2
    assert "families must be distinct names" in capsys.readouterr().err
    # two processes of one thread each (the tests' process runs on one thread too): the same networks and numbers
    assert main([*argv, "--jobs", "2", "--out", str(tmp_path / "two")]) == 0
    two = pd.read_csv(tmp_path / "two" / "runs.csv")
    pd.testing.assert_frame_equal(two.drop(columns="seconds"), runs.drop(columns="seconds"))
    with pytest.raises(SystemExit):
        main([*argv, "--jobs", "0", "--out", str(tmp_path / "zero")])
    assert "expected a whole number of at least 1, e.g. 2; got '0'" in capsys.readouterr().err


def test_the_contrast_exercise_accepts_the_mean_of_paired_differences_only(quick_result, tmp_path):
    from mtdl_kit.exercises import ExerciseError, check_families_contrast

    result, _, _ = quick_result
    result.runs_frame.to_csv(tmp_path / "transfer_g_eye_t_runs.csv", index=False)
    result.summary.to_csv(tmp_path / "transfer_g_eye_t_summary.csv", index=False)
    runs = pd.read_csv(tmp_path / "transfer_g_eye_t_runs.csv")
    mae = runs[(runs["task"] == "cdr") & (runs["metric"] == "mae")].pivot_table(
        index="seed", columns="arm", values="value"
    )
    answer = float(-(mae["interacted@width"] - mae["single@width"]).mean())  # lower MAE is better: flipped
    assert check_families_contrast(answer, "eye_t", "interacted@width - single@width", "cdr", root=tmp_path) == (
        pytest.approx(answer)
    )
    with pytest.raises(ExerciseError, match="sign is reversed"):
        check_families_contrast(-answer, "eye_t", "interacted@width - single@width", "cdr", root=tmp_path)
    with pytest.raises(ExerciseError, match="you computed"):
        check_families_contrast(answer + 0.5, "eye_t", "interacted@width - single@width", "cdr", root=tmp_path)
    with pytest.raises(ValueError, match="the contrasts are"):
        check_families_contrast(answer, "eye_t", "interacted@width - single@width", "delta_m", root=tmp_path)
    # another metric of the runs table (no summary row): the same mean of per-seed differences
    rmse = runs[(runs["task"] == "cdr") & (runs["metric"] == "rmse")].pivot_table(
        index="seed", columns="arm", values="value"
    )
    by_rmse = float(-(rmse["interacted@width"] - rmse["single@width"]).mean())
    assert by_rmse != pytest.approx(answer)
    contrast = "interacted@width - single@width"
    assert check_families_contrast(by_rmse, "eye_t", contrast, "cdr", metric="rmse", root=tmp_path) == (
        pytest.approx(by_rmse)
    )
    with pytest.raises(ExerciseError, match="you computed"):
        check_families_contrast(answer, "eye_t", contrast, "cdr", metric="rmse", root=tmp_path)
    with pytest.raises(ValueError, match="no metric 'kappa'"):
        check_families_contrast(answer, "eye_t", contrast, "cdr", metric="kappa", root=tmp_path)


def test_the_validation_curves_figure_draws_every_seed_and_a_median_per_arm(quick_result):
    from mtdl_kit.viz import validation_curves_figure

    curves = quick_result[0].curves
    fig = validation_curves_figure(curves, "disc_cup", arms=["single@params", "parallel"])
    named = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in named] == ["single@params", "parallel"]
    assert len(fig.data) == 2 * (len(QUICK_FAMILIES.seeds) + 1)
    assert {t.line.dash for t in named} == {"solid", "dash"}, "arms differ by dash, not by colour alone"
    seed0 = curves[(curves["arm"] == "parallel") & (curves["task"] == "disc_cup") & (curves["seed"] == 0)]
    assert list(fig.data[3].y) == list(seed0["value"])
    with pytest.raises(ValueError, match="No curves for task"):
        validation_curves_figure(curves, "lungs_heart")
    with pytest.raises(ValueError, match="No curves for the arms"):
        validation_curves_figure(curves, "disc_cup", arms=["siamese"])


def test_stop_outcomes_split_each_arm_at_the_step_cap():
    from mtdl_kit.lab import stop_outcomes

    rows = [
        # arm, seed, value, best_step, steps_run, at_cap
        ("single@params", 0, 3.0, 1700, 2000, True),
        ("single@params", 1, 20.0, 450, 850, False),
        ("single@params", 2, 21.0, 550, 950, False),
        ("parallel", 0, 20.5, 1900, 2000, True),
    ]
    runs = pd.DataFrame(
        [
            {"arm": a, "seed": s, "task": "landmarks", "metric": "mre_mm", "value": v, "best_step": b}
            | {"steps_run": n, "at_cap": c}
            for a, s, v, b, n, c in rows
        ]
    )
    other_metric = runs.assign(metric="mre_mm/medial", value=0.0)
    table = stop_outcomes(pd.concat([runs, other_metric]), "landmarks", "mre_mm").set_index("arm")
    assert table.loc["single@params", ["runs", "stopped_early"]].tolist() == [3, 2]
    assert table.loc["single@params", "median_stopped"] == 20.5 and table.loc["single@params", "median_at_cap"] == 3.0
    assert table.loc["single@params", "latest_best_stopped"] == 550
    assert table.loc["single@params", "earliest_best_at_cap"] == 1700
    assert table.loc["parallel", "stopped_early"] == 0 and pd.isna(table.loc["parallel", "median_stopped"])
    with pytest.raises(ValueError, match="the table's tasks are"):
        stop_outcomes(runs, "landmarks", "dice")


def test_an_unstopped_run_repeats_the_stopped_one_and_trains_on_to_the_cap(tmp_path):
    from mtdl_kit.lab import to_cap, unstopped_run
    from mtdl_kit.lab.families import cached_run

    # patience 1 after one warm-up evaluation: the quick segmentation network stops at its first non-improving one
    cfg = default_families_config("chest", quick=True, max_steps=150, patience=1, min_evaluations=1, seeds=(0, 1))
    task = "ctr"
    original = cached_run(cfg, networks_of(cfg, "single@params")[task], 0, tmp_path)
    again = unstopped_run(cfg, "single@params", 0, task, cache=tmp_path)
    assert again.steps_run == cfg.max_steps
    assert again.network == original.network, "the same network: only the stop differs"
    # the same data, initialisation and evaluations: the curve up to the original stop is the original's
    shared = {step: v for step, v in again.curve[task].items() if int(step) <= original.steps_run}
    assert shared == pytest.approx(original.curve[task])
    assert original.steps_run < cfg.max_steps, "this design must stop the original early, or the test shows nothing"
    assert to_cap(cfg).key() != cfg.key(), "cached apart from the stopped runs"
    assert unstopped_run(cfg, "single@params", 0, task, cache=tmp_path).seconds == again.seconds  # from the cache
    with pytest.raises(ValueError, match="is not one of"):
        unstopped_run(cfg, "single@params", 0, "glaucoma", cache=tmp_path)


def test_train_families_fills_and_reads_the_cache_that_run_families_summarises(quick_result):
    from mtdl_kit.lab import train_families

    result, cache, trained = quick_result
    before = len(trained)
    runs = train_families(result.config, cache=cache, on_run=lambda arm, run: trained.append((run.network, run.seed)))
    assert len(trained) - before == sum(len(nets) for by_seed in runs.values() for nets in by_seed.values())
    for arm, by_seed in result.runs.items():
        for seed, nets in by_seed.items():
            for key, run in nets.items():
                assert runs[arm][seed][key].metrics == run.metrics and runs[arm][seed][key].seconds == run.seconds


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_a_configuration_for_a_gpu_fails_at_its_first_network_where_there_is_none(tmp_path, capsys):
    from mtdl_kit.cli import main

    cfg = default_families_config("eye", quick=True, device="cuda")
    with pytest.raises(ValueError, match="trains on 'cuda', which is not available here"):
        run_families(cfg, cache=tmp_path)
    from mtdl_kit.lab import fill_cache

    with pytest.raises(ValueError, match="not available here"):  # a worker's error stops the whole fill
        fill_cache(cfg, tmp_path, jobs=2)
    assert not list(tmp_path.iterdir()), "nothing was cached"
    assert main(["lab", "families", "--quick", "--device", "cuda", "--seeds", "0-1", "--out", str(tmp_path)]) == 2
    assert "not available here" in capsys.readouterr().err


def test_fill_cache_trains_each_missing_network_once_in_parallel_processes(quick_result, tmp_path, monkeypatch):
    """The many small networks of experiment G in N processes; the summarising run then trains nothing."""
    from mtdl_kit.lab import families as families_module
    from mtdl_kit.lab.families import fill_cache, pending_networks

    result, _, _ = quick_result
    cfg = replace(result.config, families=("parallel",))
    pending = pending_networks(cfg, tmp_path)
    distinct = {network_digest(cfg, network) + f"-s{seed}" for seed, _, network in pending}
    assert len(distinct) == len(pending) == cached_count(cfg, tmp_path)[1], "a network two arms share is listed once"
    finished = []
    assert fill_cache(cfg, tmp_path, jobs=2, on_run=lambda arm, run: finished.append((arm, run.seed))) == len(pending)
    assert len(finished) == len(pending) and pending_networks(cfg, tmp_path) == []
    assert fill_cache(cfg, tmp_path, jobs=2) == 0, "a second fill finds nothing to train"

    def refuse(*args, **kwargs):
        raise AssertionError("the summarising run must read every network from the cache")

    seed, arm, network = pending[-1]
    here = families_module.train_network(cfg, network, seed)  # in this process, on one thread as the workers
    monkeypatch.setattr(families_module, "train_network", refuse)
    filled = run_families(cfg, cache=tmp_path)
    key = network.tasks[0] if network.family == "single" else "all"
    assert filled.runs[arm][seed][key].metrics == here.metrics, "a worker trains what this process trains"
    with pytest.raises(ValueError, match="jobs and threads"):
        fill_cache(cfg, tmp_path, jobs=0)


def test_a_drained_fill_finishes_the_network_in_training_and_starts_no_other(quick_result, tmp_path):
    """``<cache>/.drain`` ends a fill without losing a network; a fill that finds it left there refuses to start."""
    from mtdl_kit.lab.families import DRAIN, fill_cache, pending_networks

    result, _, _ = quick_result
    cfg = replace(result.config, families=("parallel",), seeds=(0, 1))
    before = pending_networks(cfg, tmp_path)
    finished = []

    def drain_after_the_first(arm, run):
        finished.append(run)
        (tmp_path / DRAIN).touch()  # while a fill runs, e.g. from a shell at a session's end

    assert fill_cache(cfg, tmp_path, jobs=1, on_run=drain_after_the_first) == 1 == len(finished)
    assert len(pending_networks(cfg, tmp_path)) == len(before) - 1, "the first network was written, no other started"
    with pytest.raises(ValueError, match=r"\.drain is there: an earlier fill was told to stop.*Delete it to fill"):
        fill_cache(cfg, tmp_path, jobs=2)
    (tmp_path / DRAIN).unlink()
    assert fill_cache(cfg, tmp_path, jobs=1) == len(before) - 1


@pytest.mark.slow
def test_the_device_script_fills_an_archive_that_summarises_without_training(tmp_path):
    """benchmarks/device_families.sh, as a lent GPU runs it, here on the CPU in the quick configuration."""
    import subprocess
    import tarfile

    from mtdl_kit.lab.families import pending_networks

    root = Path(__file__).resolve().parents[2]
    out, cache = tmp_path / "out", tmp_path / "cache"
    env = {"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "CACHE": str(cache), "LIMIT": "600"}
    env.update(HOME=str(tmp_path), WHEELS=str(tmp_path / "no-wheels"))  # this interpreter has MONAI
    args = ["bash", "benchmarks/device_families.sh", "eye", "0-1", str(out), "cpu", "2", "1", "--quick"]
    done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exit 0" in (out / "fill.log").read_text()
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    with tarfile.open(out / "cache.tgz") as archive:
        archive.extractall(unpacked, filter="data")
    cfg = replace(QUICK_FAMILIES, seeds=(0, 1))
    assert pending_networks(cfg, unpacked) == [], "the archive holds every network of the seeds"


@pytest.mark.parametrize(
    ("field", "default", "diagnostic", "arms", "other_arms"),
    [
        # one decoder per dense task for the shared trunks (lesson 10's diagnostic of the brain's reconstruction)
        ("dense_decoder", "shared", "per_task", ("parallel", "hybrid"), ("cascaded@params", "interacted@width")),
        # cross-task attention instead of cross-stitch units between the interacted network's task columns
        ("interaction", "cross_stitch", "attention", ("interacted@params", "interacted@width"), ("parallel", "hybrid")),
    ],
)
def test_a_diagnostic_field_changes_only_its_networks_and_leaves_the_headline_keys_alone(
    field: str, default: str, diagnostic: str, arms: tuple[str, ...], other_arms: tuple[str, ...]
) -> None:
    """A diagnostic field builds other networks for its arms (another cache key, other parameter shapes); at its
    default it builds and keys exactly what the committed caches hold, and no other arm changes."""
    headline = default_families_config("brain", quick=True)
    changed = replace(headline, **{field: diagnostic})
    assert headline.key() == replace(headline, **{field: default}).key() != changed.key()
    for arm in arms:
        assert field not in json.dumps(networks_of(headline, arm)["all"].options), arm
        before = build_network(headline, networks_of(headline, arm)["all"], seed=0)
        after = build_network(changed, networks_of(changed, arm)["all"], seed=0)
        assert (getattr(before, field), getattr(after, field)) == (default, diagnostic), arm
        assert network_digest(changed, networks_of(changed, arm)["all"]) != network_digest(
            headline, networks_of(headline, arm)["all"]
        ), arm
    for arm in (*other_arms, "cascaded@width", "single@params"):
        assert networks_of(changed, arm) == networks_of(headline, arm), arm
    with pytest.raises(ValueError, match=f"{field} must be one of"):
        default_families_config("brain", quick=True, **{field: "other"})


def test_pending_networks_of_some_arms_lists_only_theirs_and_refuses_an_unknown_arm(tmp_path) -> None:
    """`--fill-jobs --arms single@params,single@width`: the single-task networks alone, each once per seed (the
    segmentation baseline the two rules share is listed under the first); an arm the configuration lacks is named."""
    from mtdl_kit.lab.families import pending_networks

    cfg = replace(default_families_config("eye", quick=True), seeds=(0, 1))
    singles = pending_networks(cfg, tmp_path, ["single@params", "single@width"])
    every = pending_networks(cfg, tmp_path)
    assert {arm for _, arm, _ in singles} == {"single@params", "single@width"}
    assert singles == [p for p in every if p[1].startswith("single")]
    assert {seed for seed, _, _ in singles} == {0, 1}
    with pytest.raises(ValueError, match="arms must be some of"):
        pending_networks(cfg, tmp_path, ["parallel@width"])
    with pytest.raises(ValueError, match="arms must be some of"):
        pending_networks(cfg, tmp_path, [])


def test_a_network_killed_while_it_trains_continues_from_its_snapshot_to_the_same_result(tmp_path, monkeypatch):
    """A fill killed at a session's end loses only the steps since the network's last validation evaluation: the
    next fill continues it from ``<cache>/.snapshots`` to the metrics, curve and records of an unbroken run."""
    import numpy as np

    import mtdl_kit.train
    from mtdl_kit.lab.families import cache_stem, cached_run, networks_in_training, snapshot_path

    cfg = default_families_config("eye", quick=True, max_steps=120, eval_every=15, patience=50)
    network = networks_of(cfg, "parallel")["all"]
    whole = cached_run(cfg, network, 0, tmp_path / "whole")
    evaluate, calls = mtdl_kit.train._evaluate_into, []

    def killed_at_the_fourth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the fill's process is killed during its fourth evaluation
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(mtdl_kit.train, "_evaluate_into", killed_at_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        cached_run(cfg, network, 0, tmp_path / "killed")
    stem = cache_stem(cfg, network, 0, tmp_path / "killed")
    assert snapshot_path(stem).exists() and not stem.with_suffix(".json").exists()
    in_training = networks_in_training(cfg, tmp_path / "killed")
    assert in_training == [(0, "parallel", network, 45)], "the fill's status names it and where it continues"
    have, need = cached_count(cfg, tmp_path / "killed")
    assert bench_families.incomplete_line(cfg, tmp_path / "killed", have, need) == (
        f"Incomplete: 0 of {need} networks trained and cached; 1 in training, continued from their snapshots by "
        f"the next fill: parallel seed 0 ({', '.join(network.tasks)}) at step 45; {need - 1} not started."
    )
    again = cached_run(cfg, network, 0, tmp_path / "killed")
    assert len(calls) == 4 + (cfg.max_steps // cfg.eval_every - 3), "it continued from step 45, not from 0"
    assert (again.metrics, again.curve, again.best_step, again.steps_run) == (
        whole.metrics,
        whole.curve,
        whole.best_step,
        whole.steps_run,
    )
    assert whole.records.tasks.keys() == again.records.tasks.keys()
    for task, records in whole.records.tasks.items():
        for name, values in records.values.items():
            assert np.array_equal(values, again.records.tasks[task].values[name], equal_nan=True), (task, name)
    assert not snapshot_path(stem).exists() and not any(snapshot_path(stem).parent.iterdir())
