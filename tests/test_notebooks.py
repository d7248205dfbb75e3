"""The tutorial notebooks: stored clean, parametrised, executable; student copies stop at a stub."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]

sys.path.insert(0, str(ROOT / "scripts"))
from make_student import BEGIN, END, STUB_LINE, student_notebook  # noqa: E402


def _execute(nb: nbformat.NotebookNode, cwd: Path) -> None:
    """Execute in a fresh python3 kernel of this interpreter's environment.

    The kernel gets one intra-op thread (``OMP_NUM_THREADS=1``) unless the caller set one: on a
    shared 2-core machine torch's default thread pool oversubscribes the cores and a quick-mode
    notebook then takes minutes instead of seconds.
    """
    from notebook_client import notebook_client  # scripts/: the shell reply polled in slices (nbclient#312)

    os.environ.setdefault("OMP_NUM_THREADS", "1")

    notebook_client(nb, cwd=cwd, timeout=300).execute()


def test_there_are_notebooks() -> None:
    assert {"00_start_here", "01_four_families"} <= set(IDS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_clean_and_parametrised(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name}: cell {i} holds outputs; clear them before committing"
            assert cell.execution_count is None, f"{path.name}: cell {i} has an execution count"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and params[0].cell_type == "code", f"{path.name}: needs one code cell tagged 'parameters'"
    assert "QUICK = True" in params[0].source
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert "not for clinical use" in first.source
    assert "## References" in "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_exercises_are_marked(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    blocks = [c for c in nb.cells if c.cell_type == "code" and BEGIN in c.source]
    assert len(blocks) >= 2, f"{path.name}: every notebook has at least two exercises"
    for cell in blocks:
        assert END in cell.source and STUB_LINE in cell.source
    checks = [c for c in nb.cells if c.cell_type == "code" and "exercises.check_" in c.source]
    assert len(checks) >= len(blocks)


def test_student_copy_replaces_solutions() -> None:
    nb = student_notebook(nbformat.read(NOTEBOOKS[0], as_version=4))
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert BEGIN not in source and END not in source
    assert STUB_LINE in source and 'raise NotImplementedError("Exercise:' in source.replace("'", '"')


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_executes(path: Path) -> None:
    """Runs top to bottom in quick mode (so every solution also passes its own check)."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    _execute(nb, NOTEBOOK_DIR)
    print(f"{path.name}: {time.perf_counter() - start:.1f} s")
    text = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"
    )
    assert "✅" in text


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_student_copy_runs_up_to_first_stub(path: Path, tmp_path: Path) -> None:
    from make_student import write_student_copies
    from nbclient.exceptions import CellExecutionError

    written = {p.name: p for p in write_student_copies(NOTEBOOK_DIR, tmp_path)}
    nb = nbformat.read(written[path.name], as_version=4)
    with pytest.raises(CellExecutionError) as info:
        _execute(nb, NOTEBOOK_DIR)
    assert info.value.ename == "NotImplementedError", f"stopped on {info.value.ename}, not on an exercise stub"
    assert "Exercise" in info.value.evalue


def test_the_shell_reply_is_polled_in_slices_up_to_the_same_deadline() -> None:
    """jupyter/nbclient#312: a reply the first wait misses is seen at the next slice; no reply still times out."""
    import asyncio
    from queue import Empty

    from notebook_client import sliced_get_msg

    calls: list[float] = []

    async def missed_once(timeout: float | None = None) -> dict:
        calls.append(timeout)
        if len(calls) == 1:  # the wake-up is missed: this wait runs to its timeout
            await asyncio.sleep(timeout)
            raise Empty
        return {"msg_type": "execute_reply"}

    start = time.monotonic()
    reply = asyncio.run(sliced_get_msg(missed_once, slice_seconds=0.05)(timeout=300))
    assert reply == {"msg_type": "execute_reply"} and len(calls) == 2
    assert time.monotonic() - start < 5, "the reply waited for the cell timeout"

    async def never(timeout: float | None = None) -> dict:
        await asyncio.sleep(timeout)
        raise Empty

    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(sliced_get_msg(never, slice_seconds=0.05)(timeout=0.3))
    assert 0.29 <= time.monotonic() - start < 2, "a real timeout still fails at the cell timeout"
