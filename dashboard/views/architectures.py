"""Architectures: the families' wiring on a region's tasks, toggled task by task.

UI only: the model description comes from :mod:`mtdl_kit.services`.
"""

from __future__ import annotations

import streamlit as st

from mtdl_kit import services
from mtdl_kit.models import FAMILIES

from .common import Ctx, described, family_wiring, models_ready


def render(ctx: Ctx) -> None:
    region = ctx.region
    region_name = ctx.region_name
    st.subheader(f"The four families on the {region.name} tasks")
    chosen = st.multiselect(
        "Tasks (toggle to build the model with only these heads)",
        region.task_names,
        default=region.task_names,
        key=f"arch_tasks:{region_name}",  # one selection per region (options differ)
    )
    family = st.radio("Family", list(FAMILIES), key="family", horizontal=True)
    if not chosen:
        st.info("Select at least one task.")
        return
    if family == "single" and len(chosen) > 1:  # said in the page's words, not the library's function names
        st.warning(
            f"A single-task network has one head; {len(chosen)} tasks are selected. Keep one task to draw it "
            "(the zoo holds one such baseline per task), or choose a multi-task family."
        )
        return
    models_ready(block=True)
    try:
        desc = described(region_name, family, tuple(chosen))
    except ValueError as exc:  # the library explains what to do (e.g. use 'single' for one task)
        st.error(str(exc))
        return
    # "content": the diagram keeps its own proportions and shrinks to the column instead of being cut off;
    # its labels are fitted to the column at a 1024 px window (services.architectures.wiring_figure)
    wiring = family_wiring(region_name, family, tuple(chosen))
    st.plotly_chart(wiring.figure, key="wiring", config={"displayModeBar": False}, width="content")
    if wiring.key:
        st.caption(wiring.key)
    st.dataframe(services.parameter_table(desc), hide_index=True)
    with st.expander("Text summary"):
        st.code(desc.text)
