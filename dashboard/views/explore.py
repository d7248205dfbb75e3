"""Explore: a sample, the zoo models of one family or all four, task toggles, the joint outputs.

UI only: the model choice, predictions, pictures and tables come from :mod:`mtdl_kit.services`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mtdl_kit import services
from mtdl_kit.models import MULTI_TASK_FAMILIES
from mtdl_kit.viz import describe_targets, sample_picture, segmentation_legend

from .common import ALL_FAMILIES, Ctx, manifest, models_ready, prediction, warmup_done, wiring_figure


def task_toggles(ctx: Ctx, prefix: str) -> list[str]:
    region = ctx.region
    region_name = ctx.region_name
    st.markdown("**Tasks** (switch a task off to use the model for the remaining ones)")
    cols = st.columns(len(region.tasks))
    chosen = []
    for col, t in zip(cols, region.tasks, strict=True):
        with col:
            if st.toggle(t.name, value=True, key=f"{prefix}:{region_name}:{t.name}", help=t.description):
                chosen.append(t.name)
    return chosen


def legend_html(region) -> str:
    return " · ".join(f"<span style='color:{c}'>■</span> {n}" for n, c in segmentation_legend(region))


def sample_only(ctx: Ctx) -> None:
    left, _ = st.columns([1, 2])
    left.image(sample_picture(ctx.region, ctx.sample), width="stretch")  # no plotly import on the cold path
    st.markdown(f"Ground truth as outline: {legend_html(ctx.region)}", unsafe_allow_html=True)


def render(ctx: Ctx) -> None:
    region = ctx.region
    region_name = ctx.region_name
    sample = ctx.sample
    sample_id = ctx.sample_id
    if ctx.source == "Upload an image" and sample is None:
        if ctx.upload_error:
            st.error(f"**This upload cannot be used.** {ctx.upload_error}")
        else:
            st.info("Upload an image in the sidebar (or pick a bundled sample).")
        return
    if ctx.source == "Upload an image":
        for warning in sample.meta.get("warnings", ()):  # e.g. a blank (constant) image
            st.warning(warning, icon="⚠️")
        if sample.meta.get("notes"):  # which frame, slice or volume of several is shown
            st.caption(" ".join(sample.meta["notes"]) + " Choose another in the sidebar.")
    top = st.columns([2, 1, 1])
    with top[0]:
        family_choice = st.radio("Family", [ALL_FAMILIES, *MULTI_TASK_FAMILIES], key="explore_family", horizontal=True)
    with top[1]:
        opacity = st.slider("Prediction opacity", 0.0, 1.0, 0.45, 0.05, key="opacity")
    with top[2]:
        show_wiring = st.checkbox("Show the wiring diagram", value=True, key="show_wiring")
    chosen = task_toggles(ctx, "task")
    if not chosen:
        st.info("Switch on at least one task.")
        return
    if not models_ready(block=False):
        sample_only(ctx)
        st.info("Loading PyTorch, MONAI and the zoo models (first visit after the server started, a few seconds)…")

        @st.fragment(run_every=0.5)
        def wait_for_models() -> None:
            if warmup_done():
                st.rerun(scope="app")

        wait_for_models()
        return

    man = manifest()
    families = list(MULTI_TASK_FAMILIES) if family_choice == ALL_FAMILIES else [family_choice]
    choices = {f: services.resolve_model(region_name, f, chosen, man) for f in families}
    preds = {}
    cols = st.columns(len(families))
    for col, fam in zip(cols, families, strict=True):
        c = choices[fam]
        with col:
            st.markdown(f"**{fam}**")
            if c.key is None:
                st.image(services.joint_picture(region, sample, None, chosen, opacity=opacity), width="stretch")
                st.warning(c.note)
                continue
            p = prediction(c.key, sample, "upload" if sample_id[:1] == ("upload",) else "shared", sample_id)
            preds[c.label] = p
            st.image(services.joint_picture(region, sample, p, chosen, opacity=opacity), width="stretch")
            st.caption(f"Model `{c.key}`: {c.note}. {p.latency_ms:.1f} ms on {p.device}.")
    truth_txt = "truth as outline, prediction as fill" if sample.targets else "no ground truth for an upload"
    st.markdown(f"{legend_html(region)} — {truth_txt}.", unsafe_allow_html=True)
    if not preds:
        st.info("No trained model for this region yet; the outputs appear as soon as the zoo has them.")
        return
    st.caption(
        f"Device: {services.device_label()}. "
        f"Latency: one forward pass at {services.MODEL_SIZE} px (cached per sample after the first run)."
    )
    cls = services.classification_rows(region, sample, preds, chosen)
    if cls:
        st.markdown("**Class probabilities and decision**")
        st.dataframe(pd.DataFrame(cls), hide_index=True, key="class_table")
        notes = {
            services.calibration_note(man.get(c.key), t)
            for c in choices.values()
            if c.key
            for t in chosen
            if region.task(t).kind == "classification" and t in c.model_tasks
        }
        st.caption("Calibration: " + " ".join(sorted(notes)))
    reg_rows = services.regression_rows(region, sample, preds, chosen)
    if reg_rows:
        st.markdown("**Regression: predicted vs truth**")
        st.dataframe(pd.DataFrame(reg_rows), hide_index=True, key="regression_table")
    recon = services.reconstruction_picture(region, preds, chosen)
    if recon is not None:
        st.image(recon[0], caption=recon[1], width=160)
    with st.container():
        st.markdown("**Labels of this case**")
        for line in describe_targets(region, sample) if sample.targets else ["(upload: no labels)"]:
            st.markdown(f"- {line}")
        latents = services.latents_table(sample)
        if latents is not None:
            st.dataframe(latents, hide_index=True, key="latents")
    if show_wiring:
        first = next(c for c in choices.values() if c.key)
        st.markdown(
            f"**Wiring of `{first.key}`**" + (f" (hidden heads: {', '.join(first.hidden)})" if first.hidden else "")
        )
        st.plotly_chart(
            wiring_figure(first.key, man[first.key].sha256), key="wiring_explore", config={"displayModeBar": False}
        )
