"""Fixtures of the model tests."""

from __future__ import annotations

import pytest

from mtdl_kit.regions import REGION_NAMES, get_region


@pytest.fixture(params=REGION_NAMES)
def region(request):
    """Every region of the review (its full task set and input channels)."""
    return get_region(request.param)
