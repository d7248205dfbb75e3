"""Per-task metrics, chosen from the task kind (``monai.metrics`` where MONAI has them).

Metrics (:data:`METRICS`, :func:`primary_metric`) are computed with ``monai.metrics`` where MONAI
has them; the functions here are the tensor-level twins (one batch or one set of cases in, numbers
out). Per-case records, :func:`~mtdl_kit.evaluation.compute_metrics` on any subset of cases and the
multi-task performance Δm with a bootstrap CI live in :mod:`mtdl_kit.evaluation`; the losses live in
:mod:`mtdl_kit.losses`.

Conventions for empty masks (segmentation, per case and foreground class):

=========================== ========= ============ ==============================================
truth / prediction           Dice      HD95 (mm)    why
=========================== ========= ============ ==============================================
both non-empty              MONAI     MONAI        ``compute_dice`` / ``compute_hausdorff_distance``
both empty                  1         0            perfect agreement (Maier-Hein et al., "Metrics
                                                   reloaded", Nat. Methods 21:195-212, 2024)
one empty, the other not    0         NaN          a distance to nothing is undefined; Dice = 0
                                                   already penalises the case
=========================== ========= ============ ==============================================

HD95 is summarised with NaN-aware means and the number of undefined (NaN) case-class pairs is
reported as ``hd95_undefined``, so a model that predicts nothing cannot hide behind a small HD95.

Ordinal classification tasks (grades: :func:`is_ordinal`) also get the quadratic weighted Cohen's
kappa (:func:`quadratic_weighted_kappa`) beside the ROC-AUC: the AUC treats the classes as unordered,
while kappa counts a grade-0 case called grade 4 as a worse error than one called grade 1.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch

from mtdl_kit.regions.base import TaskSpec


def heatmap_argmax(heatmaps: torch.Tensor) -> torch.Tensor:
    """(B, K, H, W) heatmaps -> (B, K, 2) (row, col) of each map's maximum."""
    b, k, _, w = heatmaps.shape
    idx = heatmaps.reshape(b, k, -1).argmax(-1)
    return torch.stack([idx // w, idx % w], dim=-1).float()


def predictions(task: TaskSpec, output: torch.Tensor) -> torch.Tensor:
    """Model output -> prediction: class map, class probabilities, values, points or image."""
    if task.kind == "segmentation":
        return output.argmax(1)
    if task.kind == "classification":
        return torch.softmax(output.float(), dim=1)
    if task.kind == "landmarks":
        return heatmap_argmax(output)
    return output.float()


def summarise(values: np.ndarray) -> float:
    """Mean over finite values (NaN if none), for metrics that can be undefined on a case."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


# --------------------------------------------------------------------------------------------------
# Metric table
# --------------------------------------------------------------------------------------------------

#: metric name -> (higher_is_better, description). A name may carry a ``/<class or output>``
#: suffix (``"dice/cup"``, ``"mae/medial JSW"``): the part before ``/`` is looked up here.
METRICS: dict[str, tuple[bool, str]] = {
    "dice": (
        True,
        "Dice similarity coefficient (Dice 1945), per case and foreground class via monai.metrics.compute_dice, "
        "averaged over cases; 'dice' = mean over foreground classes, 'dice/<class>' = one class.",
    ),
    "hd95_mm": (
        False,
        "95th-percentile symmetric Hausdorff distance in mm (Huttenlocher et al., TPAMI 1993), via "
        "monai.metrics.compute_hausdorff_distance(percentile=95); NaN-aware mean over cases, then over classes.",
    ),
    "auc": (
        True,
        "Area under the ROC curve (Hanley & McNeil, Radiology 1982), monai.metrics.compute_roc_auc: binary on the "
        "probability of class 1, macro one-vs-rest for more than two classes.",
    ),
    "accuracy": (True, "Fraction of cases whose arg-max class is the true class."),
    "kappa_quadratic": (
        True,
        "Ordinal tasks only: quadratic weighted Cohen's kappa (Cohen, Psychol. Bull. 1968; Fleiss & Cohen, Educ. "
        "Psychol. Meas. 1973) between the arg-max class and the true class, weights (i - j)^2 on the class indices; "
        "1 = perfect agreement, 0 = chance.",
    ),
    "balanced_accuracy": (
        True,
        "Mean per-class recall (Brodersen et al., ICPR 2010), robust to class imbalance.",
    ),
    "sensitivity": (True, "Binary only: recall of class 1 (true-positive rate) at the arg-max decision."),
    "specificity": (True, "Binary only: recall of class 0 (true-negative rate) at the arg-max decision."),
    "ece": (
        False,
        "Expected calibration error (Guo et al., ICML 2017): 10 equal-width bins on the maximum class probability, "
        "monai.metrics.CalibrationErrorMetric.",
    ),
    "brier": (
        False,
        "Brier score (Brier, Mon. Weather Rev. 1950): binary (p1 - y)^2 as scikit-learn; K > 2: sum over classes "
        "of (p_k - y_k)^2; mean over cases.",
    ),
    "mae": (
        False,
        "Mean absolute error in the task's units: regression per output ('mae/<output>') and the mean over "
        "outputs ('mae'); reconstruction: per-case mean absolute pixel error, averaged over cases.",
    ),
    "rmse": (False, "Root mean squared error in the task's units, per output ('rmse/<output>') and their mean."),
    "mre_mm": (
        False,
        "Mean radial error of landmarks in mm: Euclidean distance between the heatmap arg-max and the target point "
        "(Wang et al., MedIA 31:63-76, 2016), per point ('mre_mm/<point>') and mean over points.",
    ),
}

#: bookkeeping counts that :func:`~mtdl_kit.evaluation.compute_metrics` also returns; not performance
#: measures, so they have no direction and Δm refuses them.
COUNT_KEYS: tuple[str, ...] = ("n_cases", "hd95_undefined")

_PRIMARY: dict[str, str] = {
    "segmentation": "dice",
    "classification": "auc",
    "regression": "mae",
    "landmarks": "mre_mm",
    "reconstruction": "mae",
}

_KIND_METRICS: dict[str, tuple[str, ...]] = {
    "segmentation": ("dice", "hd95_mm"),
    "classification": (
        "auc",
        "accuracy",
        "balanced_accuracy",
        "sensitivity",
        "specificity",
        "kappa_quadratic",
        "ece",
        "brier",
    ),
    "regression": ("mae", "rmse"),
    "landmarks": ("mre_mm",),
    "reconstruction": ("mae",),
}


def metric_base(name: str) -> str:
    """The table name of a metric: ``"dice/cup" -> "dice"``."""
    return name.split("/", 1)[0]


def higher_is_better(name: str) -> bool:
    """Direction of a metric (suffixes such as ``"/cup"`` allowed).

    Raises:
        ValueError: for a count (``n_cases``, ``hd95_undefined``) or a name not in :data:`METRICS`.
    """
    base = metric_base(name)
    if base in COUNT_KEYS:
        raise ValueError(f"{name!r} is a count, not a performance metric; choose one of {sorted(METRICS)}.")
    if base not in METRICS:
        raise ValueError(f"Unknown metric {name!r}; known metrics are {sorted(METRICS)} (optionally with '/<name>').")
    return METRICS[base][0]


def better_than(value: float, reference: float, name: str) -> bool:
    """Whether ``value`` of metric ``name`` is strictly better than ``reference`` (``False`` if either is NaN)."""
    return (value > reference) if higher_is_better(name) else (value < reference)


def primary_metric(task: TaskSpec | str) -> str:
    """The headline metric of a task (or task kind): Dice, AUC, MAE, mean radial error, MAE.

    Args:
        task: a :class:`~mtdl_kit.regions.base.TaskSpec` or a kind string.

    Raises:
        ValueError: for an unknown kind.
    """
    kind = task.kind if isinstance(task, TaskSpec) else task
    if kind not in _PRIMARY:
        raise ValueError(f"Unknown task kind {kind!r}; allowed kinds are {tuple(_PRIMARY)}.")
    return _PRIMARY[kind]


def kind_metrics(kind: str) -> tuple[str, ...]:
    """The :data:`METRICS` entries that apply to a task kind (before any ``/<name>`` suffix)."""
    if kind not in _KIND_METRICS:
        raise ValueError(f"Unknown task kind {kind!r}; allowed kinds are {tuple(_KIND_METRICS)}.")
    return _KIND_METRICS[kind]


# --------------------------------------------------------------------------------------------------
# Tensor-level metric functions (MONAI inside)
# --------------------------------------------------------------------------------------------------


def _one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, *spatial) int labels -> (B, K, *spatial) float one-hot (MONAI's ``one_hot``)."""
    from monai.networks.utils import one_hot

    return one_hot(labels.long().unsqueeze(1), num_classes, dim=1)


def segmentation_case_metrics(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, *, spacing_mm: float = 1.0
) -> dict[str, np.ndarray]:
    """Per-case, per-foreground-class Dice and HD95 of label maps, with explicit empty-mask handling.

    Dice uses ``monai.metrics.compute_dice(include_background=False, ignore_empty=False)`` and HD95
    ``monai.metrics.compute_hausdorff_distance(include_background=False, percentile=95, spacing=...)``
    (Huttenlocher et al., TPAMI 1993). Empty masks follow the module table: both empty -> Dice 1,
    HD95 0; one empty -> Dice 0, HD95 NaN.

    Args:
        pred: (B, *spatial) predicted class indices (the arg-max of the logits).
        target: (B, *spatial) true class indices.
        num_classes: number of classes K including background.
        spacing_mm: isotropic pixel spacing, so HD95 is in mm.

    Returns:
        ``dice``, ``hd95_mm`` (float64 (B, K-1)), ``pred_empty`` and ``true_empty`` (bool (B, K-1)).
    """
    from monai.metrics import compute_dice, compute_hausdorff_distance

    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape.")
    p, t = _one_hot(pred.cpu(), num_classes), _one_hot(target.cpu(), num_classes)
    spatial = tuple(range(2, p.ndim))
    pred_empty = (p[:, 1:].sum(spatial) == 0).numpy()
    true_empty = (t[:, 1:].sum(spatial) == 0).numpy()
    dice = compute_dice(p, t, include_background=False, ignore_empty=False).double().numpy()
    with warnings.catch_warnings():
        # MONAI warns about empty masks (handled below) and about an argument it deprecates internally.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        hd = compute_hausdorff_distance(p, t, include_background=False, percentile=95, spacing=float(spacing_mm))
    hd = hd.double().numpy()
    hd[pred_empty & true_empty] = 0.0
    hd[pred_empty ^ true_empty] = np.nan
    dice[pred_empty & true_empty] = 1.0
    dice[pred_empty ^ true_empty] = 0.0
    return {"dice": dice, "hd95_mm": hd, "pred_empty": pred_empty, "true_empty": true_empty}


def _check_probs(probs: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate (N, K) probabilities and (N,) labels; return them as float64 / int64 numpy arrays.

    Bookkeeping stays in numpy: the bootstrap calls these functions thousands of times on small
    arrays, where tiny torch reductions can cost milliseconds on a busy multi-threaded CPU.
    """
    p = (probs.detach().cpu().numpy() if isinstance(probs, torch.Tensor) else np.asarray(probs)).astype(np.float64)
    y = (labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)).astype(np.int64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probs must have shape (N, K) with K >= 2 class probabilities, got {tuple(p.shape)}.")
    if y.shape != (p.shape[0],):
        raise ValueError(
            f"labels must have shape ({p.shape[0]},) to match probs {tuple(p.shape)}, got {tuple(y.shape)}."
        )
    if y.size and (y.min() < 0 or y.max() >= p.shape[1]):
        raise ValueError(f"labels must be class indices in [0, {p.shape[1] - 1}], got {np.unique(y).tolist()}.")
    return p, y


def _one_hot_np(y: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k, dtype=np.float64)[y]


def roc_auc(probs: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> float:
    """ROC-AUC: the value of ``monai.metrics.compute_roc_auc`` (Hanley & McNeil, Radiology 143:29-36, 1982).

    Binary (K = 2): AUC of the class-1 probability. K > 2: macro average of one-vs-rest AUCs.
    NaN when a class needed for the AUC has no positive or no negative case (MONAI's convention).

    Computed as the Mann-Whitney statistic with mid-ranks for ties, which is MONAI's value to rounding
    (``tests/test_metrics.py`` checks it against ``compute_roc_auc`` on random scores with ties): MONAI walks
    the sorted cases in a Python loop, about 2 ms a class at 256 cases, and the paired bootstraps call this
    hundreds of thousands of times (a five-class grade made experiment G's knee summary take 17 minutes).

    Args:
        probs: (N, K) class probabilities.
        labels: (N,) class indices.
    """
    p, y = _check_probs(probs, labels)
    if y.size == 0:
        return float("nan")
    if p.shape[1] == 2:
        return _binary_auc(p[:, 1], y == 1)
    return float(np.mean([_binary_auc(p[:, c], y == c) for c in range(p.shape[1])]))


def _binary_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a positive > score of a negative) + half the ties: the mid-rank Mann-Whitney U / (n+ n-)."""
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    mid_ranks = np.cumsum(counts) - (counts - 1) / 2.0
    rank_sum = float(mid_ranks[inverse][positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def classification_confusion(probs: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> np.ndarray:
    """Per-class (TP, FP, TN, FN) counts at the arg-max decision, via ``monai.metrics.get_confusion_matrix``.

    Returns:
        float64 array (K, 4).
    """
    from monai.metrics import get_confusion_matrix

    p, y = _check_probs(probs, labels)
    k = p.shape[1]
    # cases play the role of pixels: one-hot (1, K, N)
    pred = torch.from_numpy(_one_hot_np(p.argmax(1), k).T[None].copy())
    true = torch.from_numpy(_one_hot_np(y, k).T[None].copy())
    return get_confusion_matrix(pred, true, include_background=True)[0].double().numpy()


def confusion_rate(confusion: np.ndarray, name: str) -> np.ndarray:
    """A rate per class from (K, 4) counts with ``monai.metrics.compute_confusion_matrix_metric``
    (``"sensitivity"``, ``"specificity"``, ...); NaN where the denominator is 0."""
    from monai.metrics import compute_confusion_matrix_metric

    return compute_confusion_matrix_metric(name, torch.as_tensor(confusion)).double().numpy()


def _spec_key(task: TaskSpec) -> tuple[object, ...]:
    """What a task computes: its spec without the (prose) description, as stored models compare it."""
    return (task.name, task.kind, task.num_outputs, task.class_names, task.output_names, task.units)


@functools.cache
def _ordinal_specs() -> frozenset[tuple[object, ...]]:
    from mtdl_kit.regions.base import all_regions

    return frozenset(_spec_key(region.task(name)) for region in all_regions().values() for name in region.ordinal_tasks)


def is_ordinal(task: TaskSpec) -> bool:
    """True for a classification task whose classes are an ordered scale (a grade), False otherwise.

    A region declares its ordinal tasks in its ``ordinal_tasks`` attribute (the musculoskeletal
    joint-space-narrowing grade ``kl_grade``, the pathology nuclear-size score ``grade``). A spec
    matches when everything but its description is the same, so a stored model's or a saved
    record's copy of the task is ordinal too. Tasks of one's own data are treated as nominal.
    """
    return task.kind == "classification" and task.num_outputs >= 3 and _spec_key(task) in _ordinal_specs()


def quadratic_weighted_kappa(
    rater_a: torch.Tensor | np.ndarray, rater_b: torch.Tensor | np.ndarray, num_classes: int
) -> float:
    """Quadratic weighted Cohen's kappa of two ratings of the same cases on an ordinal scale.

    kappa_w = 1 - sum_ij w_ij O_ij / sum_ij w_ij E_ij with w_ij = (i - j)^2 / (K - 1)^2, O the K x K
    table of observed counts and E = (row sums)(column sums)^T / N the table expected by chance
    (Cohen J., "Weighted kappa", Psychol. Bull. 70:213-220, 1968; with quadratic weights it is, up to
    a term of order 1/N, an intraclass correlation: Fleiss J.L. & Cohen J., Educ. Psychol. Meas.
    33:613-619, 1973). The weights use the class indices 0..K-1, as
    ``sklearn.metrics.cohen_kappa_score(a, b, labels=range(K), weights="quadratic")`` (without
    ``labels`` scikit-learn weights the ranks of the classes present instead). Symmetric in the two
    raters; 1 for perfect agreement, 0 for agreement at chance level, negative below it.

    Args:
        rater_a, rater_b: (N,) class indices in [0, K), e.g. true grades and the arg-max predictions.
        num_classes: K.

    Returns:
        kappa; NaN when it is undefined: no cases, or both raters put every case in one and the same
        class (then the chance-expected disagreement is 0).
    """
    a = (rater_a.detach().cpu().numpy() if isinstance(rater_a, torch.Tensor) else np.asarray(rater_a)).reshape(-1)
    b = (rater_b.detach().cpu().numpy() if isinstance(rater_b, torch.Tensor) else np.asarray(rater_b)).reshape(-1)
    k = int(num_classes)
    if k < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes!r}.")
    if a.shape != b.shape:
        raise ValueError(f"the two ratings must have the same length, got {a.shape[0]} and {b.shape[0]}.")
    a, b = a.astype(np.int64), b.astype(np.int64)
    if a.size and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= k):
        raise ValueError(f"ratings must be class indices in [0, {k - 1}], got {np.unique(np.r_[a, b]).tolist()}.")
    if a.size == 0:
        return float("nan")
    observed = np.bincount(a * k + b, minlength=k * k).reshape(k, k).astype(np.float64)
    expected = np.outer(observed.sum(1), observed.sum(0)) / a.size
    idx = np.arange(k, dtype=np.float64)
    weights = (idx[:, None] - idx[None, :]) ** 2 / (k - 1) ** 2
    chance = float((weights * expected).sum())
    if chance <= 0.0:
        return float("nan")
    return float(1.0 - (weights * observed).sum() / chance)


def expected_calibration_error(
    probs: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, *, n_bins: int = 10
) -> float:
    """Expected calibration error of the top-label confidence (Guo et al., "On calibration of modern
    neural networks", ICML 2017, eq. 3).

    Confidence = maximum class probability, correctness = arg-max equals the label; cases are put in
    ``n_bins`` equal-width bins (m-1)/M < conf <= m/M and ECE = sum_m |B_m|/N |acc(B_m) - conf(B_m)|.
    Computed with ``monai.metrics.CalibrationErrorMetric(calibration_reduction="expected")``.

    Args:
        probs: (N, K) class probabilities.
        labels: (N,) class indices.
        n_bins: number of equal-width bins on [0, 1].
    """
    from monai.metrics import CalibrationErrorMetric

    p, y = _check_probs(probs, labels)
    if y.size == 0:
        return float("nan")
    conf = torch.from_numpy(p.max(1).astype(np.float32)).view(1, 1, -1)
    correct = torch.from_numpy((p.argmax(1) == y).astype(np.float32)).view(1, 1, -1)
    metric = CalibrationErrorMetric(num_bins=n_bins, calibration_reduction="expected", metric_reduction="none")
    return float(metric(y_pred=conf, y=correct).reshape(-1)[0])


def brier_score(probs: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> float:
    """Brier score (Brier, Monthly Weather Review 78:1-3, 1950), lower is better.

    Binary: mean of (p1 - y)^2, the scikit-learn ``brier_score_loss`` convention (range [0, 1]).
    K > 2: mean over cases of sum_k (p_k - y_k)^2, Brier's original multi-class form (range [0, 2]).
    """
    p, y = _check_probs(probs, labels)
    if y.size == 0:
        return float("nan")
    if p.shape[1] == 2:
        return float(((p[:, 1] - y) ** 2).mean())
    return float(((p - _one_hot_np(y, p.shape[1])) ** 2).sum(1).mean())


def landmark_radial_errors(
    heatmaps: torch.Tensor, target_points: torch.Tensor, *, spacing_mm: float = 1.0
) -> np.ndarray:
    """Radial error in mm of each landmark: ``spacing * ||argmax(heatmap) - target||``.

    Args:
        heatmaps: (B, K, H, W) heatmap logits (or probabilities: the arg-max is the same).
        target_points: (B, K, 2) (row, col) pixel coordinates; NaN marks a point without a label.
        spacing_mm: isotropic pixel spacing.

    Returns:
        float64 array (B, K).
    """
    if heatmaps.ndim != 4 or target_points.shape != (*heatmaps.shape[:2], 2):
        raise ValueError(
            f"landmarks need heatmaps (B, K, H, W) and points (B, K, 2), got {tuple(heatmaps.shape)} and "
            f"{tuple(target_points.shape)}."
        )
    pts = heatmap_argmax(heatmaps.float().cpu()).double()
    diff = pts - target_points.double().cpu()
    return (torch.linalg.vector_norm(diff, dim=-1) * float(spacing_mm)).numpy()
