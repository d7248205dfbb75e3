"""Real-browser test: the dashboard served by `streamlit run`, driven by Playwright in Debian chromium.

Every page at 1400 px (chosen in the sidebar's navigation) and at 1024 px (opened from its own URL),
each chart waited for until plotly.js has drawn it with data.
"""

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
    try:
        # the server joins its training-worker pool on exit; a worker still importing torch on a loaded
        # machine can hold that up for a while
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _wait_idle(page, timeout: int = 60_000) -> None:
    """Wait until Streamlit reports no script run in progress (the status widget disappears)."""
    page.wait_for_timeout(300)
    page.locator("[data-testid=stStatusWidget]").wait_for(state="detached", timeout=timeout)


#: every plotly chart Streamlit placed has been drawn by plotly.js with data: its figure holds traces and its
#: SVG holds drawn traces (scatter/bar groups, heatmap images), not an empty box
_ALL_CHARTS_DRAWN = """() => {
  const boxes = document.querySelectorAll('[data-testid=stPlotlyChart]');
  const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
  return plots.length === boxes.length && plots.every(el =>
    el._fullLayout && (el.data || []).length > 0 &&
    el.querySelectorAll('.main-svg g.trace, .main-svg g.hm image, .main-svg .imagelayer image').length > 0);
}"""


def _charts_drawn(page, minimum: int, timeout: int = 60_000) -> int:
    """Wait until at least ``minimum`` charts are on the page and every one is drawn with data; their number."""
    if minimum:
        page.locator(".js-plotly-plot").nth(minimum - 1).wait_for(timeout=timeout)
    page.wait_for_function(_ALL_CHARTS_DRAWN, timeout=timeout)
    return page.locator(".js-plotly-plot").count()


#: title, URL path (Explore is the default page, at the root), a text that shows the page rendered,
#: the fewest charts it draws, screenshot name
PAGES = (
    ("Explore", "", "Class probabilities and decision", 1, "explore"),
    ("Task relationships", "relationships", "Predicted vs target, per task", 4, "relationships"),
    ("For clinicians", "clinicians", "Multi-task against single-task", 1, "clinicians"),
    ("Experiment", "experiment", "Train live (a fresh model for your session)", 0, "experiment"),
    ("Architectures", "architectures", "The four families on the", 1, "architectures"),
    ("Catalog", "catalog", "the review's representative networks", 0, "catalog"),
)


#: the wiring chart's title names the family drawn (it is redrawn after a family is chosen)
_WIRING_TITLE = """(family) => [...document.querySelectorAll('.js-plotly-plot .gtitle')]
  .some(t => t.textContent.startsWith(family + ':'))"""

#: every box label of the wiring chart drawn inside its box (1 px slack), every annotation inside the chart
_WIRING_FIT = """() => {
  const el = [...document.querySelectorAll('.js-plotly-plot')].find(p => p.querySelector('.shapelayer path'));
  const boxes = [...el.querySelectorAll('.shapelayer path')].map(p => p.getBoundingClientRect());
  const chart = el.getBoundingClientRect();
  const texts = [...el.querySelectorAll('.annotation .annotation-text')]
    .map(t => [t.textContent, t.getBoundingClientRect()]);
  const overflowing = [], outside = [];
  let labels = 0;
  for (const [text, r] of texts) {
    if (r.x < chart.x - 1 || r.x + r.width > chart.x + chart.width + 1) outside.push(text);
    const cx = r.x + r.width / 2, cy = r.y + r.height / 2;
    const box = boxes.find(b => cx >= b.x && cx <= b.x + b.width && cy >= b.y && cy <= b.y + b.height);
    if (!box) continue;
    labels += 1;
    const inside = r.x >= box.x - 1 && r.x + r.width <= box.x + box.width + 1
      && r.y >= box.y - 1 && r.y + r.height <= box.y + box.height + 1;
    if (!inside) overflowing.push(text);
  }
  return {boxes: boxes.length, labels, overflowing, outside};
}"""


def _shot(page, name: str, shots: dict) -> None:
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
    shots[name] = name


def test_every_page_in_chromium(server):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots: dict[str, str] = {}
    drawn: dict[tuple[int, str], int] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        # 1400 px: the README's screenshots; pages chosen in the sidebar's navigation
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(server)
        page.get_by_text("not for clinical use").first.wait_for(timeout=60_000)
        # Explore: the first visit loads torch + MONAI in the background, then the four families' outputs
        page.get_by_text("zoo model trained on").first.wait_for(timeout=120_000)
        page.get_by_text("Class probabilities and decision").first.wait_for(timeout=60_000)
        _wait_idle(page)
        assert page.locator("[data-testid=stAppDeployButton]").count() == 0, "no Deploy button in a lecture"
        drawn[(1400, "Explore")] = _charts_drawn(page, 1)
        _shot(page, "explore.png", shots)

        # toggle a task off: the outputs change (the head is hidden, the class table goes away)
        assert page.get_by_text("with the grade head(s) hidden").count() == 0
        page.get_by_text("grade", exact=True).first.click()
        page.get_by_text("with the grade head(s) hidden").first.wait_for(timeout=60_000)
        _wait_idle(page)
        assert page.get_by_text("Class probabilities and decision").count() == 0
        _charts_drawn(page, 1)
        _shot(page, "explore_task_off.png", shots)

        for view, path, marker, minimum, name in PAGES[1:]:
            page.locator("[data-testid=stSidebarNav]").get_by_text(view, exact=True).click()
            page.get_by_text(marker).first.wait_for(timeout=120_000)
            _wait_idle(page, 120_000)
            assert page.url.split("?")[0].rstrip("/").endswith("/" + path), (view, page.url)  # its own URL
            page.get_by_text("not for clinical use").first.wait_for(timeout=5_000)  # on every page
            if view == "Experiment":  # a short live run: progress, curves, the session table
                page.get_by_label("Steps").fill("20")
                page.get_by_role("button", name="Train").click()
                page.get_by_text("state: **done**").or_(page.get_by_text("state: done")).first.wait_for(timeout=180_000)
                _wait_idle(page)
                minimum = 1
            drawn[(1400, view)] = _charts_drawn(page, minimum, 120_000)
            _shot(page, f"{name}.png", shots)

        # 1024 px (a lecture-hall projector): every page opened from its URL, the region in the query string
        page = browser.new_page(viewport={"width": 1024, "height": 1400})
        for view, path, marker, minimum, name in PAGES:
            page.goto(f"{server}/{path}?region=brain")
            page.get_by_text(marker).first.wait_for(timeout=120_000)
            _wait_idle(page, 120_000)
            page.get_by_text("not for clinical use").first.wait_for(timeout=5_000)
            assert "region=brain" in page.url, page.url  # the sidebar writes the view back into the URL
            drawn[(1024, view)] = _charts_drawn(page, minimum, 120_000)
            _shot(page, f"{name}_1024.png", shots)
        # the widest wiring diagram (a four-task cascade) and the crowded interacted one, at 1024 px: every
        # box label inside its box, every text inside the chart, as chromium draws them
        page.goto(f"{server}/architectures?region=brain")
        page.get_by_text("The four families on the").first.wait_for(timeout=120_000)
        _wait_idle(page, 120_000)
        for family in ("cascaded", "interacted"):
            page.get_by_text(family, exact=True).first.click()
            page.wait_for_function(_WIRING_TITLE, arg=family, timeout=120_000)
            _wait_idle(page, 120_000)
            fit = page.evaluate(_WIRING_FIT)
            assert fit["boxes"] >= 20 and fit["labels"] >= 20, (family, fit)
            assert fit["overflowing"] == [] and fit["outside"] == [], (family, fit)
        _shot(page, "architectures_cascaded_1024.png", shots)
        # a link to another region reproduces it
        page.goto(f"{server}/catalog?region=eye")
        page.get_by_text("Eye").first.wait_for(timeout=60_000)
        _wait_idle(page)
        assert "region=eye" in page.url
        browser.close()
    for name in shots.values():
        assert (SCREENSHOTS / name).stat().st_size > 20_000, name
    for view, _, _, minimum, _ in PAGES:
        assert drawn[(1400, view)] >= minimum and drawn[(1024, view)] >= minimum, (view, drawn)
