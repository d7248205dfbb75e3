"""describe(): text summary and a plotly diagram with one box per block."""

from __future__ import annotations

import pytest
from model_test_utils import WIDTH

from mtdl_kit.models import FAMILIES, build_model
from mtdl_kit.models.describe import SHARED_COLOUR, TASK_COLOURS
from mtdl_kit.regions import get_region


@pytest.mark.parametrize("family", FAMILIES)
def test_one_node_per_block(family):
    region = get_region("musculoskeletal")
    tasks = region.tasks[:1] if family == "single" else region.tasks
    model = build_model(family, tasks, region.in_channels, width=WIDTH)
    desc = model.describe()
    assert [n.name for n in desc.nodes] == [b.name for b in model.blocks]
    assert len({n.name for n in desc.nodes}) == len(desc.nodes)
    for n in desc.nodes:
        model.get_submodule(n.name)  # each node is a real module
    assert sum(n.params for n in desc.nodes) == sum(p.numel() for p in model.parameters())
    assert set(desc.outputs) == set(model.task_names)
    fig = desc.figure()
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == len(desc.nodes)
    assert [s.name for s in rects] == [n.name for n in desc.nodes]
    assert family in desc.text and f"{desc.parameter_count['total']:,}" in desc.text


def test_colours_shared_vs_task():
    eye = get_region("eye")
    desc = build_model("parallel", eye.tasks, 3, width=WIDTH).describe()
    shared = [n for n in desc.nodes if n.shared]
    task = [n for n in desc.nodes if not n.shared]
    assert shared and all(n.colour == SHARED_COLOUR for n in shared)
    assert {n.colour for n in task} == set(TASK_COLOURS[: len(eye.tasks)])
    # interacted: shared column stages keep their task outline
    desc = build_model("interacted", eye.tasks, 3, width=WIDTH).describe()
    cols = [n for n in desc.nodes if n.shared and n.lane]
    assert cols and all(n.colour == SHARED_COLOUR and n.outline in TASK_COLOURS for n in cols)


def test_handover_edges():
    eye = get_region("eye")
    for family in ("cascaded", "hybrid"):
        desc = build_model(family, eye.tasks, 3, width=WIDTH).describe()
        hand = [e for e in desc.edges if e.kind == "handover"]
        assert {e.source for e in hand} == {"heads.disc_cup"}
        assert len(hand) == 2 and not any(e.detached for e in hand)
        assert "hand-over" in desc.text
    desc = build_model("parallel", eye.tasks, 3, width=WIDTH).describe()
    assert not [e for e in desc.edges if e.kind == "handover"]
    assert {e.source for e in desc.edges} <= {n.name for n in desc.nodes} | {"input"}
