"""Project-level checks: dependency ranges and the lock, environment.yml, Makefile and CI wiring.

pyproject.toml declares what ``pip install mtdl-kit`` accepts (compatible ranges; test, lint, lab and
site tools only as extras); requirements.txt (+ requirements-e2e.txt) is the lock ``make`` installs.
Every declared package must be locked, at a version inside its range, with the same extras.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
#: what must never be a runtime dependency of the library: test, lint, browser, notebook-runner, lab and site tools
TOOLS = {
    "pytest",
    "hypothesis",
    "ruff",
    "import-linter",
    "playwright",
    "nbmake",
    "nbclient",
    "jupyterlab",
    "jupytext",
    "mkdocs",
    "mkdocs-material",
    "mkdocs-jupyter",
    "rich",
}


def _requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return pins


def test_requirements_are_pinned_and_torch_goes_with_monai():
    pins = _requirements()
    assert pins["torch"] == "2.13.0"
    assert "monai" in pins and "torchjd" in pins
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        assert not line or "==" in line, f"unpinned requirement: {line}"


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _lock() -> dict[str, Requirement]:
    """requirements.txt + requirements-e2e.txt, by canonical name."""
    locked = {}
    for name in ("requirements.txt", "requirements-e2e.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                req = Requirement(line)
                locked[canonicalize_name(req.name)] = req
    return locked


def _check_against_lock(requirements: list[str]) -> list[str]:
    locked = _lock()
    problems = []
    for text in requirements:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        specs = {s.operator for s in req.specifier}
        if "==" in specs or not specs & {">=", "~="} or not specs & {"<", "~="}:
            problems.append(f"{text}: give a compatible range (a lower and an upper bound), not a pin or an open bound")
        pin = locked.get(name)
        if pin is None:
            problems.append(f"{text}: not in the lock (requirements.txt), so `make venv` would not install it")
            continue
        (version,) = [s.version for s in pin.specifier]
        if not req.specifier.contains(version):
            problems.append(f"{text}: the lock pins {version}, outside the range")
        if set(req.extras) != set(pin.extras):
            problems.append(f"{text}: extras {sorted(req.extras)} differ from the lock's {sorted(pin.extras)}")
    return problems


def test_runtime_dependencies_are_ranges_that_the_lock_satisfies():
    deps = _project()["dependencies"]
    assert deps, "pyproject.toml declares no runtime dependencies"
    assert _check_against_lock(deps) == []
    names = {canonicalize_name(Requirement(d).name) for d in deps}
    assert {"torch", "monai", "torchjd", "numpy", "streamlit", "plotly", "ipywidgets", "pydicom", "nibabel"} <= names
    # the extras that make MONAI's readers and torchjd's UPGrad work (environment.md, section 4)
    extras = {canonicalize_name(Requirement(d).name): set(Requirement(d).extras) for d in deps}
    assert {"nibabel", "pydicom", "skimage"} <= extras["monai"]
    assert "quadprog-projector" in extras["torchjd"]


def test_no_test_lint_lab_or_site_tool_is_a_runtime_dependency():
    names = {canonicalize_name(Requirement(d).name) for d in _project()["dependencies"]}
    assert not names & TOOLS, f"runtime dependencies include tools: {sorted(names & TOOLS)}; move them to an extra"


def test_extras_lab_site_dev_are_ranges_that_the_lock_satisfies():
    extras = _project()["optional-dependencies"]
    assert set(extras) >= {"lab", "site", "dev"}
    for name, reqs in extras.items():
        assert _check_against_lock(reqs) == [], name
    names = {k: {canonicalize_name(Requirement(r).name) for r in v} for k, v in extras.items()}
    assert {"jupyterlab", "ipykernel", "jupytext"} <= names["lab"]
    assert {"mkdocs", "mkdocs-material", "mkdocs-jupyter", "nbclient"} <= names["site"]
    assert {"pytest", "hypothesis", "ruff", "import-linter", "playwright", "nbclient"} <= names["dev"]


def test_python_312_and_313_are_allowed():
    allowed = SpecifierSet(_project()["requires-python"])
    for version in ("3.11.7", "3.12.0", "3.13.1"):
        assert allowed.contains(version), f"requires-python {allowed} excludes {version}"
    assert not allowed.contains("3.10.14")


def test_makefile_starts_the_servers_through_the_cli_and_builds_the_site():
    makefile = (ROOT / "Makefile").read_text()
    targets = {m.group(1): m.group(2) for m in re.finditer(r"^([a-z-]+):[^\n]*\n((?:\t[^\n]*\n)*)", makefile, re.M)}
    assert "mtdl-kit dashboard --port $(PORT)" in targets["dashboard"]
    assert "mtdl-kit lab" in targets["lab"]
    assert "scripts/build_site.py" in targets["site"]
    assert "-r requirements.txt" in makefile, "make venv installs the lock"


def test_the_first_install_shows_pip_progress_and_fails_loudly():
    makefile = (ROOT / "Makefile").read_text()
    rule = re.search(r"^\$\(STAMP\):[^\n]*\n((?:\t[^\n]*\n)*)", makefile, re.M).group(1)
    install = next(line for line in rule.splitlines() if "-r requirements.txt" in line)
    assert "--quiet" not in install and "--progress-bar on" in install, "the ~2 min install shows pip's progress"
    assert "| grep" not in rule and "|| true" not in rule, "no shell plumbing that hides a failed install"
    assert "pip check" in rule


def test_environment_yml_points_at_the_same_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert set(env) == {"name", "channels", "dependencies"}
    deps = env["dependencies"]
    assert "pip" in deps
    python = [d for d in deps if isinstance(d, str) and d.startswith("python=")]
    # the lock is tested on the Makefile's interpreter (not necessarily the one running this test)
    locked_python = re.search(r"^PYTHON \?= python(\d+\.\d+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert python == [f"python={locked_python}"]
    assert SpecifierSet(_project()["requires-python"]).contains(locked_python + ".0")
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1
    assert "-r requirements.txt" in pip_sections[0]
    assert not any("==" in entry for entry in pip_sections[0]), "versions belong in requirements.txt only"


def test_pyproject_declares_static_dependencies_and_the_console_command():
    project = _project()
    assert "dependencies" not in project.get("dynamic", []), "dependencies are declared in pyproject.toml"
    assert project["scripts"]["mtdl-kit"] == "mtdl_kit.cli:main"


def test_ci_calls_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make dashboard" in readme


def test_console_command_help():
    out = subprocess.run(
        [sys.executable, "-m", "mtdl_kit.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for sub in ("samples", "gallery", "dashboard", "lab", "zoo"):
        assert sub in out


def test_import_is_light():
    code = "import sys, mtdl_kit; print('torch' in sys.modules, 'monai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"], "import mtdl_kit must not import torch or monai (dashboard cold start)"
