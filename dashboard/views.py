"""The dashboard's views (imported by ``dashboard/app.py``, compiled once per process).

UI state only: data, models and plots come from :mod:`mtdl_kit`. Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from mtdl_kit import DISCLAIMER, REGION_NAMES, get_region
from mtdl_kit.data.samples import load_samples
from mtdl_kit.viz import describe_targets, sample_picture, segmentation_legend

FAMILIES = ("parallel", "cascaded", "interacted", "hybrid")
ALL_FAMILIES = "all four side by side"
VIEWS = ["Explore", "Task relationships", "Experiment", "For clinicians", "Architectures", "Catalog"]
SOURCES = ["Bundled sample", "Generate a phantom", "Upload an image"]

# --------------------------------------------------------------------------------------------------
# Process-wide resources (shared by every session, read-only)
# --------------------------------------------------------------------------------------------------


_WARM_STARTED = threading.Event()  # process-wide, like the cache_resource below


@st.cache_resource(show_spinner=False)
def _warmup() -> dict:
    """Import torch + MONAI + the model code once, in a background thread (cold start stays small)."""
    # already imported (tests, benchmarks): pages wait for the warm-up instead of showing a loading note
    state: dict = {"done": threading.Event(), "error": None, "preloaded": "monai" in sys.modules}
    _WARM_STARTED.set()

    def work() -> None:
        try:
            import torch

            if not torch.cuda.is_available():  # a few cores shared by many sessions: one thread per forward
                torch.set_num_threads(int(os.environ.get("MTDL_KIT_TORCH_THREADS", "1")))
            import mtdl_kit.inference
            import mtdl_kit.models
            import mtdl_kit.showcase  # noqa: F401
        except Exception as exc:  # shown on the page
            state["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            state["done"].set()

    threading.Thread(target=work, name="mtdl-warmup", daemon=True).start()
    return state


def models_ready(block: bool) -> bool:
    """Whether torch and the models' code are imported; ``block`` waits for them (with a spinner).

    Not blocking and not started yet: ``False`` at once; :func:`main` starts the warm-up after the
    page is rendered, so the import does not slow the first render down.
    """
    if not block and not _WARM_STARTED.is_set() and "monai" not in sys.modules:
        return False
    state = _warmup()
    if not state["done"].is_set() and (block or state["preloaded"]):
        with st.spinner("Loading PyTorch and MONAI (first visit after the server started)…"):
            state["done"].wait(120)
    if state["error"]:
        st.error(f"PyTorch could not be loaded: {state['error']}")
        st.stop()
    return state["done"].is_set()


@st.cache_resource(show_spinner=False)
def bundled(region: str):
    return load_samples(region)


@st.cache_resource(show_spinner=False)
def thumbnails(region: str) -> bytes:
    """A contact sheet of the bundled samples (6 per row, 64 px each, truth outlines), PNG-encoded once."""
    import io

    from PIL import Image

    reg = get_region(region)
    tiles = [sample_picture(reg, s)[::2, ::2] for s in bundled(region)]
    cols = 6
    rows = -(-len(tiles) // cols)
    h, w = tiles[0].shape[:2]
    sheet = np.full((rows * (h + 2), cols * (w + 2), 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        sheet[r * (h + 2) : r * (h + 2) + h, c * (w + 2) : c * (w + 2) + w] = t
    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, format="PNG")
    return buf.getvalue()


@st.cache_data(show_spinner=False, max_entries=256)
def generated(region: str, seed: int, size: int, relatedness: float, nuisance: str | None):
    return get_region(region).sample(seed, size=size, relatedness=relatedness, nuisance=nuisance)


def manifest() -> dict:
    """The zoo manifest, re-read when the file changes (the zoo may still be training)."""
    from mtdl_kit.zoo import default_root

    path = default_root() / "manifest.json"
    return _manifest(str(path), path.stat().st_mtime_ns if path.exists() else 0)


@st.cache_data(show_spinner=False, max_entries=4)
def _manifest(path: str, mtime: int) -> dict:  # keyed by the file's path and modification time
    from mtdl_kit.zoo import ZooError, read_manifest

    try:
        return read_manifest(Path(path).parent)
    except (ZooError, ValueError, OSError):
        return {}


@st.cache_resource(show_spinner="Loading the model…", max_entries=96)
def zoo_model(key: str, sha256: str):
    """A zoo model, loaded once per process and shared read-only (eval mode, on the best device)."""
    from mtdl_kit.device import pick_device
    from mtdl_kit.zoo import load_entry

    entry = manifest()[key]
    model = load_entry(entry).to(pick_device("auto")).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def model_for(key: str):
    return zoo_model(key, manifest()[key].sha256)


@st.cache_data(show_spinner=False, max_entries=2048)
def shared_prediction(key: str, sha256: str, region: str, sample_id: tuple, _sample):
    """Prediction of a zoo model on a bundled/generated sample (never on uploads: those stay in the session)."""
    from mtdl_kit.showcase import predict

    return predict(model_for(key), _sample)


def prediction(key: str, sample, source: str, sample_id: tuple):
    from mtdl_kit.showcase import predict

    sha = manifest()[key].sha256
    if source != "upload":
        return shared_prediction(key, sha, sample.region, sample_id, sample)
    cache = st.session_state.setdefault("_upload_predictions", {})
    k = (key, sha, sample_id)
    if k not in cache:
        if len(cache) > 32:
            cache.clear()
        cache[k] = predict(model_for(key), sample)
    return cache[k]


@st.cache_resource(show_spinner=False, max_entries=64)
def described(region: str, family: str, tasks: tuple[str, ...]):
    from mtdl_kit.models import build_model

    r = get_region(region)
    return build_model(family, r.select_tasks(list(tasks)), r.in_channels, region=region).describe()


@st.cache_resource(show_spinner=False, max_entries=64)
def wiring_figure(key: str, sha256: str):
    return model_for(key).describe().figure()


def device_label() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({torch.get_num_threads()} thread(s) per forward pass)"


# --------------------------------------------------------------------------------------------------
# Sidebar
# --------------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    """One rerun's UI state, passed to the views explicitly (never module globals: sessions share modules)."""

    view: str
    region_name: str
    region: Any
    source: str | None = None
    sample: Any = None
    sample_id: tuple = ()
    upload_error: str | None = None


def sidebar() -> Ctx:
    """The sidebar: view, region and (on Explore) the sample source."""
    with st.sidebar:
        view = st.radio("View", VIEWS, key="view")
        region_name = st.selectbox("Body region", REGION_NAMES, key="region", format_func=lambda n: get_region(n).title)
        region = get_region(region_name)
        source = st.radio("Sample", SOURCES, key="source") if view == "Explore" else None
        sample = None
        sample_id: tuple = ()
        upload_error: str | None = None
        if view != "Explore":
            pass
        elif source == "Bundled sample":
            samples = bundled(region_name)
            idx = st.slider("Bundled case", 0, len(samples) - 1, 0, key="case")
            sample = samples[idx]
            sample_id = ("bundled", region_name, idx)
            st.image(thumbnails(region_name), caption="Bundled cases 0–23, left to right, top to bottom")
        elif source == "Generate a phantom":
            seed = st.number_input("Seed", min_value=0, max_value=10**8, value=0, step=1, key="seed")
            size = st.select_slider("Size (px)", [64, 128, 256], value=128, key="size")
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
            sample_id = ("phantom", region_name, int(seed), int(size), float(relatedness), nuisance)
        else:
            st.caption(
                "Upload one image: PNG/JPEG (8/16-bit, grey, RGB, RGBA), DICOM (.dcm) or NIfTI (.nii, .nii.gz), "
                "at most 20 MB. It stays in your session only; do not upload patient data."
            )
            up = st.file_uploader("Image file", key="upload")
            if up is not None:
                from mtdl_kit.data.formats import ACCEPTED, DataError
                from mtdl_kit.showcase import read_dashboard_upload

                cached = st.session_state.get("_upload")
                if cached is not None and cached[0] == (up.file_id, region_name):
                    sample, upload_error = cached[1], cached[2]
                else:
                    try:
                        sample = read_dashboard_upload(up.name, up.getvalue(), region_name, size=128)
                    except DataError as exc:
                        upload_error = str(exc)
                    except Exception as exc:  # a reader bug must never take the session down
                        upload_error = f"{up.name!r} could not be read ({type(exc).__name__}). {ACCEPTED}"
                    st.session_state["_upload"] = ((up.file_id, region_name), sample, upload_error)
                sample_id = ("upload", up.file_id, region_name)
            else:
                st.session_state.pop("_upload", None)
    return Ctx(view, region_name, region, source, sample, sample_id, upload_error)


# --------------------------------------------------------------------------------------------------
# Explore
# --------------------------------------------------------------------------------------------------


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


def explore_sample_only(ctx: Ctx) -> None:
    region = ctx.region
    sample = ctx.sample
    left, _ = st.columns([1, 2])
    left.image(sample_picture(region, sample), width="stretch")  # no plotly import on the cold path
    legend = " · ".join(f"<span style='color:{c}'>■</span> {n}" for n, c in segmentation_legend(region))
    st.markdown(f"Ground truth as outline: {legend}", unsafe_allow_html=True)


def explore_view(ctx: Ctx) -> None:
    region = ctx.region
    region_name = ctx.region_name
    sample = ctx.sample
    sample_id = ctx.sample_id
    source = ctx.source
    upload_error = ctx.upload_error
    if source == "Upload an image" and sample is None:
        if upload_error:
            st.error(f"**This upload cannot be used.** {upload_error}")
        else:
            st.info("Upload an image in the sidebar (or pick a bundled sample).")
        return
    top = st.columns([2, 1, 1])
    with top[0]:
        family_choice = st.radio("Family", [ALL_FAMILIES, *FAMILIES], key="explore_family", horizontal=True)
    with top[1]:
        opacity = st.slider("Prediction opacity", 0.0, 1.0, 0.45, 0.05, key="opacity")
    with top[2]:
        show_wiring = st.checkbox("Show the wiring diagram", value=True, key="show_wiring")
    chosen = task_toggles(ctx, "task")
    if not chosen:
        st.info("Switch on at least one task.")
        return
    if not models_ready(block=False):
        explore_sample_only(ctx)
        st.info("Loading PyTorch, MONAI and the zoo models (first visit after the server started, a few seconds)…")

        @st.fragment(run_every=0.5)
        def wait_for_models() -> None:
            if _warmup()["done"].is_set():
                st.rerun(scope="app")

        wait_for_models()
        return

    from mtdl_kit.showcase import calibration_note, classification_rows, joint_picture, regression_rows, resolve_model

    man = manifest()
    families = list(FAMILIES) if family_choice == ALL_FAMILIES else [family_choice]
    choices = {f: resolve_model(region_name, f, chosen, man) for f in families}
    preds = {}
    cols = st.columns(len(families))
    for col, fam in zip(cols, families, strict=True):
        c = choices[fam]
        with col:
            st.markdown(f"**{fam}**")
            if c.key is None:
                st.image(joint_picture(region, sample, None, chosen, opacity=opacity), width="stretch")
                st.warning(c.note)
                continue
            p = prediction(c.key, sample, "upload" if sample_id[:1] == ("upload",) else "shared", sample_id)
            preds[fam if c.family == fam and not c.key.startswith(f"{region_name}-single") else f"{fam}→{c.key}"] = p
            st.image(joint_picture(region, sample, p, chosen, opacity=opacity), width="stretch")
            st.caption(f"Model `{c.key}`: {c.note}. {p.latency_ms:.1f} ms on {p.device}.")
    legend = " · ".join(f"<span style='color:{c}'>■</span> {n}" for n, c in segmentation_legend(region))
    truth_txt = "truth as outline, prediction as fill" if sample.targets else "no ground truth for an upload"
    st.markdown(f"{legend} — {truth_txt}.", unsafe_allow_html=True)
    if not preds:
        st.info("No trained model for this region yet; the outputs appear as soon as the zoo has them.")
        return
    st.caption(f"Device: {device_label()}. Latency: one forward pass at 64 px (cached per sample after the first run).")
    cls = classification_rows(region, sample, preds, chosen)
    if cls:
        st.markdown("**Class probabilities and decision**")
        st.dataframe(pd.DataFrame(cls), hide_index=True, key="class_table")
        notes = {
            calibration_note(man.get(c.key), t)
            for c in choices.values()
            if c.key
            for t in chosen
            if region.task(t).kind == "classification" and t in c.model_tasks
        }
        st.caption("Calibration: " + " ".join(sorted(notes)))
    reg_rows = regression_rows(region, sample, preds, chosen)
    if reg_rows:
        st.markdown("**Regression: predicted vs truth**")
        st.dataframe(pd.DataFrame(reg_rows), hide_index=True, key="regression_table")
    other = [t.name for t in region.tasks if t.kind == "reconstruction" and t.name in chosen]
    if other:
        first = next(iter(preds.values()))
        img = first.outputs.get(other[0])
        if img is not None:
            st.image(np.clip(img.transpose(1, 2, 0), 0, 1), caption=f"{other[0]} ({next(iter(preds))})", width=160)
    with st.container():
        st.markdown("**Labels of this case**")
        for line in describe_targets(region, sample) if sample.targets else ["(upload: no labels)"]:
            st.markdown(f"- {line}")
        if sample.latents:
            latents = pd.DataFrame({"latent": list(sample.latents), "value": list(sample.latents.values())})
            st.dataframe(latents, hide_index=True, key="latents")
    if show_wiring:
        first = next(c for c in choices.values() if c.key)
        st.markdown(
            f"**Wiring of `{first.key}`**" + (f" (hidden heads: {', '.join(first.hidden)})" if first.hidden else "")
        )
        st.plotly_chart(
            wiring_figure(first.key, man[first.key].sha256), key="wiring_explore", config={"displayModeBar": False}
        )


# --------------------------------------------------------------------------------------------------
# Task relationships
# --------------------------------------------------------------------------------------------------


@st.cache_data(show_spinner="Analysing the bundled samples…", max_entries=64)
def relationship_results(region: str, key: str, sha256: str) -> dict:
    from mtdl_kit.showcase import relationships

    return relationships(model_for(key), get_region(region), bundled(region))


def available_families(ctx: Ctx, man: dict) -> list[str]:
    region_name = ctx.region_name
    return [f for f in FAMILIES if f"{region_name}-{f}" in man]


def relationships_view(ctx: Ctx) -> None:
    region = ctx.region
    region_name = ctx.region_name
    models_ready(block=True)
    from mtdl_kit.showcase import pred_vs_true_figure
    from mtdl_kit.viz import heatmap_figure

    man = manifest()
    fams = available_families(ctx, man)
    st.subheader(f"Task relationships: {region.title}")
    if not fams:
        st.warning(f"No trained model of the {region_name} region in the zoo yet; it appears when its training ends.")
        return
    family = st.radio("Family", fams, key="rel_family", horizontal=True)
    key = f"{region_name}-{family}"
    res = relationship_results(region_name, key, man[key].sha256)
    n = len(bundled(region_name))
    st.caption(f"Model `{key}` on the region's {n} bundled samples (resized to 64 px).")
    st.markdown("**Predicted vs target, per task**")
    st.plotly_chart(pred_vs_true_figure(res["table"]), key="pred_vs_true")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(
            heatmap_figure(res["correlation"], title="Spearman correlation of task outputs and truths"),
            key="correlation",
        )
    with right:
        if res["conflict"] is not None:
            st.plotly_chart(
                heatmap_figure(res["conflict"], title="Gradient cosine on shared blocks (< 0: conflict)"),
                key="conflict",
            )
        if res["affinity"] is not None:
            st.plotly_chart(
                heatmap_figure(res["affinity"], title="Task affinity (row helps column, TAG)", text_format=".3f"),
                key="affinity",
            )
    for note in res["notes"]:
        st.info(note)


# --------------------------------------------------------------------------------------------------
# Experiment (live training)
# --------------------------------------------------------------------------------------------------


def experiment_view(ctx: Ctx) -> None:
    region = ctx.region
    region_name = ctx.region_name
    models_ready(block=True)
    from mtdl_kit import live
    from mtdl_kit.weighting import available_weightings

    st.subheader("Train live (a fresh model for your session)")
    runs: list = st.session_state.setdefault("runs", [])
    with st.form("train_form"):
        c1, c2, c3 = st.columns(3)
        family = c1.selectbox("Family", [*FAMILIES, "single"], key="exp_family")
        methods = sorted(available_weightings())
        weighting = c2.selectbox("Weighting", methods, index=methods.index("ew"), key="exp_weighting")
        steps = c3.number_input("Steps", 1, live.GPU_STEP_CAP, 60, 10, key="exp_steps")
        tasks = st.multiselect(
            "Tasks", region.task_names, default=list(region.task_names), key=f"exp_tasks:{region_name}"
        )
        submitted = st.form_submit_button("Train", type="primary")
    st.caption(
        f"On a CPU at most {live.CPU_STEP_CAP} steps per run; on a GPU one training per server at a time "
        "(others wait in the queue). Your runs are yours: other sessions never see them."
    )
    if submitted:
        try:
            if any(not r.finished for r in runs):
                st.warning("Your previous run is still training; wait for it to finish.")
            else:
                runs.append(
                    live.LiveRun(region_name, family, tuple(tasks), weighting=weighting, steps=int(steps)).start()
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
        st.dataframe(pd.DataFrame(live.run_table(runs)), hide_index=True, key="runs_table")
        if snap.state == "done":
            st.markdown("**Against the zoo's single-task baselines** (positive delta: the multi-task run is better)")
            st.dataframe(
                pd.DataFrame(live.baseline_comparison(run.region, snap.metrics, manifest())),
                hide_index=True,
                key="baselines",
            )
            pareto_plot(ctx, runs)
        if running and all(r.finished for r in runs):
            st.rerun(scope="app")

    live_panel()


def pareto_plot(ctx: Ctx, runs: list) -> None:
    region = ctx.region
    region_name = ctx.region_name
    import plotly.graph_objects as go

    from mtdl_kit import live
    from mtdl_kit.metrics import higher_is_better, primary_metric
    from mtdl_kit.viz import OKABE_ITO

    done = [r for r in runs if r.snapshot().state == "done" and r.region == region_name]
    common = [t for t in region.task_names if all(t in r.tasks for r in done)]
    if len(done) < 1 or len(common) < 2:
        st.caption("The Pareto plot needs finished runs of this region sharing two tasks.")
        return
    tx, ty = common[0], common[1]
    mx, my = primary_metric(region.task(tx)), primary_metric(region.task(ty))
    pts = [(r.primary_metrics().get(tx, np.nan), r.primary_metrics().get(ty, np.nan)) for r in done]
    front = live.pareto_front(pts, [higher_is_better(mx), higher_is_better(my)])
    fig = go.Figure()
    for i, (r, (x, y), f) in enumerate(zip(done, pts, front, strict=True)):
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers+text",
                text=[r.run_id],
                textposition="top center",
                name=f"{r.family}/{r.weighting} {r.run_id}",
                marker={"size": 14 if f else 9, "color": OKABE_ITO[i % 7], "symbol": "star" if f else "circle"},
            )
        )
    fig.update_layout(
        title="Trade-off of this session's runs (stars: Pareto-optimal)",
        xaxis_title=f"{tx} {mx}",
        yaxis_title=f"{ty} {my}",
        height=380,
    )
    st.plotly_chart(fig, key="pareto")


# --------------------------------------------------------------------------------------------------
# For clinicians
# --------------------------------------------------------------------------------------------------


@st.cache_data(show_spinner="Scoring the models on the bundled samples…", max_entries=64)
def sample_metrics(region: str, key: str, sha256: str) -> dict:
    from mtdl_kit.showcase import evaluate_on_samples

    ev = evaluate_on_samples(model_for(key), get_region(region), bundled(region))
    probs = {}
    for t in get_region(region).tasks:
        if t.kind == "classification" and t.name in ev["metrics"]:
            rec = ev["records"][t.name]
            probs[t.name] = (rec.values["probs"], rec.values["labels"])
    return {"metrics": ev["metrics"], "probs": probs}


def clinicians_view(ctx: Ctx) -> None:
    region = ctx.region
    region_name = ctx.region_name
    models_ready(block=True)
    from mtdl_kit.showcase import calibration_note, reliability_figure, reliability_table, tradeoff_sentences

    man = manifest()
    fams = available_families(ctx, man)
    st.subheader(f"For clinicians: what multi-task learning changes ({region.title})")
    st.markdown(
        f"**{DISCLAIMER}** These networks were trained on synthetic phantoms; the numbers describe the "
        "phantoms, not patients."
    )
    if not fams:
        st.warning(f"No trained model of the {region_name} region in the zoo yet; it appears when its training ends.")
        return
    family = st.radio("Family", fams, key="clin_family", horizontal=True)
    key = f"{region_name}-{family}"
    multi = sample_metrics(region_name, key, man[key].sha256)
    singles = {}
    for t in region.task_names:
        sk = f"{region_name}-single-{t}"
        singles[t] = sample_metrics(region_name, sk, man[sk].sha256)["metrics"][t] if sk in man else None
    n = len(bundled(region_name))
    st.markdown("**Trade-offs on these samples**")
    for line in tradeoff_sentences(region, family, multi["metrics"], singles, n):
        st.markdown(f"- {line}")
    st.caption(f"{n} bundled samples: a demonstration, not a study. Held-out numbers are in the zoo manifest.")
    for task, (probs, labels) in multi["probs"].items():
        st.markdown(f"**Calibration of {task}**")
        st.caption(calibration_note(man.get(key), task))
        table = reliability_table(probs, labels)
        left, right = st.columns([3, 2])
        left.plotly_chart(
            reliability_figure(table, f"{task}: confidence vs fraction correct ({n} samples)"), key=f"rel_{task}"
        )
        right.dataframe(table, hide_index=True, key=f"rel_table_{task}")


# --------------------------------------------------------------------------------------------------
# Architectures and catalog
# --------------------------------------------------------------------------------------------------


def architectures_view(ctx: Ctx) -> None:
    region = ctx.region
    region_name = ctx.region_name
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
    models_ready(block=True)
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


def catalog_view(ctx: Ctx) -> None:
    region = ctx.region
    st.subheader(f"{region.title}: the review's representative networks")
    from mtdl_kit.regions import region_notebook

    notebook = f"notebooks/{region_notebook(region.name)}"
    rows = [
        {
            "network": ref.network,
            "family": ref.family,
            "tasks": ref.tasks,
            "citation": ref.citation,
            "notebook": notebook,
        }
        for ref in region.references
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption(
        "Family labels follow the review's Fig. 1 taxonomy, inferred from each paper's wiring. "
        f"`{notebook}` trains or loads all four families on this region's phantoms; "
        "`notebooks/01_four_families.ipynb` compares the families side by side on the eye."
    )


def main() -> None:
    """One rerun of the dashboard (called by dashboard/app.py)."""
    ctx = sidebar()
    {
        "Explore": explore_view,
        "Task relationships": relationships_view,
        "Experiment": experiment_view,
        "For clinicians": clinicians_view,
        "Architectures": architectures_view,
        "Catalog": catalog_view,
    }[ctx.view](ctx)
    _warmup()  # after the page: torch + MONAI load in the background while the user looks at it
