"""Packaging: the wheel carries the bundled data, and :mod:`mtdl_kit.resources` finds it in every install.

The slow test builds a wheel from a copy of the sources (offline, no build isolation), checks what it
carries and imports it from a ``--target`` install outside the source tree. The fast tests pin the
lookup order of :mod:`mtdl_kit.resources`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from mtdl_kit import REGION_NAMES, resources

REPO = Path(__file__).resolve().parents[1]
#: what a wheel build needs from the checkout (setup.py copies data_samples/ and the CSVs into the wheel)
SOURCES = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "requirements.txt",
    "mtdl_kit",
    "data_samples",
    "benchmarks/results",
)
BUNDLED = f"mtdl_kit/{resources.PACKAGED}/"
ENV_VARS = (resources.DATA_DIR_ENV, "MTDL_KIT_SAMPLES", "MTDL_KIT_ZOO", "MTDL_KIT_RESULTS")


def _pip(*args: str, cwd: Path) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    cmd = [sys.executable, "-m", "pip", *args, "--no-deps", "--no-index", "--no-cache-dir", "-q"]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the sources, with stray caches planted in the data it must leave out."""
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    for name in SOURCES:
        source, dest = REPO / name, src / name
        if source.is_dir():
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)
    (src / "data_samples" / "weights" / "__pycache__").mkdir()
    (src / "data_samples" / "weights" / "__pycache__" / "stray.cpython-311.pyc").write_bytes(b"\0")
    (src / "data_samples" / "weights" / ".manifest.json.tmp").write_text("{}")  # an interrupted write
    dist = tmp / "dist"
    _pip("wheel", "--no-build-isolation", "-w", str(dist), str(src), cwd=tmp)
    (built,) = dist.glob("mtdl_kit-*.whl")
    return built


@pytest.mark.slow
def test_wheel_carries_the_bundled_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zoo = json.loads(zf.read(BUNDLED + "data_samples/weights/manifest.json"))
        store = json.loads(zf.read(BUNDLED + "data_samples/manifest.json"))
        assert zoo["entries"], "the zoo manifest in the wheel lists no models"
        for key, entry in zoo["entries"].items():
            name = BUNDLED + "data_samples/weights/" + entry["file"]
            assert name in names, f"zoo entry {key}: {entry['file']} is not in the wheel"
            assert hashlib.sha256(zf.read(name)).hexdigest() == entry["sha256"], f"{name} differs from the manifest"
    for region in REGION_NAMES:
        files = store["regions"][region]["files"]
        assert any(f"{region}/images/" in rel for rel in files), f"no {region} sample in the store manifest"
        missing = [rel for rel in files if BUNDLED + "data_samples/" + rel not in names]
        assert not missing, f"{region}: {len(missing)} sample files missing from the wheel, e.g. {missing[:3]}"
    csvs = sorted(p.name for p in (REPO / "benchmarks" / "results").glob("*.csv"))
    assert csvs
    for csv_name in csvs:
        assert BUNDLED + "benchmarks/results/" + csv_name in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo")) or "/." in n]
    # only the package and its metadata: the data lives inside mtdl_kit/, nothing at the wheel's top level
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"mtdl_kit"}


@pytest.mark.slow
def test_installed_wheel_finds_its_data_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    _pip("install", "--target", str(target), str(wheel), cwd=tmp_path)
    probe = textwrap.dedent(
        """
        import json
        import mtdl_kit
        from mtdl_kit import resources
        from mtdl_kit.data.samples import load_samples
        from mtdl_kit.results import load_results
        from mtdl_kit.zoo import read_manifest

        print(json.dumps({
            "module": mtdl_kit.__file__,
            "root": str(resources.bundled_root()),
            "samples": str(resources.samples_dir()),
            "weights": str(resources.weights_dir()),
            "results": str(resources.results_dir()),
            "zoo_entries": len(read_manifest()),
            "eye_samples": len(load_samples("eye")),
            "families_rows": len(load_results("families")),
        }))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTDL_KIT_")}
    env["PYTHONPATH"] = str(target)
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    target = target.resolve()
    for key in ("module", "root", "samples", "weights", "results"):
        assert Path(found[key]).resolve().is_relative_to(target), f"{key} is {found[key]}, not inside {target}"
    assert Path(found["weights"]).resolve() == target / "mtdl_kit" / "_bundled" / "data_samples" / "weights"
    assert found["zoo_entries"] > 0
    assert found["eye_samples"] > 0
    assert found["families_rows"] > 0


# --- the lookup order of mtdl_kit.resources (fast) ---------------------------------------------------


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _layout(root: Path) -> Path:
    for sub in ("data_samples/weights", "benchmarks/results"):
        (root / sub).mkdir(parents=True)
    return root


def test_single_folder_variables_win(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_env.setenv(resources.DATA_DIR_ENV, str(_layout(tmp_path / "copy")))
    for var, func in (
        ("MTDL_KIT_SAMPLES", resources.samples_dir),
        ("MTDL_KIT_ZOO", resources.weights_dir),
        ("MTDL_KIT_RESULTS", resources.results_dir),
    ):
        no_env.setenv(var, str(tmp_path / var))
        assert func() == tmp_path / var


def test_data_dir_variable_beats_the_package_and_the_checkout(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = _layout(tmp_path / "copy")
    no_env.setenv(resources.DATA_DIR_ENV, str(root))
    assert resources.bundled_root() == root
    assert resources.samples_dir() == root / "data_samples"
    assert resources.weights_dir() == root / "data_samples" / "weights"
    assert resources.results_dir() == root / "benchmarks" / "results"


def test_data_dir_variable_naming_a_missing_folder_raises(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_env.setenv(resources.DATA_DIR_ENV, str(tmp_path / "nowhere"))
    for func in (resources.bundled_root, resources.samples_dir, resources.weights_dir, resources.results_dir):
        with pytest.raises(FileNotFoundError, match=resources.DATA_DIR_ENV):
            func()


def test_package_data_beats_the_checkout(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    packaged = _layout(tmp_path / "pkg" / resources.PACKAGED)
    no_env.setattr(resources, "resources", SimpleNamespace(files=lambda _pkg: tmp_path / "pkg"))
    assert resources.bundled_root() == packaged
    assert resources.weights_dir() == packaged / "data_samples" / "weights"


def test_source_checkout_is_the_fallback(no_env: pytest.MonkeyPatch) -> None:
    if Path(resources.__file__).resolve().parents[1] != REPO:
        pytest.skip("mtdl_kit is not imported from this checkout")
    assert not (REPO / "mtdl_kit" / resources.PACKAGED).exists(), "a _bundled/ folder in the sources shadows the data"
    assert resources.bundled_root() == REPO
    assert resources.samples_dir() == REPO / "data_samples"
    assert resources.results_dir() == REPO / "benchmarks" / "results"


def test_no_data_anywhere_raises_with_the_fix(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_env.setattr(resources, "resources", SimpleNamespace(files=lambda _pkg: tmp_path / "pkg"))
    no_env.setattr(resources, "__file__", str(tmp_path / "site" / "mtdl_kit" / "resources.py"))
    with pytest.raises(FileNotFoundError, match=resources.DATA_DIR_ENV):
        resources.bundled_root()
