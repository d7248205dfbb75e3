"""The Catalog page and the lessons: which notebook teaches a region, and the review's networks per region.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mtdl_kit.regions import REGION_NAMES

if TYPE_CHECKING:
    from mtdl_kit.regions.base import Region

#: folder of the notebooks, relative to the repository root.
NOTEBOOK_DIR = "notebooks"
#: the notebook that compares the four families side by side (on the eye).
FAMILIES_NOTEBOOK = "01_four_families.ipynb"


def region_notebook(name: str) -> str:
    """File name of the tutorial notebook of a region (``"11_eye.ipynb"``), in ``notebooks/``.

    Raises:
        ValueError: for an unknown region (the message lists the allowed names).
    """
    if name not in REGION_NAMES:
        raise ValueError(f"Unknown region {name!r}; allowed regions are {REGION_NAMES}.")
    return f"{10 + REGION_NAMES.index(name)}_{name}.ipynb"


def notebook_path(name: str) -> str:
    """The region's notebook relative to the repository root (``"notebooks/11_eye.ipynb"``)."""
    return f"{NOTEBOOK_DIR}/{region_notebook(name)}"


def catalog_rows(region: Region) -> list[dict[str, Any]]:
    """One row per representative network of the review for ``region``: network, family, tasks, citation, notebook."""
    notebook = notebook_path(region.name)
    return [
        {
            "network": ref.network,
            "family": ref.family,
            "tasks": ref.tasks,
            "citation": ref.citation,
            "notebook": notebook,
        }
        for ref in region.references
    ]


__all__ = ["FAMILIES_NOTEBOOK", "NOTEBOOK_DIR", "catalog_rows", "notebook_path", "region_notebook"]
