"""mtdl_kit.results: the benchmark tables the notebooks quote."""

from __future__ import annotations

import pandas as pd
import pytest

from mtdl_kit.regions import REGION_NAMES
from mtdl_kit.results import TABLES, format_delta, load_results


def _write(root, table: str, rows: list[dict]) -> None:
    pd.DataFrame(rows).to_csv(root / f"{table}.csv", index=False)


def test_load_and_filter(tmp_path) -> None:
    row = {c: 0 for c in TABLES["families"]}
    _write(
        tmp_path, "families", [{**row, "region": "eye", "delta_m": 2.5}, {**row, "region": "chest", "delta_m": -1.0}]
    )
    eye = load_results("families", root=tmp_path, region="eye")
    assert len(eye) == 1 and eye.delta_m.iloc[0] == 2.5
    assert format_delta({"delta_m": 2.5, "ci_low": -0.25, "ci_high": 5.0}) == "+2.5 % [-0.2, +5.0]"


def test_errors_name_the_fix(tmp_path) -> None:
    with pytest.raises(ValueError, match="Unknown results table"):
        load_results("nope", root=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"bench_quality\.py"):
        load_results("families", root=tmp_path)
    _write(tmp_path, "families", [{"region": "eye"}])
    with pytest.raises(ValueError, match="lacks the columns"):
        load_results("families", root=tmp_path)
    _write(tmp_path, "families", [{c: 0 for c in TABLES["families"]}])
    with pytest.raises(ValueError, match=r"no column 'colour'"):
        load_results("families", root=tmp_path, colour="red")


def test_shipped_results_have_every_table() -> None:
    for table in TABLES:
        frame = load_results(table)
        assert len(frame) > 0, table
        if "delta_m" in frame:
            inside = (frame.ci_low <= frame.delta_m + 1e-9) & (frame.delta_m <= frame.ci_high + 1e-9)
            assert inside.all(), table
    assert set(load_results("families").region) == set(REGION_NAMES)
    assert set(load_results("families_tasks").family) == {"single", "parallel", "cascaded", "interacted", "hybrid"}
