"""The dashboard's pages (imported by ``dashboard/app.py``, compiled once per process), one module per page.

The sidebar (a radio of :data:`~.common.VIEWS`) chooses the page; :func:`main` runs one rerun.
Pages hold UI state and caching only: data, models and figures come from :mod:`mtdl_kit.services`.
Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from . import architectures, catalog, clinicians, experiment, explore, relationships
from .common import VIEWS, _warmup, sidebar

#: page label (the sidebar's radio) -> the function that renders it.
PAGES = {
    "Explore": explore.render,
    "Task relationships": relationships.render,
    "Experiment": experiment.render,
    "For clinicians": clinicians.render,
    "Architectures": architectures.render,
    "Catalog": catalog.render,
}
assert list(PAGES) == VIEWS, "every sidebar entry has a page"


def main() -> None:
    """One rerun of the dashboard (called by dashboard/app.py)."""
    ctx = sidebar()
    PAGES[ctx.view](ctx)
    _warmup()  # after the page: torch + MONAI load in the background while the user looks at it
