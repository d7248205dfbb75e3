"""The ``files`` fixture of the bring-your-own-data tests: writers of tiny image files and datasets (no downloads).

Each test writes the files it reads, so every round trip is checked against known values. The
writers live in ``tests/file_builders.py``, shared with the dashboard tests and
``benchmarks/bench_bad_inputs.py``.
"""

from __future__ import annotations

import pytest
from file_builders import Writers


@pytest.fixture
def files(tmp_path) -> Writers:
    """Writers rooted in the test's temporary folder."""
    return Writers(tmp_path)
