from __future__ import annotations

import numpy as np
import pytest

from mtdl_kit.data import (
    SAMPLES_PER_REGION,
    default_root,
    load_manifest,
    load_samples,
    verify_samples,
    write_samples,
)
from mtdl_kit.regions import REGION_NAMES, get_region


@pytest.fixture(scope="module")
def eye_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    write_samples(root, ["eye"])
    return root


def test_written_store_verifies_and_loads(eye_store):
    assert verify_samples(eye_store) == []
    samples = load_samples("eye", eye_store)
    assert len(samples) == SAMPLES_PER_REGION
    assert {int(s.targets["glaucoma"]) for s in samples} == {0, 1}
    s0 = samples[0]
    regenerated = get_region("eye").sample(s0.seed, size=128)
    assert np.abs(s0.image - regenerated.image).max() <= 0.5 / 255 + 1e-6
    assert np.array_equal(s0.targets["disc_cup"], regenerated.targets["disc_cup"])
    assert s0.targets["cdr"] == pytest.approx(regenerated.targets["cdr"])
    assert s0.latents == pytest.approx(regenerated.latents)


def test_tampered_file_is_reported(eye_store, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(eye_store, root)
    mask = root / "eye" / "masks" / "eye_003.png"
    data = bytearray(mask.read_bytes())
    data[-20] ^= 0xFF
    mask.write_bytes(bytes(data))
    problems = verify_samples(root)
    assert any("eye_003.png: sha256 mismatch" in p for p in problems)
    with pytest.raises(ValueError, match="sha256 differs"):
        load_samples("eye", root)


def test_an_image_regenerates_up_to_a_few_last_bit_level_flips_and_no_further():
    """Another CPU rounds a half-level pixel the other way (one level, a pixel or two per image); a real change
    — two levels, or many pixels — is still a different image."""
    from mtdl_kit.data.samples import IMAGE_LEVEL_FLIPS, regenerates_as_image

    image = np.random.default_rng(0).integers(1, 254, size=(128, 128, 3)).astype(np.uint8)
    assert regenerates_as_image(image, image.copy())
    one_flip = image.copy()
    one_flip[5, 7, 1] += 1
    assert regenerates_as_image(image, one_flip)
    two_levels = image.copy()
    two_levels[5, 7, 1] += 2
    assert not regenerates_as_image(image, two_levels)
    many = image.copy()
    flips = int(IMAGE_LEVEL_FLIPS * image.size) + 1
    many.reshape(-1)[:flips] += 1
    assert not regenerates_as_image(image, many)
    assert not regenerates_as_image(image, image[:, :64])


def test_missing_store_says_how_to_rebuild(tmp_path):
    with pytest.raises(FileNotFoundError, match="mtdl-kit samples"):
        load_manifest(tmp_path)


def test_bundled_store_regenerates_exactly():
    root = default_root()
    manifest = load_manifest(root)
    assert list(manifest["regions"]) == list(REGION_NAMES)
    assert verify_samples(root) == []
    for name in REGION_NAMES:
        samples = load_samples(name, root)
        assert len(samples) == SAMPLES_PER_REGION
        region = get_region(name)
        for t in region.tasks:
            if t.kind == "classification":
                assert {int(s.targets[t.name]) for s in samples} == set(range(t.num_outputs)), (name, t.name)
