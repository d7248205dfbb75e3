"""benchmarks/cache: experiment-G networks committed as a long fill finishes them (benchmarks/cache/README.md).

A committed network must be one the summarising run (or `--unstopped`) will read: of its folder's region under
today's default configuration, its to-cap variant or a committed diagnostic's configuration (a configuration
change makes every file stale — delete them and fill again), with its records beside it and nothing half-written."""

from __future__ import annotations

import json
import re
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest

from mtdl_kit.lab.families import (
    DRAIN,
    SNAPSHOTS,
    FamiliesConfig,
    cache_stem,
    default_families_config,
    label_changes,
    networks_of,
    to_cap,
)

CACHE = Path(__file__).resolve().parents[2] / "benchmarks" / "cache"
RESULTS = CACHE.parent / "results"
FOLDERS = sorted(p for p in CACHE.glob("g_*") if p.is_dir())
STEM = re.compile(r"^(?P<key>[0-9a-f]{10})-(?P<family>\w+)-(?P<digest>[0-9a-f]{8})-s(?P<seed>\d+)$")


def test_every_folder_is_listed_in_the_readme() -> None:
    readme = (CACHE / "README.md").read_text()
    assert FOLDERS, "benchmarks/cache holds no fill folder; drop this test with the folder's README row"
    for folder in FOLDERS:
        assert f"`{folder.name}/`" in readme, f"{folder.name} has no row in benchmarks/cache/README.md"


def diagnostic_configs(region: str, default: FamiliesConfig) -> list[FamiliesConfig]:
    """The configurations of ``region``'s committed ``--retrain-with`` diagnostics of the headline seed set
    (``transfer_g_<region>_headline_<label>.csv``, the label a configuration change): their networks may be
    kept beside the seed set's, so that the diagnostic's table is rewritten without training."""
    configs = []
    for path in sorted(RESULTS.glob(f"transfer_g_{region}_headline_*.csv")):
        changes = label_changes(path.stem.removeprefix(f"transfer_g_{region}_headline_"))
        if changes:  # not a configuration change: runs, summary, chance, unstopped, ... give none
            configs.append(replace(default, **changes))
    return configs


def test_the_abdomen_diagnostic_configurations_are_read_from_the_committed_tables() -> None:
    """One configuration per committed diagnostic table, each the default but for the fields its label names."""
    default = default_families_config("abdomen")
    configs = diagnostic_configs("abdomen", default)
    changed = {
        tuple(f.name for f in fields(cfg) if getattr(cfg, f.name) != getattr(default, f.name)): cfg for cfg in configs
    }
    assert len(changed) == len(configs) and {("n_train",), ("interaction",), ("n_train", "interaction")} <= set(changed)
    assert changed[("n_train",)].n_train == 1024 and changed[("interaction",)].interaction == "attention"
    for names, cfg in changed.items():
        assert cfg.key() != default.key(), names
        assert replace(cfg, **{name: getattr(default, name) for name in names}).key() == default.key(), names


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_committed_networks_are_the_ones_the_summary_reads(folder: Path) -> None:
    region = folder.name.split("_")[1]  # g_<region>_<seed set>
    default = default_families_config(region)
    wanted = {
        cache_stem(cfg, network, seed, folder).name
        # a seed set's networks, their to-cap runs (`--unstopped`) and its committed diagnostics' networks
        for cfg in (default, to_cap(default), *diagnostic_configs(region, default))
        for seed in (*range(0, 8), *range(100, 108))  # the headline and replication seeds (bench_families.py)
        for arm in cfg.arms()
        for network in networks_of(cfg, arm).values()
    }
    # a fill running in this checkout writes "<stem>.npz", then "<stem>.json.tmp", renamed to "<stem>.json" last,
    # keeps the snapshots of the networks it is training in the git-ignored .snapshots/, and is drained by .drain
    files = sorted(p for p in folder.iterdir() if not p.name.endswith(".tmp") and p.name not in (SNAPSHOTS, DRAIN))
    assert not [p.name for p in files if p.suffix not in (".json", ".npz")], "a foreign file"
    stems = {p.stem for p in files if p.suffix == ".json"}
    assert stems, f"{folder.name} holds no finished network"
    for stem in stems:
        match = STEM.match(stem)
        assert match, stem
        assert stem in wanted, f"{stem} is not a network of {region}'s current configuration {default.key()}: stale"
        json_path, npz_path = folder / f"{stem}.json", folder / f"{stem}.npz"
        assert json_path.exists() and npz_path.exists(), f"{stem} lacks its metrics or its records"
        record = json.loads(json_path.read_text())
        assert record["seed"] == int(match["seed"]) and record["metrics"]
        with np.load(npz_path, allow_pickle=False) as records:
            assert records.files
