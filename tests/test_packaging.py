"""Packaging: the wheel carries the bundled data, the dashboard and the lessons, and works outside the checkout.

The slow tests build a wheel from a copy of the sources (offline, no build isolation), check what it
carries and what its metadata pulls in, import it from a ``--target`` install, and install it into a
fresh virtual environment (``--no-deps``; the environment sees this project's installed packages
but not its editable ``mtdl_kit``) where ``mtdl-kit zoo verify --quick``, ``mtdl-kit lab`` and
``mtdl-kit dashboard`` run from a folder outside the source tree. The fast tests pin the lookup
order of :mod:`mtdl_kit.resources`.
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import os
import shutil
import site
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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
    "dashboard",
    "notebooks",
    ".streamlit/config.toml",
)
BUNDLED = f"mtdl_kit/{resources.PACKAGED}/"
ENV_VARS = (
    resources.DATA_DIR_ENV,
    "MTDL_KIT_SAMPLES",
    "MTDL_KIT_ZOO",
    "MTDL_KIT_RESULTS",
    resources.NOTEBOOKS_ENV,
)
#: packages a `pip install` of the wheel must not pull in (test, lint, browser and notebook-runner tools)
TOOLS = {"pytest", "hypothesis", "ruff", "import-linter", "playwright", "nbmake", "nbclient", "mkdocs", "jupyterlab"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "student")
            shutil.copytree(source, dest, ignore=ignore)
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
    # the dashboard (app, views, its Streamlit settings) and the lessons
    assert BUNDLED + "dashboard/app.py" in names
    views = sorted(p.name for p in (REPO / "dashboard" / "views").glob("*.py"))
    assert views and all(BUNDLED + "dashboard/views/" + v in names for v in views)
    pages = sorted(p.name for p in (REPO / "dashboard" / "app_pages").glob("*.py"))  # st.navigation's page files
    assert pages and all(BUNDLED + "dashboard/app_pages/" + v in names for v in pages)
    with zipfile.ZipFile(wheel) as zf:
        config = zf.read(BUNDLED + "dashboard/.streamlit/config.toml")
    assert config == (REPO / ".streamlit" / "config.toml").read_bytes(), "the wheel's Streamlit settings differ"
    lessons = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert lessons and all(BUNDLED + "notebooks/" + n in names for n in lessons)
    hidden = [n for n in names if "/." in n and n != BUNDLED + "dashboard/.streamlit/config.toml"]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))] and not hidden
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


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(zf.read(name).decode())


@pytest.mark.slow
def test_installing_the_wheel_pulls_no_test_or_lint_tools(wheel: Path) -> None:
    meta = _metadata(wheel)
    requires = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    runtime = {canonicalize_name(r.name) for r in requires if r.marker is None or "extra" not in str(r.marker)}
    assert {"torch", "monai", "streamlit", "plotly"} <= runtime
    assert not runtime & TOOLS, f"`pip install` of the wheel would pull {sorted(runtime & TOOLS)}"
    assert all(not any(s.operator == "==" for s in r.specifier) for r in requires), "no exact pins in a library"
    assert {"lab", "site", "dev"} <= set(meta.get_all("Provides-Extra"))
    assert meta["Requires-Python"] == ">=3.11"


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / (name + (".exe" if os.name == "nt" else ""))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, timeout: float = 90) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server exited with status {proc.returncode} before answering {url}"
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                return reply.read()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()  # mtdl-kit passes SIGTERM on to the server it started
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A new venv with the wheel installed ``--no-deps``; its dependencies come from this project's venv.

    A ``.pth`` file adds the project venv's site-packages as a plain path: the ``.pth`` files inside
    it (among them the editable install's finder, ``__editable__*mtdl_kit*.pth``) are not processed,
    so ``import mtdl_kit`` can only find the installed wheel.
    """
    tmp = tmp_path_factory.mktemp("fresh")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = _bin(venv, "python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    project = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(purelib, "_mtdl_kit_project_venv.pth").write_text("\n".join(project) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MTDL_KIT_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)]
    done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv, env


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_verifies_its_zoo_and_serves_lab(fresh_venv, tmp_path: Path) -> None:
    venv, env = fresh_venv
    where = subprocess.run(
        [str(_bin(venv, "python")), "-c", "import mtdl_kit; print(mtdl_kit.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).resolve().is_relative_to(venv.resolve()), f"mtdl_kit imported from {where}, not the wheel"

    done = subprocess.run(
        [str(_bin(venv, "mtdl-kit")), "zoo", "verify", "--quick", "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 problem(s)" in done.stdout and f"{resources.PACKAGED}/data_samples/weights" in done.stdout, done.stdout
    assert "8 model(s) re-scored" in done.stdout

    port = _free_port()
    lab = subprocess.Popen(
        [str(_bin(venv, "mtdl-kit")), "lab", "--port", str(port), "--no-browser"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert json.loads(_wait_for(f"http://127.0.0.1:{port}/api", lab))["version"]
    finally:
        _stop(lab)
    copied = sorted(p.name for p in (tmp_path / "mtdl-kit-lessons").glob("*.ipynb"))
    assert copied == sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb")), "the lessons were not copied"


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (make test installs it)")
def test_wheel_in_a_fresh_venv_serves_the_dashboard(fresh_venv, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    venv, env = fresh_venv
    port = _free_port()
    log = tmp_path / "dashboard.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(_bin(venv, "mtdl-kit")), "dashboard", "--port", str(port), "--no-browser"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            assert _wait_for(f"{url}/_stcore/health", server) == b"ok"
            assert b'<div id="root"' in _wait_for(url, server)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
                )
                page = browser.new_page(viewport={"width": 1400, "height": 1200})
                page.goto(url)
                page.get_by_text("multi-task deep learning in medical imaging").first.wait_for(timeout=60_000)
                page.get_by_text("not for clinical use").first.wait_for(timeout=30_000)
                # the Explore page's first script run: the bundled samples, then the zoo's outputs
                page.get_by_text("zoo model trained on").first.wait_for(timeout=120_000)
                page.wait_for_timeout(300)
                page.locator("[data-testid=stStatusWidget]").wait_for(state="detached", timeout=120_000)
                assert page.locator("[data-testid=stException]").count() == 0, "the page shows an exception"
                browser.close()
        finally:
            _stop(server)
    text = log.read_text()
    assert "Traceback" not in text, text
    assert f"URL: http://127.0.0.1:{port}" in text, text


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


def test_dashboard_and_lessons_are_found_in_the_checkout(no_env: pytest.MonkeyPatch) -> None:
    if Path(resources.__file__).resolve().parents[1] != REPO:
        pytest.skip("mtdl_kit is not imported from this checkout")
    assert resources.dashboard_app() == REPO / "dashboard" / "app.py"
    assert resources.notebooks_dir() == REPO / "notebooks"
    assert not resources.is_packaged(resources.notebooks_dir())


def test_dashboard_and_lessons_come_from_the_package_data_first(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    packaged = tmp_path / "pkg" / resources.PACKAGED
    (packaged / "dashboard").mkdir(parents=True)
    (packaged / "dashboard" / "app.py").write_text("")
    (packaged / "notebooks").mkdir()
    no_env.setattr(resources, "resources", SimpleNamespace(files=lambda _pkg: tmp_path / "pkg"))
    no_env.setenv(resources.DATA_DIR_ENV, str(_layout(tmp_path / "data-only")))  # data only: not used for code
    assert resources.dashboard_app() == packaged / "dashboard" / "app.py"
    assert resources.notebooks_dir() == packaged / "notebooks"
    assert resources.is_packaged(resources.notebooks_dir())


def test_notebooks_variable_wins_and_a_missing_folder_raises(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_env.setenv(resources.NOTEBOOKS_ENV, str(tmp_path))
    assert resources.notebooks_dir() == tmp_path
    no_env.setenv(resources.NOTEBOOKS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=resources.NOTEBOOKS_ENV):
        resources.notebooks_dir()


def test_no_dashboard_anywhere_raises_with_the_fix(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_env.setattr(resources, "resources", SimpleNamespace(files=lambda _pkg: tmp_path / "pkg"))
    no_env.setattr(resources, "__file__", str(tmp_path / "site" / "mtdl_kit" / "resources.py"))
    with pytest.raises(FileNotFoundError, match="Reinstall the wheel"):
        resources.dashboard_app()
    with pytest.raises(FileNotFoundError, match="lesson notebooks"):
        resources.notebooks_dir()
