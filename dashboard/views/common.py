"""What every page shares: the sidebar and its context, the warm-up of torch, and the process-wide caches.

UI state and caching only; what is computed comes from :mod:`mtdl_kit.services`. Research and
teaching use only — not for clinical use.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

import streamlit as st

from mtdl_kit import REGION_NAMES, get_region
from mtdl_kit.data import load_samples
from mtdl_kit.services import zoo_models

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
            import mtdl_kit.models  # noqa: F401
        except Exception as exc:  # shown on the page
            state["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            state["done"].set()

    threading.Thread(target=work, name="mtdl-warmup", daemon=True).start()
    return state


def warmup_done() -> bool:
    """Whether the background import of torch and the models' code has finished."""
    return _warmup()["done"].is_set()


def models_ready(block: bool) -> bool:
    """Whether torch and the models' code are imported; ``block`` waits for them (with a spinner).

    Not blocking and not started yet: ``False`` at once; :func:`views.main` starts the warm-up after
    the page is rendered, so the import does not slow the first render down.
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
    from mtdl_kit.services import contact_sheet

    return contact_sheet(get_region(region), bundled(region), columns=6)


@st.cache_data(show_spinner=False, max_entries=256)
def generated(region: str, seed: int, size: int, relatedness: float, nuisance: str | None):
    return get_region(region).sample(seed, size=size, relatedness=relatedness, nuisance=nuisance)


def manifest() -> dict:
    """The zoo manifest, re-read when the file changes (the zoo may still be training)."""
    return _manifest(*zoo_models.manifest_stamp())


@st.cache_data(show_spinner=False, max_entries=4)
def _manifest(path: str, mtime: int) -> dict:  # keyed by the file's path and modification time
    return zoo_models.read_manifest_or_empty(path)


@st.cache_resource(show_spinner="Loading the model…", max_entries=96)
def zoo_model(key: str, sha256: str):
    """A zoo model, loaded once per process and shared read-only (eval mode, frozen, on the best device)."""
    return zoo_models.load_shared_model(manifest()[key])


def model_for(key: str):
    return zoo_model(key, manifest()[key].sha256)


@st.cache_data(show_spinner=False, max_entries=2048)
def shared_prediction(key: str, sha256: str, region: str, sample_id: tuple, _sample):
    """Prediction of a zoo model on a bundled/generated sample (never on uploads: those stay in the session)."""
    from mtdl_kit.services import predict

    return predict(model_for(key), _sample)


def prediction(key: str, sample, source: str, sample_id: tuple):
    from mtdl_kit.services import predict

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
    from mtdl_kit.services import describe_family

    return describe_family(region, family, tasks)


@st.cache_resource(show_spinner=False, max_entries=64)
def wiring_figure(key: str, sha256: str):
    return model_for(key).describe().figure()


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
                from mtdl_kit.services import upload_sample

                plane = plane_choice(up)
                key = (up.file_id, region_name, tuple(sorted(plane.items())))
                cached = st.session_state.get("_upload")
                if cached is not None and cached[0] == key:
                    sample, upload_error = cached[1], cached[2]
                else:
                    sample, upload_error = upload_sample(up.name, up.getvalue(), region_name, size=128, **plane)
                    st.session_state["_upload"] = (key, sample, upload_error)
                sample_id = ("upload", *key)
            else:
                st.session_state.pop("_upload", None)
                st.session_state.pop("_upload_planes", None)
    return Ctx(view, region_name, region, source, sample, sample_id, upload_error)


PLANE_KEYS = ("upload_frame", "upload_volume", "upload_axis")


def plane_choice(up: Any) -> dict[str, Any]:
    """Frame, volume and slice widgets for an upload with several planes (read from its header once);
    the keyword arguments of :func:`mtdl_kit.services.upload_sample` they choose (empty for a 2-D image)."""
    from mtdl_kit.services import upload_choices

    known = st.session_state.get("_upload_planes")
    if known is None or known[0] != up.file_id:  # a new file: forget the previous file's choices
        for k in [k for k in st.session_state if k in PLANE_KEYS or str(k).startswith("upload_slice:")]:
            del st.session_state[k]
        known = (up.file_id, upload_choices(up.name, up.getvalue()))
        st.session_state["_upload_planes"] = known
    choices = known[1]
    plane: dict[str, Any] = {}
    if choices is None or not choices.choosable:
        return plane
    if choices.frames > 1:
        plane["frame"] = st.slider(
            "Frame",
            0,
            choices.frames - 1,
            choices.default.get("frame", 0),
            key="upload_frame",
            help=f"This file holds {choices.frames} frames (pages).",
        )
    if choices.volumes > 1:
        plane["volume"] = st.slider(
            "Volume",
            0,
            choices.volumes - 1,
            0,
            key="upload_volume",
            help=f"This 4-D image holds {choices.volumes} volumes (e.g. modalities or time points).",
        )
    if choices.slices:
        axes = list(choices.slices)  # axial first, then the other axes whose slices are large enough
        axis = st.radio("Slice axis", axes, key="upload_axis", horizontal=True) if len(axes) > 1 else axes[0]
        n = choices.slices[axis]
        plane["axis"] = axis
        plane["slice_index"] = st.slider("Slice", 0, n - 1, n // 2, key=f"upload_slice:{axis}")
    return plane


def zoo_families(ctx: Ctx) -> tuple[dict, list[str]]:
    """Wait for the models, then the zoo manifest and the families it holds for the sidebar's region."""
    models_ready(block=True)
    man = manifest()
    return man, zoo_models.available_families(ctx.region_name, man)
