"""Verdicts from the committed results tables, and the prose that states effects.

The verdicts are regenerated from ``benchmarks/results/*.csv`` on every run; every claim written
into fixed prose (``<!-- verdict TABLE col=value ...: WORD -->`` in the lessons, the README and
docs/) must agree with them, and sentences the numbers contradicted (issue 13) must not come back.
Tests of the test plant a contradiction, in the prose and in the numbers, and expect it caught.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from mtdl_kit import exercises
from mtdl_kit.inference import delta_m_summary
from mtdl_kit.results import TABLES, load_results
from mtdl_kit.verdicts import (
    BETTER,
    CROSSOVER_CONTRASTS,
    NULL,
    WORSE,
    check_claims,
    crossover_arms,
    crossover_seeds,
    crossover_table_reading,
    family_reading,
    find_claims,
    negative_transfer_reading,
    region_reading,
    seed_bootstrap,
    seed_contrast,
    shares_layers,
    verdict,
    verdict_of,
    verdicts,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
#: fixed prose that may state effects: the lessons' sources, the README and the docs pages
PROSE = sorted([*ROOT.glob("notebooks/*.py"), ROOT / "README.md", *ROOT.glob("docs/*.md")])
#: sentences the numbers contradicted (issue 13); none may return unless a claim marker backs it
RETIRED = (
    "textbook case for a hybrid",
    "sharing should pay most",
    "sees the lesion only",
    "harder to fool",
    "landmark-guided heads",
    "as a self-supervised",
    "shared/reference/",
    "exercises.check_best_family(",
    "negative transfer; the interval excludes 0",
)


def test_the_rule() -> None:
    assert verdict(4.1, 1.2, 7.0).word == BETTER
    assert str(verdict(4.1, 1.2, 7.0)) == "better: +4.1 % [+1.2, +7.0]"
    assert verdict(-15.3, -28.4, -2.9).word == WORSE
    assert verdict(-1.6, -11.9, 10.7).word == NULL
    assert str(verdict(0.44, 0.359, 0.502, unit="AUC")) == "better: +0.440 AUC [+0.359, +0.502]"
    assert verdict(0.0, 0.0, 1.0).word == NULL  # an interval touching 0 does not exclude it
    with pytest.raises(ValueError, match="no confidence interval"):
        verdict(1.0, float("nan"), 2.0)
    with pytest.raises(ValueError, match="above"):
        verdict(1.0, 3.0, 2.0)


@pytest.mark.parametrize("table", [t for t in TABLES if "ci_low" in TABLES[t]])
def test_verdicts_agree_with_the_tables_own_significance(table: str) -> None:
    """Regenerated from the committed CSVs: 'significant' in the CSV ⇔ a detectable verdict."""
    got = verdicts(table)
    assert not got.empty
    frame = load_results(table)
    frame = frame[frame["ci_low"] != frame["ci_high"]].reset_index(drop=True)
    assert list(got["verdict"] != NULL) == [bool(s) for s in frame["significant"]]
    assert ((got["verdict"] == BETTER) == (got["ci_low"] > 0)).all()


def test_transfer_lab_verdicts() -> None:
    """Experiment A's contrasts, headline and replication (issue 12), read through the same rule."""
    from mtdl_kit.lab.transfer import SHRINKAGE

    for run in ("headline", "replication"):
        got = verdicts(f"transfer_a_{run}")
        assert set(got["contrast"]) == {"related - none", "shuffled - none", "related - shuffled", SHRINKAGE}
        # the shrinkage across budgets: one row per budget above the smallest
        assert sorted(got[got["contrast"] == SHRINKAGE]["budget"]) == sorted(set(got["budget"]))[1:]
        summary = pd.read_csv(RESULTS / f"transfer_a_{run}_summary.csv").dropna(subset=["ci_low"])
        assert list(got["verdict"] != NULL) == [bool(s) for s in summary["significant"]]


def test_experiment_b_tables_are_a_verdict_source() -> None:
    """Experiment B's contrasts (the camera adversary), headline and replication, read through the same rule."""
    from mtdl_kit.lab import ADVERSARIAL_CONTRASTS

    for run in ("headline", "replication"):
        got = verdicts(f"transfer_b_{run}")
        assert set(got["contrast"]) == set(ADVERSARIAL_CONTRASTS)
        summary = pd.read_csv(RESULTS / f"transfer_b_{run}_summary.csv").dropna(subset=["ci_low"])
        assert list(got["verdict"] != NULL) == [bool(s) for s in summary["significant"]]
        assert set(summary["budget"]) == {1024}, "every training case carries the main label"


def test_experiment_f_tables_are_a_verdict_source() -> None:
    """Experiment F's rank correlations (early gradients vs final Δ), headline and replication, in units of ρ."""
    from mtdl_kit.lab import PREDICTORS

    for run in ("headline", "replication"):
        got = verdicts(f"transfer_f_{run}")
        assert set(got["contrast"]) == {f"rho: {p}" for p in PREDICTORS}
        summary = pd.read_csv(RESULTS / f"transfer_f_{run}_summary.csv")
        assert list(got["verdict"] != NULL) == [bool(s) for s in summary["significant"]]
        assert all(" ρ [" in text for text in got["text"])
        assert (summary["n"] == 12).all(), "the crossover's 12 multi-task conditions"


def test_experiment_g_tables_are_a_verdict_source() -> None:
    """Experiment G (the families under the lab's protocol): Δm rows in %, per-task rows in the metric's units,
    every family under both capacity rules, and the lessons' table and reading read the same CSV."""
    from mtdl_kit.lab.families import summary_reading
    from mtdl_kit.services.lessons import families_lab_reading, families_lab_table

    summary = pd.read_csv(RESULTS / "transfer_g_eye_headline_summary.csv")
    dm = verdicts("transfer_g_eye_headline", task="delta_m")
    assert len(dm) == 8 and all(" % [" in text for text in dm["text"])
    assert {c.split(" - ")[1] for c in dm["contrast"]} == {"single@params", "single@width"}
    auc = verdicts("transfer_g_eye_headline", task="glaucoma")
    assert all(" AUC [" in text for text in auc["text"])
    contrasts = summary[summary["contrast"] != "mean"]
    assert list(verdicts("transfer_g_eye_headline")["verdict"] != NULL) == [
        bool(s) for s in contrasts[contrasts["ci_low"] != contrasts["ci_high"]]["significant"]
    ]
    assert (contrasts["n_seeds"] == 8).all()
    table = families_lab_table("eye")
    assert len(table) == 8 and {"Δm", "Δ glaucoma auc", "Δ disc_cup dice", "Δ cdr mae"} <= set(table.columns)
    reading = families_lab_reading("eye")
    assert all(line in reading for line in summary_reading(summary))


def test_issue_13_sentences_now_follow_the_numbers() -> None:
    """What the issue found contradicted, stated from the tables."""
    eye = "\n".join(family_reading("eye"))
    assert "**hybrid**: worse" in eye and "No family is better" in eye
    cascaded = next(line for line in family_reading("eye") if "**cascaded**" in line)
    assert "not negative transfer" in cascaded
    assert not shares_layers("cascaded (two-stage)") and shares_layers("hybrid (mask-guided)")
    assert shares_layers("parallel") and not shares_layers("cascaded")
    for line in negative_transfer_reading("eye") + negative_transfer_reading("chest"):
        assert "does not show negative transfer" in line
    # every region's families reading: "worse" only beside a reason that is not "negative transfer"
    for region in load_results("families")["region"].unique():
        for line in delta_m_summary(load_results("families", region=region)).splitlines():
            assert "negative transfer" not in line.replace("not negative transfer", "")
        assert "families" not in region_reading(region)  # table 1 is read elsewhere


def test_claims_are_parsed() -> None:
    text = 'a\n<!-- verdict transfer_a_headline budget=16 contrast="related - none": better -->\n'
    (claim,) = find_claims(text)
    assert claim.table == "transfer_a_headline" and claim.where == {"budget": "16", "contrast": "related - none"}
    assert claim.word == BETTER and claim.line == 2
    assert check_claims(text) == []


@pytest.mark.parametrize("path", PROSE, ids=[p.name for p in PROSE])
def test_fixed_prose_agrees_with_the_numbers(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert check_claims(text, source=path.name) == []
    for sentence in RETIRED:
        assert sentence not in text, f"{path.name} still says {sentence!r}, which the results contradict"


def test_the_lessons_make_claims() -> None:
    """The check is not vacuous: the lessons carry claims, and each names a row that exists."""
    claims = [c for p in PROSE for c in find_claims(p.read_text(encoding="utf-8"))]
    assert len(claims) >= 3
    for claim in claims:
        verdict_of(claim.table, **claim.where)


def test_a_planted_contradiction_is_caught() -> None:
    """A test of the test: prose that says 'better' where the interval says 'worse' fails."""
    planted = "The hybrid wins on the eye. <!-- verdict families region=eye family=hybrid: better -->"
    (problem,) = check_claims(planted, source="planted.md")
    assert "planted.md:1" in problem and "'better'" in problem and "worse: -15.3 %" in problem
    assert check_claims("<!-- verdict families region=eye family=nonexistent: worse -->")  # no such row


def test_changed_numbers_make_committed_prose_fail(tmp_path: Path) -> None:
    """A test of the test: the prose follows the numbers — flip one interval and a lesson's claim fails."""
    shutil.copytree(RESULTS, tmp_path, dirs_exist_ok=True)
    claims = [(p, c) for p in PROSE for c in find_claims(p.read_text(encoding="utf-8"))]
    path, claim = next((p, c) for p, c in claims if c.table == "families")
    frame = pd.read_csv(tmp_path / "families.csv")
    row = (frame["region"] == claim.where["region"]) & (frame["family"] == claim.where["family"])
    flipped = {BETTER: (-9.0, -12.0, -6.0), WORSE: (9.0, 6.0, 12.0), NULL: (9.0, 6.0, 12.0)}[claim.word]
    frame.loc[row, ["delta_m", "ci_low", "ci_high"]] = flipped
    frame.to_csv(tmp_path / "families.csv", index=False)
    assert check_claims(path.read_text(encoding="utf-8"), root=tmp_path)


def test_check_verdicts_exercise_can_fail(capsys: pytest.CaptureFixture[str]) -> None:
    eye = verdicts("families", region="eye")
    right = dict(zip(eye["family"], eye["verdict"], strict=True))
    exercises.check_verdicts(right, region="eye")
    assert "✅" in capsys.readouterr().out
    wrong = {**right, "hybrid": BETTER}
    with pytest.raises(exercises.ExerciseError, match="hybrid"):
        exercises.check_verdicts(wrong, region="eye")
    with pytest.raises(exercises.ExerciseError, match="No verdict"):
        exercises.check_verdicts({"hybrid": WORSE}, region="eye")
    with pytest.raises(exercises.ExerciseError, match="not a verdict"):
        exercises.check_verdicts({**right, "parallel": "same"}, region="eye")


def test_check_paired_interval_can_fail(capsys: pytest.CaptureFixture[str]) -> None:
    a, b = [0.9, 0.95, 0.85, 0.92], [0.5, 0.55, 0.52, 0.48]
    mean, low, high = exercises.reference_paired_interval(a, b)
    assert low < mean < high and mean == pytest.approx(0.3925)
    assert exercises.check_paired_interval((mean, low, high), a, b) == BETTER
    with pytest.raises(exercises.ExerciseError, match="mean difference"):
        exercises.check_paired_interval((mean + 0.01, low, high), a, b)
    with pytest.raises(exercises.ExerciseError, match="interval"):
        exercises.check_paired_interval((mean, low - 0.05, high + 0.05), a, b)
    flat = [0.5, 0.6, 0.4, 0.55]
    assert exercises.check_paired_interval(exercises.reference_paired_interval(flat, b), flat, b) == NULL
    for not_three in (mean, (mean, low), "abc", None):
        with pytest.raises(exercises.ExerciseError, match=r"(?s)must be \(mean, ci_low, ci_high\).*three numbers"):
            exercises.check_paired_interval(not_three, a, b)


# ------------------------------------------------------------------ experiment C: the crossover
CROSSOVER_RUNS = ("eye_headline", "eye_replication")


@pytest.mark.parametrize("run", CROSSOVER_RUNS)
def test_crossover_summary_is_a_verdict_source(run: str) -> None:
    """``transfer_c_<region>_<run>`` reads like the other transfer tables: its CI rows get verdicts."""
    got = verdicts(f"transfer_c_{run}")
    assert list(got["contrast"]) == list(CROSSOVER_CONTRASTS)
    summary = pd.read_csv(RESULTS / f"transfer_c_{run}_summary.csv").dropna(subset=["ci_low"])
    assert list(got["verdict"] != NULL) == [bool(s) for s in summary["significant"]]


@pytest.mark.parametrize("run", CROSSOVER_RUNS)
def test_crossover_seeds_reproduce_the_labs_contrasts(run: str) -> None:
    """The seed table and the weights of CROSSOVER_CONTRASTS give the lab's point values (paired by seed)."""
    table = crossover_seeds(run)
    assert table.attrs == {"run": run, "budget": 16, "task": "glaucoma", "metric": "auc"}
    assert list(table.columns) == [f"{r}:{a}" for r in "AB" for a in ("none", "related", "unrelated", "shuffled")]
    assert len(table) == 8 and not table.isna().to_numpy().any()
    for _, row in verdicts(f"transfer_c_{run}").iterrows():
        got = seed_contrast(table, CROSSOVER_CONTRASTS[row["contrast"]])
        assert got.value == pytest.approx(row["value"], abs=1e-12)
        assert got.n_seeds == 8 and got.unit == "AUC"
    arms = crossover_arms(run).set_index(["rule", "arm"])
    assert arms.loc[("A", "related"), "auxiliary task"] == "disc_cup"
    assert arms.loc[("B", "related"), "auxiliary task"] == "rnfl_defect"
    assert arms.loc[("A", "none"), "auxiliary task"] == "–"
    assert arms.loc[("B", "unrelated"), "median aux Dice"] > 0


def test_a_partial_crossover_is_refused(tmp_path: Path) -> None:
    """A run that lacks one arm of one seed cannot be paired (chest runs may land half-written)."""
    frame = pd.read_csv(RESULTS / "transfer_c_eye_headline_runs.csv")
    drop = (frame["seed"] == 3) & (frame["rule"] == "B") & (frame["arm"] == "shuffled")
    frame[~drop].to_csv(tmp_path / "transfer_c_eye_headline_runs.csv", index=False)
    with pytest.raises(ValueError, match=r"partial.*\[3\]"):
        crossover_seeds("eye_headline", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="bench_crossover"):
        crossover_seeds("chest_nothing", root=tmp_path)


def test_seed_bootstrap() -> None:
    mean, low, high = seed_bootstrap([0.1, 0.2, 0.3, 0.4])
    assert mean == pytest.approx(0.25) and 0.1 <= low < mean < high <= 0.4
    assert seed_bootstrap([0.1, 0.2, 0.3, 0.4]) == (mean, low, high)  # seeded: reproducible
    values = [0.43, 0.12, 0.35, 0.27, 0.51, 0.08, 0.33, 0.19]
    assert seed_bootstrap(values, seed=1) != seed_bootstrap(values)
    assert seed_bootstrap(values, confidence=0.5)[1] > seed_bootstrap(values)[1]  # a narrower interval
    with pytest.raises(ValueError, match="two finite"):
        seed_bootstrap([0.5])
    table = crossover_seeds()
    with pytest.raises(ValueError, match="C:none"):
        seed_contrast(table, {"C:none": 1.0, "A:none": -1.0})


def test_crossover_table_reading() -> None:
    text = crossover_table_reading("eye_headline")
    interaction = verdict_of("transfer_c_eye_headline", contrast="interaction")
    assert f"**interaction** ½[(related − unrelated) under A + (related − unrelated) under B]: {interaction}" in text
    assert "8 seeds (0–7)" in text and "vertical CDR" in text and "RNFL" in text
    assert "matched within ±0.03" in text


def test_claims_may_quote_values_with_colons() -> None:
    """The crossover's contrasts contain colons; a quoted value carries them through the marker grammar."""
    text = '<!-- verdict transfer_c_eye_headline budget=16 contrast="A: related - unrelated": better -->'
    (claim,) = find_claims(text)
    assert claim.where == {"budget": "16", "contrast": "A: related - unrelated"} and claim.word == BETTER
    assert check_claims(text) == []


def test_a_planted_crossover_contradiction_is_caught() -> None:
    """A test of the test: a wrong word on a crossover row fails, with the numbers in the message."""
    want = verdict_of("transfer_c_eye_headline", contrast="difficulty: none B - none A")
    wrong = next(w for w in (BETTER, WORSE, NULL) if w != want.word)
    planted = (
        f'Rule B is harder. <!-- verdict transfer_c_eye_headline contrast="difficulty: none B - none A": {wrong} -->'
    )
    (problem,) = check_claims(planted, source="planted.md")
    assert f"'{wrong}'" in problem and str(want) in problem


def test_changed_crossover_numbers_make_the_lesson_fail(tmp_path: Path) -> None:
    """A test of the test: lesson 21's crossover claims follow the CSV — flip the interaction and they fail."""
    shutil.copytree(RESULTS, tmp_path, dirs_exist_ok=True)
    lesson = (ROOT / "notebooks" / "21_task_relationships.py").read_text(encoding="utf-8")
    claims = [c for c in find_claims(lesson) if c.table.startswith("transfer_c_")]
    assert {c.where["contrast"] for c in claims} >= {"interaction", "difficulty: none B - none A"}
    path = tmp_path / "transfer_c_eye_headline_summary.csv"
    frame = pd.read_csv(path)
    frame.loc[frame["contrast"] == "interaction", ["value", "ci_low", "ci_high"]] = (-0.2, -0.3, -0.1)
    frame.to_csv(path, index=False)
    problems = check_claims(lesson, root=tmp_path)
    assert problems and all("interaction" in p for p in problems)


# ------------------------------------------------------------------ experiment E: the starved task
def test_starved_summaries_are_a_verdict_source(tmp_path: Path) -> None:
    """``starved_<region>_<run>``: each condition against EW-raw per task, + = better, read by the one rule."""
    pd.DataFrame(
        [
            {"condition": "uw-raw", "contrast": "mean", "task": "landmarks", "metric": "mre_mm", "value": 5.0},
            *(
                {
                    "condition": c,
                    "contrast": f"{c} - ew-raw",
                    "task": "landmarks",
                    "metric": "mre_mm",
                    "value": v,
                    "ci_low": lo,
                    "ci_high": hi,
                }
                for c, v, lo, hi in (
                    ("uw-raw", 12.0, 8.0, 15.0),
                    ("dwa-raw", -0.2, -1.0, 0.7),
                    ("gradnorm-raw", -2.0, -3.0, -1.0),
                )
            ),
        ]
    ).to_csv(tmp_path / "starved_musculoskeletal_test_summary.csv", index=False)
    got = verdicts("starved_musculoskeletal_test", root=tmp_path).set_index("condition")
    assert list(got.columns[:4]) == ["contrast", "task", "metric", "value"]
    assert got.loc["uw-raw", "verdict"] == BETTER and got.loc["gradnorm-raw", "verdict"] == WORSE
    assert got.loc["dwa-raw", "verdict"] == NULL and "mean" not in set(got["contrast"])
    assert got.loc["uw-raw", "text"] == "better: +12.000 mm [+8.000, +15.000]"
    with pytest.raises(FileNotFoundError, match=r"bench_starved\.py"):
        verdicts("starved_eye_nothing", root=tmp_path)
    with pytest.raises(ValueError, match="starved_<region>_<run>"):
        verdicts("starving_eye", root=tmp_path)


def test_starved_table_reading_states_means_verdicts_and_open_ended_runs(tmp_path: Path) -> None:
    from mtdl_kit.verdicts import starved_table_reading

    base = {"task": "landmarks", "metric": "mre_mm"}
    pd.DataFrame(
        [
            {**base, "condition": "ew-raw", "contrast": "mean", "value": 21.0, "n_seeds": 2},
            {**base, "condition": "uw-raw", "contrast": "mean", "value": 6.0, "n_seeds": 2},
            {
                **base,
                "condition": "uw-raw",
                "contrast": "uw-raw - ew-raw",
                "value": 15.0,
                "ci_low": 9.0,
                "ci_high": 20.0,
                "n_seeds": 2,
            },
        ]
    ).to_csv(tmp_path / "starved_musculoskeletal_x_summary.csv", index=False)
    pd.DataFrame(
        [
            {**base, "seed": s, "condition": c, "best_step": b, "steps_run": 1500, "loss_early": 1.8, "loss_late": 0.03}
            for s, c, b in ((0, "ew-raw", 1500), (1, "ew-raw", 900), (0, "uw-raw", 1500), (1, "uw-raw", 1500))
        ]
    ).to_csv(tmp_path / "starved_musculoskeletal_x_runs.csv", index=False)
    text = starved_table_reading("musculoskeletal_x", root=tmp_path)
    assert "**landmarks** (mre_mm, 2 seeds): ew-raw 21.000" in text
    assert "uw-raw 6.000: better: +15.000 mm [+9.000, +20.000]" in text
    assert "training loss under ew-raw (median over seeds; first evaluation → last steps): landmarks 1.8 → 0.03" in text
    assert (
        "still improving when they stopped (best checkpoint at the last evaluation): ew-raw 1 of 2, uw-raw 2 of 2"
        in text
    )


def test_a_filter_may_name_several_values(tmp_path) -> None:
    """``verdicts(..., contrast=[a, b])`` keeps the rows matching any of them (lesson 12's break-even exercise)."""
    import pandas as pd

    rows = [
        {"budget": b, "contrast": c, "task": "t", "metric": "auc", "value": v, "ci_low": v - 0.1, "ci_high": v + 0.1}
        for b in (16, 256)
        for c, v in (("x - direct", 0.5), ("y - direct", -0.5), ("z - direct", 0.0))
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "transfer_d_eye_headline_summary.csv", index=False)
    got = verdicts("transfer_d_eye_headline", root=tmp_path, budget=16, contrast=["x - direct", "y - direct"])
    assert list(got["contrast"]) == ["x - direct", "y - direct"] and list(got["verdict"]) == [BETTER, WORSE]
    assert len(verdicts("transfer_d_eye_headline", root=tmp_path, budget=(16, 256))) == 6


def test_quality_rows_of_a_changed_generator_carry_a_caveat(tmp_path):
    """The brain's phantom changed (version 2) after tables 1-6 were measured: its reading says so; the chest's not."""
    from mtdl_kit.verdicts import quality_generator_note, region_reading

    note = quality_generator_note("brain")
    assert "generator version 1" in note and "now version 2" in note and "bench_quality.py" in note
    assert region_reading("brain").startswith(note)
    assert quality_generator_note("chest") == ""
    (tmp_path / "quality_generators.csv").write_text("region,generator_version\nbrain,2\n")
    assert quality_generator_note("brain", root=tmp_path) == ""  # rerun on version 2: no caveat
