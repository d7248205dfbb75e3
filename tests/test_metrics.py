"""Per-task metrics and per-case records: hand-computed values on tiny tensors (MONAI-style cases)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, Dataset

from mtdl_kit.data import PhantomDataset
from mtdl_kit.evaluation import Records, TaskRecords, collect_predictions, compute_metrics
from mtdl_kit.metrics import (
    COUNT_KEYS,
    METRICS,
    brier_score,
    expected_calibration_error,
    higher_is_better,
    is_ordinal,
    kind_metrics,
    primary_metric,
    quadratic_weighted_kappa,
    roc_auc,
)
from mtdl_kit.regions import get_region
from mtdl_kit.regions.base import TASK_KINDS, TaskSpec

SEG = TaskSpec("seg", "segmentation", 3, "toy", class_names=("bg", "a", "b"))
BIN = TaskSpec("cls", "classification", 2, "toy")
TRI = TaskSpec("tri", "classification", 3, "toy")
REG = TaskSpec("reg", "regression", 2, "toy", output_names=("x", "y"), units="mm")
LMK = TaskSpec("lmk", "landmarks", 2, "toy", output_names=("p", "q"))
REC = TaskSpec("rec", "reconstruction", 1, "toy")


def _cls_records(task: TaskSpec, probs: list[list[float]], labels: list[int]) -> Records:
    n = len(labels)
    values = {"probs": np.asarray(probs, dtype=np.float64), "labels": np.asarray(labels)}
    return Records(tuple(str(i) for i in range(n)), {task.name: TaskRecords(task, np.arange(n), values)})


def _binary(p1: list[float]) -> list[list[float]]:
    return [[1.0 - p, p] for p in p1]


# --------------------------------------------------------------------------------------------------
# classification: hand-computed values
# --------------------------------------------------------------------------------------------------

# p1 = [0.85, 0.35, 0.65, 0.25], y = [1, 1, 0, 0]
# AUC: positive/negative pairs (0.85>0.65, 0.85>0.25, 0.35<0.65, 0.35>0.25) = 3/4.
# arg-max predictions [1, 0, 1, 0]: accuracy 2/4, sensitivity 1/2, specificity 1/2, balanced 1/2.
# Brier: (0.15^2 + 0.65^2 + 0.65^2 + 0.25^2) / 4 = 0.93 / 4.
# ECE: confidences [0.85, 0.65, 0.65, 0.75], correct [1, 0, 0, 1]; bins (0.8,0.9]: |0.85-1|,
#      (0.6,0.7]: 2 x |0.65-0|, (0.7,0.8]: |0.75-1| -> (0.15 + 1.3 + 0.25) / 4 = 0.425.
BINARY_CASE = (
    BIN,
    _binary([0.85, 0.35, 0.65, 0.25]),
    [1, 1, 0, 0],
    {
        "auc": 0.75,
        "accuracy": 0.5,
        "balanced_accuracy": 0.5,
        "sensitivity": 0.5,
        "specificity": 0.5,
        "brier": 0.2325,
        "ece": 0.425,
        "n_cases": 4,
    },
)
# Three classes. AUC one-vs-rest: class 0 -> 1, class 1 -> 1, class 2 -> (1 + 0.5 tie + 0) / 3 = 0.5;
# macro = 2.5/3. Predictions [0, 1, 1, 2]: accuracy 2/4; recalls (1/2, 1, 0) -> balanced 1/2.
# Brier (sum over classes): (0.14 + 0.26 + 0.78 + 0.74) / 4 = 0.48.
# ECE: confidences [0.7, 0.6, 0.5, 0.4] in separate bins, correct [1, 1, 0, 0] -> (0.3+0.4+0.5+0.4)/4 = 0.4.
MULTI_CASE = (
    TRI,
    [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4]],
    [0, 1, 2, 0],
    {"auc": 2.5 / 3, "accuracy": 0.5, "balanced_accuracy": 0.5, "brier": 0.48, "ece": 0.4, "n_cases": 4},
)


@pytest.mark.parametrize("task, probs, labels, expected", [BINARY_CASE, MULTI_CASE], ids=["binary", "three-class"])
def test_classification_metrics_match_hand_computation(task, probs, labels, expected):
    got = compute_metrics(task, _cls_records(task, probs, labels))
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-6), name


def test_sensitivity_and_specificity_only_for_binary():
    got = compute_metrics(TRI, _cls_records(TRI, *MULTI_CASE[1:3]))
    assert "sensitivity" not in got and "specificity" not in got


@settings(max_examples=150, deadline=None)
@given(
    n_classes=st.integers(2, 5),
    cases=st.lists(st.tuples(st.integers(0, 4), st.lists(st.integers(0, 6), min_size=5, max_size=5)), min_size=1),
)
def test_auc_is_monais_value_with_ties_and_missing_classes(n_classes, cases):
    """The vectorised AUC equals ``monai.metrics.compute_roc_auc`` (scores on a coarse grid: many ties)."""
    import warnings

    from monai.metrics import compute_roc_auc

    labels = np.array([c[0] % n_classes for c in cases])
    scores = np.array([c[1][:n_classes] for c in cases], dtype=np.float64) / 6.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if n_classes == 2:
            expected = float(compute_roc_auc(torch.from_numpy(scores[:, 1].copy()), torch.from_numpy(labels)))
        else:
            onehot = torch.from_numpy(np.eye(n_classes)[labels])
            expected = float(compute_roc_auc(torch.from_numpy(scores), onehot, average="macro"))
    got = roc_auc(scores, labels)
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected, abs=1e-12)


def test_auc_with_a_single_class_is_nan_not_an_error():
    assert math.isnan(roc_auc(torch.tensor(_binary([0.2, 0.9])), torch.tensor([1, 1])))


@pytest.mark.parametrize(
    "p1, labels, expected",
    [
        ([0.8] * 10, [1] * 8 + [0] * 2, 0.0),  # confidence 0.8, accuracy 0.8: perfectly calibrated
        ([0.3] * 10, [0] * 7 + [1] * 3, 0.0),  # confidence 0.7 for class 0, right 7 times in 10
        ([0.95] * 10, [0] * 10, 0.95),  # confident and always wrong
        ([0.95] * 5 + [0.55] * 5, [1] * 5 + [0] * 5, 0.5 * 0.05 + 0.5 * 0.55),  # two bins
    ],
    ids=["calibrated", "calibrated-class0", "overconfident", "two-bins"],
)
def test_expected_calibration_error(p1, labels, expected):
    probs, y = torch.tensor(_binary(p1)), torch.tensor(labels)
    assert expected_calibration_error(probs, y) == pytest.approx(expected, abs=1e-6)


def test_brier_score_extremes():
    y = torch.tensor([0, 1, 1])
    assert brier_score(F.one_hot(y, 2).double(), y) == 0.0
    assert brier_score(F.one_hot(1 - y, 2).double(), y) == 1.0
    y3 = torch.tensor([0, 2])
    assert brier_score(F.one_hot((y3 + 1) % 3, 3).double(), y3) == 2.0


def test_probability_inputs_are_checked():
    with pytest.raises(ValueError, match="labels must be class indices"):
        roc_auc(torch.tensor(_binary([0.2, 0.9])), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r"probs must have shape \(N, K\)"):
        brier_score(torch.tensor([0.2, 0.9]), torch.tensor([0, 1]))


# --------------------------------------------------------------------------------------------------
# ordinal classification: quadratic weighted kappa
# --------------------------------------------------------------------------------------------------

# K = 3, truth [0, 0, 1, 1, 2, 2], prediction [0, 1, 1, 2, 2, 2].
# Observed table O (rows truth, columns prediction): [[1, 1, 0], [0, 1, 1], [0, 0, 2]]; row sums
# (2, 2, 2), column sums (1, 2, 3), N = 6, so every row of E = rows x columns / N is (1/3, 2/3, 1).
# Weights (i - j)^2 / 4: [[0, 1/4, 1], [1/4, 0, 1/4], [1, 1/4, 0]].
# sum w O = 1/4 + 1/4 = 1/2; sum w E = (1/6 + 1) + (1/12 + 1/4) + (1/3 + 1/6) = 2 -> kappa = 1 - 1/4.
KAPPA_HAND = ([0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 2, 2], 3, 0.75)
# K = 5, truth [0, 1, 2, 3, 4]; one miss each, both with accuracy 4/5:
# near miss, grade 4 called 3: sum w O = 1/16; column sums (1, 1, 1, 2, 0), and sum_i (i - j)^2 over
#   the five rows is (30, 15, 10, 15, 30) for j = 0..4, so sum w E = (30 + 15 + 10 + 2 * 15) / (16 * 5)
#   = 17/16 -> kappa = 1 - 1/17 = 16/17;
# far miss, grade 4 called 0: sum w O = 16/16; column sums (2, 1, 1, 1, 0): sum w E = (60 + 15 + 10 + 15)
#   / 80 = 5/4 -> kappa = 1 - 4/5 = 1/5.
KAPPA_NEAR = ([0, 1, 2, 3, 4], [0, 1, 2, 3, 3], 5, 16 / 17)
KAPPA_FAR = ([0, 1, 2, 3, 4], [0, 1, 2, 3, 0], 5, 0.2)
# K = 5 with classes 2 and 3 absent: the weights use the class indices, not the ranks of the classes
# present. Truth [0, 1, 4], prediction [0, 4, 4]: sum w O = w_14 = 9/16; row sums 1 at 0, 1, 4,
# column sums 1 at 0 and 2 at 4, so sum w E = (2 * 16/16 + (1/16 + 2 * 9/16) + 16/16) / 3 = 67/48
# -> kappa = 1 - 27/67 = 40/67 (on the ranks 0, 1, 2 it would be 0.8).
KAPPA_ABSENT = ([0, 1, 4], [0, 4, 4], 5, 40 / 67)


@pytest.mark.parametrize(
    "a, b, k, expected",
    [KAPPA_HAND, KAPPA_NEAR, KAPPA_FAR, KAPPA_ABSENT],
    ids=["three", "near", "far", "absent-classes"],
)
def test_quadratic_weighted_kappa_matches_hand_computation(a, b, k, expected):
    assert quadratic_weighted_kappa(np.array(a), np.array(b), k) == pytest.approx(expected, abs=1e-12)
    assert quadratic_weighted_kappa(torch.tensor(a), torch.tensor(b), k) == pytest.approx(expected, abs=1e-12)


def test_quadratic_weighted_kappa_undefined_and_bad_inputs():
    assert math.isnan(quadratic_weighted_kappa([], [], 3))
    assert math.isnan(quadratic_weighted_kappa([1, 1, 1], [1, 1, 1], 3))  # one class for both: 0 / 0
    with pytest.raises(ValueError, match="class indices"):
        quadratic_weighted_kappa([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="same length"):
        quadratic_weighted_kappa([0, 1], [0, 1, 2], 3)


_RATINGS = st.integers(min_value=2, max_value=6).flatmap(
    lambda k: st.tuples(
        st.just(k),
        st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=40),
    )
)


@settings(max_examples=200, deadline=None)
@given(_RATINGS)
def test_quadratic_weighted_kappa_properties(ratings):
    """Symmetric in the raters, unchanged by reversing the scale, at most 1, and 1 for perfect agreement."""
    k, pairs = ratings
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    kappa = quadratic_weighted_kappa(a, b, k)
    swapped = quadratic_weighted_kappa(b, a, k)
    reversed_scale = quadratic_weighted_kappa(k - 1 - a, k - 1 - b, k)
    if math.isnan(kappa):
        assert math.isnan(swapped) and math.isnan(reversed_scale)
        assert len(set(a.tolist())) == 1 and set(a.tolist()) == set(b.tolist())
    else:
        assert swapped == pytest.approx(kappa, abs=1e-9)
        assert reversed_scale == pytest.approx(kappa, abs=1e-9)
        assert kappa <= 1.0 + 1e-12
    self_agreement = quadratic_weighted_kappa(a, a, k)
    if len(set(a.tolist())) > 1:
        assert self_agreement == pytest.approx(1.0, abs=1e-12)
    else:
        assert math.isnan(self_agreement)


def test_ordinal_tasks_are_the_declared_grades_whatever_their_description():
    jsn = get_region("musculoskeletal").task("kl_grade")
    nuclear = get_region("pathology").task("grade")
    assert is_ordinal(jsn) and is_ordinal(nuclear)
    assert is_ordinal(replace(jsn, description="reworded"))  # a stored model's copy of the task
    assert not is_ordinal(replace(jsn, class_names=("a", "b", "c", "d", "e")))  # another task
    assert not is_ordinal(TRI) and not is_ordinal(BIN)
    assert not is_ordinal(get_region("brain").task("grade"))  # binary LGG / HGG
    assert not is_ordinal(get_region("musculoskeletal").task("jsw"))


def test_compute_metrics_reports_kappa_for_an_ordinal_grade_only(tmp_path):
    jsn = get_region("musculoskeletal").task("kl_grade")
    truth, near = KAPPA_NEAR[0], KAPPA_NEAR[1]
    probs = np.full((5, 5), 0.05)
    probs[np.arange(5), near] = 0.8  # arg-max = the near-miss prediction
    records = _cls_records(jsn, probs.tolist(), truth)
    got = compute_metrics(jsn, records)
    assert got["kappa_quadratic"] == pytest.approx(16 / 17)
    assert got["accuracy"] == pytest.approx(0.8)
    assert higher_is_better("kappa_quadratic") and "kappa_quadratic" in kind_metrics("classification")
    back = Records.load(records.save(tmp_path / "records.npz"))  # the saved spec is still ordinal
    assert compute_metrics("kl_grade", back)["kappa_quadratic"] == pytest.approx(16 / 17)
    # a resample of case 4 twice (grade 4 called 3): every disagreement is the chance one -> kappa 0
    assert compute_metrics("kl_grade", records, indices=[4, 4])["kappa_quadratic"] == pytest.approx(0.0)
    # case 0 twice: one and the same class in both ratings -> undefined
    assert math.isnan(compute_metrics("kl_grade", records, indices=[0, 0])["kappa_quadratic"])
    assert "kappa_quadratic" not in compute_metrics(TRI, _cls_records(TRI, *MULTI_CASE[1:3]))


# --------------------------------------------------------------------------------------------------
# segmentation, regression, landmarks, reconstruction through collect_predictions
# --------------------------------------------------------------------------------------------------

H = W = 32


def _seg_logits(labels: torch.Tensor, k: int = 3) -> torch.Tensor:
    return F.one_hot(labels, k).permute(0, 3, 1, 2).float() * 10.0


def _hand_batch() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Three cases with hand-computable per-case metrics; returns (batch, model outputs)."""
    truth = torch.zeros(3, H, W, dtype=torch.long)
    pred = torch.zeros(3, H, W, dtype=torch.long)
    # case 0: class a one pixel at (10, 10), predicted at (10, 13): Dice 0, HD95 3 px; class b empty in both.
    truth[0, 10, 10], pred[0, 10, 13] = 1, 1
    # case 1: class a 2x2 block, prediction shifted one column: overlap 2 -> Dice 2*2/8; each directed
    #         distance set is [0, 0, 1, 1] px -> 95th percentile 1 px. class b only in the truth.
    truth[1, 4:6, 4:6], pred[1, 4:6, 5:7] = 1, 1
    truth[1, 20, 20] = 2
    # case 2: class a perfect; class b only in the prediction.
    truth[2, 4:6, 4:6], pred[2, 4:6, 4:6] = 1, 1
    pred[2, 25, 25] = 2
    heat = torch.zeros(3, 2, H, W)
    heat[:, 0, 3, 4] = 5.0  # point p predicted at (3, 4), true (0, 0): 5 px
    heat[:, 1, 7, 7] = 5.0  # point q predicted at (7, 7), true (7, 7): 0 px
    points = torch.tensor([[0.0, 0.0], [7.0, 7.0]]).expand(3, 2, 2).clone()
    batch = {
        "image": torch.arange(3 * H * W, dtype=torch.float32).reshape(3, 1, H, W),
        "seg": truth,
        "cls": torch.tensor([1, 0, 0]),
        "reg": torch.tensor([[1.0, 12.0], [3.0, 20.0], [2.0, 33.0]]),
        "lmk": points,
        "rec": torch.zeros(3, 1, H, W),
    }
    outputs = {
        "seg": _seg_logits(pred),
        "cls": torch.tensor([[0.0, 2.0], [1.0, 0.0], [0.0, 1.0]]),
        "reg": torch.tensor([[1.0, 10.0], [2.0, 20.0], [4.0, 30.0]]),
        "lmk": heat,
        "rec": torch.stack([torch.full((1, H, W), v) for v in (0.5, -1.0, 0.0)]),
    }
    return batch, outputs


def _replay(outputs: dict[str, torch.Tensor]):
    def model(x: torch.Tensor) -> dict[str, torch.Tensor]:
        assert x.shape[0] == outputs["seg"].shape[0]
        return outputs

    return model


@pytest.fixture(scope="module")
def hand_records() -> Records:
    batch, outputs = _hand_batch()
    return collect_predictions(_replay(outputs), [batch], [SEG, BIN, REG, LMK, REC], spacing_mm=2.0)


def test_segmentation_per_case_values_and_empty_mask_conventions(hand_records):
    tr = hand_records["seg"]
    nan = np.nan
    np.testing.assert_allclose(tr.values["dice"], [[0.0, 1.0], [0.5, 0.0], [1.0, 0.0]])
    # HD95 in mm (spacing 2): both empty -> 0; exactly one empty -> NaN.
    np.testing.assert_allclose(tr.values["hd95_mm"], [[6.0, 0.0], [2.0, nan], [0.0, nan]])
    np.testing.assert_array_equal(tr.values["true_empty"], [[False, True], [False, False], [False, True]])
    np.testing.assert_array_equal(tr.values["pred_empty"], [[False, True], [False, True], [False, False]])


def test_segmentation_metrics(hand_records):
    got = compute_metrics("seg", hand_records)
    assert got["dice/a"] == pytest.approx(0.5)
    assert got["dice/b"] == pytest.approx(1 / 3)
    assert got["dice"] == pytest.approx(5 / 12)
    assert got["hd95_mm/a"] == pytest.approx(8 / 3)
    assert got["hd95_mm/b"] == pytest.approx(0.0)  # NaN-aware mean over the one defined case
    assert got["hd95_mm"] == pytest.approx(4 / 3)
    assert got["hd95_undefined"] == 2
    assert got["n_cases"] == 3


def test_regression_landmark_reconstruction_metrics(hand_records):
    reg = compute_metrics("reg", hand_records)
    # |errors| x: [0, 1, 2], y: [2, 0, 3]
    assert reg["mae/x"] == pytest.approx(1.0) and reg["mae/y"] == pytest.approx(5 / 3)
    assert reg["rmse/x"] == pytest.approx(math.sqrt(5 / 3)) and reg["rmse/y"] == pytest.approx(math.sqrt(13 / 3))
    assert reg["mae"] == pytest.approx(4 / 3)
    assert reg["rmse"] == pytest.approx((math.sqrt(5 / 3) + math.sqrt(13 / 3)) / 2)
    lmk = compute_metrics("lmk", hand_records)
    assert lmk["mre_mm/p"] == pytest.approx(10.0) and lmk["mre_mm/q"] == 0.0  # 5 px x 2 mm
    assert lmk["mre_mm"] == pytest.approx(5.0)
    np.testing.assert_allclose(hand_records["rec"].values["mae"], [0.5, 1.0, 0.0])
    assert compute_metrics("rec", hand_records)["mae"] == pytest.approx(0.5)
    cls = compute_metrics("cls", hand_records)
    assert cls["accuracy"] == pytest.approx(2 / 3)  # predictions [1, 0, 1] vs labels [1, 0, 0]


def test_indices_select_and_repeat_cases(hand_records):
    got = compute_metrics("reg", hand_records, indices=[2, 2, 0])
    assert got["n_cases"] == 3
    assert got["mae/x"] == pytest.approx((2 + 2 + 0) / 3)
    assert compute_metrics("seg", hand_records, indices=[1])["dice/a"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="case indices must lie in"):
        compute_metrics("reg", hand_records, indices=[3])


def test_every_returned_metric_is_in_the_table(hand_records):
    for name in hand_records.tasks:
        for key in compute_metrics(name, hand_records):
            assert key in COUNT_KEYS or key.split("/")[0] in METRICS, key
    for kind in TASK_KINDS:
        assert primary_metric(kind) in kind_metrics(kind)
        assert set(kind_metrics(kind)) <= set(METRICS)
    assert primary_metric(SEG) == "dice" and primary_metric(REG) == "mae"
    assert higher_is_better("dice/a") and not higher_is_better("hd95_mm") and not higher_is_better("ece")
    with pytest.raises(ValueError, match="is a count"):
        higher_is_better("hd95_undefined")
    with pytest.raises(ValueError, match="Unknown metric"):
        higher_is_better("f1")
    with pytest.raises(ValueError, match="Unknown task kind"):
        primary_metric("detection")


def test_records_save_and_load_roundtrip(hand_records, tmp_path):
    path = hand_records.save(tmp_path / "records.npz")
    back = Records.load(path)
    assert back.case_ids == hand_records.case_ids and back.spacing_mm == 2.0
    for name in hand_records.tasks:
        assert back[name].task == hand_records[name].task
        a, b = compute_metrics(name, back), compute_metrics(name, hand_records)
        assert a.keys() == b.keys()
        np.testing.assert_allclose(list(a.values()), list(b.values()))
    frame = back.to_frame("seg")
    assert list(frame["case"]) == [0, 1, 2] and "dice/a" in frame


# --------------------------------------------------------------------------------------------------
# partial labels and checks
# --------------------------------------------------------------------------------------------------


def test_present_mask_and_absent_key_skip_cases():
    batch, outputs = _hand_batch()
    batch["cls__present"] = torch.tensor([True, False, True])
    batch["reg__present"] = torch.tensor([False, False, False])
    del batch["rec"]
    recs = collect_predictions(_replay(outputs), [batch, batch], [SEG, BIN, REG, REC], spacing_mm=2.0)
    assert recs.n_cases == 6
    assert list(recs["cls"].cases) == [0, 2, 3, 5]
    assert len(recs["reg"]) == 0 and len(recs["rec"]) == 0
    assert len(recs["seg"]) == 6
    got = compute_metrics("cls", recs)
    assert got["n_cases"] == 4 and got["accuracy"] == pytest.approx(0.5)
    assert compute_metrics("cls", recs, indices=[1, 4])["n_cases"] == 0  # unlabelled cases only
    assert math.isnan(compute_metrics("reg", recs)["mae"])


def test_collect_predictions_refuses_bad_inputs():
    batch, outputs = _hand_batch()
    with pytest.raises(ValueError, match="no output for task 'seg'"):
        collect_predictions(lambda x: {"cls": outputs["cls"]}, [batch], [SEG])
    with pytest.raises(ValueError, match=r"expected logits \(B, 2\)"):
        collect_predictions(lambda x: {"cls": outputs["reg"][:, :1]}, [batch], [BIN])
    bad = dict(batch, cls__present=torch.tensor([1.0, 0.5, 0.0]))
    with pytest.raises(ValueError, match="boolean mask"):
        collect_predictions(_replay(outputs), [bad], [BIN])
    with pytest.raises(ValueError, match="spacing_mm must be positive"):
        collect_predictions(_replay(outputs), [batch], [BIN], spacing_mm=0)


class _FakeEyeNet(torch.nn.Module):
    """Deterministic stand-in for a trained eye model: smooth logits from the image."""

    def __init__(self, bias: float = 0.0) -> None:
        super().__init__()
        self.bias = bias

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        g = x.mean(1, keepdim=True)
        seg = torch.cat([0.5 - g, g - 0.3, g - 0.6 + self.bias], 1) * 10.0
        m = x.mean((1, 2, 3))
        return {
            "disc_cup": seg,
            "glaucoma": torch.stack([-m, m + self.bias], 1),
            "cdr": (0.5 + m + self.bias).unsqueeze(1),
        }


class _PartiallyLabelled(Dataset):
    def __init__(self, base: PhantomDataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = dict(self.base[i])
        item["glaucoma__present"] = torch.tensor(i % 2 == 0)
        item["case_id"] = f"eye-{i}"
        return item


def test_collect_predictions_on_a_phantom_dataset():
    ds = PhantomDataset("eye", 6, size=64, split="test")
    model = _FakeEyeNet()
    model.train()
    recs = collect_predictions(model, DataLoader(ds, batch_size=4), ds.tasks, spacing_mm=ds.region.spacing_mm(64))
    assert model.training  # mode restored
    assert recs.n_cases == 6 and len(set(recs.case_ids)) == 6
    assert {name: len(tr) for name, tr in recs.tasks.items()} == {"disc_cup": 6, "glaucoma": 6, "cdr": 6}
    assert recs["disc_cup"].values["dice"].shape == (6, 2)
    assert recs["glaucoma"].values["probs"].shape == (6, 2)
    seg = compute_metrics("disc_cup", recs)
    assert 0.0 <= seg["dice"] <= 1.0 and set(seg) >= {"dice/disc rim", "dice/cup", "hd95_mm"}
    # same data, same model -> the same case ids (digests) and values
    again = collect_predictions(_FakeEyeNet(), DataLoader(ds, batch_size=3), ds.tasks, spacing_mm=0.1875)
    assert again.case_ids == recs.case_ids
    np.testing.assert_allclose(again["disc_cup"].values["dice"], recs["disc_cup"].values["dice"])

    partial = collect_predictions(
        _FakeEyeNet(), DataLoader(_PartiallyLabelled(ds), batch_size=4), ds.tasks, spacing_mm=0.1875
    )
    assert partial.case_ids == tuple(f"eye-{i}" for i in range(6))
    assert list(partial["glaucoma"].cases) == [0, 2, 4]
    assert len(partial["disc_cup"]) == 6 and len(partial["cdr"]) == 6
    assert compute_metrics("glaucoma", partial)["n_cases"] == 3


def test_evaluation_api_has_one_import_path():
    import mtdl_kit.metrics as metrics
    from mtdl_kit import evaluation

    assert evaluation.compute_metrics is compute_metrics
    for name in ("delta_m", "collect_predictions", "compute_metrics", "Records", "TaskLoss"):
        assert not hasattr(metrics, name), f"mtdl_kit.metrics must not re-export {name}"
    assert "3 cases" in repr(Records(("a", "b", "c"), {}))
