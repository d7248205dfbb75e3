"""mtdl_kit.inference: predictions, evaluation tables, figures; and the region-notebook exercise checks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from mtdl_kit import exercises
from mtdl_kit.evaluation import non_dominated
from mtdl_kit.inference import (
    FRAME_COLUMNS,
    SINGLE_LABEL,
    delta_m_summary,
    evaluate_models,
    joint_outputs_figure,
    mask_measurements,
    metrics_table,
    predict_sample,
    prediction_lines,
    quick_delta_m,
    relative_table,
    relative_to_single,
    resize_sample,
    tradeoff_figure,
)
from mtdl_kit.models import build_for_region
from mtdl_kit.regions import get_region

SIZE = 32


def tiny(region: str, family: str, tasks: str | None = None) -> torch.nn.Module:
    return build_for_region(region, family, tasks=tasks, width=4).eval()


@pytest.fixture(scope="module")
def eye_models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    models = {"parallel": tiny("eye", "parallel"), "hybrid": tiny("eye", "hybrid")}
    models.update({f"single:{t}": tiny("eye", "single", t) for t in get_region("eye").task_names})
    return models


@pytest.fixture(scope="module")
def eye_frame(eye_models: dict[str, torch.nn.Module]) -> pd.DataFrame:
    return evaluate_models(eye_models, "eye", n_cases=8, size=SIZE)


# ------------------------------------------------------------------------------------ predict
def test_predict_sample_kinds_shapes_and_mode() -> None:
    region = get_region("musculoskeletal")  # segmentation, 5 classes, regression and landmarks
    net = tiny("musculoskeletal", "parallel").train()
    s = region.sample(0, size=SIZE)
    pred = predict_sample(net, s)
    assert net.training, "the model's previous mode must be restored"
    assert set(pred) == set(region.task_names)
    assert pred["bones"].shape == (SIZE, SIZE) and pred["bones"].dtype == np.int64
    assert set(np.unique(pred["bones"])) <= {0, 1, 2}
    assert pred["kl_grade"].shape == (5,) and np.isclose(pred["kl_grade"].sum(), 1.0)
    assert np.all(pred["kl_grade"] >= 0)
    assert pred["jsw"].shape == (2,)
    assert pred["landmarks"].shape == (4, 2)
    assert np.all((pred["landmarks"] >= 0) & (pred["landmarks"] < SIZE))


def test_predict_sample_reconstruction_and_matches_forward() -> None:
    region = get_region("brain")
    net = tiny("brain", "hybrid")
    s = region.sample(1, size=SIZE)
    pred = predict_sample(net, s)
    assert pred["reconstruction"].shape == s.image.shape
    with torch.no_grad():
        out = net(torch.from_numpy(s.image)[None])
    np.testing.assert_allclose(pred["tumour_area"], out["tumour_area"][0].numpy(), rtol=1e-5)
    np.testing.assert_array_equal(pred["tumour"], out["tumour"][0].argmax(0).numpy())


def test_predict_sample_rejects_bad_input() -> None:
    net = tiny("eye", "parallel")
    with pytest.raises(ValueError, match="built for region 'eye'; the sample is from 'brain'"):
        predict_sample(net, get_region("brain").sample(0, size=SIZE))  # 3 channels like the eye, another region
    chest = get_region("chest").sample(0, size=SIZE)
    with pytest.raises(ValueError, match="channel"):
        predict_sample(net, replace(chest, region="eye"))  # 1 channel, the eye has 3
    with pytest.raises(ValueError, match="divisible"):
        predict_sample(net, get_region("eye").sample(0, size=40))
    with pytest.raises(ValueError, match="MultiTaskNet"):
        predict_sample(torch.nn.Linear(2, 2), get_region("eye").sample(0, size=SIZE))


def test_predict_sample_at_the_model_size() -> None:
    """``size``: run at the model's size, outputs back at the sample's size (the dashboard's path too)."""
    region = get_region("musculoskeletal")  # segmentation, regression and landmarks
    net = tiny("musculoskeletal", "parallel")
    big = region.sample(2, size=2 * SIZE)
    pred = predict_sample(net, big, size=SIZE)
    small = predict_sample(net, resize_sample(big, SIZE))
    assert pred["bones"].shape == (2 * SIZE, 2 * SIZE) and pred["bones"].dtype == np.int64
    np.testing.assert_array_equal(pred["bones"][::2, ::2], small["bones"])
    np.testing.assert_allclose(pred["jsw"], small["jsw"])
    np.testing.assert_allclose(pred["landmarks"], (small["landmarks"] + 0.5) * 2 - 0.5, rtol=1e-6)
    same = region.sample(2, size=SIZE)
    for task, value in predict_sample(net, same, size=SIZE).items():
        np.testing.assert_array_equal(value, predict_sample(net, same)[task])
    with pytest.raises(ValueError, match="size"):
        predict_sample(net, same, size=0)


# ----------------------------------------------------------------------------------- evaluate
def test_evaluate_models_frame(eye_models: dict[str, torch.nn.Module], eye_frame: pd.DataFrame) -> None:
    assert list(eye_frame.columns) == list(FRAME_COLUMNS)
    assert set(eye_frame["model"]) == set(eye_models)
    assert set(eye_frame.loc[eye_frame["model"] == "parallel", "task"]) == {"disc_cup", "glaucoma", "cdr"}
    assert set(eye_frame.loc[eye_frame["model"] == "single:cdr", "task"]) == {"cdr"}
    assert dict(eye_frame.groupby("model")["family"].first())["single:glaucoma"] == "single"
    primary = eye_frame[eye_frame["primary"]]
    assert primary.groupby(["model", "task"]).size().eq(1).all(), "one primary metric per model and task"
    assert set(primary["metric"]) == {"dice", "auc", "mae"}
    dice = primary.loc[primary["metric"] == "dice", "value"]
    assert dice.between(0, 1).all()
    assert not eye_frame["metric"].isin(["n_cases", "hd95_undefined"]).any()
    assert not primary.loc[primary["metric"] == "mae", "higher_is_better"].any()


def test_evaluate_models_is_deterministic_and_uses_the_zoo_test_cases(eye_models: dict) -> None:
    one = {"parallel": eye_models["parallel"]}
    a = evaluate_models(one, "eye", n_cases=4, size=SIZE)
    b = evaluate_models(one, get_region("eye"), n_cases=4, size=SIZE)
    pd.testing.assert_frame_equal(a, b)
    c = evaluate_models(one, "eye", n_cases=4, size=SIZE, seed=4)
    assert not np.allclose(a["value"].to_numpy(), c["value"].to_numpy(), equal_nan=True)


def test_evaluate_models_fails_fast(eye_models: dict) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        evaluate_models({}, "eye")
    with pytest.raises(ValueError, match="does not have"):
        evaluate_models({"brain": tiny("brain", "parallel")}, "eye", n_cases=4, size=SIZE)
    with pytest.raises(ValueError, match="n_cases"):
        evaluate_models(eye_models, "eye", n_cases=1, size=SIZE)
    with pytest.raises(ValueError, match="divisible by 16"):
        evaluate_models(eye_models, "eye", n_cases=4, size=40)
    with pytest.raises(ValueError, match="Unknown region"):
        evaluate_models(eye_models, "liver", n_cases=4, size=SIZE)


def test_a_reworded_task_description_is_accepted_but_other_outputs_are_refused() -> None:
    """Checkpoints store each TaskSpec; rewording a description must not orphan the zoo, a new output must."""
    from dataclasses import replace

    model = tiny("eye", "parallel")
    spec = model.tasks[1]
    model.tasks = (model.tasks[0], replace(spec, description="reworded"), *model.tasks[2:])
    evaluate_models({"parallel": model}, "eye", n_cases=4, size=SIZE)  # accepted
    model.tasks = (model.tasks[0], replace(spec, class_names=("a", "b")), *model.tasks[2:])
    with pytest.raises(ValueError, match="differs from region"):
        evaluate_models({"parallel": model}, "eye", n_cases=4, size=SIZE)


# ----------------------------------------------------------------------------- table helpers
def hand_frame() -> pd.DataFrame:
    """Two tasks: seg dice (higher better) and reg mae (lower better); one multi-task model."""
    rows = [
        ("mtl", "parallel", "seg", "dice", 0.88, True, True),
        ("mtl", "parallel", "seg", "hd95_mm", 3.0, False, False),
        ("mtl", "parallel", "reg", "mae", 0.5, True, False),
        ("single:seg", "single", "seg", "dice", 0.80, True, True),
        ("single:reg", "single", "reg", "mae", 0.4, True, False),
    ]
    return pd.DataFrame(rows, columns=list(FRAME_COLUMNS))


def test_relative_to_single_and_quick_delta_m_by_hand() -> None:
    frame = hand_frame()
    rel = relative_to_single(frame).set_index("task")
    assert rel.loc["seg", "relative_pct"] == pytest.approx(10.0)  # (0.88 - 0.80) / 0.80
    assert rel.loc["reg", "relative_pct"] == pytest.approx(-25.0)  # lower is better: -(0.5 - 0.4) / 0.4
    assert quick_delta_m(frame)["mtl"] == pytest.approx(-7.5)
    assert exercises.reference_delta_m({"dice": 0.88, "mae": 0.5}, {"dice": 0.80, "mae": 0.4}) == pytest.approx(-7.5)
    wide = relative_table(frame)
    assert list(wide.columns) == ["seg", "reg", "Δm (one seed)"]
    assert wide.loc["mtl", "Δm (one seed)"] == pytest.approx(-7.5)


def test_relative_to_single_needs_baselines() -> None:
    frame = hand_frame()
    with pytest.raises(ValueError, match="single-task baseline"):
        relative_to_single(frame[frame["family"] != "single"])
    with pytest.raises(ValueError, match="lacks the columns"):
        relative_to_single(frame.drop(columns=["primary"]))


def test_metrics_table_merges_baselines(eye_frame: pd.DataFrame) -> None:
    table = metrics_table(eye_frame)
    assert list(table.index) == ["parallel", "hybrid", SINGLE_LABEL]
    assert list(table.columns) == ["disc_cup dice", "glaucoma auc", "cdr mae"]
    single = eye_frame[(eye_frame["model"] == "single:cdr") & (eye_frame["metric"] == "mae")]["value"].item()
    assert table.loc[SINGLE_LABEL, "cdr mae"] == pytest.approx(single)


def test_pareto_front() -> None:
    pts = [(1.0, 5.0), (2.0, 4.0), (1.5, 3.0), (3.0, 1.0)]
    assert non_dominated(pts, (True, True)) == [True, True, False, True]  # c is dominated by b
    # lower-is-better y: d has the highest x and the lowest y, so it dominates every other point
    assert non_dominated(pts, (True, False)) == [False, False, False, True]
    assert non_dominated([(float("nan"), 1.0), (1.0, 1.0)], (True, True)) == [False, True]


def test_tradeoff_figure_draws_the_front_of_finite_points(eye_frame: pd.DataFrame) -> None:
    fig = tradeoff_figure(eye_frame, region="eye", x_task="disc_cup", y_task="glaucoma")
    points = [(t.x[0], t.y[0]) for t in fig.data if t.name != "Pareto front"]
    finite = [p for p in points if np.isfinite(p[0]) and np.isfinite(p[1])]
    expected = sorted((p for p, keep in zip(finite, non_dominated(finite, (True, True)), strict=True) if keep))
    fronts = [t for t in fig.data if t.name == "Pareto front"]
    if len(expected) > 1:
        assert sorted(zip(fronts[0].x, fronts[0].y, strict=True)) == expected
    else:
        assert not fronts


# ------------------------------------------------------------------------------------- figures
def test_tradeoff_figure(eye_frame: pd.DataFrame) -> None:
    fig = tradeoff_figure(eye_frame, region="eye")
    names = [t.name for t in fig.data]
    assert {"parallel", "hybrid", SINGLE_LABEL} <= set(names)
    assert fig.layout.xaxis.title.text.startswith("disc_cup dice")
    assert fig.layout.yaxis.title.text.startswith("glaucoma auc")
    fig2 = tradeoff_figure(eye_frame, x_task="cdr", y_task="disc_cup")
    assert fig2.layout.xaxis.autorange == "reversed", "MAE: lower is better, so the axis is reversed"
    single = next(t for t in fig2.data if t.name == SINGLE_LABEL)
    base = eye_frame[(eye_frame["model"] == "single:cdr") & (eye_frame["metric"] == "mae")]["value"].item()
    assert single.x[0] == pytest.approx(base)
    with pytest.raises(ValueError, match="not in the frame"):
        tradeoff_figure(eye_frame, x_task="tumour")
    with pytest.raises(ValueError, match="must differ"):
        tradeoff_figure(eye_frame, x_task="cdr", y_task="cdr")


def test_joint_outputs_figure(eye_models: dict) -> None:
    region = get_region("eye")
    s = region.sample(2, size=SIZE)
    preds = {name: predict_sample(m, s) for name, m in eye_models.items()}
    fig = joint_outputs_figure(region, s, preds)
    images = [t for t in fig.data if t.type == "image"]
    assert len(images) == len(preds)
    text = " ".join(a.text for a in fig.layout.annotations)
    assert "truth" in text and "P(glaucoma suspect)" in text and "vertical CDR" in text
    assert "no disc_cup output" in text  # the single-task glaucoma model draws the truth only
    with pytest.raises(ValueError, match="not 'brain'"):
        joint_outputs_figure("brain", s, preds)
    with pytest.raises(ValueError, match="empty"):
        joint_outputs_figure(region, s, {})


def test_prediction_lines_by_hand() -> None:
    region = get_region("eye")
    s = region.sample(0, size=SIZE)
    truth_label = region.task("glaucoma").class_names[int(s.targets["glaucoma"])]
    lines = prediction_lines(region, s, {"glaucoma": np.array([0.2, 0.8]), "cdr": np.array([0.55])})
    assert lines[0] == "<b>glaucoma</b>: P(glaucoma suspect) 0.80"
    assert lines[1] == f"→ glaucoma suspect (truth {truth_label})"
    assert lines[2].startswith("<b>vertical CDR</b>: 0.55 (truth ")
    with pytest.raises(ValueError, match="no task"):
        prediction_lines(region, s, {"grade": np.array([0.5, 0.5])})


# ------------------------------------------------------------------------ measurement, summary
def test_mask_measurements_truth_column(eye_models: dict) -> None:
    region = get_region("eye")
    table = mask_measurements(eye_models, region, "cdr", n_cases=3, size=SIZE)
    assert set(table["model"]) == {"parallel", "hybrid", "single:disc_cup"}  # models with the segmentation
    from mtdl_kit.data import PhantomDataset

    s = PhantomDataset("eye", 3, split="test", size=SIZE).sample(2)
    want = region.measure(s.targets["disc_cup"], s.spacing_mm)["cdr"]
    assert table[table["case"] == 2]["truth"].eq(want).all()
    assert np.allclose(table["abs_error"], (table["predicted"] - table["truth"]).abs())
    with pytest.raises(ValueError, match="returns no"):
        mask_measurements(eye_models, region, "ctr", n_cases=1, size=SIZE)
    with pytest.raises(ValueError, match="segmentation"):
        mask_measurements({"g": eye_models["single:glaucoma"]}, region, "cdr", n_cases=1, size=SIZE)


def families_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region": ["eye"] * 3,
            "family": ["parallel", "hybrid", "cascaded"],
            "delta_m": [1.0, 4.0, -3.0],
            "ci_low": [-1.0, 2.5, -5.0],
            "ci_high": [3.0, 5.5, -1.0],
            "significant": [False, True, True],
            "n_seeds": [3, 3, 3],
            "params": [1000, 1100, 1200],
            "infer_ms": [1.0, 1.5, 2.0],
        }
    )


def test_delta_m_summary_reads_the_table() -> None:
    text = delta_m_summary(families_table())
    lines = text.splitlines()
    assert lines[0].startswith("- **hybrid**: Δm +4.0 % [+2.5, +5.5] over 3 seeds — better")
    assert "no detectable difference" in lines[1] and "**parallel**" in lines[1]
    assert "worse" in lines[2] and "**cascaded**" in lines[2]
    assert "negative transfer" not in lines[2].replace("not negative transfer", "")
    assert "shares no layers" in lines[2]
    assert "Better than the single-task baselines: hybrid." in lines
    assert lines[-1] == "Highest Δm: **hybrid** (+4.0 %)."
    assert "The intervals of **hybrid** and **parallel** overlap: these seeds do not rank them." in lines


def test_delta_m_summary_never_calls_a_worse_family_negative_transfer() -> None:
    """A shared family that is worse is called worse: the families table has no control."""
    table = families_table().assign(family=["parallel", "hybrid", "interacted"])
    worse = next(line for line in delta_m_summary(table).splitlines() if "**interacted**" in line)
    assert "worse" in worse and "negative transfer" not in worse and "no control" in worse
    apart = families_table().assign(ci_low=[-1.0, 3.5, -5.0])  # hybrid's interval now lies above parallel's
    assert "overlap" not in delta_m_summary(apart)
    with pytest.raises(ValueError, match="columns"):
        delta_m_summary(families_table().drop(columns=["ci_low"]))


# ---------------------------------------------------------------------------- exercise checks
def test_check_region_measurement_accepts_and_rejects(capsys: pytest.CaptureFixture[str]) -> None:
    def fraction(mask: np.ndarray, spacing_mm: float) -> float:
        core = np.count_nonzero((mask == 1) | (mask == 3))
        return np.count_nonzero(mask == 1) / core if core else 0.0

    exercises.check_region_measurement(fraction, region="brain", key="necrotic_share", n_cases=3)
    assert "✅" in capsys.readouterr().out
    with pytest.raises(exercises.ExerciseError, match="tumour-core pixels"):
        exercises.check_region_measurement(  # a share of the whole tumour, oedema included: the mistake
            lambda m, s: np.count_nonzero(m == 1) / max(np.count_nonzero(m >= 1), 1),
            region="brain",
            key="necrotic_share",
            n_cases=3,
        )
    with pytest.raises(ValueError, match="returns no"):
        exercises.check_region_measurement(fraction, region="brain", key="cdr", n_cases=1)


def test_check_best_family(capsys: pytest.CaptureFixture[str]) -> None:
    table = families_table()
    assert exercises.check_best_family("hybrid", table) is True
    out = capsys.readouterr().out
    assert "✅" in out and "overlap" in out  # hybrid [2.5, 5.5] and parallel [-1, 3] overlap
    clear = table.assign(ci_high=[2.0, 5.5, -1.0])
    assert exercises.check_best_family("hybrid", clear) is True
    assert "clear winner" in capsys.readouterr().out
    assert exercises.check_best_family("parallel", table) is False
    with pytest.raises(exercises.ExerciseError):
        exercises.check_best_family("single", table)
    with pytest.raises(ValueError, match="several regions"):
        exercises.check_best_family("hybrid", pd.concat([table, table.assign(region="brain")]))


def test_check_quick_delta_m() -> None:
    frame = hand_frame()
    exercises.check_quick_delta_m({"mtl": -7.5}, frame)
    with pytest.raises(exercises.ExerciseError, match="percentage"):
        exercises.check_quick_delta_m({"mtl": -0.075}, frame)
    with pytest.raises(exercises.ExerciseError, match="No Δm"):
        exercises.check_quick_delta_m({"other": 1.0}, frame)
