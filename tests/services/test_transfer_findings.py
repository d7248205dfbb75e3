"""The For clinicians page's lead, "what the transfer lab found": every sentence follows the crossover CSVs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mtdl_kit.services.transfer_findings import (
    clinician_summary,
    crossover_findings,
    crossover_regions,
    finding_sentences,
    interval_words,
)
from mtdl_kit.verdicts import verdict

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
HEADLINE = RESULTS / "transfer_c_eye_headline_summary.csv"
needs_eye_results = pytest.mark.skipif(not HEADLINE.exists(), reason="the eye crossover has not been run")


def _copy(tmp_path: Path, runs: tuple[str, ...] = ("headline", "replication")) -> Path:
    for run in runs:
        for kind in ("summary", "runs"):
            src = RESULTS / f"transfer_c_eye_{run}_{kind}.csv"
            shutil.copy(src, tmp_path / src.name)
    return tmp_path


def _plant(root: Path, run: str, contrast: str, value: float, low: float, high: float) -> None:
    path = root / f"transfer_c_eye_{run}_summary.csv"
    frame = pd.read_csv(path)
    row = frame["contrast"] == contrast
    assert row.sum() == 1, contrast
    frame.loc[row, ["value", "ci_low", "ci_high"]] = [value, low, high]
    frame.to_csv(path, index=False)


def _interval(low: float, high: float, value: float) -> str:
    return f"{value:+.2f} [{low:+.2f}, {high:+.2f}]"


def test_the_crossover_applies_to_the_regions_with_a_second_outlined_feature():
    assert crossover_regions() == ["eye", "chest"]


@needs_eye_results
def test_the_committed_eye_results_read_as_their_intervals_say():
    frame = pd.read_csv(HEADLINE).set_index("contrast")
    runs = pd.read_csv(RESULTS / "transfer_c_eye_headline_runs.csv")
    (finding,) = crossover_findings("eye", "headline")
    assert finding.seeds == tuple(sorted(runs["seed"].unique()))
    assert finding.budget == int(frame["budget"].iloc[0]) and finding.task == "glaucoma"
    row = frame.loc["interaction"]
    expected = verdict(row["value"], row["ci_low"], row["ci_high"])
    assert finding.interaction.word == expected.word
    text = "\n".join(finding_sentences("eye"))
    word = {"better": "**higher**", "worse": "**lower**", "no detectable difference": "**no detectable difference**"}
    assert f"{word[expected.word]}: {_interval(row['ci_low'], row['ci_high'], row['value'])}" in text
    assert f"over {len(finding.seeds)} seeds" in text
    rep = pd.read_csv(RESULTS / "transfer_c_eye_replication_summary.csv").set_index("contrast").loc["interaction"]
    assert "Repeated on fresh seeds" in text and _interval(rep["ci_low"], rep["ci_high"], rep["value"]) in text
    for rule in ("A", "B"):
        r = frame.loc[f"{rule}: related - unrelated"]
        assert _interval(r["ci_low"], r["ci_high"], r["value"]) in text
    d = frame.loc["difficulty: none B - none A"]
    assert _interval(d["ci_low"], d["ci_high"], d["value"]) in text


@needs_eye_results
@pytest.mark.parametrize(
    ("value", "low", "high", "word", "not_word"),
    [
        (-0.30, -0.41, -0.12, "**lower**: -0.30 [-0.41, -0.12]", "**higher**"),
        (0.05, -0.04, 0.13, "**no detectable difference**: +0.05 [-0.04, +0.13]", "**higher**"),
        (0.20, 0.11, 0.28, "**higher**: +0.20 [+0.11, +0.28]", "**lower**"),
    ],
)
def test_a_planted_interaction_changes_the_sentence(tmp_path, value, low, high, word, not_word):
    root = _copy(tmp_path)
    _plant(root, "headline", "interaction", value, low, high)
    head = finding_sentences("eye", root=root)[0]
    assert word in head and not_word not in head.split("Repeated on fresh seeds")[0]
    if "no detectable" in word:
        assert "cannot tell" in head
    # the replication (unchanged) now disagrees unless the planted word is the committed one
    assert ("did **not** reproduce" in head) == (verdict(value, low, high).word != "better")


@needs_eye_results
def test_a_planted_difficulty_gap_is_said(tmp_path):
    root = _copy(tmp_path)
    _plant(root, "headline", "difficulty: none B - none A", 0.12, 0.05, 0.19)
    text = "\n".join(finding_sentences("eye", root=root))
    assert "**not** equally hard" in text and "+0.12 [+0.05, +0.19]" in text
    assert "no detectable difference in difficulty" not in text


@needs_eye_results
def test_missing_tables_are_said_not_invented(tmp_path):
    empty = clinician_summary("eye", root=tmp_path)
    assert empty.missing == ["eye", "chest"]
    text = "\n".join(empty.findings)
    assert "Eye:** the crossover has not been run yet" in text and "Chest:** the crossover has not been run" in text
    assert "[" not in text and "higher" not in text, "no interval, no verdict without a table"
    assert "No region has results yet." in empty.caveats

    root = _copy(tmp_path, runs=("headline",))
    only_headline = "\n".join(finding_sentences("eye", root=root))
    assert "Not yet repeated on fresh seeds." in only_headline
    summary = clinician_summary("eye", root=root)
    assert summary.missing == ["chest"] and any("not run yet: Chest" in c for c in summary.caveats)


@needs_eye_results
def test_rounding_never_shows_a_detectable_bound_as_zero(tmp_path):
    root = _copy(tmp_path)
    _plant(root, "headline", "interaction", 0.05, 0.004, 0.09)
    (finding,) = crossover_findings("eye", root=root)
    assert finding.interaction.word == "better"
    assert interval_words(finding.interaction) == "+0.050 [+0.004, +0.090]"


@needs_eye_results
def test_a_region_without_the_experiment_is_told_so():
    summary = clinician_summary("brain")
    assert any("brain phantom has no second outlined feature" in line for line in summary.findings)
    assert any("mask-only head" in c for c in summary.caveats), "the one mechanism the eye run tests"
    budget = int(pd.read_csv(HEADLINE)["budget"].iloc[0])
    assert any(c.startswith(f"Labelled training cases for the main task: {budget} only") for c in summary.caveats)


def test_a_broken_table_is_refused(tmp_path):
    pd.DataFrame({"budget": [16], "contrast": ["interaction"]}).to_csv(
        tmp_path / "transfer_c_eye_headline_summary.csv", index=False
    )
    with pytest.raises(ValueError, match="lacks the columns"):
        crossover_findings("eye", root=tmp_path)


@needs_eye_results
def test_the_cache_stamp_changes_with_the_tables(tmp_path):
    from mtdl_kit.services.transfer_findings import results_stamp

    root = _copy(tmp_path)
    before = results_stamp(root)
    assert [name for name, _ in before] == sorted(p.name for p in root.glob("transfer_c_*.csv"))
    _plant(root, "headline", "interaction", 0.05, -0.04, 0.13)
    path = root / "transfer_c_eye_headline_summary.csv"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    assert results_stamp(root) != before


@needs_eye_results
def test_the_unrelated_arm_gets_a_verdict_from_its_interval_and_only_means_without_one(tmp_path):
    root = _copy(tmp_path)
    _plant(root, "headline", "A: unrelated - none", -0.20, -0.30, -0.10)
    text = "\n".join(finding_sentences("eye", root=root))
    assert "against no auxiliary task: rule A: **lower**: -0.20 [-0.30, -0.10]" in text
    (finding,) = crossover_findings("eye", root=root)
    assert finding.unrelated_vs_none["A"].word == "worse" and set(finding.unrelated_vs_none) == {"A", "B"}
    # a summary written before the crossover reported unrelated - none: the means, and no verdict
    for run in ("headline", "replication"):
        path = root / f"transfer_c_eye_{run}_summary.csv"
        frame = pd.read_csv(path)
        frame[~frame["contrast"].str.endswith("unrelated - none")].to_csv(path, index=False)
    old = "\n".join(finding_sentences("eye", root=root))
    assert "Means only" in old and "against no auxiliary task" not in old
