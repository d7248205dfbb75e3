"""The lesson site (``make site``, ``scripts/build_site.py``): built offline, checked, drawn in a real browser.

To stay within ``make test``'s time, the build here covers two lessons (00, with figures, and 22,
whose headings hold code; ~30 s on two cores); ``make site`` builds all of them the same way, and CI
runs it (``.ci/run``). The build goes to a temporary folder, so the working tree stays clean.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LESSONS = "00,22"


def _build(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(ROOT / "scripts" / "build_site.py"), "--out", str(out), *args]
    return subprocess.run(cmd, cwd=out.parent, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    done = _build(out, "--lessons", LESSONS, "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.mark.slow
def test_site_has_the_lessons_and_no_broken_link(site: Path) -> None:
    assert {p.name for p in (site / "lessons").glob("*.html")} == {"00_start_here.html", "22_bring_your_own_data.html"}
    assert (site / "assets" / "plotly.min.js").stat().st_size > 1_000_000  # served by the site, no CDN
    assert build_site.check_site(site) == []
    index = (site / "index.html").read_text()
    assert 'href="lessons/00_start_here.html"' in index and "not for clinical use" in index
    lesson = (site / "lessons" / "00_start_here.html").read_text()
    assert "data-plotly-figure" in lesson, "the lesson page carries no figure"
    assert "Traceback" not in lesson


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (make test installs it)")
def test_index_and_a_lesson_draw_in_chromium(served: str) -> None:
    from playwright.sync_api import sync_playwright

    elsewhere: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1300, "height": 1200})
        page.on("request", lambda r: None if r.url.startswith(served) else elsewhere.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{served}/index.html")
        page.get_by_role("heading", name="mtdl-kit lessons").wait_for(timeout=30_000)
        page.get_by_text("not for clinical use").first.wait_for(timeout=10_000)
        page.locator("article").get_by_role("link", name="00 · Start here", exact=False).first.click()
        page.wait_for_url("**/lessons/00_start_here.html")
        page.get_by_role("heading", name="00 · Start here", exact=False).first.wait_for(timeout=30_000)
        # plotly.js (the site's own copy) has drawn the figures: an svg inside each plot
        page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=60_000)
        drawn = page.locator(".js-plotly-plot").count()
        figures = page.locator("[data-plotly-figure]").count()
        browser.close()
    assert drawn == figures > 0, f"{drawn} of {figures} figures drawn"
    assert not errors, errors
    assert not elsewhere, f"the site loaded resources from elsewhere: {elsewhere}"


@pytest.mark.slow
def test_a_failing_lesson_fails_the_build_naming_it(tmp_path: Path) -> None:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 99 · Broken\n\nA lesson with a bug."),
        nbformat.v4.new_code_cell("QUICK = True"),
        nbformat.v4.new_code_cell("raise RuntimeError('the lesson has a bug')"),
    ]
    nbformat.write(nb, lessons / "99_broken.ipynb")
    done = _build(tmp_path / "site", "--notebooks", str(lessons))
    assert done.returncode == 1
    assert "99_broken.ipynb failed" in done.stderr and "the lesson has a bug" in done.stderr, done.stderr
    assert not (tmp_path / "site").exists()


def test_link_check_finds_broken_links_anchors_and_offsite_resources(tmp_path: Path) -> None:
    (tmp_path / "lessons").mkdir()
    (tmp_path / "style.css").write_text("")
    (tmp_path / "index.html").write_text(
        '<h1 id="top">x</h1><a href="#top">ok</a><a href="lessons/a.html#sec">ok</a>'
        '<link rel="stylesheet" href="style.css"><a href="https://doi.org/10.1/x">external link: fine</a>'
        '<a href="lessons/missing.html">broken</a><a href="lessons/a.html#nope">bad anchor</a>'
        '<script src="https://cdn.example/plotly.js"></script>'
    )
    (tmp_path / "lessons" / "a.html").write_text('<h2 id="sec">s</h2><img src="../img.png"><a href="/index.html">')
    problems = build_site.check_site(tmp_path)
    assert len(problems) == 4, problems
    assert any("lessons/missing.html" in p for p in problems)
    assert any("has no id 'nope'" in p for p in problems)
    assert any("cdn.example" in p and "another host" in p for p in problems)
    assert any("../img.png" in p for p in problems)


def test_outputs_become_static() -> None:
    nb = nbformat.v4.new_notebook()
    figure = {"data": [{"type": "scatter", "y": [1, 2]}], "layout": {"height": 300, "title": {"text": "</script>"}}}
    cell = nbformat.v4.new_code_cell("...")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={build_site.PLOTLY_MIME: figure}),
        nbformat.v4.new_output(
            "display_data",
            data={build_site.WIDGET_MIME: {"model_id": "1"}, "text/plain": "FloatSlider(value=1.0, description='r')"},
        ),
        nbformat.v4.new_output(
            "display_data", data={build_site.WIDGET_MIME: {"model_id": "2"}, "text/plain": "Output()"}
        ),
        nbformat.v4.new_output("stream", name="stdout", text="kept\n"),
    ]
    heading = nbformat.v4.new_markdown_cell("## Your column names: `task_map`\n\nUse `task_map` here.")
    nb.cells = [cell, heading]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    out = build_site.static_outputs(nb, "lesson")
    first, second, third = out.cells[0].outputs
    assert 'data-plotly-figure="lesson-figure-1"' in first.data["text/html"]
    assert "height:300px" in first.data["text/html"] and "<\\/script>" in first.data["text/html"]
    assert "FloatSlider <em>r</em>" in second.data["text/html"] and "mtdl-kit lab" in second.data["text/html"]
    assert third.output_type == "stream"
    assert "widgets" not in out.metadata
    # code in a heading as inline HTML (the table of contents keeps it in the anchor); elsewhere unchanged
    assert out.cells[1].source == "## Your column names: <code>task_map</code>\n\nUse `task_map` here."


def test_a_folder_the_build_did_not_write_is_never_deleted(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "thesis.tex").write_text("precious")
    with pytest.raises(build_site.SiteError, match="was not written by this script"):
        build_site.build(tmp_path / "site", only="00")
    assert (tmp_path / "site" / "thesis.tex").read_text() == "precious"


def test_the_review_catalog_is_a_page_of_the_site(tmp_path: Path) -> None:
    """The lessons name docs/review.md; the site carries it as a page, linked from the index and the nav."""
    config = build_site.write_sources(tmp_path / "src", sorted((ROOT / "notebooks").glob("00_*.ipynb")))
    page = tmp_path / "src" / "docs" / "review.md"
    assert page.read_text(encoding="utf-8") == (ROOT / "docs" / "review.md").read_text(encoding="utf-8")
    assert '"Review catalog": "review.md"' in config.read_text(encoding="utf-8")
    assert "](review.md)" in (tmp_path / "src" / "docs" / "index.md").read_text(encoding="utf-8")


def test_only_a_kernel_that_never_started_is_started_again():
    """Parallel lesson workers can race for a kernel port; that start is retried, a failing lesson is not."""
    assert build_site._kernel_start_race(RuntimeError("Kernel died before replying to kernel_info"))
    assert not build_site._kernel_start_race(RuntimeError("Kernel died"))  # mid-lesson: the lesson's problem
    assert not build_site._kernel_start_race(TimeoutError("Cell execution timed out"))
    assert build_site.KERNEL_START_ATTEMPTS >= 2
