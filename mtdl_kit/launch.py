"""Starting the dashboard and JupyterLab from the installed package: ``mtdl-kit dashboard`` / ``mtdl-kit lab``.

Cross-platform (no ``make``, no shell): each command runs the server as a child process of this
interpreter (Streamlit's ``streamlit run APP`` / ``python -m jupyterlab``), bound to the loopback
address only, and waits for it; Ctrl+C stops it. The dashboard is set up for a lecture (issue 19):
no full garbage collection after every script run (``--runner.postScriptGC false``; the bounded
alternative is :mod:`mtdl_kit.services.warmup`'s frozen heap and periodic collection), and the
server process loads torch, MONAI and the first region's zoo models before it accepts the first
student, the rest of the zoo and the training workers right after (:data:`DASHBOARD_BOOTSTRAP`).
The app and the lessons come from :mod:`mtdl_kit.resources` (the wheel's package data, or the
source checkout). The library itself never imports streamlit or JupyterLab (import-linter contract
``no-ui``).
"""

from __future__ import annotations

import http.client
import importlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mtdl_kit import resources

#: the only address the servers bind: nothing is reachable from other machines
LOOPBACK = "127.0.0.1"
DEFAULT_DASHBOARD_PORT = 8501
DEFAULT_LAB_PORT = 8888
#: where ``mtdl-kit lab`` copies the lessons of a wheel install (relative to the working directory)
LESSONS_FOLDER = "mtdl-kit-lessons"
#: seconds to wait for a server's health check before giving up on opening the browser
START_TIMEOUT = 90.0


class LaunchError(ValueError):
    """A server cannot start (port taken, package missing); the message says how to fix it.

    A ``ValueError``, so the command line prints it as a one-line error.
    """


def require_module(module: str, install: str) -> None:
    """Raise :class:`LaunchError` naming ``install`` when ``module`` is not importable by this interpreter."""
    if importlib.util.find_spec(module) is None:
        raise LaunchError(
            f"{module} is not installed in this environment ({sys.executable}). Install it with: {install}"
        )


def check_port(port: int) -> None:
    """Raise :class:`LaunchError` when ``port`` is not a valid TCP port or is already taken on 127.0.0.1."""
    if not 1 <= port <= 65535:
        raise LaunchError(f"--port must be between 1 and 65535, got {port}.")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError as exc:
            raise LaunchError(
                f"port {port} on {LOOPBACK} is in use ({exc.strerror}); another server (a second dashboard?) "
                f"holds it. Stop it or choose another port: --port {port + 1}."
            ) from exc


def can_open_browser() -> bool:
    """False on a Linux machine without a display (a server, CI, SSH), where a browser cannot open."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


#: The dashboard server's entry point, run with ``python -c``: the warm-up
#: (:func:`mtdl_kit.services.warmup.start`) imports torch, MONAI and the first region's zoo models
#: and fills the dashboard's caches for that region (:func:`dashboard_prefill`) *before* Streamlit
#: starts serving (so the first student already finds them ready), and goes on in the background
#: with the rest of the zoo, the other regions' caches and the training workers; then Streamlit's
#: own command line, as ``python -m streamlit`` runs it. ``$MTDL_KIT_WARMUP=0`` skips the warm-up.
DASHBOARD_BOOTSTRAP = (
    "import os, sys; os.environ.get('MTDL_KIT_WARMUP', '1') == '0' or "
    "__import__('mtdl_kit.services.warmup', fromlist=['start']).start(pool=True, "
    "prefill=__import__('mtdl_kit.launch', fromlist=['dashboard_prefill']).dashboard_prefill(sys.argv))"
    ".ready.wait(300); "
    "from streamlit.web.cli import main; main(prog_name='streamlit')"
)
#: ``$MTDL_KIT_WARMUP_PREFILL=0``: the warm-up loads the models but leaves the dashboard's caches empty.
PREFILL_ENV = "MTDL_KIT_WARMUP_PREFILL"
#: the dashboard's cache filler: module (importable from the app's folder) and function.
DASHBOARD_PREFILL = ("views.common", "prefill_caches")


def dashboard_prefill(argv: Sequence[str]) -> Callable[[Sequence[str]], Any] | None:
    """The dashboard's cache filler for the server's warm-up, or ``None`` when there is nothing to fill.

    ``argv`` is the server's ``sys.argv`` under :data:`DASHBOARD_BOOTSTRAP`, ``['-c', 'run', APP,
    ...]``. The filler is ``prefill_caches`` of the app's ``views/common.py``
    (:data:`DASHBOARD_PREFILL`), imported from the app's folder when the warm-up first calls it, in
    the warm-up's thread — the same module object the app imports later, so the ``st.cache_*``
    functions it fills are the ones the pages call. ``None`` when ``argv`` runs no app (e.g.
    ``streamlit version``) or ``$MTDL_KIT_WARMUP_PREFILL=0``.
    """
    if os.environ.get(PREFILL_ENV, "1") == "0" or len(argv) < 3 or argv[1] != "run":
        return None
    folder = str(Path(argv[2]).resolve().parent)

    def fill(regions: Sequence[str]) -> Any:
        if folder not in sys.path:
            sys.path.insert(0, folder)
        module, name = DASHBOARD_PREFILL
        return getattr(importlib.import_module(module), name)(regions)

    return fill


#: Streamlit options of a lecture server: no full garbage collection after every script run (issue
#: 19: ~0.3-0.6 s of interpreter lock per run once torch and MONAI are loaded).
LECTURE_OPTIONS = ("--runner.postScriptGC", "false")


def dashboard_command(port: int, app: Path | None = None) -> list[str]:
    """The Streamlit command line of the dashboard on ``127.0.0.1:port``.

    ``python -c DASHBOARD_BOOTSTRAP run APP ...``: Streamlit's ``streamlit run``, after starting the
    server's warm-up. The options that matter for safety, CI and a lecture (:data:`LECTURE_OPTIONS`)
    are passed as flags, so they hold wherever the command runs; the rest of the project's settings
    (theme, upload limit) travel with the app as its script-level ``.streamlit/config.toml``.
    """
    app = app or resources.dashboard_app()
    return [
        sys.executable,
        "-c",
        DASHBOARD_BOOTSTRAP,
        "run",
        str(app),
        "--server.address",
        LOOPBACK,
        "--server.port",
        str(port),
        "--server.headless",
        "true",  # never prompt for an e-mail; the browser is opened by serve() instead
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--browser.serverAddress",
        LOOPBACK,
        *LECTURE_OPTIONS,
    ]


def lesson_folder(target: str | Path | None = None) -> tuple[Path, list[Path]]:
    """The folder JupyterLab opens, and the lessons copied into it by this call.

    - ``target`` given: the bundled lessons are copied into it (created if needed);
    - else, lessons installed with the package (a wheel) are copied into ``./mtdl-kit-lessons``:
      the installed files belong to the installation and a reinstall would replace them;
    - else (a source checkout, or ``$MTDL_KIT_NOTEBOOKS``) the lessons are opened in place.

    A lesson already in the folder is never overwritten: a student's edits survive; delete the
    file to get a fresh copy.
    """
    source = resources.notebooks_dir()
    if target is None and not resources.is_packaged(source):
        return source, []
    folder = Path(target) if target is not None else Path.cwd() / LESSONS_FOLDER
    if folder.exists() and not folder.is_dir():
        raise LaunchError(f"{folder} is a file, not a folder; pass another --dir for the lessons.")
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for lesson in sorted(source.glob("*.ipynb")):
        dest = folder / lesson.name
        if not dest.exists():
            shutil.copyfile(lesson, dest)
            copied.append(dest)
    return folder, copied


def lab_command(folder: Path, port: int | None = None, open_browser: bool = True) -> list[str]:
    """The JupyterLab command line on ``folder``, bound to 127.0.0.1 (``port=None``: 8888 or the next free one)."""
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={folder}",
        f"--ServerApp.ip={LOOPBACK}",
        f"--ServerApp.port={port or DEFAULT_LAB_PORT}",
    ]
    if port is not None:
        cmd.append("--ServerApp.port_retries=0")
    first = sorted(folder.glob("00_*.ipynb"))
    if first:
        cmd.append(f"--LabApp.default_url=/lab/tree/{first[0].name}")
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI run as root; Jupyter refuses to start otherwise
    return cmd


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = START_TIMEOUT) -> bool:
    """Poll ``url`` until it answers 200 (True), the process exits or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:  # a loopback URL built here
                if reply.status == 200:
                    return True
        except (OSError, http.client.HTTPException):  # not up yet, or a half-started server
            time.sleep(0.3)
    return False


def serve(cmd: Sequence[str], *, health_url: str | None = None, open_url: str | None = None) -> int:
    """Run a server command in the foreground until it exits or Ctrl+C; returns its exit status.

    Ctrl+C reaches the server too (same console); a SIGTERM to this process is passed on to it, so
    stopping the command never leaves an orphaned server behind.

    Args:
        cmd: the command line.
        health_url: polled before ``open_url`` is opened in the default browser.
        open_url: the page to open once the server is healthy (``None``: open nothing).
    """
    proc = subprocess.Popen(list(cmd))
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        if open_url and health_url and wait_healthy(health_url, proc):
            webbrowser.open(open_url)
        return proc.wait()
    except KeyboardInterrupt:
        return stop(proc)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def stop(proc: subprocess.Popen, grace: float = 3.0, timeout: float = 15.0) -> int:
    """Stop a server after Ctrl+C: let it handle the Ctrl+C itself, then terminate, then kill it.

    JupyterLab answers a first Ctrl+C with a question; the terminate after ``grace`` seconds shuts
    it down cleanly (kernels included). Another Ctrl+C meanwhile moves on to the next step.
    """
    for step, wait in ((None, grace), (proc.terminate, timeout), (proc.kill, timeout)):
        try:
            if step is not None:
                step()
            return proc.wait(timeout=wait)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            continue
    return proc.wait()


def run_dashboard(port: int = DEFAULT_DASHBOARD_PORT, open_browser: bool = True) -> int:
    """``mtdl-kit dashboard``: serve the dashboard on ``http://127.0.0.1:port`` until Ctrl+C."""
    require_module("streamlit", "pip install mtdl-kit (streamlit is one of its dependencies)")
    check_port(port)
    cmd = dashboard_command(port)
    url = f"http://{LOOPBACK}:{port}"
    print(f">> mtdl-kit dashboard on {url}  (Ctrl+C stops; research and teaching use only)", flush=True)
    opening = open_browser and can_open_browser()
    return serve(cmd, health_url=f"{url}/_stcore/health", open_url=url if opening else None)


def run_lab(port: int | None = None, folder: str | Path | None = None, open_browser: bool = True) -> int:
    """``mtdl-kit lab``: JupyterLab on the lessons (see :func:`lesson_folder`) until Ctrl+C."""
    require_module("jupyterlab", "pip install 'mtdl-kit[lab]'")
    if port is not None:
        check_port(port)
    where, copied = lesson_folder(folder)
    if copied:
        print(f">> copied {len(copied)} lesson(s) into {where} (your edits there are kept)", flush=True)
    print(f">> JupyterLab on {where}  (Ctrl+C stops; research and teaching use only)", flush=True)
    return serve(lab_command(where, port, open_browser=open_browser and can_open_browser()))
