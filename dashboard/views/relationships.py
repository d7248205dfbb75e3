"""Task relationships: predicted vs target, output correlation, gradient conflict and task affinity.

UI only: the analysis and its figures come from :mod:`mtdl_kit.services` and :mod:`mtdl_kit.viz`.
"""

from __future__ import annotations

import streamlit as st

from mtdl_kit import get_region, services
from mtdl_kit.zoo import zoo_key

from .common import Ctx, bundled, manifest, model_for, zoo_families


@st.cache_data(show_spinner="Analysing the bundled samples…", max_entries=64)
def relationship_results(region: str, key: str, sha256: str) -> dict:
    size = manifest()[key].image_size
    return services.relationships(model_for(key), get_region(region), bundled(region), size=size)


def render(ctx: Ctx) -> None:
    region = ctx.region
    region_name = ctx.region_name
    from mtdl_kit.viz import heatmap_figure

    man, fams = zoo_families(ctx)
    st.subheader(f"Task relationships: {region.title}")
    if not fams:
        st.warning(f"No trained model of the {region_name} region in the zoo yet; it appears when its training ends.")
        return
    family = st.radio("Family", fams, key="rel_family", horizontal=True)
    key = zoo_key(region_name, family)
    res = relationship_results(region_name, key, man[key].sha256)
    n = len(bundled(region_name))
    st.caption(
        f"Model `{key}` on the region's {n} bundled held-out phantoms (seeds it was not trained or tested on), "
        f"resized to {man[key].image_size} px."
    )
    st.markdown("**Predicted vs target, per task**")
    st.plotly_chart(services.pred_vs_true_figure(res["table"]), key="pred_vs_true")
    # the correlation matrix (outputs and truths of every task) full width: its numbers stay readable
    st.plotly_chart(
        heatmap_figure(res["correlation"], title="Spearman correlation of task outputs and truths"),
        key="correlation",
    )
    shared = []  # only the figures the family has (a cascade shares no block: no empty column for it)
    if res["conflict"] is not None:
        shared.append(
            ("conflict", heatmap_figure(res["conflict"], title="Gradient cosine on shared blocks (< 0: conflict)"))
        )
    if res["affinity"] is not None:
        shared.append(
            (
                "affinity",
                heatmap_figure(res["affinity"], title="Task affinity (row helps column, TAG)", text_format=".3f"),
            )
        )
    if shared:
        for col, (name, fig) in zip(st.columns(len(shared)), shared, strict=True):
            col.plotly_chart(fig, key=name)
    for note in res["notes"]:
        st.info(note)
