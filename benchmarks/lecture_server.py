"""The lecture benchmark's server: ``mtdl-kit dashboard``'s own command line as a subprocess, and its memory.

Used by ``bench_lecture.py`` and ``tests/dashboard/test_lecture_client.py``. Research and teaching use
only — not for clinical use.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WARMUP_LOG = "MTDL_KIT_WARMUP_LOG"  # mtdl_kit.services.warmup.LOG_ENV


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``mtdl-kit dashboard``'s command line as a subprocess (extra Streamlit flags and env per variant)."""

    def __init__(self, *, extra: Iterable[str] = (), env: dict[str, str] | None = None, log: Path | None = None):
        from mtdl_kit import launch

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [*launch.dashboard_command(self.port, ROOT / "dashboard" / "app.py"), *extra]
        self.log = log or Path(tempfile.mkstemp(prefix="lecture-server-", suffix=".log")[1])
        self.warmup_log = Path(tempfile.mkstemp(prefix="lecture-warmup-", suffix=".jsonl")[1])
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", WARMUP_LOG: str(self.warmup_log), **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.t_start = 0.0

    def start(self, timeout: float = 120.0) -> float:
        """Start and wait for the health check; returns the seconds it took."""
        self.t_start = time.perf_counter()
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:  # loopback
                    if reply.read() == b"ok":
                        return time.perf_counter() - self.t_start
            except OSError:
                time.sleep(0.2)
        self.stop()  # a server left running would hold its port and its cores after the caller gives up
        raise RuntimeError(
            f"the server did not become healthy within {timeout:g} s (stopped; is the machine busy? "
            f"pass a longer timeout): {self.log.read_text(errors='replace')[-2000:]}"
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def warmup_events(self) -> list[dict[str, Any]]:
        """The server's warm-up and periodic-collection timings (``$MTDL_KIT_WARMUP_LOG``'s JSON lines)."""
        if not self.warmup_log.exists():
            return []
        return [json.loads(line) for line in self.warmup_log.read_text().splitlines() if line.strip()]

    def log_errors(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if "Traceback" in line or line.startswith("Error")]

    def wait_idle(self, timeout: float = 300.0, below: float = 15.0, window: float = 3.0) -> float:
        """Wait for the warm-up's ``done`` event, then until the server and its workers use under ``below`` % CPU
        for ``window`` s. (CPU alone is not enough: the cache filler pauses between regions.)"""
        import psutil

        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout and not any(e["event"] == "done" for e in self.warmup_events()):
            time.sleep(0.5)
        root = psutil.Process(self.proc.pid)
        while time.perf_counter() - t0 < timeout:
            procs = [root, *root.children(recursive=True)]
            before = sum(p.cpu_times().user + p.cpu_times().system for p in procs if p.is_running())
            time.sleep(window)
            with contextlib.suppress(psutil.Error):
                after = sum(p.cpu_times().user + p.cpu_times().system for p in procs if p.is_running())
                if 100 * (after - before) / window < below:
                    return time.perf_counter() - t0
        return time.perf_counter() - t0


class RssSampler:
    """Resident memory of the server process and of its whole tree (training workers), every ``every`` s."""

    def __init__(self, pid: int, every: float = 2.0) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float, float]] = []  # (t, server GB, tree GB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.perf_counter()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import psutil

        root = psutil.Process(self.pid)
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                server = root.memory_info().rss
                tree = server + sum(c.memory_info().rss for c in root.children(recursive=True))
                self.samples.append((time.perf_counter() - self.t0, server / 2**30, tree / 2**30))
            self._stop.wait(self.every)

    def peak(self, col: int = 2) -> float:
        return max((s[col] for s in self.samples), default=float("nan"))

    def at(self, t: float, col: int = 1) -> float:
        """The sample closest to ``t`` seconds."""
        if not self.samples:
            return float("nan")
        return min(self.samples, key=lambda s: abs(s[0] - t))[col]


def load_avg() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"
    except OSError:
        return "n/a"
