"""Real-browser test: the dashboard served by `streamlit run`, driven by Playwright in Debian chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: where the screenshots go: a temporary folder, so the tests leave the tree clean; set
#: MTDL_KIT_SCREENSHOTS=docs/screenshots to refresh the README's pictures.
SCREENSHOTS = Path(os.environ.get("MTDL_KIT_SCREENSHOTS") or Path(tempfile.gettempdir()) / "mtdl-kit-screenshots")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (make test installs it)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail("streamlit server did not become healthy within 60 s")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _wait_idle(page, timeout: int = 60_000) -> None:
    """Wait until Streamlit reports no script run in progress (the status widget disappears)."""
    page.wait_for_timeout(300)
    page.locator("[data-testid=stStatusWidget]").wait_for(state="detached", timeout=timeout)


def test_every_page_in_chromium(server):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(server)
        page.get_by_text("not for clinical use").first.wait_for(timeout=60_000)
        # Explore: the first visit loads torch + MONAI in the background, then the four families' outputs
        page.get_by_text("zoo model trained on").first.wait_for(timeout=120_000)
        page.get_by_text("Class probabilities and decision").first.wait_for(timeout=60_000)
        _wait_idle(page)
        page.screenshot(path=str(SCREENSHOTS / "explore.png"), full_page=True)
        shots["explore"] = "explore.png"

        # toggle a task off: the outputs change (the head is hidden, the class table goes away)
        assert page.get_by_text("head(s) hidden").count() == 0
        page.get_by_text("grade", exact=True).first.click()
        page.get_by_text("head(s) hidden").first.wait_for(timeout=60_000)
        _wait_idle(page)
        assert page.get_by_text("Class probabilities and decision").count() == 0
        page.screenshot(path=str(SCREENSHOTS / "explore_task_off.png"), full_page=True)
        shots["explore_task_off"] = "explore_task_off.png"

        for view, marker, name in (
            ("Task relationships", "Predicted vs target, per task", "relationships.png"),
            ("For clinicians", "Trade-offs on these samples", "clinicians.png"),
            ("Experiment", "Train live (a fresh model for your session)", "experiment.png"),
            ("Architectures", "The four families on the", "architectures.png"),
            ("Catalog", "the review's representative networks", "catalog.png"),
        ):
            page.locator("[data-testid=stSidebar]").get_by_text(view, exact=True).click()
            page.get_by_text(marker).first.wait_for(timeout=120_000)
            if view in ("Task relationships", "For clinicians", "Architectures"):
                page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            _wait_idle(page, 120_000)
            page.get_by_text("not for clinical use").first.wait_for(timeout=5_000)  # on every page
            if view == "Experiment":  # a short live run: progress, curves, the session table
                page.get_by_label("Steps").fill("20")
                page.get_by_role("button", name="Train").click()
                page.get_by_text("state: **done**").or_(page.get_by_text("state: done")).first.wait_for(timeout=180_000)
                page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
                _wait_idle(page)
            page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
            shots[view] = name
        browser.close()
    for name in shots.values():
        assert (SCREENSHOTS / name).stat().st_size > 20_000, name
