"""Build the lesson site: every notebook executed in QUICK mode and rendered with its outputs (MkDocs).

``make site`` (or, without make, ``python scripts/build_site.py``) writes a static site to
``build/site/``: open ``build/site/index.html`` in a browser, or serve the folder with
``python -m http.server --bind 127.0.0.1 --directory build/site 8000``. Everything is built offline
and the site loads nothing from another host.

Steps, each failing the build with a message naming the problem:

1. execute every ``notebooks/*.ipynb`` top to bottom in a fresh ``python3`` kernel of this
   interpreter, in its stored QUICK mode, with the settings of ``tests/test_notebooks.py``
   (``OMP_NUM_THREADS=1``, 300 s per cell), ``--jobs`` notebooks at a time; a failing cell stops
   the build and names the notebook and the cell;
2. make the outputs static: plotly figures are drawn by the site's own ``assets/plotly.min.js``
   (copied from the installed plotly package), widget controls become a note that they work in
   JupyterLab, and the widget state is dropped (it would load a widget manager from a CDN); code
   in headings becomes inline HTML, so the table of contents links to the headings' real ids;
3. write ``index.md`` (the lessons, their titles and summaries) and a MkDocs config inheriting the
   repository's ``mkdocs.yml``, then run ``mkdocs build --strict`` (a warning, e.g. a broken link
   between Markdown pages, fails it);
4. check every page of the built site: each internal link, script, stylesheet and image must
   resolve to a file of the site (and each ``#anchor`` to an id of its page), and no script,
   stylesheet or image may come from another host.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from html.parser import HTMLParser
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "scripts") not in sys.path:  # notebook_client, also when this module is imported by the tests
    sys.path.insert(0, str(ROOT / "scripts"))
NOTEBOOKS = ROOT / "notebooks"
BASE_CONFIG = ROOT / "mkdocs.yml"
#: the review's taxonomy and per-region networks (the lessons name it; the site shows it as a page)
REVIEW_PAGE = ROOT / "docs" / "review.md"
DEFAULT_OUT = ROOT / "build" / "site"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: per-cell timeout of the execution (as in tests/test_notebooks.py)
CELL_TIMEOUT = 300
#: first line of the MkDocs config the build writes (marks a sources folder as the build's own)
CONFIG_HEADER = "# written by scripts/build_site.py"

FIGURES_JS = """\
// Draws every plotly figure of a lesson page with the site's own plotly.min.js (no CDN).
// build_site.py stores each figure as inert JSON next to an empty div.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("script[type='application/json'][data-plotly-figure]").forEach(function (spec) {
    var target = document.getElementById(spec.dataset.plotlyFigure);
    var figure = JSON.parse(spec.textContent);
    var config = Object.assign({responsive: true, displaylogo: false}, figure.config || {});
    Plotly.newPlot(target, figure.data || [], figure.layout || {}, config);
  });
});
"""
NO_MATHJAX_JS = "// MathJax is not bundled: the lessons use no TeX, and the site loads nothing from a CDN.\n"
LESSONS_CSS = """\
.mtdl-figure-scroll { overflow-x: auto; }
.mtdl-figure { width: 100%; margin: 0.5em 0; }
.mtdl-widget { font-size: 0.85em; }
"""


class SiteError(RuntimeError):
    """The site cannot be built; the message names the notebook, page or link and the fix."""


# --- 1. execution ---------------------------------------------------------------------------------


#: kernel starts per lesson: parallel workers each pick "free" ports for their kernel, and two can pick the
#: same one between the check and the bind (ZMQError "Address already in use", then "Kernel died before
#: replying to kernel_info"); such a start is retried, a lesson that fails once running never is.
KERNEL_START_ATTEMPTS = 3


def _kernel_start_race(exc: Exception) -> bool:
    return isinstance(exc, RuntimeError) and "before replying to kernel_info" in str(exc)


def execute_lesson(src: Path, dest: Path) -> tuple[float, str]:
    """Execute one notebook in QUICK mode into ``dest``; returns the seconds it took and where they went.

    Runs in a worker process: a failure is raised as :class:`SiteError` (picklable) naming the
    notebook and the failing cell. The breakdown (kernel start, the slowest cell and its first
    line) is printed with every lesson, so a lesson that stalls says where.
    """
    from nbclient.exceptions import CellExecutionError
    from notebook_client import notebook_client

    nb = nbformat.read(src, as_version=4)
    start = time.perf_counter()
    cells: dict[int, float] = {}
    first_cell: list[float] = []

    def cell_started(cell: nbformat.NotebookNode, cell_index: int) -> None:
        if not first_cell:
            first_cell.append(time.perf_counter())
        cells[cell_index] = time.perf_counter()

    def cell_done(cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict) -> None:
        cells[cell_index] = time.perf_counter() - cells[cell_index]

    with tempfile.TemporaryDirectory(prefix="mtdl-site-") as work:  # the lessons write nothing into the tree
        for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
            client = notebook_client(
                nb, cwd=work, timeout=CELL_TIMEOUT, on_cell_execute=cell_started, on_cell_executed=cell_done
            )
            try:
                client.execute()
                break
            except CellExecutionError as exc:
                raise SiteError(
                    f"{src.name} failed while building the site (QUICK mode); fix the lesson:\n{exc}"
                ) from None
            except Exception as exc:  # a kernel that dies or a cell that times out
                if not first_cell and attempt < KERNEL_START_ATTEMPTS and _kernel_start_race(exc):
                    print(f"   {src.name}: the kernel did not start ({exc}); starting another", flush=True)
                    continue
                raise SiteError(f"{src.name} could not be executed: {type(exc).__name__}: {exc}") from None
    nbformat.write(static_outputs(nb, src.stem), dest)
    seconds = time.perf_counter() - start
    kernel = (first_cell[0] - start) if first_cell else seconds
    where = f"kernel start {kernel:.1f} s"
    if cells:
        index = max(cells, key=cells.__getitem__)
        head = next((line for line in nb.cells[index].source.splitlines() if line.strip()), "")[:60]
        where += f"; slowest cell #{index} {cells[index]:.1f} s ({head!r})"
    return seconds, where


def execute_all(lessons: list[Path], dest: Path, jobs: int) -> dict[str, float]:
    """Execute ``lessons`` into ``dest``, ``jobs`` at a time; the first failure stops the build."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by every kernel (see tests/test_notebooks.py)
    os.environ["PLOTLY_RENDERER"] = "plotly_mimetype"  # figures as data, drawn by the site's plotly.js
    dest.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(execute_lesson, p, dest / p.name): p for p in lessons}
        for future, path in futures.items():
            try:
                times[path.name], where = future.result()
            except SiteError:
                for other in futures:
                    other.cancel()
                raise
            print(f"   executed {path.name} in {times[path.name]:.1f} s ({where})", flush=True)
    return times


# --- 2. static outputs ----------------------------------------------------------------------------


def _figure_html(figure: dict, div_id: str) -> str:
    layout = figure.get("layout") or {}
    size = f"height:{int(layout.get('height') or 450)}px"
    if layout.get("width"):
        size += f";width:{int(layout['width'])}px"  # a wide figure scrolls, as in JupyterLab
    spec = json.dumps(figure, separators=(",", ":")).replace("</", "<\\/")  # inert inside <script>
    return (
        f'<div class="mtdl-figure-scroll"><div id="{div_id}" class="mtdl-figure" style="{size}"></div></div>\n'
        f'<script type="application/json" data-plotly-figure="{div_id}">{spec}</script>\n'
    )


def _widget_html(plain: str) -> str | None:
    kind = plain.split("(", 1)[0].strip() or "widget"
    if kind in ("Output", "VBox", "HBox", "Box"):
        return None  # containers: what they show is drawn outside them for headless runs
    label = re.search(r"description='([^']*)'", plain)
    name = f"{kind} <em>{html.escape(label.group(1))}</em>" if label else kind
    return (
        '<div class="admonition note mtdl-widget"><p class="admonition-title">Interactive control</p>'
        f"<p>A {name} is here when the lesson runs in JupyterLab (<code>mtdl-kit lab</code>); this page shows "
        "the output for its default value.</p></div>\n"
    )


_HEADING = re.compile(r"^#{1,6} .*$", re.MULTILINE)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def _heading_code_as_html(source: str) -> str:
    """`code` in a Markdown heading -> <code>code</code>.

    mkdocs-jupyter drops backtick spans when it computes a page's table of contents, but not when
    it renders the heading's id, so a heading such as "Your column names: `task_map`" got a
    table-of-contents link to an id that does not exist. As inline HTML, the code stays in both.
    """
    return _HEADING.sub(
        lambda m: _CODE_SPAN.sub(lambda c: f"<code>{html.escape(c.group(1))}</code>", m.group(0)), source
    )


def static_outputs(nb: nbformat.NotebookNode, stem: str) -> nbformat.NotebookNode:
    """Rewrite an executed notebook for a static page (see the module docstring, step 2).

    Plotly outputs become a figure drawn by the site's plotly.js, widget views a note (empty
    containers are dropped), the widget state goes, and code in headings becomes inline HTML
    (:func:`_heading_code_as_html`).
    """
    count = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _heading_code_as_html(cell.source)
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.outputs:
            data = out.get("data", {})
            if PLOTLY_MIME in data:
                count += 1
                out.data = {"text/html": _figure_html(data[PLOTLY_MIME], f"{stem}-figure-{count}")}
            elif WIDGET_MIME in data:
                note = _widget_html(data.get("text/plain", ""))
                if note is None:
                    continue
                out.data = {"text/html": note}
            outputs.append(out)
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return nb


# --- 3. pages and MkDocs --------------------------------------------------------------------------


def lesson_summary(path: Path) -> tuple[str, str]:
    """(title, reading time) from a lesson's first Markdown cell (``# Title`` ... ``**Time:** ...``)."""
    nb = nbformat.read(path, as_version=4)
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    lines = first.strip().splitlines()
    if not lines or not lines[0].startswith("# "):
        raise SiteError(f"{path.name}: the first cell must be Markdown starting with '# Title'.")
    when = re.search(r"\*\*Time:\*\*\s*(.+)", first)
    return lines[0][2:].strip(), " ".join(when.group(1).split()) if when else ""


def index_page(lessons: list[Path]) -> str:
    """The site's home page: what it is, how to run the lessons, the list of lessons."""
    rows = []
    for path in lessons:
        title, when = lesson_summary(path)
        rows.append(f"| [{title}](lessons/{path.name}) | {when.replace('|', '/')} |")
    return "\n".join(
        [
            "# mtdl-kit lessons",
            "",
            "!!! warning",
            "    **Research and teaching use only — not for clinical use.** Every image is a synthetic phantom;",
            "    no output is a diagnosis.",
            "",
            "The lessons of mtdl-kit, a teaching toolkit for multi-task deep learning in medical imaging, "
            "executed in their quick mode and shown with their outputs, so they can be read without installing "
            "anything. To run and change them, install mtdl-kit and start JupyterLab on them with `mtdl-kit lab` "
            "(the interactive controls work there only).",
            "",
            "The review the lessons follow, its four families and its networks per region, with what is and is not "
            "checked: [the review catalog](review.md).",
            "",
            "| lesson | time |",
            "|---|---|",
            *rows,
            "",
            f"Built {time.strftime('%Y-%m-%d')} from {len(lessons)} notebook(s) in QUICK mode.",
            "",
        ]
    )


def write_sources(src: Path, lessons: list[Path]) -> Path:
    """Write index.md, the assets and a config inheriting ``mkdocs.yml`` under ``src``; returns the config."""
    import plotly.offline

    docs = src / "docs"
    (docs / "assets").mkdir(parents=True, exist_ok=True)
    (docs / "assets" / "plotly.min.js").write_text(plotly.offline.get_plotlyjs(), encoding="utf-8")
    (docs / "assets" / "lesson-figures.js").write_text(FIGURES_JS, encoding="utf-8")
    (docs / "assets" / "no-mathjax.js").write_text(NO_MATHJAX_JS, encoding="utf-8")
    (docs / "assets" / "lessons.css").write_text(LESSONS_CSS, encoding="utf-8")
    (docs / "index.md").write_text(index_page(lessons), encoding="utf-8")
    shutil.copyfile(REVIEW_PAGE, docs / REVIEW_PAGE.name)
    config = src / "mkdocs.yml"
    nav = [
        {"Home": "index.md"},
        {"Lessons": [f"lessons/{p.name}" for p in lessons]},
        {"Review catalog": REVIEW_PAGE.name},
    ]
    lines = [
        CONFIG_HEADER,
        f"INHERIT: {json.dumps(os.path.relpath(BASE_CONFIG, src))}",
        "docs_dir: docs",
        f"site_dir: {json.dumps(str(src.parent / src.name.removesuffix('-src')))}",
        f"nav: {json.dumps(nav)}",
    ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def run_mkdocs(config: Path, site: Path) -> None:
    """``mkdocs build --strict --clean`` into ``site``; a warning fails it."""
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f", str(config), "-d", str(site)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    done = subprocess.run(cmd, cwd=config.parent, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SiteError(f"mkdocs build --strict failed (a warning counts as an error):\n{done.stdout}{done.stderr}")


# --- 4. link check --------------------------------------------------------------------------------


class _Links(HTMLParser):
    """Collects the ids of a page and its references: (tag, attribute, URL)."""

    REFS = {"a": "href", "link": "href", "script": "src", "img": "src", "iframe": "src", "source": "src"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v for k, v in attrs if v is not None}
        for key in ("id", "name"):
            if key in values and (key == "id" or tag == "a"):
                self.ids.add(values[key])
        attr = self.REFS.get(tag)
        if attr and attr in values:
            self.refs.append((tag, values[attr]))


def check_site(site: Path) -> list[str]:
    """Every broken internal reference and every off-site resource of the built site, one line each."""
    pages: dict[Path, _Links] = {}
    for page in sorted(site.rglob("*.html")):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        pages[page.resolve()] = parser
    if not pages:
        return [f"{site} holds no HTML page"]
    problems = []
    for page, parser in pages.items():
        rel = page.relative_to(site.resolve())
        for tag, url in parser.refs:
            parts = urlsplit(url)
            if parts.scheme in ("mailto", "javascript", "data", "tel"):
                continue
            if parts.scheme or parts.netloc:
                if tag != "a":  # a link to another site is fine; a script, style or image from one is not
                    problems.append(f"{rel}: <{tag}> loads {url} from another host; serve it from the site")
                continue
            path = unquote(parts.path)
            if not path:
                target = page
            elif path.startswith("/"):  # site-root relative (the 404 page's links)
                target = (site / path.lstrip("/")).resolve()
            else:
                target = (page.parent / path).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or not target.is_relative_to(site.resolve()):
                problems.append(f"{rel}: <{tag}> links to {url}, which is not a file of the site")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{rel}: <{tag}> links to {url}, but {target.name} has no id {parts.fragment!r}")
    return problems


# --- the command ----------------------------------------------------------------------------------


def select_lessons(folder: Path, only: str | None) -> list[Path]:
    """The notebooks of ``folder``, or those whose name starts with one of the comma-separated prefixes."""
    lessons = sorted(folder.glob("*.ipynb"))
    if not lessons:
        raise SiteError(f"no notebooks in {folder}; pass --notebooks with the lesson folder.")
    if only:
        prefixes = [p.strip() for p in only.split(",") if p.strip()]
        chosen = [p for p in lessons if any(p.name.startswith(prefix) for prefix in prefixes)]
        missing = [x for x in prefixes if not any(p.name.startswith(x) for p in lessons)]
        if missing:
            raise SiteError(
                f"--lessons {only}: no notebook starts with {missing}; lessons: {[p.stem for p in lessons]}"
            )
        lessons = chosen
    return lessons


def _ours(marker: Path) -> bool:
    """Whether a folder holds the marker file of an earlier build (a site's sitemap, the sources' config)."""
    if not marker.is_file():
        return False
    return marker.name == "sitemap.xml" or marker.read_text(encoding="utf-8").startswith(CONFIG_HEADER)


def build(out: Path, notebooks: Path = NOTEBOOKS, only: str | None = None, jobs: int = 2) -> dict[str, float]:
    """Build the site into ``out`` (sources in ``<out>-src``); returns the timings of the steps, in seconds."""
    missing = [m for m in ("nbclient", "ipykernel", "mkdocs", "material", "mkdocs_jupyter") if not find_spec(m)]
    if missing:
        raise SiteError(
            f"the site build needs {missing}, which this environment ({sys.executable}) lacks. Install them with "
            "`pip install -c requirements.txt '.[site]'` in the checkout (`make site` installs the whole lock)."
        )
    out = out.resolve()
    src = out.with_name(out.name + "-src")
    lessons = select_lessons(notebooks, only)
    for folder, own in ((out, out / "sitemap.xml"), (src, src / "mkdocs.yml")):
        if folder.exists() and any(folder.iterdir()) and not _ours(own):
            raise SiteError(
                f"{folder} exists and was not written by this script; the build would delete it. "
                "Pass another --out (e.g. build/site)."
            )
    start = time.perf_counter()
    if src.exists():
        shutil.rmtree(src)
    print(f">> executing {len(lessons)} lesson(s) in QUICK mode, {jobs} at a time", flush=True)
    times = execute_all(lessons, src / "docs" / "lessons", jobs)
    executed = time.perf_counter() - start
    print(">> mkdocs build --strict", flush=True)
    config = write_sources(src, lessons)
    run_mkdocs(config, out)
    problems = check_site(out)
    if problems:
        raise SiteError(f"{len(problems)} broken link(s) or off-site resource(s) in {out}:\n" + "\n".join(problems))
    total = time.perf_counter() - start
    print(f">> site in {out} ({total:.0f} s: {executed:.0f} s executing, {len(times)} lessons)", flush=True)
    print(f"   open {out / 'index.html'}, or: python -m http.server --bind 127.0.0.1 --directory {out} 8000")
    return {"execute": executed, "total": total}


def main(argv: list[str] | None = None) -> int:
    """Command line of ``make site``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="site folder (default: build/site)")
    p.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="lesson folder (default: notebooks/)")
    p.add_argument("--lessons", default=None, help="only the notebooks starting with these prefixes, e.g. 00,11")
    p.add_argument("--jobs", type=int, default=2, help="notebooks executed at a time (default 2)")
    args = p.parse_args(argv)
    try:
        build(args.out, args.notebooks, args.lessons, args.jobs)
    except SiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
