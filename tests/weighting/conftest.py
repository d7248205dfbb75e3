"""Fixtures of the weighting tests (toy models live in ``weighting_toys.py``)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _fixed_seed():
    """Every weighting test starts from the same global torch seed (one thread: tests/conftest.py)."""
    torch.manual_seed(0)
