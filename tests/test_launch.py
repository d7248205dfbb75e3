"""``mtdl-kit dashboard`` and ``mtdl-kit lab``: command lines, lesson copies, ports and error messages (fast).

The servers themselves are started from an installed wheel in ``tests/test_packaging.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mtdl_kit import cli, launch, resources
from mtdl_kit.cli.lab import cmd_lab, cmd_lab_transfer

REPO = Path(__file__).resolve().parents[1]


def test_dashboard_command_binds_loopback_headless_without_watcher() -> None:
    cmd = launch.dashboard_command(8765)
    assert cmd[:4] == [sys.executable, "-c", launch.DASHBOARD_BOOTSTRAP, "run"]
    assert Path(cmd[4]) == resources.dashboard_app()
    options = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert options["--server.address"] == "127.0.0.1"
    assert options["--server.port"] == "8765"
    assert options["--server.headless"] == "true"
    assert options["--server.fileWatcherType"] == "none"
    assert options["--browser.gatherUsageStats"] == "false"
    assert options["--runner.postScriptGC"] == "false"  # a lecture: no full collection after every rerun


def test_dashboard_bootstrap_is_streamlits_command_line() -> None:
    """The bootstrap (warm-up, then Streamlit's CLI) answers like ``python -m streamlit``."""
    env = {**os.environ, "MTDL_KIT_WARMUP": "0"}
    cmd = [sys.executable, "-c", launch.DASHBOARD_BOOTSTRAP, "version"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Streamlit, version" in out.stdout


def test_a_taken_port_fails_fast_naming_another() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(launch.LaunchError, match=f"port {port} .* in use.*--port {port + 1}"):
            launch.check_port(port)
    with pytest.raises(launch.LaunchError, match="between 1 and 65535"):
        launch.check_port(70000)


def test_a_missing_package_names_the_install_command() -> None:
    with pytest.raises(launch.LaunchError, match=r"no_such_module_xyz is not installed.*pip install 'mtdl-kit\[lab\]'"):
        launch.require_module("no_such_module_xyz", "pip install 'mtdl-kit[lab]'")


def test_cli_reports_launch_errors_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def missing(module: str, install: str) -> None:
        raise launch.LaunchError(f"{module} is not installed; {install}")

    monkeypatch.setattr(launch, "require_module", missing)
    assert cli.main(["lab", "--no-browser"]) == 2
    assert capsys.readouterr().err.strip() == "error: jupyterlab is not installed; pip install 'mtdl-kit[lab]'"


def test_lab_alone_starts_jupyter_and_lab_transfer_stays_an_experiment() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["lab", "--port", "8899", "--dir", "x"])
    assert args.func is cmd_lab and args.port == 8899 and args.dir == "x"
    args = parser.parse_args(["lab", "transfer", "--out", "somewhere"])  # the transfer lab shares `lab`
    assert args.func is cmd_lab_transfer


def test_zoo_verify_has_a_quick_mode() -> None:
    args = cli.build_parser().parse_args(["zoo", "verify", "--quick"])
    assert args.quick is True


def test_checkout_lessons_open_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(resources.NOTEBOOKS_ENV, raising=False)
    if Path(resources.__file__).resolve().parents[1] != REPO:
        pytest.skip("mtdl_kit is not imported from this checkout")
    folder, copied = launch.lesson_folder()
    assert folder == REPO / "notebooks" and copied == []


def test_packaged_lessons_are_copied_once_and_edits_are_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundled = tmp_path / "site-packages" / "lessons"
    bundled.mkdir(parents=True)
    for name in ("00_start_here.ipynb", "11_eye.ipynb"):
        (bundled / name).write_text(f'{{"lesson": "{name}"}}')
    monkeypatch.setattr(resources, "notebooks_dir", lambda: bundled)
    monkeypatch.setattr(resources, "is_packaged", lambda path: Path(path) == bundled)
    monkeypatch.chdir(tmp_path)

    folder, copied = launch.lesson_folder()
    assert folder == tmp_path / launch.LESSONS_FOLDER
    assert sorted(p.name for p in copied) == ["00_start_here.ipynb", "11_eye.ipynb"]
    (folder / "11_eye.ipynb").write_text("my edits")
    (folder / "00_start_here.ipynb").unlink()  # deleting a lesson brings a fresh copy back

    again, copied = launch.lesson_folder()
    assert again == folder and [p.name for p in copied] == ["00_start_here.ipynb"]
    assert (folder / "11_eye.ipynb").read_text() == "my edits"

    other, copied = launch.lesson_folder(tmp_path / "course")
    assert other == tmp_path / "course" and len(copied) == 2


def test_lesson_folder_that_is_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "lessons").write_text("")
    with pytest.raises(launch.LaunchError, match="is a file"):
        launch.lesson_folder(tmp_path / "lessons")


def test_lab_command_binds_loopback_and_opens_the_first_lesson(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "00_start_here.ipynb").write_text("{}")
    monkeypatch.setattr(launch.os, "geteuid", lambda: 0, raising=False)
    cmd = launch.lab_command(tmp_path, 8899, open_browser=False)
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path}" in cmd and "--ServerApp.ip=127.0.0.1" in cmd
    assert "--ServerApp.port=8899" in cmd and "--ServerApp.port_retries=0" in cmd
    assert "--LabApp.default_url=/lab/tree/00_start_here.ipynb" in cmd
    assert "--no-browser" in cmd and "--allow-root" in cmd
    monkeypatch.setattr(launch.os, "geteuid", lambda: 1000, raising=False)
    cmd = launch.lab_command(tmp_path)
    assert f"--ServerApp.port={launch.DEFAULT_LAB_PORT}" in cmd
    assert "--ServerApp.port_retries=0" not in cmd and "--allow-root" not in cmd and "--no-browser" not in cmd


def test_serve_returns_the_server_status_and_stop_escalates() -> None:
    assert launch.serve([sys.executable, "-c", "raise SystemExit(3)"]) == 3
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"]
    )
    assert launch.stop(stubborn, grace=0.2, timeout=0.5) != 0  # ignored the terminate: killed


def test_no_browser_without_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert not launch.can_open_browser()
    monkeypatch.setenv("DISPLAY", ":0")
    assert launch.can_open_browser()


def test_dashboard_prefill_imports_the_apps_filler_from_its_folder(tmp_path, monkeypatch) -> None:
    """The warm-up gets the app's own cache filler, imported from the app's folder when first called."""
    package = tmp_path / "fake_views_for_prefill"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "common.py").write_text("CALLS = []\ndef prefill_caches(regions):\n    CALLS.append(list(regions))\n")
    app = tmp_path / "app.py"
    app.write_text("")
    monkeypatch.setattr(launch, "DASHBOARD_PREFILL", ("fake_views_for_prefill.common", "prefill_caches"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv(launch.PREFILL_ENV, raising=False)
    fill = launch.dashboard_prefill(["-c", "run", str(app), "--server.port", "1"])
    assert fill is not None and "fake_views_for_prefill" not in sys.modules  # nothing imported before the call
    fill(["eye"])
    fill(["chest", "cardiac"])
    assert sys.modules["fake_views_for_prefill.common"].CALLS == [["eye"], ["chest", "cardiac"]]
    # nothing to fill: a Streamlit command that runs no app, or switched off
    assert launch.dashboard_prefill(["-c", "version"]) is None
    monkeypatch.setenv(launch.PREFILL_ENV, "0")
    assert launch.dashboard_prefill(["-c", "run", str(app)]) is None
