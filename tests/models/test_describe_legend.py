"""The wiring diagram's key names only what the drawing holds, and block labels fit inside their boxes."""

from __future__ import annotations

import pytest

from mtdl_kit.models import MULTI_TASK_FAMILIES, build_for_region
from mtdl_kit.models.describe import BOX_TEXT_PX, SHARED_COLOUR, _fit_label
from mtdl_kit.regions import REGION_NAMES


@pytest.mark.parametrize("family", MULTI_TASK_FAMILIES)
@pytest.mark.parametrize("region", ["brain", "eye"])
def test_legend_is_true_for_every_family(region, family):
    desc = build_for_region(region, family, width=4).describe()
    legend = desc.legend()
    shared = any(n.colour == SHARED_COLOUR and n.outline == SHARED_COLOUR for n in desc.nodes)
    assert ("blue = shared by all tasks" in legend) == shared
    in_lane = any(n.colour == SHARED_COLOUR and n.outline != SHARED_COLOUR for n in desc.nodes)
    assert ("coloured outline" in legend) == in_lane
    handover = any(e.kind == "handover" and not e.detached for e in desc.edges)
    assert ("dashed = hand-over" in legend) == handover
    for owner in {n.owner for n in desc.nodes if n.colour != SHARED_COLOUR}:
        assert f"= {owner}" in legend, (owner, legend)
    title = desc.figure().layout.title.text
    assert all(line in title for line in desc.legend_lines())


@pytest.mark.parametrize("region", REGION_NAMES)
def test_block_labels_fit_their_boxes(region):
    labels = {n.label for fam in MULTI_TASK_FAMILIES for n in build_for_region(region, fam, width=4).describe().nodes}
    for label in labels:
        text, size = _fit_label(label)
        lines = text.split("<br>")
        assert len(lines) <= 4 and size >= 7, label
        # a box is ~65 px wide at the default figure width; characters are ~0.55 em wide (an estimate)
        assert max(len(line) for line in lines) * 0.55 * size <= BOX_TEXT_PX or size == 7, (label, lines, size)
