"""``bench_families.py --retrain-with``: a seed set's networks trained again with one change, beside chance and its
margin, read back by the lesson that quotes it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

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
    table.to_csv(tmp_path / "transfer_g_eye_headline_n_train32.csv", index=False)
    line = lessons.families_lab_variant_reading("eye", "n_train32", root=tmp_path)
    assert line.startswith("- **single@params**, glaucoma (auc; chance 0.5): beating chance ")
    assert "with n_train = 32" in line
