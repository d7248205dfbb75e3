"""mtdl-kit dashboard (Streamlit). UI state only: all data, model and plot logic lives in mtdl_kit.

This first page explores the phantoms of the review's eight regions: the bundled samples or fresh
ones (seed, relatedness, nuisance), with ground-truth overlays, labels and the latent variables.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mtdl_kit import DISCLAIMER, REGION_NAMES, get_region
from mtdl_kit.data.samples import load_samples
from mtdl_kit.viz import describe_targets, sample_figure, segmentation_legend

st.set_page_config(page_title="mtdl-kit", page_icon="🩺", layout="wide")
st.warning(f"**{DISCLAIMER}** Images are synthetic phantoms; no output here is a diagnosis.", icon="⚠️")
st.title("mtdl-kit — multi-task deep learning in medical imaging")
st.caption(
    "After Zhao et al., *Multi-task deep learning for medical image computing and analysis: a review*, "
    "Comput. Biol. Med. 153:106496 (2023). This version explores the phantoms (data and coupled labels); "
    "model outputs, task relationships and live training are not in the dashboard yet."
)


@st.cache_data(show_spinner=False)
def bundled(region: str):
    return load_samples(region)


@st.cache_data(show_spinner=False, max_entries=256)
def generated(region: str, seed: int, size: int, relatedness: float, nuisance: str | None):
    return get_region(region).sample(seed, size=size, relatedness=relatedness, nuisance=nuisance)


with st.sidebar:
    region_name = st.selectbox(
        "Body region", REGION_NAMES, key="region", format_func=lambda n: get_region(n).title
    )
    region = get_region(region_name)
    source = st.radio("Sample", ["Bundled sample", "Generate a phantom"], key="source")
    if source == "Bundled sample":
        samples = bundled(region_name)
        idx = st.slider("Bundled case", 0, len(samples) - 1, 0, key="case")
        sample = samples[idx]
    else:
        seed = st.number_input("Seed", min_value=0, max_value=10**8, value=0, step=1, key="seed")
        size = st.select_slider("Size (px)", [64, 128, 256], value=256, key="size")
        relatedness = st.slider(
            "Relatedness", 0.0, 1.0, 1.0, 0.05, key="relatedness",
            help="How much the classification label follows the anatomy in the segmentation.",
        )
        nuisance = st.selectbox("Nuisance", [None, *region.nuisances], key="nuisance",
                                format_func=lambda n: "none" if n is None else n)
        sample = generated(region_name, int(seed), int(size), float(relatedness), nuisance)

left, right = st.columns([3, 2])
with left:
    st.plotly_chart(sample_figure(region, sample), key="sample_chart", config={"displayModeBar": False})
    legend = " · ".join(f"<span style='color:{c}'>■</span> {n}" for n, c in segmentation_legend(region))
    st.markdown(f"Ground truth as outline: {legend}", unsafe_allow_html=True)
with right:
    st.subheader(region.title)
    st.markdown(f"**Modality:** {region.modality}  \n**Coupling rule (relatedness 1):** {region.coupling.rule}")
    st.markdown("**Labels of this case**")
    for line in describe_targets(region, sample):
        st.markdown(f"- {line}")
    st.markdown("**Tasks**")
    st.dataframe(
        pd.DataFrame([{"task": t.name, "kind": t.kind, "outputs": t.num_outputs, "meaning": t.description}
                      for t in region.tasks]),
        hide_index=True,
    )
    st.markdown("**Latent variables that generated it**")
    st.dataframe(pd.DataFrame({"latent": list(sample.latents), "value": list(sample.latents.values())}),
                 hide_index=True)
