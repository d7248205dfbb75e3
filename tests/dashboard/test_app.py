"""Streamlit AppTest of the dashboard (server side, no browser): every view, widget path and upload."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import monai  # noqa: E402,F401  (imported here so the app's model warm-up finishes at once in this process)
from streamlit.testing.v1 import AppTest  # noqa: E402

from mtdl_kit import DISCLAIMER, REGION_NAMES  # noqa: E402
from mtdl_kit.zoo import read_manifest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from uploads import bad_uploads, plane_uploads, valid_uploads  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
VIEWS = ["Explore", "Task relationships", "Experiment", "For clinicians", "Architectures", "Catalog"]
ZOO = read_manifest()
BRAIN_FAMILIES = all(f"brain-{f}" in ZOO for f in ("parallel", "cascaded", "interacted", "hybrid"))
needs_brain_zoo = pytest.mark.skipif(not BRAIN_FAMILIES, reason="the brain models of the zoo are not trained yet")


def new_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)  # the first run loads models: far above the default 3 s
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def app():
    return new_app()


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def errors(at) -> str:
    return "\n".join(e.value for e in at.error)


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_renders_with_the_disclaimer(app, view):
    app.radio(key="view").set_value(view).run()
    assert not app.exception, app.exception
    assert any(DISCLAIMER in w.value for w in app.warning)
    assert not app.error, errors(app)


@needs_brain_zoo
def test_explore_default_shows_all_four_families(app):
    assert app.selectbox(key="region").value == "brain"
    assert app.radio(key="explore_family").value == "all four side by side"
    text = captions(app)
    for fam in ("parallel", "cascaded", "interacted", "hybrid"):
        assert f"`brain-{fam}`" in text
    assert "ms on cpu" in text or "ms on cuda" in text
    assert "Device:" in text and "Calibration:" in text
    cls = app.dataframe[0].value
    assert {"P(LGG)", "P(HGG)", "decision", "truth"} <= set(cls.columns) and len(cls) == 4
    assert app.get("plotly_chart"), "the wiring diagram is shown"


@needs_brain_zoo
def test_task_toggle_switches_model_or_hides_head(app):
    app.toggle(key="task:brain:grade").set_value(False).run()
    assert not app.exception
    assert "head(s) hidden" in captions(app)
    assert not any("P(HGG)" in d.value.columns for d in app.dataframe), "the grade output is hidden"
    for t in ("tumour_area", "reconstruction"):
        app.toggle(key=f"task:brain:{t}").set_value(False).run()
    if "brain-single-tumour" in ZOO:
        assert "single-task zoo baseline for tumour" in captions(app)
    app.toggle(key="task:brain:tumour").set_value(False).run()
    assert "at least one task" in app.info[0].value
    app.toggle(key="task:brain:grade").set_value(True).run()
    assert not app.exception


@needs_brain_zoo
def test_single_family_sample_change_and_opacity(app):
    app.radio(key="explore_family").set_value("hybrid").run()
    assert "`brain-hybrid`" in captions(app) and "`brain-parallel`" not in captions(app)
    before = app.dataframe[0].value.copy()
    app.slider(key="case").set_value(7).run()
    assert not app.exception
    assert not before.equals(app.dataframe[0].value), "another case gives other outputs"
    app.slider(key="opacity").set_value(0.9).run()
    app.checkbox(key="show_wiring").set_value(False).run()
    assert not app.exception and not app.get("plotly_chart")


@pytest.mark.parametrize("region", REGION_NAMES)
def test_every_region_renders_bundled_and_generated(app, region):
    app.selectbox(key="region").set_value(region).run()
    assert not app.exception, app.exception
    app.slider(key="case").set_value(5).run()
    assert not app.exception
    app.radio(key="source").set_value("Generate a phantom").run()
    app.slider(key="relatedness").set_value(0.0).run()
    assert not app.exception, app.exception
    text = captions(app) + "\n".join(w.value for w in app.warning)
    assert "ms on" in text or "not in the zoo yet" in text


def test_missing_models_give_a_clear_message(app, tmp_path, monkeypatch):
    monkeypatch.setenv("MTDL_KIT_ZOO", str(tmp_path))  # an empty zoo: nothing trained yet
    app.run()
    assert not app.exception
    warnings = "\n".join(w.value for w in app.warning)
    assert "not in the zoo yet" in warnings and "mtdl-kit zoo train --region brain" in warnings
    for view in ("Task relationships", "For clinicians"):
        app.radio(key="view").set_value(view).run()
        assert not app.exception and "No trained model" in "\n".join(w.value for w in app.warning)


def test_nuisance_choice_changes_labels(app):
    app.selectbox(key="region").set_value("eye").run()
    app.radio(key="source").set_value("Generate a phantom").run()
    app.selectbox(key="nuisance").set_value("illumination").run()
    assert not app.exception
    latents = next(d.value for d in app.dataframe if "latent" in d.value.columns)
    assert "illumination" in set(latents["latent"])


@needs_brain_zoo
def test_task_relationships_page(app):
    app.radio(key="view").set_value("Task relationships").run()
    assert not app.exception, app.exception
    assert app.radio(key="rel_family").value == "parallel"
    assert len(app.get("plotly_chart")) == 4  # pred vs true, correlation, conflict, affinity
    app.radio(key="rel_family").set_value("cascaded").run()
    assert not app.exception
    assert len(app.get("plotly_chart")) >= 2


@needs_brain_zoo
def test_clinicians_page_sentences_and_calibration(app):
    app.radio(key="view").set_value("For clinicians").run()
    assert not app.exception, app.exception
    text = "\n".join(m.value for m in app.markdown)
    assert "changed" in text or "No single-task" in text
    assert "expected calibration error" in captions(app)
    assert app.get("plotly_chart"), "reliability diagram"


def _train(at, steps=5, timeout=240):
    at.radio(key="view").set_value("Experiment").run()
    at.selectbox(key="exp_family").set_value("parallel")
    at.number_input(key="exp_steps").set_value(steps)
    at.button[0].click().run()
    assert not at.exception, at.exception
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = "\n".join(m.value for m in at.markdown)
        if "state: **done**" in text or "state: **error**" in text:
            return text
        time.sleep(0.5)
        at.run()
    pytest.fail("live training did not finish")


def test_experiment_trains_live_and_keeps_session_runs(app):
    text = _train(app, steps=5)
    assert "state: **done**" in text, errors(app)
    runs = next(d.value for d in app.dataframe if "run" in d.value.columns)
    assert len(runs) == 1 and runs["state"].iloc[0] == "done" and runs["steps"].iloc[0] == "5/5"
    assert any("single-task baseline (zoo)" in d.value.columns for d in app.dataframe)
    assert app.get("plotly_chart"), "live curves"
    _train(app, steps=3)
    runs = next(d.value for d in app.dataframe if "run" in d.value.columns)
    assert len(runs) == 2
    other = new_app()  # another browser tab: a separate session
    other.radio(key="view").set_value("Experiment").run()
    assert "Choose a configuration" in other.info[0].value
    assert not other.session_state["runs"] if "runs" in other.session_state else True


BAD = bad_uploads()


@pytest.mark.parametrize(("name", "data", "fragment"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_upload_gives_a_clear_message(app, name, data, fragment):
    app.radio(key="source").set_value("Upload an image").run()
    app.file_uploader(key="upload").set_value((name, data, "application/octet-stream")).run()
    assert not app.exception, app.exception
    msg = errors(app)
    assert "This upload cannot be used" in msg and fragment in msg, msg


def test_bad_upload_corpus_is_large_enough():
    assert len({c[0] for c in BAD}) >= 15


VALID = valid_uploads()


@pytest.mark.parametrize(("name", "data"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
@pytest.mark.parametrize("region", ["brain", "eye"])
def test_valid_upload_is_converted_and_run(app, region, name, data):
    app.selectbox(key="region").set_value(region).run()
    app.radio(key="source").set_value("Upload an image").run()
    app.file_uploader(key="upload").set_value((name, data, "application/octet-stream")).run()
    assert not app.exception, app.exception
    assert not app.error, errors(app)
    if all(f"{region}-{f}" in ZOO for f in ("parallel", "hybrid")):
        text = captions(app)
        assert "ms on" in text and "no ground truth for an upload" in "\n".join(m.value for m in app.markdown)


def _upload(at, name, data):
    at.radio(key="source").set_value("Upload an image").run()
    at.file_uploader(key="upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    assert not at.error, errors(at)


def _slider(at, label):
    return next(s for s in at.slider if s.label == label)


def test_volume_upload_offers_volume_axis_and_slice(app):
    name, data = plane_uploads()["nifti_4d"]
    _upload(app, name, data)
    assert {s.label for s in app.slider} >= {"Volume", "Slice"} and app.radio(key="upload_axis").value == "axial"
    assert "volume 0 (of 0-2), axial slice 9 (of 0-17) is shown" in captions(app)
    _slider(app, "Volume").set_value(2).run()
    assert not app.exception and "volume 2 (of 0-2)" in captions(app)
    app.radio(key="upload_axis").set_value("sagittal").run()
    assert not app.exception and "sagittal slice 10 (of 0-19)" in captions(app)
    _slider(app, "Slice").set_value(4).run()
    assert not app.exception and "sagittal slice 4 (of 0-19)" in captions(app)
    other_name, other = plane_uploads()["png"]
    app.file_uploader(key="upload").set_value((other_name, other, "image/png")).run()
    assert not app.exception and not any(s.label in ("Volume", "Slice") for s in app.slider)


def test_multiframe_upload_offers_a_frame_and_a_blank_image_is_flagged(app):
    name, data = plane_uploads()["dicom_frames"]
    _upload(app, name, data)
    assert "4 frames (0-3); frame 2 is shown" in captions(app)
    _slider(app, "Frame").set_value(0).run()
    assert not app.exception and "frame 0 is shown" in captions(app)
    blank_name, blank = plane_uploads()["blank"]
    app.file_uploader(key="upload").set_value((blank_name, blank, "image/png")).run()
    assert not app.exception and any("it is blank" in w.value for w in app.warning)
    assert not any(s.label == "Frame" for s in app.slider)


def test_sessions_are_isolated():
    first, second = new_app(), new_app()
    name, data = VALID[0][1], VALID[0][2]
    first.radio(key="source").set_value("Upload an image").run()
    first.file_uploader(key="upload").set_value((name, data, "image/png")).run()
    assert not first.exception and "_upload" in first.session_state
    second.radio(key="source").set_value("Upload an image").run()
    assert not second.exception
    assert "_upload" not in second.session_state and "_upload_predictions" not in second.session_state
    assert "Upload an image in the sidebar" in second.info[0].value
    assert name not in "\n".join(c.value for c in [*second.caption, *second.markdown])
    assert not second.file_uploader(key="upload").value


@pytest.mark.parametrize("family", ["parallel", "cascaded", "interacted", "hybrid", "single"])
def test_architectures_view_every_family(app, family):
    app.radio(key="view").set_value("Architectures").run()
    app.selectbox(key="region").set_value("eye").run()
    app.radio(key="family").set_value(family).run()
    assert not app.exception, app.exception
    if family == "single":
        assert app.error, "single with three tasks is refused with the library's message"
        app.multiselect(key="arch_tasks:eye").set_value(["glaucoma"]).run()
        assert not app.error
    assert app.get("plotly_chart")
    counts = app.dataframe[0].value
    assert "total" in set(counts["part"])


def test_task_toggle_changes_the_architecture(app):
    app.radio(key="view").set_value("Architectures").run()
    app.selectbox(key="region").set_value("eye").run()
    full = app.dataframe[0].value.set_index("part")["parameters"]["total"]
    app.multiselect(key="arch_tasks:eye").set_value(["disc_cup", "glaucoma"]).run()
    fewer = app.dataframe[0].value.set_index("part")["parameters"]["total"]
    assert fewer < full
    app.radio(key="family").set_value("cascaded").run()
    app.multiselect(key="arch_tasks:eye").set_value(["glaucoma"]).run()
    assert "single" in app.error[0].value  # a cascade needs >= 2 tasks: the message suggests 'single'


def test_catalog_view_lists_references(app):
    app.radio(key="view").set_value("Catalog").run()
    for region in REGION_NAMES:
        app.selectbox(key="region").set_value(region).run()
        assert not app.exception
        frame = app.dataframe[0].value
        assert len(frame) >= 2
        notebook = ROOT / frame["notebook"].iloc[0]
        assert notebook.exists() and region in notebook.name


def test_experiment_refuses_bad_configurations(app):
    app.radio(key="view").set_value("Experiment").run()
    app.selectbox(key="exp_family").set_value("single")
    app.button[0].click().run()
    assert not app.exception
    assert "single" in errors(app)
    assert "Choose a configuration" in app.info[0].value  # nothing started
