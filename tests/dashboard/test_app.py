"""Streamlit AppTest of the dashboard (server side, no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mtdl_kit import DISCLAIMER, REGION_NAMES

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def app():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_disclaimer_and_default_page(app):
    assert any(DISCLAIMER in w.value for w in app.warning)
    assert app.get("plotly_chart"), "the sample figure is shown"
    assert app.selectbox(key="region").value == "brain"


@pytest.mark.parametrize("region", REGION_NAMES)
def test_every_region_renders_bundled_and_generated(app, region):
    app.selectbox(key="region").set_value(region).run()
    assert not app.exception, app.exception
    app.slider(key="case").set_value(5).run()
    assert not app.exception
    app.radio(key="source").set_value("Generate a phantom").run()
    app.slider(key="relatedness").set_value(0.0).run()
    assert not app.exception, app.exception
    assert app.get("plotly_chart")


def test_nuisance_choice_changes_labels(app):
    app.selectbox(key="region").set_value("eye").run()
    app.radio(key="source").set_value("Generate a phantom").run()
    app.selectbox(key="nuisance").set_value("illumination").run()
    assert not app.exception
    latents = app.dataframe[-1].value
    assert "illumination" in set(latents["latent"])


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


def test_task_toggle_changes_the_model(app):
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
        assert len(app.dataframe[0].value) >= 2
