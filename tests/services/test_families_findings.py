"""The For clinicians page's experiment-G section: every sentence follows the committed families CSVs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from mtdl_kit.services.families_findings import (
    ARMS,
    BASELINE,
    FAMILY_WORDS,
    RULE_ARMS,
    at_cap_sentence,
    baseline_at_chance_sentence,
    families_summary,
    family_findings,
    family_sentences,
    rule_changes,
)
from mtdl_kit.verdicts import verdict

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _copy(tmp_path: Path, region: str, runs=("headline", "replication"), kinds=("summary", "runs", "chance")) -> Path:
    for run in runs:
        for kind in kinds:
            src = RESULTS / f"transfer_g_{region}_{run}_{kind}.csv"
            shutil.copy(src, tmp_path / src.name)
    return tmp_path


def _plant(root: Path, region: str, run: str, contrast: str, task: str, value: float, low: float, high: float) -> None:
    path = root / f"transfer_g_{region}_{run}_summary.csv"
    frame = pd.read_csv(path)
    row = (frame["contrast"] == contrast) & (frame["task"] == task)
    assert row.sum() == 1, (contrast, task)
    frame.loc[row, ["value", "ci_low", "ci_high"]] = [value, low, high]
    frame.to_csv(path, index=False)


@pytest.mark.parametrize("region", ["eye", "chest", "cardiac", "musculoskeletal", "other"])
def test_the_committed_results_read_as_their_intervals_say(region: str) -> None:
    summary = pd.read_csv(RESULTS / f"transfer_g_{region}_headline_summary.csv")
    runs = pd.read_csv(RESULTS / f"transfer_g_{region}_headline_runs.csv")
    findings = family_findings(region)
    assert [f.arm for f in findings] == list(ARMS)
    for f in findings:
        assert f.seeds == tuple(sorted(runs["seed"].unique()))
        rows = summary[(summary["contrast"] == f"{f.arm} - {BASELINE}") & (summary["task"] != "delta_m")]
        assert set(f.tasks) == set(rows["task"])
        for r in rows.itertuples():
            assert f.tasks[r.task].word == verdict(r.value, r.ci_low, r.ci_high).word == r.verdict


def test_cardiac_sentences_name_tasks_in_words_with_signed_differences() -> None:
    lines = family_sentences("cardiac")
    assert len(lines) == len(ARMS)
    text = "\n".join(lines)
    assert "lv_indices" not in text and "LV blood pool, LV myocardium and RV blood pool" in text, "plain words"
    cascade = next(line for line in lines if "(cascaded)" in line)
    # the summary flips errors (positive = better); the page shows the plain difference: a smaller error is negative
    row = pd.read_csv(RESULTS / "transfer_g_cardiac_headline_summary.csv").query(
        "contrast == 'cascaded@params - single@params' and task == 'lv_indices'"
    )
    assert float(row["value"].iloc[0]) > 0 and f"**better** (error -{float(row['value'].iloc[0]):.1f}" in cascade
    assert "Repeated on fresh seeds (8 seeds, 100–107)" in cascade


def test_a_changed_verdict_on_fresh_seeds_is_named(tmp_path: Path) -> None:
    root = _copy(tmp_path, "cardiac")
    _plant(root, "cardiac", "headline", "hybrid - single@params", "diagnosis", 0.04, 0.02, 0.06)
    _plant(root, "cardiac", "replication", "hybrid - single@params", "diagnosis", -0.03, -0.05, -0.01)
    hybrid = next(line for line in family_sentences("cardiac", root=root) if "(hybrid)" in line)
    assert "one verdict changed (LV geometry" in hybrid and "better → worse" in hybrid
    assert "not a finding" in hybrid
    _plant(root, "cardiac", "replication", "hybrid - single@params", "diagnosis", 0.05, 0.01, 0.09)
    for name in ("lv_indices", "ventricles"):  # copy the headline's verdicts onto the fresh seeds
        head = pd.read_csv(root / "transfer_g_cardiac_headline_summary.csv").query(
            f"contrast == 'hybrid - single@params' and task == '{name}'"
        )
        _plant(
            root,
            "cardiac",
            "replication",
            "hybrid - single@params",
            name,
            *head[["value", "ci_low", "ci_high"]].iloc[0],
        )
    hybrid = next(line for line in family_sentences("cardiac", root=root) if "(hybrid)" in line)
    assert "the same verdict on every task" in hybrid


def test_without_fresh_seeds_the_sentence_says_so(tmp_path: Path) -> None:
    root = _copy(tmp_path, "cardiac", runs=("headline",))
    lines = family_sentences("cardiac", root=root)
    assert lines and all(line.endswith("Not yet repeated on fresh seeds.") for line in lines)
    assert families_summary("cardiac", root=root).ran == ("headline",)


def test_a_region_without_results_claims_nothing(tmp_path: Path) -> None:
    summary = families_summary("brain", root=tmp_path)
    assert summary.ran == ()
    assert summary.findings == [
        "Experiment G has not been run on the brain phantoms yet (no transfer_g_brain_headline_summary.csv), "
        "so nothing is claimed for this region."
    ]


def test_runs_at_chance_are_named_and_explained(tmp_path: Path) -> None:
    lines = family_sentences("musculoskeletal")
    parallel = next(line for line in lines if "(parallel)" in line)
    landmarks = parallel[parallel.index("Lowest points") :]
    assert "**worse**" in landmarks and "in 8 of 8 runs no better than a guess that never sees the image" in landmarks
    assert any("learnt nothing" in c for c in families_summary("musculoskeletal").caveats)
    assert not any("learnt nothing" in c for c in families_summary("cardiac").caveats), "every cardiac run beats chance"
    root = _copy(tmp_path, "musculoskeletal", kinds=("summary", "runs"))  # no chance table: no chance clause
    assert "no better than a guess" not in "\n".join(family_sentences("musculoskeletal", root=root))


def test_reconstructions_worse_than_the_noisy_input_are_named_and_explained(tmp_path: Path) -> None:
    """The brain: each family's count of reconstruction runs above the copy of the noisy input is the committed
    tables' (``_copyinput.csv``), named in its sentence only where it is above 0, with a caveat saying what it means;
    without the copy-input table nothing is said."""
    from mtdl_kit.lab.chance import runs_against_copy_input

    runs = pd.read_csv(RESULTS / "transfer_g_brain_headline_runs.csv")
    paired = runs_against_copy_input(runs, pd.read_csv(RESULTS / "transfer_g_brain_headline_copyinput.csv"))
    counts = paired.groupby("arm")["worse"].agg(["sum", "count"])
    findings = {f.arm: f for f in family_findings("brain")}
    named = {arm for arm, f in findings.items() if f.worse_than_copy}
    assert named == {arm for arm in findings if counts.loc[arm, "sum"] > 0} and "parallel" in named
    lines = family_sentences("brain")
    for arm in findings:
        line = next(line for line in lines if line.startswith(f"**{FAMILY_WORDS[arm]}**"))
        worse, n = int(counts.loc[arm, "sum"]), int(counts.loc[arm, "count"])
        said = f"in {worse} of {n} runs worse than handing back the noisy image unchanged"
        assert (said in line) == (worse > 0), (arm, line)
    assert any("worse than using no network" in c for c in families_summary("brain").caveats)
    assert not any("worse than using no network" in c for c in families_summary("cardiac").caveats)
    root = _copy(tmp_path, "brain", runs=("headline",))  # no copy-input table: no clause, no caveat
    assert "handing back" not in "\n".join(family_sentences("brain", root=root))
    assert not any("worse than using no network" in c for c in families_summary("brain", root=root).caveats)


def test_a_summary_without_an_arm_fails_with_the_fix(tmp_path: Path) -> None:
    root = _copy(tmp_path, "cardiac", runs=("headline",))
    path = root / "transfer_g_cardiac_headline_summary.csv"
    frame = pd.read_csv(path)
    frame[frame["arm"] != "hybrid"].to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"no rows 'hybrid - single@params'.*bench_families\.py"):
        family_findings("cardiac", root=root)
    frame.drop(columns=["ci_low"]).to_csv(path, index=False)
    with pytest.raises(ValueError, match="lacks the columns \\['ci_low'\\]"):
        family_findings("cardiac", root=root)


def test_task_words_cut_at_a_full_stop_not_a_decimal_point() -> None:
    from mtdl_kit.regions import get_region
    from mtdl_kit.services.clinicians import task_words

    assert task_words(get_region("other"), "abcd") == "ABCD-like dermoscopy score 1.3A + 0.1B + 0.5C + 0.5D'"
    assert task_words(get_region("cardiac"), "ventricles") == "LV blood pool, LV myocardium and RV blood pool"
    assert task_words(get_region("eye"), "glaucoma") == "Glaucoma suspect"


@pytest.mark.parametrize("rule", ["params", "width"])
def test_each_rule_reads_its_own_contrasts(rule: str) -> None:
    arms, baseline = RULE_ARMS[rule]
    summary = pd.read_csv(RESULTS / "transfer_g_other_headline_summary.csv")
    findings = family_findings("other", rule=rule)
    assert [f.arm for f in findings] == list(arms)
    for f in findings:
        rows = summary[(summary["contrast"] == f"{f.arm} - {baseline}") & (summary["task"] != "delta_m")]
        assert {r.task: r.verdict for r in rows.itertuples()} == {t: v.word for t, v in f.tasks.items()}
    with pytest.raises(ValueError, match="rule 'depth' is not one of"):
        family_findings("other", rule="depth")


def test_the_caveat_counts_the_verdicts_the_other_rule_changes(tmp_path: Path) -> None:
    summary = pd.read_csv(RESULTS / "transfer_g_chest_headline_summary.csv")
    changes, n = rule_changes("chest")
    expected = 0
    for params_arm, width_arm in zip(*(RULE_ARMS[r][0] for r in ("params", "width")), strict=True):
        a = summary[summary["contrast"] == f"{params_arm} - single@params"].set_index("task")["verdict"]
        b = summary[summary["contrast"] == f"{width_arm} - single@width"].set_index("task")["verdict"]
        expected += int((a.drop("delta_m") != b.drop("delta_m")).sum())
    assert n == 12 and len(changes) == expected
    caveat = next(c for c in families_summary("chest").caveats if c.startswith("Equal total parameters"))
    assert f"{expected} of the 12 verdicts" in caveat
    # copy the equal-parameter verdicts onto the equal-width contrasts: no verdict changes
    root = _copy(tmp_path, "chest", runs=("headline",))
    frame = pd.read_csv(root / "transfer_g_chest_headline_summary.csv")
    for params_arm, width_arm in zip(*(RULE_ARMS[r][0] for r in ("params", "width")), strict=True):
        src = frame["contrast"] == f"{params_arm} - single@params"
        dst = frame["contrast"] == f"{width_arm} - single@width"
        frame.loc[dst, ["value", "ci_low", "ci_high"]] = frame.loc[src, ["value", "ci_low", "ci_high"]].to_numpy()
    frame.to_csv(root / "transfer_g_chest_headline_summary.csv", index=False)
    assert rule_changes("chest", root=root) == ([], 12)
    assert "every one of the 12 verdicts is the same" in " ".join(families_summary("chest", root=root).caveats)
    # plant one change: the hybrid's classification becomes worse at equal width only
    _plant(root, "chest", "headline", "hybrid - single@width", "cardiomegaly", -0.05, -0.08, -0.02)
    changes, _ = rule_changes("chest", root=root)
    assert len(changes) == 1 and changes[0].startswith("hybrid, ") and changes[0].endswith("→ worse")
    assert "1 of the 12 verdicts differs: hybrid" in " ".join(families_summary("chest", root=root).caveats)


def test_a_region_without_results_has_no_rule_caveat(tmp_path: Path) -> None:
    assert rule_changes("brain", root=tmp_path) == ([], 0)
    assert not any("other rule" in c and "verdicts" in c for c in families_summary("brain", root=tmp_path).caveats)


@pytest.mark.parametrize("region", ["brain", "musculoskeletal"])
def test_the_networks_ended_by_the_cap_are_counted_from_the_runs(region: str) -> None:
    runs = pd.read_csv(RESULTS / f"transfer_g_{region}_headline_runs.csv")
    at_cap = runs[runs["at_cap"].astype(bool)]
    single = at_cap[at_cap["arm"] == BASELINE][["seed", "task"]].drop_duplicates()  # one network per task
    multi = at_cap[at_cap["arm"].isin(ARMS)][["arm", "seed"]].drop_duplicates()  # one network per family
    n_tasks = runs["task"].nunique()
    n_seeds = runs["seed"].nunique()
    total = n_seeds * (n_tasks + len(ARMS))
    sentence = at_cap_sentence(region)
    assert f"{len(single) + len(multi)} of {total} networks" in sentence
    assert (
        f"({len(single)} of {n_seeds * n_tasks} single-task, {len(multi)} of {n_seeds * len(ARMS)} multi-task)"
        in sentence
    )
    caveats = families_summary(region).caveats
    assert any("stopped improving or a step cap" in c and sentence in c for c in caveats)


def test_no_cap_sentence_when_every_network_stopped_by_the_rule(tmp_path: Path) -> None:
    root = _copy(tmp_path, "brain", runs=("headline",))
    path = root / "transfer_g_brain_headline_summary.csv"
    frame = pd.read_csv(path)
    frame.loc[frame["contrast"] == "mean", "runs_at_cap"] = 0
    frame.to_csv(path, index=False)
    assert at_cap_sentence("brain", root=root) == ""
    assert not any("cap before the rule" in c for c in families_summary("brain", root=root).caveats)


def test_a_single_task_baseline_at_chance_is_a_caveat_with_its_counts(tmp_path: Path) -> None:
    """Where the page's single-task networks do not beat the image-blind guess, a family's "better" is "learnt at
    all": the page says so, per task, with the runs counted from the tables (not on the cardiac, whose baselines
    all learn)."""
    assert baseline_at_chance_sentence("cardiac") == ""
    assert not any(c.startswith("The single-task networks themselves") for c in families_summary("cardiac").caveats)
    root = _copy(tmp_path, "cardiac", runs=("headline",))
    runs = pd.read_csv(root / "transfer_g_cardiac_headline_runs.csv")
    chance = pd.read_csv(root / "transfer_g_cardiac_headline_chance.csv")
    task, metric = chance[chance["primary"]].iloc[-1][["task", "metric"]]  # the last task with a chance level
    guess = chance[(chance["task"] == task) & chance["primary"]].set_index("seed")["value"]
    rows = (runs["arm"] == BASELINE) & (runs["task"] == task) & (runs["metric"] == metric)
    planted = runs.loc[rows, "seed"].iloc[:3]  # three runs answer exactly the guess: none beats it
    runs.loc[planted.index, "value"] = guess[planted].to_numpy()
    runs.to_csv(root / "transfer_g_cardiac_headline_runs.csv", index=False)
    sentence = baseline_at_chance_sentence("cardiac", root=root)
    from mtdl_kit.regions import get_region
    from mtdl_kit.services.clinicians import task_words

    n = int(rows.sum())
    assert f"{task_words(get_region('cardiac'), task)} (3 of {n} runs)" in sentence, sentence
    assert sentence in families_summary("cardiac", root=root).caveats
    assert baseline_at_chance_sentence("cardiac", root=tmp_path / "none") == ""  # no tables: nothing claimed
