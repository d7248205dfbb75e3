"""mtdl-kit dashboard (Streamlit). UI state only: all data, model and plot logic lives in mtdl_kit.

Views (sidebar): **Explore** the phantoms of the review's eight regions (bundled samples or fresh
ones with seed, relatedness, nuisance; ground-truth overlays, labels, latent variables);
**Architectures**: the four families' wiring for the region's tasks, with task toggles and
parameter counts; **Catalog**: the review's representative networks per region. torch and MONAI
are imported only when a view needs them, so the first page renders fast.
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
    "Comput. Biol. Med. 153:106496 (2023). This version shows the phantoms, the four architecture families and "
    "the review's catalog; trained-model outputs, task relationships and live training are not in the dashboard yet."
)


@st.cache_data(show_spinner=False)
def bundled(region: str):
    return load_samples(region)


@st.cache_data(show_spinner=False, max_entries=256)
def generated(region: str, seed: int, size: int, relatedness: float, nuisance: str | None):
    return get_region(region).sample(seed, size=size, relatedness=relatedness, nuisance=nuisance)


@st.cache_resource(show_spinner="Building the model…", max_entries=64)
def described(region: str, family: str, tasks: tuple[str, ...]):
    from mtdl_kit.models import build_model

    r = get_region(region)
    return build_model(family, r.select_tasks(list(tasks)), r.in_channels, region=region).describe()


with st.sidebar:
    view = st.radio("View", ["Explore", "Architectures", "Catalog"], key="view")
    region_name = st.selectbox("Body region", REGION_NAMES, key="region", format_func=lambda n: get_region(n).title)
    region = get_region(region_name)
    source = st.radio("Sample", ["Bundled sample", "Generate a phantom"], key="source") if view == "Explore" else None
    if view != "Explore":
        sample = None
    elif source == "Bundled sample":
        samples = bundled(region_name)
        idx = st.slider("Bundled case", 0, len(samples) - 1, 0, key="case")
        sample = samples[idx]
    else:
        seed = st.number_input("Seed", min_value=0, max_value=10**8, value=0, step=1, key="seed")
        size = st.select_slider("Size (px)", [64, 128, 256], value=256, key="size")
        relatedness = st.slider(
            "Relatedness",
            0.0,
            1.0,
            1.0,
            0.05,
            key="relatedness",
            help="How much the classification label follows the anatomy in the segmentation.",
        )
        nuisance = st.selectbox(
            "Nuisance", [None, *region.nuisances], key="nuisance", format_func=lambda n: "none" if n is None else n
        )
        sample = generated(region_name, int(seed), int(size), float(relatedness), nuisance)


def explore_view() -> None:
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
        tasks_table = [
            {"task": t.name, "kind": t.kind, "outputs": t.num_outputs, "meaning": t.description} for t in region.tasks
        ]
        st.dataframe(pd.DataFrame(tasks_table), hide_index=True)
        st.markdown("**Latent variables that generated it**")
        latents = pd.DataFrame({"latent": list(sample.latents), "value": list(sample.latents.values())})
        st.dataframe(latents, hide_index=True)


def architectures_view() -> None:
    st.subheader(f"The four families on the {region.name} tasks")
    chosen = st.multiselect(
        "Tasks (toggle to build the model with only these heads)",
        region.task_names,
        default=region.task_names,
        key=f"arch_tasks:{region_name}",  # one selection per region (options differ)
    )
    family = st.radio(
        "Family", ["parallel", "cascaded", "interacted", "hybrid", "single"], key="family", horizontal=True
    )
    if not chosen:
        st.info("Select at least one task.")
        return
    try:
        desc = described(region_name, family, tuple(chosen))
    except ValueError as exc:  # the library explains what to do (e.g. use 'single' for one task)
        st.error(str(exc))
        return
    st.plotly_chart(desc.figure(), key="wiring", config={"displayModeBar": False})
    counts = pd.DataFrame([{"part": k, "parameters": v} for k, v in desc.parameter_count.items()])
    st.dataframe(counts, hide_index=True)
    with st.expander("Text summary"):
        st.code(desc.text)


def catalog_view() -> None:
    st.subheader(f"{region.title}: the review's representative networks")
    rows = [
        {"network": ref.network, "family": ref.family, "tasks": ref.tasks, "citation": ref.citation}
        for ref in region.references
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption("Family labels follow the review's Fig. 1 taxonomy, inferred from each paper's wiring.")


{"Explore": explore_view, "Architectures": architectures_view, "Catalog": catalog_view}[view]()
