"""The library's one-way import flow (pyproject.toml ``[tool.importlinter]``) holds, and would catch a break.

The contract is checked with import-linter, whose graph (grimp) includes the imports that sit inside
functions — about a hundred of the library's internal imports are function-local, to keep
``import mtdl_kit`` light. The second test plants such an import, upward, in a copy of the package
and checks that the contract fails naming it: a test of the test.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path, src: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(src)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _copy_package(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "mtdl_kit", src / "mtdl_kit", ignore=shutil.ignore_patterns("__pycache__", "_bundled"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return src


def test_the_layers_contract_holds() -> None:
    result = _lint_imports(ROOT, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


UPWARD = "def _planted():\n    from mtdl_kit.zoo import zoo_key\n\n    return zoo_key\n"
UI = "def _planted():\n    import streamlit\n\n    return streamlit\n"


@pytest.mark.parametrize(
    ("planted", "expected"),
    [
        (UPWARD, "mtdl_kit.regions.base -> mtdl_kit.zoo"),  # function-local, from the bottom layer to the zoo
        (UI, "mtdl_kit.regions.base -> streamlit"),  # the library must hold no UI
    ],
    ids=["upward-import", "ui-import"],
)
def test_a_planted_import_breaks_the_contract(tmp_path: Path, planted: str, expected: str) -> None:
    src = _copy_package(tmp_path)
    base = src / "mtdl_kit" / "regions" / "base.py"
    base.write_text(base.read_text() + "\n\n" + planted)
    result = _lint_imports(tmp_path, src)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout and expected in result.stdout, result.stdout


def _private_imports() -> list[str]:
    """``from mtdl_kit.a.b import _name`` where the importer lives outside package ``mtdl_kit.a``."""
    found = []
    for path in sorted((ROOT / "mtdl_kit").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom) or node.level or not (node.module or "").startswith("mtdl_kit."):
                continue
            is_package = (ROOT / node.module.replace(".", "/")).is_dir()
            source_package = node.module if is_package else node.module.rpartition(".")[0]
            if source_package == package or source_package.startswith(package + "."):
                continue  # a package's own modules may share private helpers
            found += [f"{module} imports {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_no_module_imports_another_packages_private_name() -> None:
    assert _private_imports() == []
