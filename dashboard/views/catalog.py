"""Catalog: the review's representative networks of a region, and the notebook that teaches it.

UI only: the rows and notebook names come from :mod:`mtdl_kit.services`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mtdl_kit import services

from .common import Ctx


def render(ctx: Ctx) -> None:
    region = ctx.region
    st.subheader(f"{region.title}: the review's representative networks")
    notebook = services.notebook_path(region.name)
    # a static table: long citations wrap instead of being cut at 1024 px
    st.table(pd.DataFrame(services.catalog_rows(region)).set_index("network"))
    st.caption(
        "Family labels follow the review's Fig. 1 taxonomy, inferred from each paper's wiring. "
        f"`{notebook}` trains or loads all four families on this region's phantoms; "
        f"`{services.NOTEBOOK_DIR}/{services.FAMILIES_NOTEBOOK}` compares the families side by side on the eye."
    )
