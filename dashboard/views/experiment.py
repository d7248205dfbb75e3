"""Experiment: live training of a fresh model in the server's worker pool, its curves, the session's runs.

UI only: the pool, the runs, the form's check, the tables and the Pareto figure come from
:mod:`mtdl_kit.services` (:mod:`mtdl_kit.services.training`). Trainings run in worker processes,
never in the server (issue 19); this page only shows their state. A student's runs belong to an
owner token kept in the page's URL (``?trainer=…``), so a reload finds them again for
:data:`mtdl_kit.services.training_workers.KEEP_MINUTES` minutes after they end. The live panel is a fragment:
while a run is queued or training it alone is redrawn, once a second; the curves are rebuilt at most
every :data:`CURVES_SECONDS`.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from mtdl_kit import services
from mtdl_kit.models import FAMILIES

from .common import Ctx, models_ready

#: the query-string key of the owner token (a reload of the page keeps the student's runs).
TOKEN_PARAM = "trainer"
#: seconds between two redraws of the live panel while a run is queued or training.
REDRAW_SECONDS = 1.0
#: the curves of a training run are rebuilt at most this often (figures are the panel's costly part).
CURVES_SECONDS = 3.0
#: kinds of History records drawn as curves.
CURVE_KINDS = ("loss", "weight", "cosine")


def owner_token() -> str:
    """This browser session's owner token: from the session, else the URL, else a new one; kept in the URL."""
    token = st.session_state.get("_trainer")
    if token is None:
        from_url = st.query_params.get(TOKEN_PARAM)
        token = from_url if services.valid_owner_token(from_url) else services.new_owner_token()
        st.session_state["_trainer"] = token
    if st.query_params.get(TOKEN_PARAM) != token:
        st.query_params[TOKEN_PARAM] = token
    return token


def curves(run, snap) -> dict:
    """The run's curve figures, rebuilt when its state changes or every :data:`CURVES_SECONDS` while it trains."""
    from mtdl_kit.viz import history_figure

    cache = st.session_state.setdefault("_curves", {})
    built = cache.get(snap.run_id)
    now = time.monotonic()
    stale = built is None or built[1] != snap.state or (len(snap.rows) != built[2] and now - built[0] >= CURVES_SECONDS)
    if stale:
        hist = snap.history()
        figs = {kind: history_figure(hist, kind) for kind in CURVE_KINDS if hist.names(kind)}
        cache.clear()  # one run's figures at a time
        cache[snap.run_id] = built = (now, snap.state, len(snap.rows), figs)
    return built[3]


def run_status(pool, run, snap) -> None:
    """One run's state line, progress and place in the queue, with its Cancel button while it is not over."""
    st.markdown(f"**Run {snap.run_id}** — {run.label} — state: **{snap.state}**")
    if snap.state == "queued":
        if pool.ready_workers() == 0:
            st.info("Starting the training workers (they load PyTorch once after the server starts)…")
        else:
            st.info(
                f"Queued: place {snap.position} of {snap.queued}, waiting {snap.waited:.0f} s. "
                f"{pool.running()} run(s) training on {pool.size} worker process(es); yours starts when one is free."
            )
    else:
        threads = f", {snap.threads} thread(s)" if snap.threads else ""
        phase = " · evaluating on the held-out phantoms" if snap.phase == "evaluating" else ""
        st.progress(
            snap.progress,
            text=f"step {snap.step}/{snap.total_steps} · {snap.seconds:.1f} s training · waited {snap.waited:.1f} s"
            f" · {snap.device}{threads}{phase}",
        )
    if snap.message:
        (st.error if snap.state == "error" else st.caption)(snap.message)
    if not run.finished and st.button("Cancel", key=f"cancel:{snap.run_id}"):
        run.cancel()
        st.caption("Cancelling…")


@st.cache_data(ttl=300, show_spinner=False)
def recipe_note() -> str:
    """The live recipe's sentence, read from the measured table at most every 5 minutes (a class reruns often)."""
    return services.live_recipe_note()


def same_budget_baselines(pool, run, snap) -> None:
    """The finished multi-task run against single-task networks trained under its budget (on request)."""
    baselines = pool.baselines(run)
    st.markdown(
        "**Against single-task networks trained under the same budget** "
        f"({run.budget_text}; positive delta: the multi-task run is better)"
    )
    missing = [t for t, b in baselines.items() if b is None or b.snapshot().state in ("error", "cancelled")]
    if missing and st.button(
        f"Train the single-task baselines for this budget ({len(missing)} run(s), queued like yours)",
        key=f"baselines:{snap.run_id}",
    ):
        try:
            for task in missing:
                pool.baseline(run, task)
        except ValueError as exc:  # the server's queue is full
            st.error(str(exc))
        st.rerun(scope="app")  # the live panel redraws while they train
    st.dataframe(
        pd.DataFrame(services.baseline_comparison(run, snap.metrics, pool.baselines(run))),
        hide_index=True,
        key="baselines",
    )
    st.caption(
        "Each baseline is trained once per budget on this server and shared by every session that trains the "
        "same budget; the zoo's baselines (trained longer, up to 4,000 steps) would not be a fair comparison for a "
        "live run."
    )


def render(ctx: Ctx) -> None:
    region = ctx.region
    region_name = ctx.region_name
    models_ready(block=True)
    from mtdl_kit.weighting import available_weightings

    pool = services.training_pool()
    owner = owner_token()
    st.subheader("Train live (a fresh model for your session)")
    with st.form("train_form"):
        c1, c2, c3 = st.columns(3)
        family = c1.selectbox("Family", list(FAMILIES), key="exp_family")
        methods = sorted(available_weightings())
        weighting = c2.selectbox("Weighting", methods, index=methods.index("ew"), key="exp_weighting")
        default_steps = services.live_recipe().steps  # the recipe of the device the runs train on
        steps = c3.number_input("Steps", 1, services.GPU_STEP_CAP, default_steps, 50, key="exp_steps")
        tasks = st.multiselect(
            "Tasks", region.task_names, default=list(region.task_names), key=f"exp_tasks:{region_name}"
        )
        submitted = st.form_submit_button("Train", type="primary")
    st.caption(recipe_note())
    st.caption(
        f"Trainings run beside the server in {pool.size} worker process(es), one run each; when all are busy "
        f"yours waits in the queue and shows its place. On a CPU at most {services.CPU_STEP_CAP} steps per run. "
        f"Your runs are yours (other sessions never see them) and stay {pool.keep_seconds / 60:.0f} minutes after "
        "they end, also across a page reload: this page's link holds your session."
    )
    if submitted:
        problems = services.validate_training(region_name, family, weighting, tasks)
        for problem in problems:
            st.error(problem)
        if not problems:
            try:
                services.LiveRun(region_name, family, tuple(tasks), weighting=weighting, steps=int(steps)).start(
                    pool, owner=owner
                )
            except ValueError as exc:  # refused (too many runs, queue full) or a name the form cannot produce
                st.error(str(exc))
    runs = pool.runs(owner)
    if not runs:
        st.info("Choose a configuration and press Train.")
        return
    active = any(not r.finished for r in runs) or any(not b.finished for b in pool.baselines(runs[-1]).values() if b)

    @st.fragment(run_every=REDRAW_SECONDS if active else None)
    def live_panel() -> None:
        runs_now = pool.runs(owner)
        if not runs_now:
            return
        latest = runs_now[-1]
        for run in [r for r in runs_now if not r.finished and r is not latest]:
            run_status(pool, run, run.snapshot())
        snap = latest.snapshot()
        run_status(pool, latest, snap)
        figs = curves(latest, snap)
        cols = st.columns(len(CURVE_KINDS))
        for col, kind in zip(cols, CURVE_KINDS, strict=True):
            if kind in figs:
                col.plotly_chart(figs[kind], key=f"curve_{kind}")
        st.markdown("**This session's runs**")
        st.dataframe(pd.DataFrame(services.run_table(runs_now)), hide_index=True, key="runs_table")
        if snap.state == "done":
            if latest.family != "single":  # a single-task run is its own baseline
                same_budget_baselines(pool, latest, snap)
            tradeoff = services.session_tradeoff(runs_now, region_name)
            if tradeoff is None:
                st.caption("The Pareto plot needs finished runs of this region sharing two tasks.")
            else:
                st.plotly_chart(services.pareto_figure(tradeoff), key="pareto")
        if (
            active
            and all(r.finished for r in runs_now)
            and all(b.finished for b in pool.baselines(latest).values() if b)
        ):
            st.rerun(scope="app")  # once, when the last run ends: the page stops redrawing

    live_panel()
