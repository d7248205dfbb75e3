from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from mtdl_kit.data import PhantomDataset, default_augmentation


def test_items_are_tensors_with_the_right_shapes():
    ds = PhantomDataset("eye", 4, size=64)
    item = ds[1]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
    assert item["disc_cup"].shape == (64, 64) and item["disc_cup"].dtype == torch.int64
    assert item["glaucoma"].shape == () and item["cdr"].shape == (1,)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["image"].shape == (4, 3, 64, 64)
    assert batch["glaucoma"].shape == (4,)


def test_items_regenerate_identically_and_splits_are_disjoint():
    a, b = PhantomDataset("eye", 3, size=48), PhantomDataset("eye", 3, size=48)
    assert torch.equal(a[2]["image"], b[2]["image"])
    val = PhantomDataset("eye", 3, size=48, split="val")
    assert {a.seed_of(i) for i in range(3)}.isdisjoint({val.seed_of(i) for i in range(3)})
    assert not torch.equal(a[0]["image"], val[0]["image"])


def test_task_subset_and_cache():
    ds = PhantomDataset("eye", 2, size=48, tasks="disc_cup,cdr", cache=True)
    assert set(ds[0]) == {"image", "disc_cup", "cdr"}
    assert ds.sample(0) is ds.sample(0)


def test_augmentation_changes_image_not_targets():
    ds = PhantomDataset("eye", 2, size=48, transform=default_augmentation(prob=1.0))
    plain = PhantomDataset("eye", 2, size=48)
    aug, ref = ds[0], plain[0]
    assert not torch.allclose(torch.as_tensor(aug["image"]), ref["image"])
    assert torch.equal(torch.as_tensor(aug["disc_cup"]), ref["disc_cup"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "holdout"}, "allowed splits"),
        ({"size": 8}, r"\[32, 1024\]"),
        ({"relatedness": 2.0}, r"\[0, 1\]"),
        ({"tasks": "disc_cup,nope"}, "allowed tasks"),
        ({"nuisance": "weather"}, "allowed values"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PhantomDataset("eye", 2, **kwargs)


def test_bad_length_and_index():
    with pytest.raises(ValueError, match="positive integer"):
        PhantomDataset("eye", 0)
    with pytest.raises(IndexError):
        PhantomDataset("eye", 2).sample(5)
