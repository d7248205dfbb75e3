"""Streamlit AppTest of the dashboard (server side, no browser): every page, widget path, upload and URL."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import monai  # noqa: E402,F401  (imported here so the app's model warm-up finishes at once in this process)
from streamlit.testing.v1 import AppTest  # noqa: E402

from mtdl_kit import DISCLAIMER, REGION_NAMES, get_region  # noqa: E402
from mtdl_kit.zoo import read_manifest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from uploads import bad_uploads, plane_uploads, valid_uploads  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
#: page title -> its file (st.navigation); AppTest switches pages by file, relative to app.py
PAGES = {
    "Explore": "app_pages/explore.py",
    "Task relationships": "app_pages/relationships.py",
    "Experiment": "app_pages/experiment.py",
    "For clinicians": "app_pages/clinicians.py",
    "Architectures": "app_pages/architectures.py",
    "Catalog": "app_pages/catalog.py",
}
VIEWS = list(PAGES)
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


def goto(at: AppTest, view: str) -> AppTest:
    """Open a page as the navigation does (its own file and URL)."""
    at.switch_page(PAGES[view]).run()
    assert not at.exception, at.exception
    return at


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def errors(at) -> str:
    return "\n".join(e.value for e in at.error)


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_renders_with_the_disclaimer(app, view):
    goto(app, view)
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
    before = [d.value.copy() for d in app.dataframe]  # outputs and latents (a confident grade can repeat)
    app.slider(key="case").set_value(7).run()
    assert not app.exception
    after = [d.value for d in app.dataframe]
    assert len(after) == len(before)
    assert not all(a.equals(b) for a, b in zip(before, after, strict=True)), "another case gives other outputs"
    app.slider(key="opacity").set_value(0.9).run()
    app.checkbox(key="show_wiring").set_value(False).run()
    assert not app.exception and not app.get("plotly_chart")


@needs_brain_zoo
def test_the_servers_cache_filler_leaves_explore_nothing_to_compute(monkeypatch):
    """After the warm-up's filler (``mtdl-kit dashboard`` runs it, issue 19), Explore's bundled cases need no
    forward pass and no picture encoding: every prediction and picture a class first asks for is cached."""
    import mtdl_kit.services as services

    sys.path.insert(0, str(ROOT / "dashboard"))  # as app.py does: the same module object the pages use
    from views import common

    common.prefill_caches(["brain"])

    def computed(*args, **kwargs):
        raise AssertionError("computed during a student's rerun, although the warm-up filled the caches")

    monkeypatch.setattr(services, "predict", computed)
    monkeypatch.setattr(services, "joint_picture", computed)
    at = new_app()  # brain, bundled case 0, all four families, every task on
    assert all(f"`brain-{fam}`" in captions(at) for fam in ("parallel", "cascaded", "interacted", "hybrid"))
    for case in (5, 23):
        at.slider(key="case").set_value(case).run()
        assert not at.exception, at.exception
    # a task switched off uses the zoo model for the remaining tasks where there is one: filled as well
    at.toggle(key="task:brain:reconstruction").set_value(False).run()
    assert not at.exception, at.exception


@needs_brain_zoo
def test_explore_pictures_are_sent_as_png(app):
    """The joint pictures are PNG as encoded once (Streamlit's "auto" would re-encode them as JPEG every rerun)."""
    urls = [img.url for el in app.main if type(el).__name__ == "Image" for img in el.proto.imgs]
    assert len(urls) >= 4, "Explore shows the four families' pictures"
    assert all(url.endswith(".png") for url in urls), urls


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
        goto(app, view)
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
    goto(app, "Task relationships")
    assert not app.exception, app.exception
    assert app.radio(key="rel_family").value == "parallel"
    assert len(app.get("plotly_chart")) == 4  # pred vs true, correlation, conflict, affinity
    app.radio(key="rel_family").set_value("cascaded").run()
    assert not app.exception
    assert len(app.get("plotly_chart")) >= 2


@needs_brain_zoo
def test_clinicians_page_sentences_and_calibration(app):
    goto(app, "For clinicians")
    assert not app.exception, app.exception
    text = "\n".join(m.value for m in app.markdown)
    assert "95 % interval" in text and "over 128 held-out phantoms" in text
    assert any(v in text for v in ("cannot tell", "is better here", "is worse here"))
    assert "Adding the" not in text and " changed " not in text, "no causal sentence from one model pair"
    assert "tumour_area" not in text and "Glioma grade" in text, "plain words, not internal names"
    assert "mm²" in text, "measurements with their units"
    assert "expected calibration error" in captions(app)
    assert app.get("plotly_chart"), "reliability diagram"
    frames = [d.value for d in app.dataframe]
    assert any({"alone", "multi-task", "advantage (95 % interval)", "verdict"} <= set(f.columns) for f in frames)
    reliability = next(f for f in frames if "accuracy" in f.columns)  # the grade's reliability table
    assert reliability["cases"].sum() == 128 and not reliability.isna().any().any(), "no empty bins, no None"


def test_clinicians_page_leads_with_the_transfer_lab_findings(app, tmp_path, monkeypatch):
    from mtdl_kit.services.transfer_findings import clinician_summary

    goto(app, "For clinicians")
    texts = [m.value for m in app.markdown]
    lead = next(i for i, t in enumerate(texts) if "What the transfer lab found" in t)
    expected = clinician_summary(app.selectbox(key="region").value)
    for line in expected.findings:  # the service's sentences, computed from the committed CSVs
        assert f"- {line}" in texts[lead:], line
    first_comparison = next((i for i, t in enumerate(texts) if "Multi-task against single-task" in t), len(texts))
    assert lead < first_comparison, "the lab's findings lead the page"
    assert "mask-only head" in captions(app) and DISCLAIMER in "\n".join(texts[:lead]), "caveats; the notice stays"

    monkeypatch.setenv("MTDL_KIT_RESULTS", str(tmp_path))  # no results tables: the section says so
    app.run()
    assert not app.exception, app.exception
    text = "\n".join(m.value for m in app.markdown)
    assert "**Eye:** the crossover has not been run yet" in text and "No region has results yet." in captions(app)


def test_clinicians_page_shows_the_families_experiment_for_the_region(app, tmp_path, monkeypatch):
    from mtdl_kit.services.families_findings import families_summary

    goto(app, "For clinicians")
    texts = [m.value for m in app.markdown]
    section = next(i for i, t in enumerate(texts) if "one network for every task, or one network per task?" in t)
    expected = families_summary(app.selectbox(key="region").value)
    for line in expected.findings:  # computed from the committed experiment-G CSVs, or "not run" for the region
        assert f"- {line}" in texts[section:], line
    first_comparison = next((i for i, t in enumerate(texts) if "Multi-task against single-task" in t), len(texts))
    assert section < first_comparison
    assert "Equal total parameters" in captions(app)

    app.selectbox(key="region").set_value("cardiac").run()  # a region with both seed sets committed
    assert not app.exception, app.exception
    text = "\n".join(m.value for m in app.markdown)
    for line in families_summary("cardiac").findings:
        assert f"- {line}" in [m.value for m in app.markdown], line
    assert "(hybrid)**, against one network per task (8 seeds, 0–7)" in text
    assert "Repeated on fresh seeds (8 seeds, 100–107)" in text and "RV blood pool: **worse**" in text

    monkeypatch.setenv("MTDL_KIT_RESULTS", str(tmp_path))  # no results tables: the section says so
    app.run()
    assert not app.exception, app.exception
    text = "\n".join(m.value for m in app.markdown)
    assert "Experiment G has not been run on the cardiac phantoms yet" in text


def _train(at, steps=5, timeout=240):
    goto(at, "Experiment")
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
    assert app.get("plotly_chart"), "live curves"
    from mtdl_kit.services import live_recipe_note

    note = live_recipe_note()
    assert "median of" in note and note in captions(app), "the recipe's measured time, read from live.csv"
    # the comparison is with single-task networks trained under the run's budget, on request
    assert "5 steps of batch 16" in "\n".join(m.value for m in app.markdown), "the budget is stated"
    comparison = next(d.value for d in app.dataframe if "single-task, same budget" in d.value.columns)
    assert set(comparison["baseline"]) == {"not trained"} and comparison["single-task, same budget"].isna().all()
    next(b for b in app.button if "Train the single-task baselines" in b.label).click().run()
    assert not app.exception, app.exception
    deadline = time.time() + 240
    while time.time() < deadline:
        comparison = next(d.value for d in app.dataframe if "single-task, same budget" in d.value.columns)
        if set(comparison["baseline"]) <= {"done", "error"}:
            break
        time.sleep(0.5)
        app.run()
    assert set(comparison["baseline"]) == {"done"}, comparison
    assert comparison["single-task, same budget"].notna().all() and comparison["delta"].notna().all()
    assert not any("Train the single-task baselines" in b.label for b in app.button), "trained once per budget"
    _train(app, steps=3)
    runs = next(d.value for d in app.dataframe if "run" in d.value.columns)
    assert len(runs) == 2
    other = new_app()  # another browser tab: a separate session
    goto(other, "Experiment")
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
def test_valid_upload_is_converted_and_checked(app, region, name, data):
    """The corpus's valid files are noise: read and converted, then withheld as out of distribution."""
    app.selectbox(key="region").set_value(region).run()
    app.radio(key="source").set_value("Upload an image").run()
    app.file_uploader(key="upload").set_value((name, data, "application/octet-stream")).run()
    assert not app.exception, app.exception
    assert "Out of distribution: predictions withheld" in errors(app)
    assert "Read as" in "\n".join(m.value for m in app.markdown), "what was done to the image is listed"
    assert "ms on" not in captions(app) and not any("decision" in d.value.columns for d in app.dataframe)
    if all(f"{region}-{f}" in ZOO for f in ("parallel", "hybrid")):
        app.toggle(key="ood_show_anyway").set_value(True).run()  # a teacher shows the meaningless outputs
        assert not app.exception, app.exception
        assert "ms on" in captions(app) and "no ground truth for an upload" in "\n".join(m.value for m in app.markdown)


def _png_bytes(array) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


NON_MEDICAL = {
    "gradient.png": lambda: _png_bytes(np.tile(np.linspace(0, 255, 256).astype(np.uint8), (256, 1))),
    "shapes.png": lambda: _png_bytes(_shapes()),
}


def _shapes():
    """A synthetic "photo": random colourful boxes on a sky-blue background."""
    rng = np.random.default_rng(3)
    img = np.empty((240, 320, 3), np.uint8)
    img[:] = (135, 206, 235)
    for _ in range(20):
        r, c, h, w = rng.integers(0, 200), rng.integers(0, 280), rng.integers(10, 80), rng.integers(10, 80)
        img[r : r + h, c : c + w] = rng.integers(0, 256, 3)
    return img


@pytest.mark.parametrize("region", REGION_NAMES)
def test_a_non_medical_upload_shows_the_ood_notice_not_a_decision(app, region):
    app.selectbox(key="region").set_value(region).run()
    app.radio(key="source").set_value("Upload an image").run()
    for name, make in NON_MEDICAL.items():
        app.file_uploader(key="upload").set_value((name, make(), "image/png")).run()
        assert not app.exception, app.exception
        assert "Out of distribution: predictions withheld" in errors(app), (region, name)
        assert not any("decision" in d.value.columns for d in app.dataframe), "no confident decision is shown"
        assert not any("predicted" in d.value.columns for d in app.dataframe), "no measurement in mm is shown"


@needs_brain_zoo
def test_an_upload_of_a_held_out_phantom_passes_the_check_and_runs(app):
    case = ROOT / "data_samples" / "brain" / "images" / "brain_003.png"
    _upload(app, case.name, case.read_bytes())
    assert "Out of distribution" not in errors(app)
    assert any("Within the training phantoms' range" in i.value for i in app.info)
    assert "ms on" in captions(app)
    notes = "\n".join(m.value for m in app.markdown)
    assert "no pixel spacing" in notes and "relatedness 1" in notes


def test_a_generated_phantom_at_relatedness_0_says_what_the_models_saw(app):
    app.radio(key="source").set_value("Generate a phantom").run()
    app.slider(key="relatedness").set_value(0.0).run()
    assert not app.exception
    assert any("The models saw relatedness 1 only" in w.value for w in app.warning)
    assert "Out of distribution" not in errors(app), "the image itself is a phantom like the training ones"


def _upload(at, name, data):
    at.radio(key="source").set_value("Upload an image").run()
    at.file_uploader(key="upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    # read without a problem; a noise image is then withheld as out of distribution, nothing else
    assert all(e.value.startswith("**Out of distribution") for e in at.error), errors(at)


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
    goto(app, "Architectures")
    app.selectbox(key="region").set_value("eye").run()
    app.radio(key="family").set_value(family).run()
    assert not app.exception, app.exception
    if family == "single":
        refusal = "\n".join(w.value for w in app.warning)
        assert "single-task network has one head" in refusal and "build_baselines" not in refusal
        app.multiselect(key="arch_tasks:eye").set_value(["glaucoma"]).run()
        assert not app.error and "one head" not in "\n".join(w.value for w in app.warning)
    assert app.get("plotly_chart")
    counts = app.dataframe[0].value
    assert "total" in set(counts["part"])


def test_task_toggle_changes_the_architecture(app):
    goto(app, "Architectures")
    app.selectbox(key="region").set_value("eye").run()
    full = app.dataframe[0].value.set_index("part")["parameters"]["total"]
    app.multiselect(key="arch_tasks:eye").set_value(["disc_cup", "glaucoma"]).run()
    fewer = app.dataframe[0].value.set_index("part")["parameters"]["total"]
    assert fewer < full
    app.radio(key="family").set_value("cascaded").run()
    app.multiselect(key="arch_tasks:eye").set_value(["glaucoma"]).run()
    assert "single" in app.error[0].value  # a cascade needs >= 2 tasks: the message suggests 'single'


def test_catalog_view_lists_references(app):
    goto(app, "Catalog")
    for region in REGION_NAMES:
        app.selectbox(key="region").set_value(region).run()
        assert not app.exception
        frame = app.table[0].value
        assert len(frame) >= 2 and frame.index.name == "network"
        notebook = ROOT / frame["notebook"].iloc[0]
        assert notebook.exists() and region in notebook.name


def test_experiment_refuses_bad_configurations(app):
    goto(app, "Experiment")
    app.selectbox(key="exp_family").set_value("single")
    app.button[0].click().run()
    assert not app.exception
    assert "single" in errors(app)
    assert "Choose a configuration" in app.info[0].value  # nothing started


def test_every_page_is_a_file_with_its_own_url():
    sys.path.insert(0, str(ROOT / "dashboard"))
    import views

    assert [p.title for p in views.PAGES] == VIEWS
    assert len({p.url_path for p in views.PAGES}) == len(views.PAGES)
    for p in views.PAGES:
        assert p.file.is_file() and (ROOT / "dashboard" / PAGES[p.title]) == p.file, p
    assert not (ROOT / "dashboard" / "pages").exists(), "a pages/ folder would switch Streamlit to its old navigation"


def test_a_link_reproduces_the_view():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"region": "chest", "source": "phantom", "seed": "7", "relatedness": "0.5"})
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="region").value == "chest"
    assert at.radio(key="source").value == "Generate a phantom"
    assert at.number_input(key="seed").value == 7 and at.slider(key="relatedness").value == 0.5
    # the sidebar is written back to the URL, so the address bar always holds a link to this view
    at.radio(key="source").set_value("Bundled sample").run()
    at.slider(key="case").set_value(5).run()
    params = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert params == {"region": "chest", "source": "bundled", "case": "5"}
    again = AppTest.from_file(APP, default_timeout=120)
    again.query_params.update(params)
    again.run()
    assert again.slider(key="case").value == 5 and again.selectbox(key="region").value == "chest"


def test_a_region_link_survives_page_changes_and_bad_values_fall_back(app):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"region": "nowhere", "source": "bundled", "case": "999", "size": "x"})
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="region").value == "brain" and at.slider(key="case").value == 0
    app.selectbox(key="region").set_value("eye").run()
    goto(app, "Catalog")
    assert app.selectbox(key="region").value == "eye", "the region is kept across pages"
    params = {k: v[0] if isinstance(v, list) else v for k, v in app.query_params.items()}
    assert params == {"region": "eye"}, "a page without a sample has only the region in its URL"


def test_generated_phantoms_use_held_out_seeds(app):
    from mtdl_kit.data.samples import demo_seed

    app.radio(key="source").set_value("Generate a phantom").run()
    app.number_input(key="seed").set_value(3).run()
    assert not app.exception
    latents = next(d.value for d in app.dataframe if "latent" in d.value.columns)
    expected = get_region("brain").sample(demo_seed(3), size=128)
    assert dict(zip(latents["latent"], latents["value"], strict=True)) == pytest.approx(expected.latents)


def test_the_toolbar_is_set_for_a_lecture():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] == "viewer"  # no Deploy button
