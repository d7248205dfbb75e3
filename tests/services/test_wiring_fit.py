"""Wiring diagrams fitted to the dashboard's column at 1024 px: every label inside its box, widest networks too."""

from __future__ import annotations

import pytest

from mtdl_kit import REGION_NAMES, get_region
from mtdl_kit.services.architectures import (
    ABBREVIATIONS,
    BOLD_CHAR_EM,
    CHAR_EM,
    NARROWEST_COLUMN_PX,
    READABLE_FONT,
    FittedLabel,
    _covers_a_box,
    describe_family,
    fit_label,
    wiring_figure,
)

MULTI = ("parallel", "cascaded", "interacted", "hybrid")


def _widest() -> list[tuple[str, str]]:
    """The (region, family) pairs with the most blocks in a row, on all of the region's tasks."""
    spans = {}
    for region in REGION_NAMES:
        for family in MULTI:
            xs = [n.x for n in describe_family(region, family, get_region(region).task_names).nodes]
            spans[(region, family)] = max(xs) - min(xs)
    most = max(spans.values())
    return [pair for pair, span in spans.items() if span == most]


WIDEST = _widest()


def _scale(fig, column_px=NARROWEST_COLUMN_PX):
    layout = fig.layout
    plot_w = min(layout.width, column_px) - layout.margin.l - layout.margin.r
    plot_h = layout.height - layout.margin.t - layout.margin.b
    (x0, x1), (y0, y1) = layout.xaxis.range, layout.yaxis.range
    return plot_w / (x1 - x0), plot_h / (y1 - y0)


def _box_labels(description, fig, column_px=NARROWEST_COLUMN_PX) -> list[FittedLabel]:
    """Each node's annotation as drawn in ``fig`` at ``column_px``, measured with the same estimate."""
    sx, sy = _scale(fig, column_px)
    boxes = {s.name: s for s in fig.layout.shapes if s.type == "rect"}
    centres = {(n.x, n.y): n.name for n in description.nodes}
    out = []
    for ann in fig.layout.annotations:
        if not ann.showarrow and (ann.x, ann.y) in centres:
            b = boxes[centres[(ann.x, ann.y)]]
            out.append(
                FittedLabel(centres[(ann.x, ann.y)], ann.text, ann.font.size, ((b.x1 - b.x0) * sx, (b.y1 - b.y0) * sy))
            )
    return out


def test_the_widest_network_is_a_four_task_cascade():
    assert ("brain", "cascaded") in WIDEST


@pytest.mark.parametrize(("region", "family"), WIDEST)
def test_unfitted_labels_of_the_widest_network_overflow_at_1024(region, family):
    """The problem the fit solves (and proof that the measure below can fail)."""
    description = describe_family(region, family, get_region(region).task_names)
    labels = _box_labels(description, description.figure())
    assert any(not label.fits() for label in labels)


@pytest.mark.parametrize("family", MULTI)
@pytest.mark.parametrize("region", REGION_NAMES)
def test_every_label_fits_its_box_at_1024(region, family):
    description = describe_family(region, family, get_region(region).task_names)
    wiring = wiring_figure(description)
    fig = wiring.figure
    labels = _box_labels(description, fig)
    assert len(labels) == len(description.nodes) == len(wiring.labels)
    for label in labels:
        assert label.fits(), (label.name, label.text, label.size, label.box_px)
        assert label.size >= READABLE_FONT, (label.name, label.text, label.size)
    # one style in the whole diagram: the lane's task name is dropped from every label or from none
    tasks = set(description.tasks)
    lane = {n.name for n in description.nodes if set(n.label.split()) & tasks and set(n.label.split()) - tasks}
    assert len({bool(set(lab.text.replace("<br>", " ").split()) & tasks) for lab in labels if lab.name in lane}) <= 1
    # the task names at the end of the lanes stay inside the plot
    sx, _ = _scale(fig)
    x_end = fig.layout.xaxis.range[1]
    for ann in fig.layout.annotations:
        if ann.xanchor == "left" and ann.text.startswith("<b>"):
            name = ann.text.removeprefix("<b>").removesuffix("</b>")
            assert ann.x + BOLD_CHAR_EM * ann.font.size * len(name) / sx <= x_end, name
    # no arrow label lies over a box
    sy = _scale(fig)[1]
    boxes = [s for s in fig.layout.shapes if s.type == "rect"]
    centres = {(n.x, n.y) for n in description.nodes}
    for ann in fig.layout.annotations:
        if not ann.showarrow and (ann.x, ann.y) not in centres and ann.xanchor != "left" and ann.text != "<b>image</b>":
            assert not _covers_a_box(ann, boxes, sx, sy), ann.text
    # every abbreviation on the diagram is in its key; the title is no wider than the plot
    shown = " ".join(lab.text.replace("<br>", " ") for lab in labels).split()
    for word, short in ABBREVIATIONS.items():
        if short in shown:
            assert f"{short} = {word}" in wiring.key
    first_line = fig.layout.title.text.split("<br>")[0]
    assert CHAR_EM * fig.layout.title.font.size * len(first_line) <= NARROWEST_COLUMN_PX


def test_hovering_a_box_still_gives_its_full_name():
    description = describe_family("brain", "cascaded", get_region("brain").task_names)
    fig = wiring_figure(description).figure
    hover = " ".join(t for tr in fig.data for t in (tr.hovertext if isinstance(tr.hovertext, tuple) else ()))
    for node in description.nodes:
        assert node.label in hover


def test_fit_label_shortens_only_as_far_as_needed():
    assert fit_label("segmentation head tumour", (200, 60), ("tumour",)) == ("segmentation head tumour", 11)
    text, size = fit_label("segmentation head tumour", (60, 40), ("tumour",))
    assert text.replace("<br>", " ") in ("segmentation head", "seg head") and size >= READABLE_FONT
    text, size = fit_label("segmentation head tumour", (28, 40), ("tumour",))
    assert text == "seg<br>head" and size >= READABLE_FONT
    assert fit_label("cross-stitch", (60, 40))[0] == "cross-<br>stitch"  # a break after the hyphen
    assert fit_label("tumour enc 1", (200, 60), ("tumour",), stage=1)[0] == "enc 1"
    assert fit_label("cross-stitch", (200, 60), stage=5)[0] == "CS"  # the last form it has
