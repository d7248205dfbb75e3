"""The session Pareto figure, the catalog's notebook names, the zoo-model helpers, and that services stay UI-free."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mtdl_kit import REGION_NAMES, get_region
from mtdl_kit.evaluation import non_dominated
from mtdl_kit.services import (
    available_families,
    catalog_rows,
    notebook_path,
    pareto_figure,
    read_manifest_or_empty,
    region_notebook,
    resolve_model,
    session_tradeoff,
)
from mtdl_kit.services.training_report import AXIS_PAD, axis_range
from mtdl_kit.zoo import ZooEntry, zoo_key

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------ Pareto figure
@dataclass
class _Snap:
    state: str


@dataclass
class FakeRun:
    """What session_tradeoff reads of a LiveRun (no training needed)."""

    run_id: str
    metrics: dict[str, float]
    tasks: tuple[str, ...] = ("disc_cup", "cdr")
    region: str = "eye"
    state: str = "done"
    family: str = "parallel"
    weighting: str = "ew"

    def snapshot(self) -> _Snap:
        return _Snap(self.state)

    def primary_metrics(self) -> dict[str, float]:
        return dict(self.metrics)


RUNS = [
    FakeRun("a", {"disc_cup": 0.80, "cdr": 0.05}),
    FakeRun("b", {"disc_cup": 0.90, "cdr": 0.10}),
    FakeRun("c", {"disc_cup": 0.70, "cdr": 0.12}),  # worse than a on both
    FakeRun("d", {"cdr": 0.01}),  # no Dice (NaN: the worst), but the best MAE
    FakeRun("e", {"disc_cup": 0.99, "cdr": 0.00}, state="running"),  # not finished: not drawn
    FakeRun("f", {"tumour": 0.99}, tasks=("tumour", "grade"), region="brain"),  # another region
]


def test_session_tradeoff_marks_the_non_dominated_runs():
    t = session_tradeoff(RUNS, "eye")
    assert (t["x_task"], t["y_task"], t["x_metric"], t["y_metric"]) == ("disc_cup", "cdr", "dice", "mae")
    assert t["higher_is_better"] == (True, False)
    assert [r["run"] for r in t["runs"]] == ["a", "b", "c", "d"]
    points = [(r["x"], r["y"]) for r in t["runs"]]
    assert math.isnan(points[3][0])
    assert [r["pareto"] for r in t["runs"]] == non_dominated(points, (True, False)) == [True, True, False, True]


def test_pareto_figure_draws_exactly_the_non_dominated_runs():
    t = session_tradeoff(RUNS, "eye")
    fig = pareto_figure(t)
    drawn = {tr.text[0]: tr for tr in fig.data}
    assert set(drawn) == {"a", "b", "c", "d"}  # the finished eye runs, nothing else
    points = {r["run"]: (r["x"], r["y"]) for r in t["runs"]}
    keep = non_dominated(list(points.values()), t["higher_is_better"])
    front = {run for run, k in zip(points, keep, strict=True) if k}
    stars = {name for name, tr in drawn.items() if tr.marker.symbol == "star"}
    assert stars == front == {"a", "b", "d"}
    for name, tr in drawn.items():
        assert (tr.x[0], tr.y[0]) == pytest.approx(points[name], nan_ok=True)
        assert tr.marker.size == (14 if name in front else 9)
    assert fig.layout.xaxis.title.text == "disc_cup dice (higher is better)"
    assert fig.layout.yaxis.title.text == "cdr mae (lower is better)"


def test_pareto_axes_are_fixed_by_the_metric_domain_not_the_points():
    one = pareto_figure(session_tradeoff(RUNS[:1], "eye"))  # one run: plotly's autorange gave -0.5 ... 1.5
    every = pareto_figure(session_tradeoff(RUNS, "eye"))
    assert one.layout.xaxis.autorange is False and one.layout.yaxis.autorange is False
    dice = tuple(one.layout.xaxis.range)
    assert dice == pytest.approx((-AXIS_PAD, 1 + AXIS_PAD)) == tuple(every.layout.xaxis.range), "Dice: [0, 1]"
    # an error (MAE) has no upper bound: from 0 to the largest candidate point, every point inside
    largest = max(r["metrics"]["cdr"] for r in map(vars, RUNS[:4]))
    assert tuple(every.layout.yaxis.range) == pytest.approx((-AXIS_PAD * largest, largest * (1 + AXIS_PAD)))
    for fig in (one, every):
        for tr in fig.data:
            for value, (low, high) in ((tr.x[0], fig.layout.xaxis.range), (tr.y[0], fig.layout.yaxis.range)):
                assert math.isnan(value) or low < value < high
    # adding a run inside the domain leaves a bounded axis where it was
    more = pareto_figure(session_tradeoff([*RUNS, FakeRun("g", {"disc_cup": 0.2, "cdr": 0.02})], "eye"))
    assert tuple(more.layout.xaxis.range) == dice and tuple(more.layout.yaxis.range) == tuple(every.layout.yaxis.range)


@pytest.mark.parametrize(
    ("metric", "values", "expected"),
    [
        ("auc", [0.7], (0.0, 1.0)),
        ("dice/cup", [], (0.0, 1.0)),
        ("ece", [0.02, float("nan")], (0.0, 1.0)),
        ("brier", [0.2, 0.4], (0.0, 1.0)),
        ("brier", [1.4], (0.0, 1.4)),  # K > 2 classes: up to 2
        ("mae", [3.0, float("nan"), 12.0], (0.0, 12.0)),
        ("mre_mm", [float("nan")], (0.0, 1.0)),  # no finite point: a unit range, not an empty one
    ],
)
def test_axis_range_is_the_metric_domain(metric, values, expected):
    low, high = expected
    pad = AXIS_PAD * high
    assert axis_range(metric, values) == pytest.approx([low - pad, high + pad])


def test_session_tradeoff_needs_finished_runs_sharing_two_tasks():
    assert session_tradeoff([], "eye") is None
    assert session_tradeoff([RUNS[4]], "eye") is None  # running only
    assert session_tradeoff(RUNS, "chest") is None  # no run of that region
    one_shared = [
        FakeRun("x", {"disc_cup": 0.5}, tasks=("disc_cup", "glaucoma")),
        FakeRun("y", {}, tasks=("disc_cup", "cdr")),
    ]
    assert session_tradeoff(one_shared, "eye") is None


# ------------------------------------------------------------------------------------ catalog
def test_region_notebook_names_match_the_notebooks():
    assert region_notebook("brain") == "10_brain.ipynb"
    assert region_notebook("eye") == "11_eye.ipynb"
    assert region_notebook("other") == "17_other.ipynb"
    for name in REGION_NAMES:
        assert (ROOT / notebook_path(name)).exists(), notebook_path(name)
        assert notebook_path(name) == f"notebooks/{region_notebook(name)}"
    with pytest.raises(ValueError, match="allowed regions"):
        region_notebook("knee")


def test_region_notebook_left_the_regions_layer():
    import mtdl_kit.regions

    assert not hasattr(mtdl_kit.regions, "region_notebook")


def test_catalog_rows_name_the_region_notebook():
    region = get_region("eye")
    rows = catalog_rows(region)
    assert len(rows) == len(region.references) >= 2
    assert {r["notebook"] for r in rows} == {"notebooks/11_eye.ipynb"}
    assert set(rows[0]) == {"network", "family", "tasks", "citation", "notebook"}


# ------------------------------------------------------------------------------------ zoo models
def _entry(region, family, tasks):
    return ZooEntry(
        region, family, tuple(tasks), {}, 0, "0", {}, f"{zoo_key(region, family, tasks)}.pt", "0" * 64, 1, 1.0, "cpu"
    )


def test_available_families_and_labels_use_the_zoo_key():
    eye = get_region("eye").task_names
    man = {
        e.key: e
        for e in (_entry("eye", "hybrid", eye), _entry("eye", "parallel", eye), _entry("eye", "single", ["cdr"]))
    }
    assert available_families("eye", man) == ["parallel", "hybrid"]  # the families' order, not the manifest's
    assert available_families("brain", man) == []
    exact = resolve_model("eye", "parallel", list(eye), man)
    assert exact.label == "parallel" and not exact.baseline
    stand_in = resolve_model("eye", "hybrid", ["cdr"], man)
    assert stand_in.baseline and stand_in.key == "eye-single-cdr" and stand_in.label == "hybrid→eye-single-cdr"


def test_read_manifest_or_empty_never_raises(tmp_path):
    assert read_manifest_or_empty(tmp_path / "manifest.json") == {}
    (tmp_path / "manifest.json").write_text("{not json")
    assert read_manifest_or_empty(tmp_path / "manifest.json") == {}


# ------------------------------------------------------------------------------------ UI-free
def test_services_import_no_ui_and_no_torch():
    code = (
        "import sys, mtdl_kit.services; "
        "print(*[m in sys.modules for m in ('streamlit', 'ipywidgets', 'torch', 'monai')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False"] * 4


def test_no_library_module_imports_a_ui_toolkit():
    """No import of streamlit or ipywidgets anywhere in the library, function-local ones included.

    (`mtdl-kit dashboard` starts Streamlit as a subprocess; naming it in a string is fine.)
    """
    import ast

    offenders = []
    for p in (ROOT / "mtdl_kit").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(n.split(".")[0] in ("streamlit", "ipywidgets") for n in names):
                offenders.append(str(p.relative_to(ROOT)))
    assert offenders == []
