"""RESULTS.md's generated table of contents (``benchmarks/_report.py``): in sync, linked, and kept so by
``write_section``."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "benchmarks" / "_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_contents_are_in_sync(report) -> None:
    text = report.RESULTS.read_text()
    assert text.count("<!-- BEGIN contents -->") == 1
    assert report.with_contents(text) == text, "RESULTS.md's contents are stale: run `python benchmarks/_report.py`"


def test_every_section_with_a_heading_is_listed_once(report) -> None:
    text = report.RESULTS.read_text()
    contents = text[text.index("<!-- BEGIN contents -->") : text.index("<!-- END contents -->")]
    names = [m["name"] for m in report._BLOCK.finditer(text) if m["name"] != "contents"]
    assert len(names) > 40
    for name in names:
        assert contents.count(f"· `{name}`\n") <= 1
    assert "· `families-lab-notes`\n" in contents and "· `crossover-notes`\n" in contents


@pytest.mark.parametrize(
    ("title", "anchor"),
    [
        ("Dashboard (`benchmarks/bench_dashboard.py`)", "dashboard-benchmarksbench_dashboardpy"),
        (
            "Single-image inference at 256² on 2 threads: budget ≤ 10 ms",
            "single-image-inference-at-256-on-2-threads-budget--10-ms",
        ),
        ("The transfer lab — chest", "the-transfer-lab--chest"),
        ("Δm by seed", "δm-by-seed"),
    ],
)
def test_anchors_follow_githubs_slugs(report, title: str, anchor: str) -> None:
    assert report.heading_anchor(title, {}) == anchor


def test_repeated_headings_get_numbered_anchors(report) -> None:
    seen: dict[str, int] = {}
    assert [report.heading_anchor("eye, headline", seen) for _ in range(3)] == [
        "eye-headline",
        "eye-headline-1",
        "eye-headline-2",
    ]


def test_write_section_keeps_one_linked_contents(report, tmp_path, monkeypatch) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nIntro.\n")
    monkeypatch.setattr(report, "RESULTS", results)
    report.write_section("alpha", "## Alpha (`a.py`)\n\nOne.")
    report.write_section("beta", "beta: measured today.\n\n### beta, headline: seeds [0, 1]\n\nTwo.")
    report.write_section("alpha", "## Alpha again\n\nOne, rewritten.")
    text = results.read_text()
    assert text.count("<!-- BEGIN contents -->") == 1
    assert text.index("Intro.") < text.index("## Contents") < text.index("<!-- BEGIN alpha -->")
    assert "- [Alpha again](#alpha-again) · `alpha`\n" in text
    assert "  - [beta, headline: seeds \\[0, 1\\]](#beta-headline-seeds-0-1) · `beta`\n" in text
    assert "Alpha (`a.py`)" not in text
    assert report.with_contents(text) == text


def test_a_new_section_joins_its_relatives_before_their_notes(report, tmp_path, monkeypatch) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n")
    monkeypatch.setattr(report, "RESULTS", results)
    for name in ("models", "fam-lab", "fam-lab-eye", "fam-lab-n1024-eye", "fam-lab-notes", "crossover", "z-notes"):
        report.write_section(name, f"## {name}\n\nText.")

    def order() -> list[str]:
        return [m["name"] for m in report._BLOCK.finditer(results.read_text()) if m["name"] != "contents"]

    report.write_section("fam-lab-n1024-brain", "## n1024 brain")  # most leading words: after fam-lab-n1024-eye
    report.write_section("fam-lab-size-eye", "## size eye")  # the fam-lab group, after the last "-eye" one
    report.write_section("fam-lab-chest", "## chest")  # the fam-lab group, none ends alike: its last, before notes
    report.write_section("fam-lab-more-notes", "## more notes")  # notes join notes
    report.write_section("crossover-chest", "## crossover chest")
    report.write_section("lecture", "## lecture")  # no relative: at the end
    assert order() == [
        "models",
        "fam-lab",
        "fam-lab-eye",
        "fam-lab-n1024-eye",
        "fam-lab-size-eye",
        "fam-lab-n1024-brain",
        "fam-lab-chest",
        "fam-lab-notes",
        "fam-lab-more-notes",
        "crossover",
        "crossover-chest",
        "z-notes",
        "lecture",
    ]
    assert report.with_contents(results.read_text()) == results.read_text()


@pytest.mark.parametrize(
    "name",
    [
        "families-lab-max_steps4000_patience80-abdomen",
        "families-lab-n_train1024-abdomen",
        "families-lab-substituted-eye-replication",
        "families-lab-unstopped-pathology",
        "starved-musculoskeletal-adopted-cap3000",
    ],
)
def test_committed_sections_sit_where_a_fresh_write_would_put_them(report, name: str) -> None:
    """Sections placed by hand before ``write_section`` placed them, each the last written of its kind: taken out,
    it puts each back."""
    text = report.RESULTS.read_text()
    block = re.search(rf"\n\n<!-- BEGIN {re.escape(name)} -->\n.*?<!-- END {re.escape(name)} -->", text, re.S)
    assert block is not None, name
    without = text[: block.start()] + text[block.end() :]
    assert report.section_insertion_point(without, name) == block.start()
