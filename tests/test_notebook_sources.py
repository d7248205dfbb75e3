"""The lessons' text sources: every ``notebooks/<lesson>.ipynb`` has a jupytext percent-format twin.

The ``.py`` file is what a teacher edits and reviews (``notebooks/jupytext.toml`` pairs the two;
``make notebooks`` runs ``jupytext --sync``). These tests prove each pair holds the same lesson in
both directions, that syncing keeps every cell id (so a regeneration does not churn the diff), and
that the check itself catches a pair that drifted apart.
"""

from __future__ import annotations

import ast
import copy
import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupytext.combine import combine_inputs_with_outputs

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
FORMAT = "py:percent"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def _inputs(nb: nbformat.NotebookNode) -> list[tuple[str, str, str, dict]]:
    """What a lesson is made of: each cell's type, id, source and metadata (outputs left out)."""
    return [(c.cell_type, c.get("id", ""), c.source, dict(c.metadata)) for c in nb.cells]


def pair_problems(notebook: Path, source: Path) -> list[str]:
    """Why ``notebook`` and its percent-format ``source`` are not one lesson; empty when in sync.

    Args:
        notebook: the stored ``.ipynb``.
        source: its jupytext ``.py`` twin.

    Returns:
        One sentence per problem, each naming the file and the fix.
    """
    if not source.exists():
        return [f"{notebook.name} has no text source {source.name}; run `jupytext --to {FORMAT} {notebook}`"]
    nb = nbformat.read(notebook, as_version=4)
    text = source.read_text(encoding="utf-8")
    problems = []
    if jupytext.writes(nb, fmt=FORMAT) != text:
        problems.append(f"{source.name} is not what jupytext writes from {notebook.name}; run `make notebooks`")
    synced = combine_inputs_with_outputs(jupytext.reads(text, fmt=FORMAT), copy.deepcopy(nb), fmt=FORMAT)
    if _inputs(synced) != _inputs(nb):
        problems.append(f"syncing {source.name} would change the cells (or their ids) of {notebook.name}")
    meta = {k: v for k, v in synced.metadata.items() if k != "jupytext"}
    if meta != {k: v for k, v in nb.metadata.items() if k != "jupytext"}:
        problems.append(f"syncing {source.name} would change the metadata of {notebook.name}")
    ids = [c.get("id") for c in nb.cells]
    if not all(ids) or len(set(ids)) != len(ids):
        problems.append(f"{notebook.name}: every cell needs its own id")
    return problems


def test_every_source_has_its_notebook() -> None:
    sources = {p.stem for p in NOTEBOOK_DIR.glob("*.py")}
    assert sources == set(IDS), "a notebooks/*.py without its .ipynb (or the reverse); run `make notebooks`"
    assert 'formats = "ipynb,py:percent"' in (NOTEBOOK_DIR / "jupytext.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_pair_in_sync(path: Path) -> None:
    assert pair_problems(path, path.with_suffix(".py")) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_without_outputs_or_jupytext_metadata(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert "jupytext" not in nb.metadata, f"{path.name}: the pairing lives in notebooks/jupytext.toml"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: clear outputs"


def test_the_check_catches_drift(tmp_path: Path) -> None:
    """A test of the test: a source edited alone and a notebook edited alone are each caught."""
    lesson = NOTEBOOKS[0]
    for change in ("source", "notebook"):
        nb_path, py_path = tmp_path / lesson.name, tmp_path / f"{lesson.stem}.py"
        shutil.copy(lesson, nb_path)
        shutil.copy(lesson.with_suffix(".py"), py_path)
        assert pair_problems(nb_path, py_path) == []
        if change == "source":
            py_path.write_text(py_path.read_text(encoding="utf-8") + "\n# %%\nprint('added')\n", encoding="utf-8")
        else:
            nb = nbformat.read(nb_path, as_version=4)
            nb.cells[0].source += "\nedited in Jupyter only"
            nbformat.write(nb, nb_path)
        assert pair_problems(nb_path, py_path), f"a {change} edited alone went unnoticed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_sync_keeps_cell_ids(path: Path) -> None:
    """Ids are stable: a cell inserted and another edited in the source leave every other id as stored."""
    nb = nbformat.read(path, as_version=4)
    text = path.with_suffix(".py").read_text(encoding="utf-8")
    first = text.index("# %%")
    edited = text[:first] + "# %%\nprint('a new first cell')\n\n" + text[first:]
    synced = combine_inputs_with_outputs(jupytext.reads(edited, fmt=FORMAT), copy.deepcopy(nb), fmt=FORMAT)
    assert [c.id for c in synced.cells[1:]] == [c.id for c in nb.cells]
    assert synced.cells[0].id not in {c.id for c in nb.cells}


#: exercise checks that only print a prompt on a wrong answer, unless called with strict=True
_LENIENT = {"check_prediction", "check_best_family"}


def _checks_that_can_fail(source: str) -> int:
    """How many ``exercises.check_*`` calls in ``source`` raise on a wrong answer."""
    count = 0
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "exercises"):
            continue
        strict = any(k.arg == "strict" and isinstance(k.value, ast.Constant) and k.value.value for k in node.keywords)
        count += node.func.attr.startswith("check_") and (node.func.attr not in _LENIENT or strict)
    return count


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_at_least_two_checks_can_fail(path: Path) -> None:
    """Issue 13: 'predict, then look' checks never fail; every lesson needs two that can."""
    count = _checks_that_can_fail(path.with_suffix(".py").read_text(encoding="utf-8"))
    assert count >= 2, f"{path.name}: {count} exercise check(s) can fail on a wrong answer; it needs 2"


def test_lenient_checks_are_recognised() -> None:
    """A test of the test: a guess-only check does not count, the same check with strict=True does."""
    assert _checks_that_can_fail('exercises.check_prediction(x, observed=max(y, key=len), options=("a", "b"))') == 0
    assert _checks_that_can_fail("exercises.check_prediction(x, observed=max(y), options=z, strict=True)") == 1
    assert _checks_that_can_fail("exercises.check_best_family(p, r)\nexercises.check_verdicts(v, region='eye')") == 1


def test_student_copies_are_not_paired(tmp_path: Path) -> None:
    """Copies written inside notebooks/ must not inherit the pairing (JupyterLab would add a .py to each)."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from make_student import write_student_copies

    written = write_student_copies(NOTEBOOK_DIR, tmp_path / "student")
    assert {p.suffix for p in written} == {".ipynb"}
    assert 'formats = "ipynb"' in (tmp_path / "student" / "jupytext.toml").read_text(encoding="utf-8")
