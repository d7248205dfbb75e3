"""``bench_families.py --retrain-with``: a seed set's networks trained again with one change, beside chance and its
margin, read back by the lesson that quotes it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_families  # noqa: E402

from mtdl_kit.lab.families import cached_run, default_families_config, networks_of  # noqa: E402
from mtdl_kit.services import lessons  # noqa: E402


def test_a_quick_variant_of_cached_runs_carries_chance_levels_and_margins(tmp_path: Path) -> None:
    cfg = default_families_config("eye", quick=True)
    network = networks_of(cfg, "single@params")["glaucoma"]
    with pytest.raises(SystemExit, match=r"is not in .*train it first"):
        bench_families.variant_section(
            "eye", {"n_train": 32}, ["single@params"], ["glaucoma"], cfg.seeds, tmp_path, 1,
            write=False, of_run="cache", quick=True,
        )  # fmt: skip
    for seed in cfg.seeds:
        cached_run(cfg, network, seed, tmp_path)
    table = bench_families.variant_section(
        "eye", {"n_train": 32}, ["single@params"], ["glaucoma"], cfg.seeds, tmp_path, 1,
        write=False, of_run="cache", quick=True,
    )  # fmt: skip
    assert list(table["seed"]) == list(cfg.seeds) and set(table["metric"]) == {"auc"}
    for seed in cfg.seeds:
        assert (
            table.set_index("seed").loc[seed, "headline"]
            == cached_run(cfg, network, seed, tmp_path).metrics["glaucoma"]["auc"]
        )
    # glaucoma is binary: its AUC must clear chance by 1.645 null SDs of the quick test split (64 cases)
    assert (table["margin_headline"] > 0.1).all() and (table["margin_variant"] == table["margin_headline"]).all()
    alone = bench_families.variant_section(
        "eye", {"n_train": 32}, ["single@params"], ["glaucoma"], (cfg.seeds[1],), tmp_path, 1,
        write=False, of_run="cache", quick=True,
    )  # fmt: skip
    assert alone.to_dict("records") == table[table["seed"] == cfg.seeds[1]].to_dict("records"), "one seed alone"
    table.to_csv(tmp_path / "transfer_g_eye_headline_n_train32.csv", index=False)
    line = lessons.families_lab_variant_reading("eye", "n_train32", root=tmp_path)
    assert line.startswith("- **single@params**, glaucoma (auc; chance 0.5): beating chance ")
    assert "with n_train = 32" in line


def test_a_variant_of_seeds_outside_the_committed_seed_set_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"--seeds \[99\] are not in the seed set 'headline'"):
        bench_families.variant_section(
            "eye", {"n_train": 32}, ["single@params"], ["glaucoma"], (0, 99), tmp_path, 1, write=False
        )
    assert not any(tmp_path.iterdir()), "refused before training anything"


def test_each_seed_sets_diagnostic_has_its_own_section() -> None:
    """The knee's 256-case diagnostics and its 1,024-case headline's must not overwrite each other."""
    name = bench_families.variant_section_name
    assert name("brain", "n_train1024", "headline") == "families-lab-n_train1024-brain"
    knee = name("musculoskeletal", "max_steps4000", "headline256")
    assert knee == "families-lab-max_steps4000-musculoskeletal-headline256"
    assert knee != name("musculoskeletal", "max_steps4000", "headline")
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    checked = 0
    for csv in (ROOT / "benchmarks" / "results").glob("transfer_g_*.csv"):
        parts = csv.stem.split("_")  # transfer_g_<region>_<run>_<label...>
        label = "_".join(parts[4:])
        if not any(
            label.startswith(k) for k in ("n_train", "size", "max_steps", "weighting", "unstopped", "substituted")
        ):
            continue
        section = name(parts[2], label, parts[3])
        assert f"<!-- BEGIN {section} -->" in results, f"{csv.name} has no RESULTS section {section}"
        checked += 1
    assert checked >= 6  # the knee's four headline256 diagnostics, the brain's and the pathology's


def test_retrain_changes_take_numbers_and_names() -> None:
    parse = bench_families.retrain_changes
    assert parse("n_train=1024") == {"n_train": 1024}
    assert parse("weighting=uw, max_steps=4000") == {"weighting": "uw", "max_steps": 4000}
    for bad in ("", "n_train", "n_train=", "=uw", "weighting=uw,"):
        with pytest.raises(ValueError, match="KEY=VALUE"):
            parse(bad)
    # a name the configuration does not know is refused by its validation, before anything trains
    cfg = default_families_config("eye", quick=True)
    with pytest.raises(ValueError, match="unknown weighting"):
        default_families_config("eye", quick=True, **parse("weighting=nonsense"))
    assert default_families_config("eye", quick=True, **parse("weighting=uw")).key() != cfg.key()


def test_training_minutes_count_each_network_once() -> None:
    """A multi-task network has a row per task, each with its one training time; single-task networks a row each."""
    import pandas as pd

    rows = [("parallel", 0, t, 600.0) for t in ("tumour", "grade", "reconstruction")]
    rows += [("single@params", 0, t, s) for t, s in (("tumour", 120.0), ("grade", 60.0))]
    rows += [("parallel", 1, "tumour", 300.0), ("parallel", 1, "grade", 300.0)]
    table = pd.DataFrame(rows, columns=["arm", "seed", "task", "seconds"])
    assert bench_families.training_minutes(table) == (600 + 120 + 60 + 300) / 60
    assert bench_families.processes(1) == "1 process" and bench_families.processes(2) == "2 processes"


def test_a_variant_trains_each_network_in_one_job(tmp_path: Path) -> None:
    """A multi-task network is one job for all its tasks (a job per task let two processes train the same network
    at once: the abdomen's parallel network of seed 0 was trained twice), a single-task network one job for every
    arm that builds it: the segmentation baseline is the same network under both capacity rules."""
    from mtdl_kit.lab.families import cache_stem

    cfg = default_families_config("abdomen", quick=True)
    tasks = ["liver_lesion", "malignancy", "lesion_diameter"]
    arms = ["single@params", "single@width", "parallel", "hybrid"]
    jobs = bench_families.variant_jobs(cfg, arms, tasks, (0, 4), tmp_path)
    stems = [cache_stem(cfg, network, seed, tmp_path) for _, network, seed, _, _ in jobs]
    assert len(set(stems)) == len(stems), "two jobs train the same network"
    served = [(seed, pair) for _, _, seed, pairs, _ in jobs for pair in pairs]
    asked = [(seed, (arm, task)) for arm in arms for task in tasks for seed in (0, 4)]
    assert sorted(served) == sorted(asked), "every (arm, task, seed) is served exactly once"
    shared = [pairs for _, _, _, pairs, _ in jobs if len({arm for arm, _ in pairs}) > 1]
    assert shared and all(
        pairs == (("single@params", "liver_lesion"), ("single@width", "liver_lesion")) for pairs in shared
    )
    assert len(shared) == 2, "the segmentation baseline, once per seed"
    assert [(pairs[0][0], seed) for _, _, seed, pairs, _ in jobs if not pairs[0][0].startswith("single")] == [
        ("parallel", 0),
        ("parallel", 4),
        ("hybrid", 0),
        ("hybrid", 4),
    ]


@given(
    changes=st.dictionaries(
        st.sampled_from(
            ["n_train", "max_steps", "size", "focus_crop", "weighting", "dense_decoder", "chance_guard", "interaction"]
        ),
        st.integers(1, 4096),
        min_size=1,
    )
)
def test_a_change_label_reads_back_as_the_changes_that_named_it(changes: dict) -> None:
    """``label_changes`` inverts ``change_label``, typed as the configuration's fields (the committed cache test
    rebuilds each diagnostic's configuration from its file name)."""
    from mtdl_kit.lab.families import change_label, label_changes

    typed = {
        k: {"weighting": "uw", "dense_decoder": "per_task", "chance_guard": v % 2 == 0, "interaction": "attention"}.get(
            k, v
        )
        for k, v in changes.items()
    }
    assert label_changes(change_label(typed)) == typed


def test_a_label_that_names_no_change_gives_none_and_a_bad_value_is_named() -> None:
    from mtdl_kit.lab.families import label_changes

    assert label_changes("unstopped") == {} and label_changes("runs") == {}
    with pytest.raises(ValueError, match="n_train is a number; the label 'n_trainmany' gives 'many'"):
        label_changes("n_trainmany")
    with pytest.raises(ValueError, match="chance_guard is True or False"):
        label_changes("chance_guardyes")
