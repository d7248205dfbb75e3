"""Fixtures of the model tests."""

from __future__ import annotations

import pytest

from mtdl_kit.regions import REGION_NAMES, get_region


@pytest.fixture(params=REGION_NAMES)
def region(request):
    """Every region of the review (its full task set and input channels)."""
    return get_region(request.param)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny test tensors gain nothing from intra-op threads, and one thread is robust to a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
