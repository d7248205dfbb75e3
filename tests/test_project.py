"""Project-level checks: one source of package versions, environment.yml, Makefile and CI wiring."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


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


def test_environment_yml_points_at_the_same_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert set(env) == {"name", "channels", "dependencies"}
    deps = env["dependencies"]
    assert "pip" in deps
    python = [d for d in deps if isinstance(d, str) and d.startswith("python=")]
    assert python == [f"python={sys.version_info.major}.{sys.version_info.minor}"]
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1
    assert "-r requirements.txt" in pip_sections[0]
    assert not any("==" in entry for entry in pip_sections[0]), "versions belong in requirements.txt only"


def test_pyproject_reads_dependencies_from_requirements():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "dependencies" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["requirements.txt"]
    assert meta["project"]["scripts"]["mtdl-kit"] == "mtdl_kit.cli:main"


def test_ci_calls_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make dashboard" in readme


def test_console_command_help():
    out = subprocess.run(
        [sys.executable, "-m", "mtdl_kit.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for sub in ("samples", "gallery"):
        assert sub in out


def test_import_is_light():
    code = "import sys, mtdl_kit; print('torch' in sys.modules, 'monai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"], "import mtdl_kit must not import torch or monai (dashboard cold start)"
