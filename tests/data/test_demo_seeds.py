"""Demo cases are held out: the bundled samples and the dashboard's generated phantoms never use a seed
that a zoo model was trained, validated or scored on (the ranges read from the zoo manifest)."""

from __future__ import annotations

import pytest

from mtdl_kit.data.samples import DEMO_SEED_SPAN, demo_seed, demo_seed_range, load_manifest
from mtdl_kit.zoo import read_manifest
from mtdl_kit.zoo.manifest import ZooEntry

ZOO = read_manifest()


def _overlap(a: range, b: range) -> bool:
    return max(a.start, b.start) < min(a.stop, b.stop)


def _entry(**config) -> ZooEntry:
    base = {"seed": 0, "n_train": 512, "n_test": 128, "data_dir": None}
    return ZooEntry(
        region="eye",
        family="parallel",
        tasks=("disc_cup",),
        config={**base, **config},
        seed=int(config.get("seed", 0)),
        library_version="0",
        metrics={},
        file="eye-parallel.pt",
        sha256="0" * 64,
        size_bytes=0,
        train_seconds=0.0,
        device="cpu",
    )


@pytest.mark.skipif(not ZOO, reason="the zoo is not trained yet")
def test_bundled_and_generated_demo_seeds_are_disjoint_from_every_zoo_model():
    store = load_manifest()["regions"]
    demo = demo_seed_range()
    checked = 0
    for key, entry in ZOO.items():
        ranges = entry.phantom_seeds()
        assert {"train", "test"} <= set(ranges), key  # every shipped model is a phantom model
        assert len(ranges["train"]) == entry.config["n_train"] and len(ranges["test"]) == entry.config["n_test"]
        bundled = store[entry.region]["seeds"]
        for split, seeds in ranges.items():
            assert not _overlap(seeds, demo), (key, split, seeds)
            shared = [s for s in bundled if s in seeds]
            assert not shared, f"{key}: bundled {entry.region} seeds {shared[:5]} are in its {split} split"
            checked += 1
    assert checked >= 2 * len(ZOO)


def test_bundled_store_records_the_demo_range():
    for region, entry in load_manifest()["regions"].items():
        assert entry["seed_range"] == [demo_seed_range().start, demo_seed_range().stop], region
        assert all(s in demo_seed_range() for s in entry["seeds"]), region


def test_the_check_catches_a_training_range_that_reaches_the_demo_seeds():
    # a (hypothetical) model whose training set starts inside the demo range: the ranges overlap
    clash = _entry(seed=demo_seed(0) // 512 + 1)
    assert _overlap(clash.phantom_seeds()["train"], demo_seed_range())
    assert not _overlap(_entry().phantom_seeds()["train"], demo_seed_range())
    assert "val" in _entry(n_val=64).phantom_seeds()
    assert _entry(data_dir="/some/folder").phantom_seeds() == {}


def test_demo_seed_maps_a_phantom_number_into_the_demo_range():
    assert demo_seed(0) == demo_seed_range().start
    assert demo_seed(DEMO_SEED_SPAN - 1) == demo_seed_range().stop - 1
    for bad in (-1, DEMO_SEED_SPAN, 1.5, True):
        with pytest.raises(ValueError, match="demo phantom number"):
            demo_seed(bad)
