"""``PhantomDataset``: fresh phantom samples of a region by index, as a torch ``Dataset``.

Sample ``i`` of split ``s`` is generated with seed ``SPLIT_OFFSETS[s] + base_seed + i``, so train,
validation and test sets never share a seed, and any item can be regenerated on its own. The
``"demo"`` split is the held-out range of the bundled samples and the dashboard's phantoms
(:data:`mtdl_kit.data.samples.DEMO_SEED_OFFSET`): nothing trains or is scored on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mtdl_kit.data.samples import DEMO_SEED_OFFSET
from mtdl_kit.regions.base import Region, Sample, TaskSpec, get_region

SPLIT_OFFSETS: dict[str, int] = {"train": 0, "val": 100_000_000, "test": 200_000_000, "demo": DEMO_SEED_OFFSET}


def sample_to_tensors(sample: Sample, tasks: Sequence[TaskSpec]) -> dict[str, torch.Tensor]:
    """Convert a :class:`Sample` into the dict of tensors the trainer and models consume.

    ``"image"`` is float32 (C, H, W); segmentation -> int64 (H, W); classification -> int64 ();
    regression -> float32 (n,); landmarks -> float32 (K, 2); reconstruction -> float32 (C, H, W).
    A task missing from the sample is absent from the dict (masked loss downstream).
    """
    out = {"image": torch.from_numpy(np.ascontiguousarray(sample.image))}
    for t in tasks:
        if t.name in sample.targets:
            # np.ascontiguousarray would turn a 0-d class label into shape (1,): copy with np.array instead.
            out[t.name] = torch.from_numpy(np.array(sample.targets[t.name], copy=True))
    return out


def default_augmentation(keys: Sequence[str] = ("image",), prob: float = 0.5) -> Callable[[dict], dict]:
    """Intensity-only MONAI augmentation (geometry is left alone so measurements stay exact).

    Gaussian noise, intensity scaling and gamma (contrast) changes on ``image``; targets untouched.
    """
    from monai.transforms import Compose, RandAdjustContrastd, RandGaussianNoised, RandScaleIntensityd

    return Compose(
        [
            RandGaussianNoised(keys=list(keys), prob=prob, std=0.02),
            RandScaleIntensityd(keys=list(keys), factors=0.1, prob=prob),
            RandAdjustContrastd(keys=list(keys), prob=prob, gamma=(0.8, 1.25)),
        ]
    )


class PhantomDataset(Dataset):
    """``length`` phantom samples of one region, generated on access (or cached in memory).

    Args:
        region: region name or object.
        length: number of samples.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"demo"`` (disjoint seed ranges; ``"demo"``:
            held-out cases for demonstrations, never trained or scored on).
        base_seed: offset inside the split, e.g. a different training set per experiment seed.
        size: image size in pixels.
        relatedness: coupling of the classification label to the segmented anatomy, in [0, 1].
        nuisance: ``None`` or one of the region's nuisances.
        label_noise: label-noise level in [0, 1).
        tasks: task names to return (default: all of the region's tasks).
        transform: callable applied to the tensor dict (e.g. :func:`default_augmentation`).
        cache: keep generated samples in memory (the transform still runs on every access).

    Example:
        >>> ds = PhantomDataset("eye", 8, size=64)
        >>> item = ds[0]
        >>> sorted(item)
        ['cdr', 'disc_cup', 'glaucoma', 'image']
    """

    def __init__(
        self,
        region: str | Region,
        length: int,
        *,
        split: str = "train",
        base_seed: int = 0,
        size: int = 128,
        relatedness: float = 1.0,
        nuisance: str | None = None,
        label_noise: float = 0.0,
        tasks: Sequence[str] | str | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        cache: bool = False,
    ) -> None:
        self.region = get_region(region) if isinstance(region, str) else region
        if split not in SPLIT_OFFSETS:
            raise ValueError(f"Unknown split {split!r}; allowed splits are {tuple(SPLIT_OFFSETS)}.")
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be a positive integer, got {length!r}.")
        if not 0 <= base_seed < 90_000_000:
            raise ValueError(f"base_seed must be in [0, 90000000) so splits stay disjoint, got {base_seed}.")
        self.region.check_arguments(0, size=size, relatedness=relatedness, nuisance=nuisance, label_noise=label_noise)
        self.length = length
        self.split = split
        self.base_seed = base_seed
        self.size = size
        self.relatedness = float(relatedness)
        self.nuisance = nuisance
        self.label_noise = float(label_noise)
        self.tasks = self.region.select_tasks(tasks)
        self.transform = transform
        self._cache: dict[int, Sample] | None = {} if cache else None

    def seed_of(self, index: int) -> int:
        """Generator seed of item ``index``."""
        return SPLIT_OFFSETS[self.split] + self.base_seed + index

    def sample(self, index: int) -> Sample:
        """The :class:`Sample` (numpy arrays and latents) behind item ``index``."""
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for a dataset of length {self.length}.")
        index %= self.length
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        s = self.region.sample(
            self.seed_of(index),
            size=self.size,
            relatedness=self.relatedness,
            nuisance=self.nuisance,
            label_noise=self.label_noise,
        )
        if self._cache is not None:
            self._cache[index] = s
        return s

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = sample_to_tensors(self.sample(index), self.tasks)
        return self.transform(item) if self.transform is not None else item
