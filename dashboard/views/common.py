"""What every page shares: the sidebar (mirrored in the URL) and its context, the warm-up, the process-wide caches.

UI state and caching only; what is computed comes from :mod:`mtdl_kit.services`. Research and
teaching use only — not for clinical use.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from mtdl_kit import REGION_NAMES, get_region
from mtdl_kit.data import load_samples
from mtdl_kit.data.samples import DEMO_SEED_OFFSET, DEMO_SEED_SPAN, demo_seed
from mtdl_kit.services import warmup, zoo_models

ALL_FAMILIES = "all four side by side"
VIEWS = ["Explore", "Task relationships", "Experiment", "For clinicians", "Architectures", "Catalog"]
SOURCES = ["Bundled sample", "Generate a phantom", "Upload an image"]
SIZES = [64, 128, 256]
#: the prediction opacity Explore starts with
DEFAULT_OPACITY = 0.45

# --------------------------------------------------------------------------------------------------
# Process-wide resources (shared by every session, read-only)
# --------------------------------------------------------------------------------------------------


def warmup_done() -> bool:
    """Whether the server's warm-up (:mod:`mtdl_kit.services.warmup`: torch, MONAI, the first zoo models) is ready."""
    return warmup.ready()


def models_ready(block: bool) -> bool:
    """Whether torch and the models' code are loaded; ``block`` waits for the server's warm-up (with a spinner).

    The warm-up starts once per server process (``dashboard/app.py`` calls
    :func:`mtdl_kit.services.warmup.start`); there is no second loader here.
    """
    if not block and not warmup.started() and "monai" not in sys.modules:
        return False
    if block and not warmup.ready():
        with st.spinner("Loading PyTorch and MONAI (first visit after the server started)…"):
            warmup.wait_ready(120)
    error = warmup.status().get("error")
    if error:
        st.error(f"PyTorch could not be loaded: {error}")
        st.stop()
    return warmup.ready()


@st.cache_resource(show_spinner=False)
def bundled(region: str):
    return load_samples(region)


@st.cache_resource(
    show_spinner="Calibrating the out-of-distribution check on held-out phantoms (once per server)…", max_entries=16
)
def ood_reference(region: str):
    """The region's out-of-distribution reference (:func:`mtdl_kit.services.reference_for`), shared read-only."""
    from mtdl_kit.services import reference_for

    return reference_for(region)


@st.cache_resource(show_spinner=False)
def thumbnails(region: str) -> bytes:
    """A contact sheet of the bundled samples (6 per row, 64 px each, truth outlines), PNG-encoded once."""
    from mtdl_kit.services import contact_sheet

    return contact_sheet(get_region(region), bundled(region), columns=6)


@st.cache_data(show_spinner=False, max_entries=256)
def generated(region: str, number: int, size: int, relatedness: float, nuisance: str | None):
    """Demo phantom ``number``: generated from the held-out seed :func:`mtdl_kit.data.samples.demo_seed`."""
    return get_region(region).sample(demo_seed(number), size=size, relatedness=relatedness, nuisance=nuisance)


def manifest() -> dict:
    """The zoo manifest, re-read when the file changes (the zoo may still be training)."""
    return _manifest(*zoo_models.manifest_stamp())


def model_size(region: str) -> int:
    """The image side the region's zoo models were trained at (their manifest entries); a mixed zoo stops the page."""
    try:
        return zoo_models.region_model_size(region, manifest())
    except ValueError as exc:
        st.error(str(exc))
        st.stop()


@st.cache_resource(show_spinner=False, max_entries=4)
def _manifest(path: str, mtime: int) -> dict:  # keyed by the file's path and modification time
    """Shared read-only (a resource, not a per-call copy: read a few times in every rerun)."""
    return zoo_models.read_manifest_or_empty(path)


@st.cache_resource(show_spinner="Loading the model…", max_entries=96)
def zoo_model(key: str, sha256: str):
    """A zoo model, loaded once per process and shared read-only (eval mode, frozen, on the best device)."""
    return zoo_models.load_shared_model(manifest()[key])


def model_for(key: str):
    return zoo_model(key, manifest()[key].sha256)


@st.cache_resource(show_spinner=False, max_entries=2048)
def shared_prediction(key: str, sha256: str, region: str, sample_id: tuple, _sample):
    """Prediction of a zoo model on a bundled/generated sample (never on uploads: those stay in the session).

    Shared by every session without a per-call copy (a resource): its arrays are made read-only,
    so a page that tried to change one would fail instead of changing it for everyone.
    """
    from mtdl_kit.services import predict

    p = predict(model_for(key), _sample, size=manifest()[key].image_size)
    for array in p.outputs.values():
        array.setflags(write=False)
    return p


@st.cache_data(show_spinner=False, max_entries=4096)
def shared_joint_png(
    key: str | None, sha256: str, sample_id: tuple, shown: tuple[str, ...], opacity: float, _sample, _prediction
) -> bytes:
    """:func:`mtdl_kit.services.joint_picture` of a shared prediction, PNG-encoded once (not on every rerun)."""
    from mtdl_kit.services import joint_picture, png_bytes

    return png_bytes(joint_picture(get_region(_sample.region), _sample, _prediction, list(shown), opacity=opacity))


def joint_png(key: str | None, sha256: str, sample, prediction, shown: list[str], opacity: float, sample_id: tuple):
    """The joint picture (PNG) of model ``key`` (``None``: truth only): cached for bundled and generated samples."""
    from mtdl_kit.services import joint_picture, picture_tasks, png_bytes

    region = get_region(sample.region)
    if sample_id[:1] == ("upload",):
        return png_bytes(joint_picture(region, sample, prediction, shown, opacity=opacity))
    return shared_joint_png(key, sha256, sample_id, picture_tasks(region, shown), float(opacity), sample, prediction)


def prediction(key: str, sample, source: str, sample_id: tuple, sha256: str | None = None):
    """Model ``key``'s prediction on ``sample``: shared by all sessions, except an upload's (kept in its session)."""
    from mtdl_kit.services import predict

    sha = sha256 or manifest()[key].sha256
    if source != "upload":
        return shared_prediction(key, sha, sample.region, sample_id, sample)
    cache = st.session_state.setdefault("_upload_predictions", {})
    k = (key, sha, sample_id)
    if k not in cache:
        if len(cache) > 32:
            cache.clear()
        cache[k] = predict(model_for(key), sample, size=manifest()[key].image_size)
    return cache[k]


@st.cache_resource(show_spinner=False, max_entries=64)
def described(region: str, family: str, tasks: tuple[str, ...]):
    from mtdl_kit.services import describe_family

    return describe_family(region, family, tasks)


@st.cache_resource(show_spinner=False, max_entries=64)
def family_wiring(region: str, family: str, tasks: tuple[str, ...]):
    """:func:`mtdl_kit.services.wiring_figure` of :func:`described` (its labels fitted to the main column), once."""
    from mtdl_kit.services import wiring_figure as fitted

    return fitted(described(region, family, tasks))


@st.cache_resource(show_spinner=False, max_entries=64)
def wiring_figure(key: str, sha256: str):
    """:func:`mtdl_kit.services.architectures.wiring_figure` of a zoo model: labels fitted to the main column."""
    from mtdl_kit.services.architectures import wiring_figure as fitted

    return fitted(model_for(key).describe())


def prefill_caches(regions: Sequence[str]) -> None:
    """Fill the process-wide caches a class hits first, for ``regions`` (the server's warm-up calls it).

    Per region: the bundled cases and their contact sheet, the out-of-distribution reference, and
    for every zoo model of the region its wiring figure, its prediction on every bundled case and
    that prediction's picture (the model's own drawn tasks, the default opacity) —
    the same cached functions with the same arguments as the sidebar and Explore, so a student's
    first view is a cache hit (issue 19: 30 students filling these at once made a class's first
    minute slow). Called outside any script run (no spinner is shown: Streamlit's warning about the
    missing script context is silenced for this thread's calls). Passed to
    :func:`mtdl_kit.services.warmup.start` by :func:`mtdl_kit.launch.dashboard_prefill`.
    """
    from mtdl_kit.services import picture_tasks

    man = manifest()
    with _no_context_warnings():
        for region_name in regions:
            samples = bundled(region_name)
            thumbnails(region_name)
            ood_reference(region_name)
            for key, entry in man.items():
                if entry.region != region_name:
                    continue
                wiring_figure(key, entry.sha256)
                shown = picture_tasks(get_region(region_name), entry.tasks)
                for idx, sample in enumerate(samples):
                    sample_id = ("bundled", region_name, idx)
                    p = shared_prediction(key, entry.sha256, region_name, sample_id, sample)
                    shared_joint_png(key, entry.sha256, sample_id, shown, DEFAULT_OPACITY, sample, p)


@contextlib.contextmanager
def _no_context_warnings() -> Iterator[None]:
    """Silence "missing ScriptRunContext" (cached functions' spinners called from the warm-up thread)."""
    log = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


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


#: the query-string value of each sample source (``?source=phantom``), and back.
SOURCE_PARAMS = {"Bundled sample": "bundled", "Generate a phantom": "phantom", "Upload an image": "upload"}
#: the query-string keys the sidebar writes (the rest of the query string is left alone).
QUERY_KEYS = ("region", "source", "case", "seed", "size", "relatedness", "nuisance")


def _query(name: str, parse: Callable[[str], Any], default: Any) -> Any:
    """``st.query_params[name]`` parsed (``default`` when absent or unusable: a link never breaks a page)."""
    raw = st.query_params.get(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except (TypeError, ValueError):
        return default


def _choice(name: str, options: list, default_index: int = 0) -> int:
    """Index of the query string's value of ``name`` among ``options`` (as strings), else ``default_index``."""
    raw = st.query_params.get(name)
    labels = [str(o) for o in options]
    return labels.index(raw) if raw in labels else default_index


def _write_query(params: dict[str, Any]) -> None:
    """Mirror the sidebar in the URL: set ``params``, drop the other :data:`QUERY_KEYS` (only on a change)."""
    wanted = {k: str(v) for k, v in params.items()}
    current = {k: st.query_params.get(k) for k in QUERY_KEYS if k in st.query_params}
    if current == wanted:
        return
    for k in QUERY_KEYS:
        if k in st.query_params and k not in wanted:
            del st.query_params[k]
    st.query_params.update(wanted)


def sidebar(view: str) -> Ctx:
    """The sidebar under the page navigation: region and (on Explore) the sample source.

    Each widget starts from the query string (``?region=eye&source=bundled&case=5``) and is written
    back to it, so the URL of any view reproduces it.
    """
    with st.sidebar:
        region_name = st.selectbox(
            "Body region",
            REGION_NAMES,
            index=_choice("region", list(REGION_NAMES)),
            key="region",
            format_func=lambda n: get_region(n).title.split(" — ")[0],  # short: never cut in the sidebar
        )
        region = get_region(region_name)
        modality = region.title.split(" — ", 1)[-1]
        st.caption(modality[:1].upper() + modality[1:])  # the modality, on its own line
        query: dict[str, Any] = {"region": region_name}
        source = None
        sample = None
        sample_id: tuple = ()
        upload_error: str | None = None
        if view == "Explore":
            source = st.radio("Sample", SOURCES, index=_choice("source", list(SOURCE_PARAMS.values())), key="source")
            query["source"] = SOURCE_PARAMS[source]
        if source == "Bundled sample":
            samples = bundled(region_name)
            n = len(samples)
            case = _query("case", int, 0)
            idx = st.slider("Bundled case", 0, n - 1, case if 0 <= case < n else 0, key="case")
            sample = samples[idx]
            sample_id = ("bundled", region_name, idx)
            query["case"] = idx
            st.image(
                thumbnails(region_name),
                caption=f"Bundled cases 0–{n - 1}, left to right, top to bottom: held-out phantoms "
                "(seeds no zoo model was trained or tested on).",
                output_format="PNG",  # as encoded once; "auto" would re-encode it as JPEG on every rerun
            )
        elif source == "Generate a phantom":
            number = _query("seed", int, 0)
            number = st.number_input(
                "Phantom number",
                min_value=0,
                max_value=DEMO_SEED_SPAN - 1,
                value=number if 0 <= number < DEMO_SEED_SPAN else 0,
                step=1,
                key="seed",
                help=f"Phantom n is generated with seed {DEMO_SEED_OFFSET:,} + n: a held-out seed, never used "
                "to train or test the zoo models.",
            )
            shown_size = model_size(region_name)  # the phantom starts at the size the region's models see
            size = _query("size", int, shown_size)
            size = st.select_slider("Size (px)", SIZES, value=size if size in SIZES else shown_size, key="size")
            relatedness = st.slider(
                "Relatedness",
                0.0,
                1.0,
                round(min(max(_query("relatedness", float, 1.0), 0.0), 1.0) * 20) / 20,  # on the slider's steps
                0.05,
                key="relatedness",
                help="How much the classification label follows the anatomy in the segmentation. "
                "The zoo models were trained at relatedness 1.",
            )
            nuisances = [None, *region.nuisances]
            nuisance = st.selectbox(
                "Nuisance",
                nuisances,
                index=_choice("nuisance", nuisances),
                key="nuisance",
                format_func=lambda n: "none" if n is None else n,
            )
            sample = generated(region_name, int(number), int(size), float(relatedness), nuisance)
            sample_id = ("phantom", region_name, int(number), int(size), float(relatedness), nuisance)
            query.update(seed=int(number), size=int(size), relatedness=float(relatedness))
            if nuisance is not None:
                query["nuisance"] = nuisance
        elif source == "Upload an image":
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
                    sample, upload_error = upload_sample(
                        up.name, up.getvalue(), region_name, size=model_size(region_name), **plane
                    )
                    st.session_state["_upload"] = (key, sample, upload_error)
                sample_id = ("upload", *key)
            else:
                st.session_state.pop("_upload", None)
                st.session_state.pop("_upload_planes", None)
    _write_query(query)
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
