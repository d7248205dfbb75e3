from __future__ import annotations

import pytest

from mtdl_kit.data import PhantomDataset
from mtdl_kit.models import build_model
from mtdl_kit.regions import get_region

EYE = get_region("eye")


@pytest.fixture
def eye_data():
    return PhantomDataset("eye", 24, size=64)


@pytest.fixture
def eye_val():
    return PhantomDataset("eye", 12, size=64, split="val")


def _small_model(family: str = "parallel", seed: int = 0, **kw):
    return build_model(family, EYE.tasks, EYE.in_channels, width=4, seed=seed, region="eye", **kw)


@pytest.fixture
def small_model():
    """Factory of tiny eye models: ``small_model(family="parallel", seed=0, **build_options)``."""
    return _small_model
