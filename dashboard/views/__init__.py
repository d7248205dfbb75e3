"""The dashboard's pages (imported by ``dashboard/app.py``, compiled once per process), one module per page.

Navigation is Streamlit's own (``st.navigation`` / ``st.Page``): each page is a thin file in
``dashboard/app_pages/`` with its own URL (:data:`PAGES`), which calls :func:`show` and so the page's
``render`` function here. (Not a folder named ``pages/``: Streamlit would treat it as the old
file-based navigation until ``st.navigation`` first runs.) The sidebar's region and sample widgets
live in the entry point (so they keep their state across pages) and are mirrored in the query
string, so a link reproduces the view.
Pages hold UI state and caching only: data, models and figures come from :mod:`mtdl_kit.services`.
Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import streamlit as st

from . import architectures, catalog, clinicians, experiment, explore, relationships
from .common import VIEWS, Ctx, sidebar

PAGE_DIR = Path(__file__).resolve().parents[1] / "app_pages"


class PageSpec(NamedTuple):
    """One page: its title (the navigation's label), URL path, page file and render function."""

    title: str
    url_path: str
    render: Callable[[Ctx], None]
    icon: str

    @property
    def file(self) -> Path:
        return PAGE_DIR / f"{self.url_path}.py"


#: the pages in navigation order; the first is the default (served at the root URL).
PAGES: tuple[PageSpec, ...] = (
    PageSpec("Explore", "explore", explore.render, ":material/biotech:"),
    PageSpec("Task relationships", "relationships", relationships.render, ":material/hub:"),
    PageSpec("Experiment", "experiment", experiment.render, ":material/model_training:"),
    PageSpec("For clinicians", "clinicians", clinicians.render, ":material/stethoscope:"),
    PageSpec("Architectures", "architectures", architectures.render, ":material/account_tree:"),
    PageSpec("Catalog", "catalog", catalog.render, ":material/menu_book:"),
)
assert [p.title for p in PAGES] == VIEWS, "every view has a page"
_BY_PATH = {p.url_path: p for p in PAGES}
_CTX_KEY = "_page_ctx"


def main() -> None:
    """One rerun of the dashboard (called by dashboard/app.py): navigation, the sidebar, the page.

    Outside a Streamlit run (``python app.py``, or a training worker process that re-imports the
    entry point as ``__mp_main__``) it does nothing: there is no page to draw.
    """
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return
    nav = st.navigation(
        [
            st.Page(str(p.file), title=p.title, url_path=p.url_path, icon=p.icon, default=i == 0)
            for i, p in enumerate(PAGES)
        ]
    )
    st.session_state[_CTX_KEY] = sidebar(nav.title)  # read by show() in the page file, this same rerun
    nav.run()


def show(url_path: str) -> None:
    """Render page ``url_path`` with this rerun's sidebar context (called by ``dashboard/app_pages/<url_path>.py``)."""
    if url_path not in _BY_PATH:
        raise ValueError(f"No dashboard page {url_path!r}; the pages are {sorted(_BY_PATH)}.")
    ctx = st.session_state.get(_CTX_KEY)
    if ctx is None:  # a page file run on its own (streamlit run dashboard/app_pages/x.py)
        st.error("Start the dashboard from its entry point: `mtdl-kit dashboard` (dashboard/app.py).")
        st.stop()
    _BY_PATH[url_path].render(ctx)
