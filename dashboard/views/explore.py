"""Explore: a sample, the zoo models of one family or all four, task toggles, the joint outputs.

UI only: the model choice, predictions, pictures and tables come from :mod:`mtdl_kit.services`.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from mtdl_kit import services
from mtdl_kit.models import MULTI_TASK_FAMILIES
from mtdl_kit.services import warmup
from mtdl_kit.viz import describe_targets, sample_picture, segmentation_legend

from .common import (
    ALL_FAMILIES,
    DEFAULT_OPACITY,
    Ctx,
    joint_png,
    manifest,
    model_size,
    ood_reference,
    prediction,
    wiring_figure,
)


def task_toggles(ctx: Ctx, prefix: str) -> list[str]:
    region = ctx.region
    region_name = ctx.region_name
    st.markdown(
        "**Tasks**: switch a task off to hide it. Each panel then says which model answers: *a model trained "
        "on these tasks* where the zoo has one, otherwise *head(s) hidden, same model* (the full model, its "
        "other outputs unchanged)."
    )
    n = len(region.tasks)
    per_row = 2 if n == 4 else min(n, 3)  # wide enough that no task name is cut at 1024 px
    cols = [c for _ in range(-(-n // per_row)) for c in st.columns(per_row)]
    chosen = []
    for col, t in zip(cols, region.tasks, strict=False):
        with col:
            if st.toggle(t.name, value=True, key=f"{prefix}:{region_name}:{t.name}", help=t.description):
                chosen.append(t.name)
    return chosen


def legend_html(region) -> str:
    return " · ".join(f"<span style='color:{c}'>■</span> {n}" for n, c in segmentation_legend(region))


def sample_only(ctx: Ctx) -> None:
    left, _ = st.columns([1, 2])
    # no plotly import on the cold path; PNG: JPEG would blur the outlines
    left.image(sample_picture(ctx.region, ctx.sample), width="stretch", output_format="PNG")
    st.markdown(f"Ground truth as outline: {legend_html(ctx.region)}", unsafe_allow_html=True)
    if note := services.shown_channel_note(ctx.region):
        st.caption(note)


def honesty_checks(ctx: Ctx) -> bool:
    """The out-of-distribution check of an upload or generated phantom, and what was done to the image.

    Returns whether to show the models' outputs: not for an image unlike the training phantoms,
    unless the user asks to see them anyway (for teaching: confident numbers that mean nothing).
    """
    region, sample = ctx.region, ctx.sample
    if ctx.source == "Bundled sample":
        st.caption(
            f"Bundled case {sample.meta.get('case_id', '')}: a held-out phantom (seed {sample.seed:,}), never used to "
            f"train or test the zoo models, which were trained on {services.TRAINED_ON}."
        )
        return True
    check = services.ood_check(region, sample, ood_reference(ctx.region_name))
    upload = ctx.source == "Upload an image"
    if check.out_of_distribution:
        st.error(f"**Out of distribution: predictions withheld.** {check.message}", icon="🚫")
    elif upload:
        st.info(f"**Within the training phantoms' range.** {check.message}", icon="ℹ️")
    else:
        st.caption(check.message)
    relatedness = float(ctx.sample_id[4]) if ctx.sample_id[:1] == ("phantom",) else 1.0
    if relatedness < 1.0:
        st.warning(
            f"Relatedness {relatedness:g}: the classification label follows the anatomy less than in training. "
            "The models saw relatedness 1 only, so expect confident but wrong decisions — that is the lesson.",
            icon="⚠️",
        )
    with st.expander("What was done to this image before the models saw it", expanded=upload):
        for note in services.processing_notes(region, sample, model_size=model_size(region.name)):
            st.markdown(f"- {note}")
    if not check.out_of_distribution:
        return True
    return st.toggle(
        "Show the models' outputs anyway (teaching only: they look confident and mean nothing here)",
        value=False,
        key="ood_show_anyway",
    )


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
    if not honesty_checks(ctx):
        sample_only(ctx)
        return
    top = st.columns([2, 1, 1])
    with top[0]:
        family_choice = st.radio("Family", [ALL_FAMILIES, *MULTI_TASK_FAMILIES], key="explore_family", horizontal=True)
    with top[1]:
        opacity = st.slider("Prediction opacity", 0.0, 1.0, DEFAULT_OPACITY, 0.05, key="opacity")
    with top[2]:
        show_wiring = st.checkbox("Show the wiring diagram", value=True, key="show_wiring")
    chosen = task_toggles(ctx, "task")
    if not chosen:
        st.info("Switch on at least one task.")
        return
    if not warmup.ready():  # issue 19: wait for the server's warm-up in this script run (no timer, no rerun)
        waiting = st.empty()
        with waiting.container():
            sample_only(ctx)
            note = st.empty()
        t0 = time.monotonic()
        while True:  # one element update a second keeps the wait interruptible (a widget change stops it)
            note.info(
                "Loading PyTorch, MONAI and the zoo models (first visit after the server started)… "
                f"{time.monotonic() - t0:.0f} s"
            )
            if warmup.wait_ready(1.0):
                break
        waiting.empty()
    if warmup.status().get("error"):
        st.error(f"PyTorch could not be loaded: {warmup.status()['error']}")
        return

    man = manifest()
    families = list(MULTI_TASK_FAMILIES) if family_choice == ALL_FAMILIES else [family_choice]
    choices = {f: services.resolve_model(region_name, f, chosen, man) for f in families}
    # one panel per distinct model: with one task left, the families share the single-task baseline
    panels: dict[object, list[str]] = {}
    for fam in families:
        panels.setdefault(choices[fam].key or ("missing", fam), []).append(fam)
    preds = {}
    cols = st.columns(len(panels))
    for col, fams in zip(cols, panels.values(), strict=True):
        fam = fams[0]
        c = choices[fam]
        with col:
            if len(fams) > 1:
                st.markdown(f"**{c.key}** (the same model stands in for {', '.join(fams)})")
            else:
                st.markdown(f"**{fam}**")
            if c.key is None:
                st.image(
                    joint_png(None, "", sample, None, chosen, opacity, sample_id), width="stretch", output_format="PNG"
                )
                st.warning(c.note)
                continue
            sha = man[c.key].sha256
            p = prediction(c.key, sample, "upload" if sample_id[:1] == ("upload",) else "shared", sample_id, sha)
            preds[c.key if len(fams) > 1 else c.label] = p
            # PNG as it is: Streamlit's "auto" would re-encode an RGB picture as JPEG on every rerun (blurring outlines)
            st.image(joint_png(c.key, sha, sample, p, chosen, opacity, sample_id), width="stretch", output_format="PNG")
            st.caption(f"Model `{c.key}`: {c.note}. {p.latency_ms:.1f} ms on {p.device}.")
    truth_txt = "truth as outline, prediction as fill" if sample.targets else "no ground truth for an upload"
    st.markdown(f"{legend_html(region)} — {truth_txt}. {services.shown_channel_note(region)}", unsafe_allow_html=True)
    if not preds:
        st.info("No trained model for this region yet; the outputs appear as soon as the zoo has them.")
        return
    st.caption(
        f"Device: {services.device_label()}. "
        f"Latency: one forward pass at {model_size(region.name)} px (cached per sample after the first run)."
    )
    cls = services.classification_rows(region, sample, preds, chosen)
    if cls:
        st.markdown("**Class probabilities and decision**")
        st.dataframe(pd.DataFrame(cls), hide_index=True, key="class_table")
        classified = [t for t in chosen if region.task(t).kind == "classification"]
        entries = {(c.key if c.baseline else c.family): man.get(c.key) for c in choices.values() if c.key}
        st.caption("Calibration: " + " ".join(services.calibration_summary(entries, t) for t in classified))
    reg_rows = services.regression_rows(region, sample, preds, chosen)
    if reg_rows:
        st.markdown("**Regression: predicted vs truth**")
        st.dataframe(pd.DataFrame(reg_rows), hide_index=True, key="regression_table")
    recon = services.reconstruction_picture(region, preds, chosen)
    if recon is not None:
        st.image(recon[0], caption=recon[1], width=160, output_format="PNG")
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
        wiring = wiring_figure(first.key, man[first.key].sha256)
        st.plotly_chart(
            wiring.figure,
            key="wiring_explore",
            config={"displayModeBar": False},
            width="content",  # shrinks to the column instead of being cut off; labels are fitted to the narrowest
        )
        if wiring.key:
            st.caption(wiring.key)
