"""The data package's one public API: ``mtdl_kit.data.__all__``, loaded lazily, defined once."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import mtdl_kit.data as data

DATA_DIR = Path(data.__file__).resolve().parent


def _top_level_names(module: str) -> set[str]:
    """Names a module defines itself (def, class, assignment), not the ones it imports."""
    tree = ast.parse(Path(importlib.import_module(module).__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            names |= {e.id for t in node.targets if isinstance(t, ast.Tuple) for e in t.elts if isinstance(e, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_all_is_the_lazy_table_and_sorted_dir():
    assert sorted(data.__all__) == sorted(data._SUBMODULE_OF)
    assert len(set(data.__all__)) == len(data.__all__)
    assert dir(data) == sorted(data.__all__)


@pytest.mark.parametrize("name", data.__all__)
def test_every_public_name_resolves_from_the_module_that_defines_it(name):
    module = f"mtdl_kit.data.{data._SUBMODULE_OF[name]}"
    value = getattr(data, name)
    assert value is getattr(importlib.import_module(module), name)
    assert name in _top_level_names(module), f"{name} is re-exported by {module}, not defined there"


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'formats_facade'"):
        _ = data.formats_facade


@pytest.mark.parametrize(
    "code",
    [
        "import mtdl_kit.data",
        "import mtdl_kit.data.samples",
        "from mtdl_kit.data import ACCEPTED, DataError, load_samples, read_raw, read_upload",
    ],
)
def test_import_stays_light(code):
    """The dashboard's cold start: the package and the sample store / upload readers do not load torch."""
    probe = f"import sys; {code}; print('torch' in sys.modules, 'monai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"], f"{code!r} imported torch or monai"


def test_no_module_imports_a_private_name_or_re_exports():
    problems = []
    for path in sorted(DATA_DIR.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "noqa: F401" in source:
            problems.append(f"{path.name}: re-export block (noqa: F401)")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mtdl_kit"):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
                if private:
                    problems.append(f"{path.relative_to(DATA_DIR)}: imports {private} from {node.module}")
    assert not problems, problems
