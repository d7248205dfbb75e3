"""Experiment: live training of a fresh per-session model, its curves, the session's runs and their trade-off.

UI only: the training jobs, tables and the Pareto figure come from :mod:`mtdl_kit.services`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mtdl_kit import services
from mtdl_kit.models import FAMILIES

from .common import Ctx, manifest, models_ready


def render(ctx: Ctx) -> None:
    region = ctx.region
    region_name = ctx.region_name
    models_ready(block=True)
    from mtdl_kit.weighting import available_weightings

    st.subheader("Train live (a fresh model for your session)")
    runs: list = st.session_state.setdefault("runs", [])
    with st.form("train_form"):
        c1, c2, c3 = st.columns(3)
        family = c1.selectbox("Family", list(FAMILIES), key="exp_family")
        methods = sorted(available_weightings())
        weighting = c2.selectbox("Weighting", methods, index=methods.index("ew"), key="exp_weighting")
        steps = c3.number_input("Steps", 1, services.GPU_STEP_CAP, 60, 10, key="exp_steps")
        tasks = st.multiselect(
            "Tasks", region.task_names, default=list(region.task_names), key=f"exp_tasks:{region_name}"
        )
        submitted = st.form_submit_button("Train", type="primary")
    st.caption(
        f"On a CPU at most {services.CPU_STEP_CAP} steps per run; on a GPU one training per server at a time "
        "(others wait in the queue). Your runs are yours: other sessions never see them."
    )
    if submitted:
        try:
            if any(not r.finished for r in runs):
                st.warning("Your previous run is still training; wait for it to finish.")
            else:
                runs.append(
                    services.LiveRun(region_name, family, tuple(tasks), weighting=weighting, steps=int(steps)).start()
                )
        except ValueError as exc:
            st.error(str(exc))
    if not runs:
        st.info("Choose a configuration and press Train.")
        return
    running = any(not r.finished for r in runs)

    @st.fragment(run_every=1.0 if running else None)
    def live_panel() -> None:
        from mtdl_kit.viz import history_figure

        run = runs[-1]
        snap = run.snapshot()
        st.markdown(f"**Run {snap.run_id}** — {run.label} — state: **{snap.state}**")
        st.progress(snap.progress, text=f"step {snap.step}/{snap.total_steps} · {snap.seconds:.0f} s · {snap.device}")
        if snap.state == "queued":
            st.info("Queued: another training is running on this server's GPU; yours starts when it ends.")
        if snap.message:
            (st.error if snap.state == "error" else st.caption)(snap.message)
        hist = snap.history()
        cols = st.columns(3)
        for col, kind in zip(cols, ("loss", "weight", "cosine"), strict=True):
            if hist.names(kind):
                col.plotly_chart(history_figure(hist, kind), key=f"curve_{kind}")
        st.markdown("**This session's runs**")
        st.dataframe(pd.DataFrame(services.run_table(runs)), hide_index=True, key="runs_table")
        if snap.state == "done":
            st.markdown("**Against the zoo's single-task baselines** (positive delta: the multi-task run is better)")
            st.dataframe(
                pd.DataFrame(services.baseline_comparison(run.region, snap.metrics, manifest())),
                hide_index=True,
                key="baselines",
            )
            tradeoff = services.session_tradeoff(runs, region_name)
            if tradeoff is None:
                st.caption("The Pareto plot needs finished runs of this region sharing two tasks.")
            else:
                st.plotly_chart(services.pareto_figure(tradeoff), key="pareto")
        if running and all(r.finished for r in runs):
            st.rerun(scope="app")

    live_panel()
