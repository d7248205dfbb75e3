"""The zoo shipped in data_samples/weights/: complete, within the size budget, intact, reproducible.

The full re-evaluation of every model is a benchmark (``benchmarks/bench_zoo.py``); here a sample
of models is re-evaluated and every file's sha256 is checked.
"""

from __future__ import annotations

import pytest
import torch

from mtdl_kit.checkpoint import sha256_file
from mtdl_kit.models import MULTI_TASK_FAMILIES
from mtdl_kit.regions import REGION_NAMES, get_region
from mtdl_kit.zoo import (
    ZOO_MODEL_OPTIONS,
    ZOO_REGION_WEIGHTING,
    default_root,
    load_pretrained,
    quality_floors,
    quality_report,
    read_manifest,
    verify_zoo,
    zoo_key,
)

MAX_BYTES = 25 * 1024 * 1024


@pytest.fixture(scope="module")
def manifest():
    entries = read_manifest(default_root())
    assert entries, f"no zoo manifest in {default_root()}; run `mtdl-kit zoo train`"
    return entries


def test_every_region_family_and_baseline_is_there(manifest) -> None:
    for region in REGION_NAMES:
        reg = get_region(region)
        for fam in MULTI_TASK_FAMILIES:
            e = manifest.get(zoo_key(region, fam))
            assert e is not None, f"missing {region}-{fam}"
            assert e.tasks == reg.task_names
            assert e.config["model_options"] == ZOO_MODEL_OPTIONS.get(fam, {})
            assert e.config["weighting"] == ZOO_REGION_WEIGHTING.get(region, "ew")
        for task in reg.task_names:
            assert zoo_key(region, "single", [task]) in manifest, f"missing baseline {region}-single-{task}"


def test_bundled_cases_are_at_their_zoo_models_size(manifest) -> None:
    """Each region's bundled cases are stored at the size its zoo models see (the dashboard shows them so)."""
    from mtdl_kit.data.samples import load_manifest, sample_size
    from mtdl_kit.services.zoo_models import region_model_size

    stored = load_manifest()["regions"]
    for region in REGION_NAMES:
        model_size = region_model_size(region, manifest)
        assert stored[region]["size"] == sample_size(region) == model_size, (
            f"{region}: bundled cases at {stored[region]['size']} px, zoo models at {model_size} px; set "
            "the region's default_size and rewrite the cases (`mtdl-kit samples`)"
        )


def test_size_budget_and_hashes(manifest) -> None:
    root = default_root()
    total = 0
    for e in manifest.values():
        path = root / e.file
        assert path.stat().st_size == e.size_bytes
        assert sha256_file(path) == e.sha256, f"{e.file} differs from its manifest sha256"
        total += e.size_bytes
    assert total <= MAX_BYTES, f"zoo weights take {total / 1e6:.1f} MB > 25 MB"


def test_every_task_has_a_stated_floor(manifest) -> None:
    rows = quality_report()
    assert {(r["key"], r["task"]) for r in rows} == {(k, t) for k, e in manifest.items() for t in e.tasks}
    assert all(r["value"] is not None for r in rows), [r for r in rows if r["value"] is None]
    for region in REGION_NAMES:
        for task in get_region(region).tasks:
            assert quality_floors(task)


def test_sample_of_the_zoo_reproduces_its_metrics() -> None:
    assert verify_zoo(keys=["eye-parallel", "chest-single-ctr"]) == []


def test_pretrained_model_predicts_a_bundled_sample() -> None:
    from mtdl_kit.data.samples import load_samples

    model = load_pretrained("eye", "hybrid")
    sample = load_samples("eye")[0]
    size = read_manifest()["eye-hybrid"].config["size"]
    x = torch.as_tensor(sample.image)[None].float()
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    with torch.inference_mode():
        out = model(x)
    assert set(out) == {"disc_cup", "glaucoma", "cdr"}
    probs = torch.softmax(out["glaucoma"], 1)
    assert torch.allclose(probs.sum(1), torch.ones(1))
    assert 0.0 < float(out["cdr"]) < 1.5  # a vertical CDR, not a standardised value


def test_quick_verify_rescores_one_model_per_region_and_hashes_every_file(manifest) -> None:
    from mtdl_kit.zoo import QUICK_FAMILY, quick_keys, verify_files

    keys = quick_keys()
    assert sorted(keys) == sorted(zoo_key(region, QUICK_FAMILY) for region in REGION_NAMES)
    assert verify_files() == []


def test_quick_verify_reports_a_tampered_file_it_does_not_rescore(manifest, tmp_path) -> None:
    import shutil

    from mtdl_kit.zoo import verify_zoo_quick

    root = tmp_path / "zoo"
    shutil.copytree(default_root(), root)
    victim = root / manifest["eye-hybrid"].file  # hash-checked only, never re-scored by --quick
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    (root / manifest["chest-parallel"].file).unlink()  # a re-scored model's file: reported once
    problems = verify_zoo_quick(root, regions=["eye", "chest"])
    assert len(problems) == 2, problems
    assert "eye-hybrid.pt: sha256 differs" in problems[0] or "eye-hybrid.pt: sha256 differs" in problems[1]
    assert any("chest-parallel.pt is missing" in p for p in problems)


def test_the_committed_chance_table_covers_the_shipped_zoo_and_no_bar_passes_a_blind_model() -> None:
    """``benchmarks/results/zoo_chance.csv`` (``bench_zoo.py --chance``) is regenerated with the zoo: it has
    every bar of every shipped model with the manifest's value, and no model meets a bar without beating
    the image-blind predictor of its own training subset."""
    from pathlib import Path

    import pandas as pd

    table = pd.read_csv(Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "zoo_chance.csv")
    report = quality_report()
    assert sorted(zip(table["key"], table["task"], table["metric"], strict=True)) == sorted(
        (r["key"], r["task"], r["metric"]) for r in report
    ), "the zoo changed: rerun `benchmarks/bench_zoo.py --chance`"
    values = {(r["key"], r["task"], r["metric"]): r["value"] for r in report}
    for row in table.itertuples():
        assert row.value == pytest.approx(values[(row.key, row.task, row.metric)], nan_ok=True)
    blind = table[(table["passed"] == True) & (table["beats_chance"] == False)]  # noqa: E712
    assert blind.empty, blind[["key", "task", "metric", "value", "chance"]].to_string()
