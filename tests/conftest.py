"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def git_status() -> str | None:
    """``git status --porcelain`` of the checkout; ``None`` without git or outside a repository (a wheel)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    done = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


@pytest.fixture(scope="session", autouse=True)
def _the_run_leaves_the_tree_clean():
    """A test run that starts on a clean working tree (CI, a fresh checkout) leaves it clean.

    Screenshots, samples, results and caches go to temporary or ignored folders; a test that
    rewrote a tracked file (e.g. the README's screenshots) fails the run here. A tree with edits in
    progress is not checked: those edits are not the run's; nor is ``make screenshots``
    (``$MTDL_KIT_SCREENSHOTS`` set), whose purpose is to rewrite the README's screenshots.
    """
    before = git_status()
    yield
    if before == "" and not os.environ.get("MTDL_KIT_SCREENSHOTS"):
        after = git_status()
        assert after == "", f"the test run changed the git working tree (git status --porcelain):\n{after}"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny test tensors gain nothing from intra-op threads, and one thread is robust on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _main_module_restored():
    """Streamlit's AppTest leaves ``sys.modules["__main__"]`` as the app script it ran; a process spawned later in
    the run would import that script as its main module. Each test gets back the ``__main__`` it started with."""
    import sys

    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main
