"""Self-checking exercises for the tutorial notebooks.

Each ``check_*`` function takes the learner's answer (a value or a function), compares it with a
reference computed by the library, prints a friendly ✅ message when it agrees and raises
:class:`ExerciseError` with a hint when it does not. Notebooks stay short: the exercise cell holds
the learner's code, the next cell calls one of these checks.

A stub that still raises ``NotImplementedError`` (the student copies written by ``make student``)
is re-raised unchanged so the learner sees which exercise is left.

Example:
    >>> from mtdl_kit.exercises import check_prediction
    >>> check_prediction("parallel", observed="parallel", options=("parallel", "cascaded"))
    ✅ Your prediction 'parallel' matches what the run shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ExerciseError",
    "check_best_family",
    "check_cdr_from_mask",
    "check_condition_rho",
    "check_contrast_weights",
    "check_crossover_interaction",
    "check_delta_m",
    "check_family_parameter_share",
    "check_hu_conversion",
    "check_labels_row",
    "check_null_bound",
    "check_null_reading",
    "check_paired_interval",
    "check_pcgrad_projection",
    "check_prediction",
    "check_quick_delta_m",
    "check_region_measurement",
    "check_region_rule",
    "check_replicated",
    "check_verdicts",
    "reference_delta_m",
    "reference_paired_interval",
    "reference_pcgrad_projection",
]


class ExerciseError(AssertionError):
    """The learner's answer differs from the reference; the message says how and gives a hint."""


def _ok(message: str) -> None:
    print(f"\u2705 {message}")


def _fail(message: str, hint: str) -> ExerciseError:
    return ExerciseError(f"\u274c {message}\nHint: {hint}")


# ----------------------------------------------------------------------------------- PCGrad
def reference_pcgrad_projection(g_i: Any, g_j: Any) -> Any:
    """PCGrad's projection of ``g_i`` onto the normal plane of ``g_j`` when the two conflict.

    ``g_i - (g_i·g_j / ||g_j||²) g_j`` if ``g_i·g_j < 0``, else ``g_i`` unchanged (Yu et al.,
    "Gradient surgery for multi-task learning", NeurIPS 2020, Alg. 1).
    """
    import torch

    dot = torch.dot(g_i, g_j)
    if dot < 0:
        return g_i - dot / torch.dot(g_j, g_j) * g_j
    return g_i.clone()


def check_pcgrad_projection(fn: Callable[[Any, Any], Any], *, trials: int = 20, seed: int = 0) -> None:
    """Check a learner's PCGrad projection ``fn(g_i, g_j) -> projected g_i`` (1-D torch tensors).

    Two checks on random gradient pairs (half of them made to conflict): the projection itself
    against the formula, and, for two tasks where the order does not matter,
    ``fn(g1, g2) + fn(g2, g1)`` against TorchJD's ``PCGrad`` aggregator.

    Raises:
        ExerciseError: on the first pair where the answer differs, with a hint.
    """
    import torch
    from torchjd.aggregation import PCGrad

    gen = torch.Generator().manual_seed(seed)
    aggregator = PCGrad()
    for k in range(trials):
        dim = 2 + k % 6
        g1 = torch.randn(dim, generator=gen, dtype=torch.float64)
        g2 = torch.randn(dim, generator=gen, dtype=torch.float64)
        if k % 2 == 0 and torch.dot(g1, g2) > 0:
            g2 = -g2  # make half of the pairs conflict
        conflicting = bool(torch.dot(g1, g2) < 0)
        got = fn(g1.clone(), g2.clone())
        if not isinstance(got, torch.Tensor) or got.shape != g1.shape:
            raise _fail(
                f"fn must return a tensor shaped like g_i {tuple(g1.shape)}, got {type(got).__name__}"
                + (f" {tuple(got.shape)}" if isinstance(got, torch.Tensor) else ""),
                "return g_i itself or g_i minus a multiple of g_j.",
            )
        want = reference_pcgrad_projection(g1, g2)
        if not torch.allclose(got.to(torch.float64), want, atol=1e-6):
            if conflicting:
                hint = (
                    "when g_i·g_j < 0 remove the component of g_i along g_j: "
                    "g_i - (g_i·g_j) / (g_j·g_j) * g_j (divide by the squared norm, not the norm)."
                )
                if torch.allclose(got.to(torch.float64), g1, atol=1e-6):
                    hint = "these gradients conflict (g_i·g_j < 0) but fn returned g_i unchanged; project it."
            else:
                hint = "when the gradients do not conflict (g_i·g_j >= 0) PCGrad leaves g_i unchanged."
            raise _fail(
                f"Projection differs from the reference on a {'' if conflicting else 'non-'}conflicting pair.",
                hint,
            )
        summed = fn(g1.clone(), g2.clone()) + fn(g2.clone(), g1.clone())
        torchjd_result = aggregator(torch.stack([g1, g2]).float()).to(torch.float64)
        if not torch.allclose(summed, torchjd_result, atol=1e-4):
            raise _fail(
                "fn(g1, g2) + fn(g2, g1) differs from torchjd.aggregation.PCGrad on the same two gradients.",
                "do not modify the inputs in place; return a new tensor.",
            )
    _ok(f"Your projection matches the formula and TorchJD's PCGrad on {trials} random gradient pairs.")


# -------------------------------------------------------------------------------------- CDR
def _vertical_extent(mask: np.ndarray) -> float:
    rows = np.flatnonzero(np.asarray(mask).any(axis=1))
    return float(rows[-1] - rows[0] + 1) if rows.size else 0.0


def check_cdr_from_mask(fn: Callable[[np.ndarray], float], *, n_cases: int = 8, size: int = 64) -> None:
    """Check a learner's vertical cup-to-disc ratio ``fn(mask) -> float`` against the eye region.

    The mask uses the eye's classes (0 background, 1 disc rim, 2 cup); the reference is
    ``get_region("eye").measure(mask, spacing)["cdr"]`` on generated phantoms.

    Raises:
        ExerciseError: with the case, both values and a hint.
    """
    from mtdl_kit.regions import get_region

    eye = get_region("eye")
    for seed in range(n_cases):
        s = eye.sample(seed, size=size)
        mask = np.asarray(s.targets["disc_cup"]).copy()
        want = eye.measure(mask, s.spacing_mm)["cdr"]
        got = float(fn(mask.copy()))
        if not np.isclose(got, want, atol=1e-6):
            rim_only = _vertical_extent(mask == 1)
            if rim_only > 0 and np.isclose(got, _vertical_extent(mask == 2) / rim_only, atol=1e-6):
                hint = "the disc is the rim AND the cup (mask >= 1), not the rim alone (mask == 1)."
            else:
                hint = (
                    "the *vertical* CDR compares heights: count from the first to the last row that contains "
                    "the structure (last - first + 1), for the cup (mask == 2) and for the disc (mask >= 1). "
                    "Areas or widths give a different number."
                )
            raise _fail(f"Case {seed}: your CDR is {got:.4f}, the reference is {want:.4f}.", hint)
    _ok(f"Your vertical cup-to-disc ratio matches eye.measure() on {n_cases} phantoms.")


# --------------------------------------------------------------------------------------- Δm
def reference_delta_m(mtl: Mapping[str, float], baseline: Mapping[str, float]) -> float:
    """Δm in % with one metric per task: mean over tasks of ``(-1)^l (M_mtl - M_stl) / M_stl × 100``.

    ``l = 1`` when lower is better (:func:`mtdl_kit.metrics.higher_is_better`); the same per-metric
    formula as :func:`mtdl_kit.metrics.delta_m` (Maninis et al. 2019; Vandenhende et al. 2021).
    """
    from mtdl_kit.evaluation import relative_change
    from mtdl_kit.metrics import higher_is_better

    names = list(mtl)
    m = np.array([mtl[n] for n in names], dtype=float)
    b = np.array([baseline[n] for n in names], dtype=float)
    sign = np.array([1.0 if higher_is_better(n) else -1.0 for n in names])
    return float(np.mean(relative_change(m, b, sign)))


#: the hand example of :func:`check_delta_m`: metric name -> (multi-task value, single-task value)
DELTA_M_EXAMPLES: tuple[tuple[dict[str, float], dict[str, float]], ...] = (
    ({"dice": 0.84, "auc": 0.90, "mae": 0.050}, {"dice": 0.80, "auc": 0.92, "mae": 0.040}),
    ({"dice": 0.70, "auc": 0.75}, {"dice": 0.70, "auc": 0.60}),
    ({"hd95_mm": 3.0, "accuracy": 0.81}, {"hd95_mm": 4.0, "accuracy": 0.90}),
)


def check_delta_m(fn: Callable[[Mapping[str, float], Mapping[str, float]], float]) -> None:
    """Check a learner's ``fn(mtl, baseline) -> Δm in %`` (dicts metric name -> value, one per task).

    Raises:
        ExerciseError: with the example, both values and a hint.
    """
    from mtdl_kit.metrics import higher_is_better

    for mtl, base in DELTA_M_EXAMPLES:
        want = reference_delta_m(mtl, base)
        got = float(fn(dict(mtl), dict(base)))
        if not np.isclose(got, want, atol=1e-6):
            lower = [n for n in mtl if not higher_is_better(n)]
            if np.isclose(got, want / 100, atol=1e-6):
                hint = "Δm is a percentage: multiply the relative differences by 100."
            elif lower:
                hint = (
                    f"for metrics where lower is better ({', '.join(lower)}) flip the sign, so a smaller error "
                    "counts as an improvement; use mtdl_kit.metrics.higher_is_better(name)."
                )
            else:
                hint = "divide each difference by the single-task value (the baseline), then average over tasks."
            raise _fail(f"For mtl={mtl}, baseline={base} you return {got:.3f} %, the reference is {want:.3f} %.", hint)
    _ok(f"Your Δm matches the reference on {len(DELTA_M_EXAMPLES)} hand examples.")


# ------------------------------------------------------------------------- parameter sharing
def check_family_parameter_share(
    answer: Mapping[str, float], *, region: str = "eye", width: int | None = None, tolerance: float = 0.01
) -> None:
    """Check the learner's fraction of *shared* parameters for each family (``{family: fraction}``).

    The reference is ``parameter_count()["shared"] / parameter_count()["total"]`` of
    ``build_model(family, region.tasks, region.in_channels)`` (at ``width`` if given).

    Raises:
        ExerciseError: naming the first family that differs, with a hint.
    """
    from mtdl_kit.models import MULTI_TASK_FAMILIES, build_model
    from mtdl_kit.regions import get_region

    reg = get_region(region)
    if not isinstance(answer, Mapping) or not answer:
        raise _fail(
            "answer must be a dict {family: fraction of shared parameters}.",
            f"families: {MULTI_TASK_FAMILIES}",
        )
    options = {} if width is None else {"width": width}
    for family, value in answer.items():
        if family not in MULTI_TASK_FAMILIES:
            raise _fail(f"Unknown family {family!r}.", f"choose from {MULTI_TASK_FAMILIES}.")
        counts = build_model(family, reg.tasks, reg.in_channels, **options).parameter_count()
        want = counts["shared"] / counts["total"]
        if not np.isclose(float(value), want, atol=tolerance):
            hint = (
                "use model.parameter_count(): the share is counts['shared'] / counts['total'] (a fraction in [0, 1])."
            )
            if float(value) > 1:
                hint = "give a fraction in [0, 1], not a percentage."
            raise _fail(
                f"{family}: you say {float(value):.3f}, the model has {want:.3f} of its parameters shared.",
                hint,
            )
    missing = [f for f in MULTI_TASK_FAMILIES if f not in answer]
    extra = f" (not answered: {', '.join(missing)})" if missing else ""
    _ok(f"Shared-parameter fractions are right for {', '.join(answer)}{extra}.")


# ------------------------------------------------------------------------------- predictions
def check_prediction(
    prediction: str | None,
    *,
    observed: str,
    options: Sequence[str],
    explanation: str = "",
    strict: bool = False,
) -> bool:
    """Compare a predict-then-run answer with what the run showed.

    Args:
        prediction: the learner's choice, one of ``options``.
        observed: what the experiment in the notebook actually produced (computed, not typed).
        options: the allowed answers.
        explanation: printed after the verdict (why the result came out this way).
        strict: a wrong answer raises :class:`ExerciseError` (use it where the answer is a
            deterministic fact the learner can work out, not a noisy measurement); otherwise a
            wrong guess only prints a prompt to look again.

    Returns:
        True when the prediction matched.

    Raises:
        ExerciseError: when ``prediction`` is missing or not one of ``options``, or wrong with ``strict``.
    """
    if prediction is None or prediction not in options:
        raise _fail(f"Your prediction {prediction!r} is not one of the options.", f"set it to one of {list(options)}.")
    matched = prediction == observed
    if matched:
        _ok(f"Your prediction {prediction!r} matches what the run shows.")
    elif strict:
        raise _fail(f"You answered {prediction!r}; the computation gives {observed!r}.", explanation or "look again.")
    else:
        print(f"\U0001f914 You predicted {prediction!r}; this run shows {observed!r}. Worth a second look.")
    if explanation:
        print(explanation)
    return matched


# ------------------------------------------------------------------------- bring your own data
#: (stored value(s), RescaleSlope, RescaleIntercept) examples of :func:`check_hu_conversion`.
HU_EXAMPLES: tuple[tuple[Any, float, float], ...] = (
    (1024, 1.0, -1024.0),
    (0, 1.0, -1024.0),
    (2048, 0.5, -1024.0),
    ([[100, 2000], [3000, -50]], 2.0, -1000.0),
)


def check_hu_conversion(fn: Callable[[Any, float, float], Any]) -> None:
    """Check a learner's ``fn(stored, slope, intercept) -> HU`` (the DICOM Modality LUT).

    The reference is ``slope * stored + intercept`` (DICOM PS3.3 C.11.1,
    :func:`mtdl_kit.data.stored_to_hu`), on hand examples and on a CT DICOM written with a
    rescale slope of 0.5 and intercept of -1024 and read back by
    :func:`mtdl_kit.data.read_raw`.

    Raises:
        ExerciseError: with the example, both values and a hint.
    """
    import tempfile
    from pathlib import Path

    from mtdl_kit.data import read_raw, stored_to_hu, write_ct_dicom

    for stored, slope, intercept in HU_EXAMPLES:
        want = np.asarray(stored_to_hu(stored, slope, intercept), dtype=float)
        got = np.asarray(fn(np.asarray(stored), slope, intercept), dtype=float)
        if got.shape != want.shape or not np.allclose(got, want, atol=1e-6):
            s = np.asarray(stored, dtype=float)
            if got.shape == want.shape and np.allclose(got, (s - intercept) / slope, atol=1e-6):
                hint = "that is the way back (HU -> stored value); the file stores v, the HU are slope * v + intercept."
            elif got.shape == want.shape and np.allclose(got, (s + intercept) * slope, atol=1e-6):
                hint = "multiply the stored value by the slope first, then add the intercept: slope * v + intercept."
            else:
                hint = "HU = RescaleSlope * stored value + RescaleIntercept (a straight line)."
            raise _fail(
                f"stored={stored}, slope={slope}, intercept={intercept}: you return {got.tolist()}, "
                f"the reference is {want.tolist()}.",
                hint,
            )
    with tempfile.TemporaryDirectory() as tmp:
        hu = np.linspace(-1000.0, 1500.0, 256).reshape(16, 16)
        path = write_ct_dicom(Path(tmp) / "ct.dcm", hu, slope=0.5, intercept=-1024.0)
        import pydicom

        stored = pydicom.dcmread(path).pixel_array
        got = np.asarray(fn(stored, 0.5, -1024.0), dtype=float)
        if not np.allclose(got, read_raw(path).array, atol=1e-3):
            raise _fail("On a real DICOM file your HU differ from what read_raw() returns.", "do not round or clip.")
    _ok(f"Your conversion matches the Modality LUT on {len(HU_EXAMPLES)} examples and on a DICOM file read back.")


def check_labels_row(row: Mapping[str, Any], root: Any, *, region: str = "eye", tolerance: float = 0.02) -> None:
    """Check a learner's new ``labels.csv`` row (``{column: value}``) for a case of a folder dataset.

    The row is appended to a copy of ``root/labels.csv``; the copy must pass
    :func:`~mtdl_kit.data.check_dataset` with no problem, the case must then be labelled
    for every classification and regression task, and each regression value that is a mask
    measurement must agree with ``region.measure`` on the case's mask (within ``tolerance``),
    with the classification following the region's rule for it where there is one (eye:
    glaucoma ⇔ CDR > 0.6).

    Raises:
        ExerciseError: naming the problem, with a hint.
    """
    import csv
    import shutil
    import tempfile
    from pathlib import Path

    from PIL import Image

    from mtdl_kit.data import check_dataset, open_dataset
    from mtdl_kit.regions import get_region

    reg = get_region(region)
    if not isinstance(row, Mapping) or "case_id" not in row:
        raise _fail("row must be a dict {column: value} with a 'case_id'.", "e.g. {'case_id': 'eye_new', ...}.")
    root = Path(root)
    with open(root / "labels.csv", newline="") as f:
        header = next(csv.reader(f))
    extra = [k for k in row if k not in header]
    if extra:
        raise _fail(f"labels.csv has no column(s) {extra}.", f"use the columns of the file: {header}.")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / root.name
        shutil.copytree(root, copy)
        with open(copy / "labels.csv", "a", newline="") as f:
            csv.writer(f).writerow(["" if row.get(c) is None else row.get(c, "") for c in header])
        problems = check_dataset(copy, reg)
        if problems:
            raise _fail(
                f"check_dataset reports {len(problems)} problem(s):\n  " + "\n  ".join(problems),
                "read the message: it names the file, the problem and what is accepted.",
            )
        ds = open_dataset(copy, reg)
        case_id = str(row["case_id"]).strip()
        case = next(c for c in ds.cases if c.case_id == case_id)
        unlabelled = [
            t.name for t in ds.tasks if t.kind in ("classification", "regression") and t.name not in case.targets
        ]
        if unlabelled:
            raise _fail(f"The case is not labelled for {unlabelled}.", "fill in every label column of the row.")
        if not case.masks:
            raise _fail(
                f"Case {case_id!r} has no mask, so the labels cannot be checked against it.", "pick the new case."
            )
        mask = np.asarray(Image.open(next(iter(case.masks.values()))))
        measured = reg.measure(mask, reg.spacing_mm(mask.shape[0]))
        for t in ds.tasks:
            if t.kind == "regression" and t.num_outputs == 1 and t.name in measured:
                got = float(np.asarray(case.targets[t.name]).ravel()[0])
                if abs(got - measured[t.name]) > tolerance:
                    raise _fail(
                        f"{t.name} = {got:.3f}, but the case's mask measures {measured[t.name]:.3f}.",
                        f"measure it: get_region({region!r}).measure(mask, spacing)[{t.name!r}].",
                    )
        if region == "eye":
            want = int(measured["cdr"] > 0.6)
            if int(case.targets["glaucoma"]) != want:
                raise _fail(
                    f"glaucoma = {int(case.targets['glaucoma'])}, but the rule glaucoma ⇔ CDR > 0.6 gives {want}.",
                    "the label should follow the mask here (relatedness 1).",
                )
    _ok(f"check_dataset finds no problem and the labels of {case_id!r} agree with its mask.")


# ------------------------------------------------------------------- region measurements (10-17)
#: (region, measure() key) -> hint shown when the learner's measurement differs.
MEASUREMENT_HINTS: dict[tuple[str, str], str] = {
    ("brain", "necrotic_share"): "necrotic-core pixels (mask == 1) divided by tumour-core pixels (mask == 1 or "
    "mask == 3: necrosis + enhancing tumour; the oedema, 2, is not core); return 0 without a core. A ratio of pixel "
    "counts: the spacing cancels.",
    ("eye", "cdr"): "vertical extents (last - first row containing the structure, + 1): cup (mask == 2) over "
    "disc (mask >= 1, rim + cup); 0 when there is no disc.",
    ("chest", "ctr"): "horizontal extents (last - first column containing the structure, + 1): heart (mask == 2) "
    "over the lungs together (mask == 1); 0 when there are no lungs.",
    ("cardiac", "remodelling_index"): "areas in mm² (pixel count × spacing²); r_cav = sqrt(A_cavity / π), "
    "thickness = sqrt((A_cavity + A_myocardium) / π) - r_cav, index = r_cav / max(thickness, 1e-3).",
    ("abdomen", "solid_share"): "pixels of the enhancing component (mask == 3) divided by all lesion pixels "
    "(mask >= 2: non-enhancing part + enhancing component; the liver, 1, is not lesion); 0 without a lesion.",
    ("musculoskeletal", "jsw_medial"): "per column: gap = top tibia row - bottom femur row - 1 (clipped at 0), on "
    "columns with both bones; medial = columns right of centre + 0.1 × tibia width (centre and width from the "
    "first/last column containing tibia); minimum over windows of max(2, round(8 / spacing_mm)) columns of the "
    "mean gap (the mean of all if fewer), × spacing_mm.",
    ("pathology", "mean_nuclear_area_um2"): "count nuclei as 8-connected components of the interior class "
    "(scipy.ndimage.label(mask == 1, structure=np.ones((3, 3)))); area = pixels of interior + contour "
    "(mask >= 1) × (spacing_mm × 1000)² / count; 0 without nuclei.",
    ("other", "diameter_mm"): "maximum Feret diameter: project the lesion pixels (mask >= 1) on 36 directions "
    "k·π/36, take the largest (max - min) + 1 pixel, × spacing_mm.",
}


def check_region_measurement(
    fn: Callable[[np.ndarray, float], float],
    *,
    region: str,
    key: str,
    n_cases: int = 6,
    size: int = 64,
    rtol: float = 1e-6,
) -> None:
    """Check a learner's clinical measurement ``fn(mask, spacing_mm) -> float`` against ``region.measure``.

    The reference is ``get_region(region).measure(mask, spacing_mm)[key]`` on the ground-truth
    masks of generated phantoms (seeds ``0 .. n_cases - 1``).

    Raises:
        ValueError: unknown region or ``key`` not returned by the region's ``measure``.
        ExerciseError: with the case, both values and a hint.
    """
    from mtdl_kit.regions import get_region

    reg = get_region(region)
    seg = reg.coupling.segmentation
    hint = MEASUREMENT_HINTS.get((region, key), f"see the docstring of get_region({region!r}).measure.")
    for seed in range(n_cases):
        s = reg.sample(seed, size=size)
        mask = np.asarray(s.targets[seg]).copy()
        reference = reg.measure(mask, s.spacing_mm)
        if key not in reference:
            raise ValueError(f"{region}.measure() returns no {key!r}; its keys are {sorted(reference)}.")
        want = float(reference[key])
        got = float(fn(mask.copy(), s.spacing_mm))
        if not np.isclose(got, want, rtol=rtol, atol=1e-6):
            raise _fail(f"Case {seed}: your {key} is {got:.4f}, {region}.measure() gives {want:.4f}.", hint)
    _ok(f"Your {key} matches {region}.measure() on {n_cases} phantoms.")


def check_region_rule(
    fn: Callable[[Mapping[str, float]], int], *, region: str, n_cases: int = 64, size: int = 64
) -> None:
    """Check a learner's label rule ``fn(measured) -> class index`` against the region's own labels.

    ``measured`` is ``region.measure(mask, spacing_mm)`` on a phantom's ground-truth mask (a dict
    such as ``{"cdr": 0.64, ...}``). At relatedness 1, with no nuisance and no label noise, every
    phantom's label follows the region's clinical rule (``region.coupling.rule``) applied to that
    measurement, so the reference is the label the generator drew, on seeds ``0 .. n_cases - 1``.
    A threshold on the wrong side, the wrong quantity or classes in the wrong order fail.

    Raises:
        ValueError: unknown region.
        ExerciseError: with the case, the measurement, both classes and the rule as a hint.
    """
    from mtdl_kit.regions import get_region

    reg = get_region(region)
    c = reg.coupling
    spec = reg.task(c.classification)
    names = list(spec.class_names or range(spec.num_outputs))
    for seed in range(n_cases):
        s = reg.sample(seed, size=size, relatedness=1.0)
        measured = reg.measure(np.asarray(s.targets[c.segmentation]).copy(), s.spacing_mm)
        want = int(np.asarray(s.targets[c.classification]))
        got = fn(dict(measured))
        if isinstance(got, str) or not isinstance(got, (int, np.integer)) or not 0 <= int(got) < len(names):
            raise _fail(
                f"Case {seed}: fn returned {got!r}; it must return a class index 0 .. {len(names) - 1}.",
                f"the classes of {c.classification!r} in order: {names}; return the index, not the name.",
            )
        if int(got) != want:
            shown = ", ".join(f"{k} = {v:.4g}" for k, v in measured.items())
            raise _fail(
                f"Case {seed} ({shown}): your rule gives {names[int(got)]!r} (class {int(got)}), the phantom's label "
                f"is {names[want]!r} (class {want}).",
                f"the rule at relatedness 1 is: {c.rule}. A value exactly on a threshold goes to the lower class.",
            )
    _ok(f"Your rule gives the {c.classification} label of all {n_cases} phantoms at relatedness 1.")


def check_best_family(prediction: str | None, results: Any) -> bool:
    """Compare a predicted winning family with the benchmark's ``families`` table of one region.

    Prints the verdict and whether the winner's 95 % CI overlaps the runner-up's (a wrong guess is
    not an error: it is a prompt to look again).

    Args:
        prediction: the learner's family.
        results: ``load_results("families", region=...)`` (one row per family: ``family``,
            ``delta_m``, ``ci_low``, ``ci_high``).

    Returns:
        True when the prediction is the family with the highest Δm.

    Raises:
        ValueError: ``results`` is not one region's families table.
        ExerciseError: ``prediction`` is not one of the families in the table.
    """
    needed = ("family", "delta_m", "ci_low", "ci_high")
    if not hasattr(results, "columns") or any(c not in results.columns for c in needed) or len(results) == 0:
        raise ValueError(f"results must be load_results('families', region=...) with the columns {needed}.")
    if "region" in results.columns and results["region"].nunique() > 1:
        raise ValueError("results holds several regions; filter it: load_results('families', region=...).")
    ranked = results.sort_values("delta_m", ascending=False).reset_index(drop=True)
    options = list(ranked["family"])
    if prediction not in options:
        raise _fail(f"Your prediction {prediction!r} is not one of the families.", f"set it to one of {options}.")
    best = ranked.iloc[0]
    matched = prediction == best["family"]
    if matched:
        _ok(f"Your prediction {prediction!r} has the highest Δm here ({best['delta_m']:+.1f} %).")
    else:
        mine = ranked[ranked["family"] == prediction].iloc[0]
        print(
            f"\U0001f914 You predicted {prediction!r} (Δm {mine['delta_m']:+.1f} %); "
            f"{best['family']!r} has the highest Δm ({best['delta_m']:+.1f} %). Worth a second look."
        )
    if len(ranked) > 1:
        second = ranked.iloc[1]
        if best["ci_low"] <= second["ci_high"]:
            print(
                f"The 95 % intervals of {best['family']} [{best['ci_low']:+.1f}, {best['ci_high']:+.1f}] and "
                f"{second['family']} [{second['ci_low']:+.1f}, {second['ci_high']:+.1f}] overlap: the ranking "
                "of the top two is not settled by these seeds."
            )
        else:
            print(f"{best['family']}'s interval lies above {second['family']}'s: a clear winner on this benchmark.")
    return bool(matched)


def check_quick_delta_m(answer: Mapping[str, float], frame: Any, *, tolerance: float = 1e-6) -> None:
    """Check the learner's one-seed Δm per model against :func:`mtdl_kit.inference.quick_delta_m`.

    Args:
        answer: model name -> Δm in % (every multi-task model of ``frame``).
        frame: the output of :func:`mtdl_kit.inference.evaluate_models` (with single-task baselines).
        tolerance: absolute tolerance in percentage points.

    Raises:
        ExerciseError: a missing model or a value that differs, with a hint.
    """
    from mtdl_kit.inference import quick_delta_m

    want = quick_delta_m(frame)
    if not isinstance(answer, Mapping) or not answer:
        raise _fail("answer must be a dict {model name: Δm in %}.", f"the models are {list(want.index)}.")
    missing = [m for m in want.index if m not in answer]
    if missing:
        raise _fail(f"No Δm for {missing}.", f"give one value per multi-task model: {list(want.index)}.")
    for model, value in want.items():
        got = float(answer[model])
        if np.isfinite(value) and not np.isclose(got, value, atol=tolerance):
            if np.isclose(got, value / 100, atol=tolerance):
                hint = "Δm is a percentage: multiply the relative differences by 100."
            else:
                hint = (
                    "for each task divide (model - baseline) by the baseline, flip the sign where lower is "
                    "better (metrics.higher_is_better), average over the tasks, × 100; skip NaN terms."
                )
            raise _fail(f"{model}: you have {got:.3f} %, the reference is {value:.3f} %.", hint)
    _ok(f"Your Δm matches for {', '.join(want.index)}.")


# ---------------------------------------------------------------------------- reading intervals
def check_verdicts(answer: Mapping[str, str], table: str = "families", *, by: str = "family", **where: Any) -> None:
    """Check the learner's verdict per row of a results table against :mod:`mtdl_kit.verdicts`.

    Args:
        answer: row name (the ``by`` column, e.g. the family) -> ``"better"``, ``"worse"`` or
            ``"no detectable difference"``.
        table: the results table (:func:`mtdl_kit.verdicts.verdicts`).
        by: the column that names a row once ``where`` is applied.
        **where: filters, e.g. ``region="eye"``.

    Raises:
        ExerciseError: a missing row, an unknown word, or a verdict the interval does not give.
    """
    from mtdl_kit.verdicts import WORDS, verdicts

    want = verdicts(table, **where).set_index(by)
    if not isinstance(answer, Mapping) or not answer:
        raise _fail(f"answer must be a dict {{{by}: verdict}}.", f"the rows are {list(want.index)}.")
    missing = [k for k in want.index if k not in answer]
    if missing:
        raise _fail(f"No verdict for {missing}.", f"give one word per row: {list(want.index)}.")
    for name, row in want.iterrows():
        got = answer[name]
        if got not in WORDS:
            raise _fail(f"{name}: {got!r} is not a verdict.", f"use one of {list(WORDS)}.")
        if got != row["verdict"]:
            raise _fail(
                f"{name}: you wrote {got!r}, but its interval [{row['ci_low']:+.3g}, {row['ci_high']:+.3g}] says "
                f"{row['verdict']!r}.",
                "an interval entirely above 0 is 'better', entirely below 0 'worse'; one that contains 0 is "
                "'no detectable difference' — the seeds cannot tell, which is not the same as 'equal'.",
            )
    _ok(f"Every verdict matches its interval ({', '.join(f'{k}: {answer[k]}' for k in want.index)}).")


def check_replicated(
    answer: Any,
    runs: Sequence[str],
    *,
    task: str,
    word: str = "better",
    table: str = "starved",
    by: str = "condition",
    root: Any = None,
) -> set[str]:
    """Check the set of conditions whose verdict is ``word`` in *every* one of ``runs`` (a claim that replicates).

    For experiment E: ``runs = ("musculoskeletal_headline", "musculoskeletal_replication")``, the
    rows of ``starved_<run>_summary.csv`` for ``task`` (each condition minus EW on raw targets). For
    experiment G: ``table="transfer_g"``, ``by="contrast"``, ``runs = ("other_headline", "other_replication")``,
    the rows of ``transfer_g_<run>_summary.csv`` for ``task`` (``"delta_m"`` for Δm).

    Args:
        answer: the learner's conditions (a set, list or tuple of names; empty when none).
        runs: the seed sets, ``<region>_<run>`` of the tables.
        task: the task whose contrasts are read.
        word: the verdict that must hold in every run.
        table: the tables' prefix (``<table>_<run>_summary.csv``): ``"starved"`` or ``"transfer_g"``.
        by: the column that names a condition (``"condition"`` for E, ``"contrast"`` for G).
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        The reference set.

    Raises:
        ExerciseError: a condition listed that does not replicate (saying in which run it fails), or
            one missing.
    """
    from mtdl_kit.verdicts import WORDS, verdicts

    if word not in WORDS:
        raise ValueError(f"word must be one of {list(WORDS)}, got {word!r}.")
    tables = {run: verdicts(f"{table}_{run}", root=root, task=task).set_index(by) for run in runs}
    conditions = sorted(set.intersection(*(set(t.index) for t in tables.values())))
    want = {c for c in conditions if all(t.loc[c, "verdict"] == word for t in tables.values())}
    if isinstance(answer, str) or not isinstance(answer, (set, frozenset, list, tuple)):
        raise _fail(f"answer must be a set of condition names, got {answer!r}.", f"the conditions are {conditions}.")
    got = {str(a) for a in answer}
    unknown = sorted(got - set(conditions))
    if unknown:
        raise _fail(f"{unknown} are not conditions of these runs.", f"the conditions are {conditions}.")

    def where(condition: str) -> str:
        return "; ".join(f"{run}: {t.loc[condition, 'text']}" for run, t in tables.items())

    extra, missing = sorted(got - want), sorted(want - got)
    if extra:
        raise _fail(
            f"{extra[0]} is not {word!r} in every run ({where(extra[0])}).",
            "a claim replicates only if each seed set's own interval gives the verdict; "
            "one significant run is not enough.",
        )
    if missing:
        raise _fail(f"{missing[0]} is {word!r} in every run ({where(missing[0])}).", "read every condition's rows.")
    _ok(f"{sorted(want) or 'none'}: {word} on every seed set ({', '.join(runs)}).")
    return want


def check_mean_weight(
    answer: float, run: str, condition: str, task: str, *, root: Any = None, tolerance: float = 1e-6
) -> float:
    """Check a task's training-averaged loss weight under one condition of experiment E, averaged over seeds.

    Args:
        answer: the learner's number.
        run: ``<region>_<run>`` of the starved task's tables, e.g. ``"eye_headline"``.
        condition: e.g. ``"gradnorm-raw"``.
        task: e.g. ``"cdr"``.
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).
        tolerance: accepted absolute difference.

    Returns:
        The reference value: the mean over seeds of the runs' ``weight_mean`` for ``task``.

    Raises:
        ExerciseError: not a number, or a different value.
    """
    from mtdl_kit.results import load_starved

    region, _, which = run.rpartition("_")
    runs = load_starved("runs", region=region, run=which, root=root)
    rows = runs[(runs["condition"] == condition) & (runs["task"] == task)].drop_duplicates("seed")
    if rows.empty:
        raise ValueError(f"No runs of condition {condition!r} with task {task!r} in starved_{run}_runs.csv.")
    want = float(rows["weight_mean"].mean())
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        raise _fail(f"answer must be a finite number, got {answer!r}.", "average the column weight_mean over seeds.")
    if abs(float(answer) - want) > tolerance:
        raise _fail(
            f"you computed {answer:.4f}, the runs give {want:.4f}.",
            f"keep one row per seed (the runs table has one row per metric) for condition {condition!r} and "
            f"task {task!r}, then average weight_mean.",
        )
    _ok(f"{task}'s training-averaged weight under {condition}, {run.replace('_', ' ')} seeds: {want:.3f}.")
    return want


def check_cascade_contrast(answer: float, run: str, contrast: str, budget: int, *, root: Any = None) -> float:
    """Check a contrast of experiment D (the cascade in stages) computed by hand from its runs table.

    The learner takes ``transfer_d_<run>_runs.csv``, keeps the main task's primary metric at ``budget``,
    and averages over seeds the per-seed difference of the two arms the contrast names (e.g.
    ``"mask_only@dice_0.70 - mask_only@true"``: the classifier reading the mask alone, scored on masks
    degraded to Dice 0.70, minus the same classifier on the reference masks). The lab's point estimate
    is that mean, so it must match the summary's ``value``.

    Args:
        answer: the learner's number (metric units, e.g. AUC points).
        run: ``<region>_<run>``, e.g. ``"eye_headline"``.
        contrast: a two-arm contrast of the summary, ``"<arm>@<input> - <arm>@<input>"`` or ``"... - direct"``.
        budget: the main-task label budget.
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        The reference value.

    Raises:
        ExerciseError: not a number, or a different value (naming the likely slip).
    """
    from mtdl_kit.results import load_transfer

    summary = load_transfer("summary", experiment="d", run=run, root=root)
    rows = summary[(summary["contrast"] == contrast) & (summary["budget"] == budget)]
    if rows.empty or " - " not in contrast:
        two_arm = sorted(c for c in summary["contrast"].unique() if " - " in c)
        raise ValueError(f"No two-arm contrast {contrast!r} at budget {budget}; the contrasts are {two_arm}.")
    return _check_mean_difference(
        answer,
        float(rows["value"].iloc[0]),
        f"{contrast} at {budget} labels",
        "the sign is reversed: first arm minus second.",
        f"keep budget == {budget}, the main task's primary metric (not n_cases), the two (stage, input) pairs "
        "the contrast names, one value per seed; then average the per-seed differences.",
    )


def _check_mean_difference(answer: Any, want: float, label: str, reversed_hint: str, slip_hint: str) -> float:
    """The shared end of the lab's by-hand contrast checks: ``answer`` must be the lab's mean of per-seed
    differences ``want`` (to 1e-6); a reversed sign and any other slip get their own hint."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        raise _fail(f"answer must be a finite number, got {answer!r}.", "a mean of per-seed differences.")
    tolerance = 1e-6
    if abs(float(answer) - want) <= tolerance:
        _ok(f"{label}: {want:+.4f} (mean over seeds of the paired differences).")
        return want
    if abs(float(answer) + want) <= tolerance:
        raise _fail(f"you computed {answer:+.4f}, the lab gives {want:+.4f}.", reversed_hint)
    raise _fail(f"you computed {answer:+.4f}, the lab gives {want:+.4f}.", slip_hint)


def check_families_contrast(
    answer: float, run: str, contrast: str, task: str, *, metric: str | None = None, root: Any = None
) -> float:
    """Check a per-task contrast of experiment G (the families under the lab's protocol) computed by hand.

    The learner takes ``transfer_g_<run>_runs.csv``, keeps ``task``'s primary metric, takes per seed the
    first arm's value minus the second's (``"hybrid - single@params"``), flips the sign when lower is
    better (MAE: a positive contrast always means the first arm is better), and averages over seeds.
    The lab's point estimate is that mean, so it must match the summary's ``value``. For another metric
    of the runs table (``metric``, e.g. the quadratic weighted κ of an ordinal grade beside its AUC), the
    summary has no row, and the reference is the same mean of per-seed differences computed from the runs.

    Args:
        answer: the learner's number (metric units).
        run: ``<region>_<run>``, e.g. ``"eye_headline"``.
        contrast: a two-arm contrast of the summary, ``"<arm> - <arm>"``.
        task: the task (not ``delta_m``: Δm is a ratio of means, not a mean of differences).
        metric: a metric of the runs table (default: the task's metric in the summary, its primary one).
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        The reference value.

    Raises:
        ExerciseError: not a number, or a different value (naming the likely slip).
    """
    from mtdl_kit.metrics import higher_is_better
    from mtdl_kit.results import load_transfer

    summary = load_transfer("summary", experiment="g", run=run, root=root)
    rows = summary[(summary["contrast"] == contrast) & (summary["task"] == task)]
    if rows.empty or task == "delta_m":
        named = sorted(c for c in summary["contrast"].unique() if " - " in c)
        raise ValueError(f"No contrast {contrast!r} for task {task!r}; the contrasts are {named}.")
    want, primary = float(rows["value"].iloc[0]), str(rows["metric"].iloc[0])
    if metric is not None and metric != primary:
        want = _runs_mean_difference(load_transfer("runs", experiment="g", run=run, root=root), contrast, task, metric)
    metric = metric or primary
    flip = " (for a lower-is-better metric such as MAE, flip it)" if not higher_is_better(metric) else ""
    return _check_mean_difference(
        answer,
        want,
        f"{contrast}, {task} {metric} (+ = better)",
        f"the sign is reversed: first arm minus second{flip}, so that a positive value means better.",
        f"keep task == {task!r} and metric == {metric!r}, the two arms the contrast names, one value per seed; "
        "then average the per-seed differences (sign flipped when lower is better).",
    )


def _runs_mean_difference(runs: Any, contrast: str, task: str, metric: str) -> float:
    """The mean over seeds of ``first - second`` arm on ``task``'s ``metric`` (sign flipped when lower is better)."""
    from mtdl_kit.metrics import higher_is_better

    first, _, second = contrast.partition(" - ")
    values = runs[(runs["task"] == task) & (runs["metric"] == metric)]
    if values.empty:
        known = sorted(runs.loc[runs["task"] == task, "metric"].unique())
        raise ValueError(f"The runs table has no metric {metric!r} for task {task!r}; it has {known}.")
    per_seed = values.pivot_table(index="seed", columns="arm", values="value")
    sign = 1.0 if higher_is_better(metric) else -1.0
    return float((sign * (per_seed[first] - per_seed[second])).mean())


def check_condition_rho(answer: float, runs: Any, predictor: str = "cosine", *, tolerance: float = 1e-9) -> float:
    """Check Spearman's ρ between each condition's mean early ``predictor`` and its mean final Δ (experiment F).

    Args:
        answer: the learner's ρ.
        runs: experiment F's runs table (``load_transfer(experiment="f")``: one row per region, rule,
            arm and seed, with ``delta`` and the early means).
        predictor: the early measurement (``"cosine"`` or ``"affinity_aux_to_main"``).

    Returns:
        The reference ρ.

    Raises:
        ExerciseError: a value that is not a number, or a different ρ.
    """
    from mtdl_kit.lab.conflict import conditions_rho

    want = conditions_rho(runs, predictor)
    try:
        got = float(answer)
    except (TypeError, ValueError):
        raise _fail(f"answer must be a number, got {answer!r}.", "scipy.stats.spearmanr(x, y).statistic") from None
    if not math.isclose(got, want, abs_tol=tolerance):
        n = runs.groupby(["region", "rule", "arm"]).ngroups
        raise _fail(
            f"your ρ is {got:+.4f}; over the {n} conditions' means it is {want:+.4f}.",
            "average the runs of each (region, rule, arm) first — one point per condition, not per run — then "
            "rank-correlate the mean predictor with the mean delta.",
        )
    _ok(f"ρ = {want:+.3f} over the conditions' means.")
    return want


def reference_paired_interval(a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95) -> tuple:
    """Mean of the per-seed differences ``a - b`` with a paired t interval over seeds.

    ``d_s = a_s - b_s`` for each seed ``s``; mean ``d̄``; interval ``d̄ ± t(1-α/2, n-1) · sd(d) / √n``
    (Student's paired t; sd with ``ddof=1``). Seeds are the units: the test cases are shared, so
    the interval leaves their sampling variation out (``mtdl_kit.evaluation.paired_contrast``'s
    hierarchical bootstrap includes it, and is wider).

    Returns:
        ``(mean, ci_low, ci_high)``.

    Raises:
        ValueError: unequal lengths or fewer than two seeds.
    """
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"Need two equal-length series of at least 2 seeds, got {x.shape} and {y.shape}.")
    d = x - y
    half = float(stats.t.ppf(0.5 + confidence / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def check_paired_interval(
    answer: Sequence[float], a: Sequence[float], b: Sequence[float], *, tolerance: float = 1e-6
) -> str:
    """Check ``(mean, ci_low, ci_high)`` of the per-seed differences ``a - b`` (paired t interval).

    Args:
        answer: the learner's ``(mean, ci_low, ci_high)``.
        a: per-seed values of the first arm, in seed order.
        b: per-seed values of the second arm, the same seeds in the same order.
        tolerance: absolute tolerance.

    Returns:
        The verdict of the interval (``"better"``, ``"worse"``, ``"no detectable difference"``).

    Raises:
        ExerciseError: a wrong mean or interval, with a hint naming the likely mistake.
    """
    from mtdl_kit.verdicts import verdict

    want = reference_paired_interval(a, b)
    try:
        got = tuple(float(v) for v in answer)
    except (TypeError, ValueError):
        got = ()
    if len(got) != 3:
        raise _fail(f"answer must be (mean, ci_low, ci_high), got {answer!r}.", "return a tuple of three numbers.")
    if not np.isclose(got[0], want[0], atol=tolerance):
        raise _fail(
            f"The mean difference is {want[0]:+.4f}, you have {got[0]:+.4f}.",
            "subtract seed by seed (the same seed in both arms), then average the differences.",
        )
    if not np.allclose(got[1:], want[1:], atol=tolerance):
        raise _fail(
            f"The interval is [{want[1]:+.4f}, {want[2]:+.4f}], you have [{got[1]:+.4f}, {got[2]:+.4f}].",
            "use the standard deviation of the per-seed differences (ddof=1), not of each arm (that is the "
            "unpaired interval); half-width = t · sd / √n with t = scipy.stats.t.ppf(0.975, n - 1).",
        )
    word = verdict(*want, unit="").word
    _ok(f"Mean difference {want[0]:+.4f} [{want[1]:+.4f}, {want[2]:+.4f}] over {len(a)} seeds: {word}.")
    return word


def _check_largest_open(answer: Any, low: float, high: float, name: str, tolerance: float) -> float:
    """Fail unless ``answer`` is the largest effect in size an interval containing 0 leaves open; return it."""
    want = max(abs(low), abs(high))
    try:
        got = float(answer)
    except (TypeError, ValueError):
        raise _fail(f"{name} must be a number, got {answer!r}.", "max(|ci_low|, |ci_high|).") from None
    if not np.isclose(got, want, atol=tolerance):
        raise _fail(
            f"The largest effect left open is {want:.4f}, you have {got:.4f}.",
            "an interval [low, high] that contains 0 leaves open every effect between low and high: the largest "
            "in size is max(|low|, |high|).",
        )
    return want


def check_null_bound(answer: float, a: Sequence[float], b: Sequence[float], *, tolerance: float = 1e-6) -> None:
    """Check the largest effect a null result leaves open: ``max(|ci_low|, |ci_high|)`` of ``a - b``.

    An interval that contains 0 does not say "no effect"; it says that effects larger than this
    bound (in either direction) are unlikely under these seeds, and smaller ones are not ruled out
    (Altman & Bland, *BMJ* 311:485, 1995). Uses :func:`reference_paired_interval`.

    Raises:
        ExerciseError: the interval excludes 0 (not a null result), or a different number.
    """
    from mtdl_kit.verdicts import NULL, verdict

    mean, low, high = reference_paired_interval(a, b)
    if verdict(mean, low, high, unit="").word != NULL:
        raise _fail(
            f"This interval [{low:+.4f}, {high:+.4f}] excludes 0: it is not a null result.",
            "pick the contrast whose interval contains 0.",
        )
    want = _check_largest_open(answer, low, high, "answer", tolerance)
    _ok(
        f"No detectable difference, but effects up to {want:.3f} in size are not ruled out by "
        f"{len(a)} seeds — absence of evidence is not evidence of absence."
    )


# ------------------------------------------------------------------ the relatedness crossover
def check_crossover_interaction(
    answer: Sequence[float], run: str = "eye_headline", *, root: Any = None, tolerance: float = 1e-6
) -> Any:
    """Check ``(interaction, ci_low, ci_high)`` computed by hand from the crossover's runs table.

    The reference value is the lab's own (``transfer_c_<run>_summary.csv``, row ``interaction``:
    the mean over seeds of ½[(related − unrelated)_A + (related − unrelated)_B]); the reference
    interval is :func:`mtdl_kit.verdicts.seed_bootstrap` (default arguments) of the per-seed
    interactions, paired by seed.

    Args:
        answer: the learner's ``(mean, ci_low, ci_high)``.
        run: ``<region>_<run>`` of the crossover's tables.
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).
        tolerance: absolute tolerance.

    Returns:
        The :class:`~mtdl_kit.verdicts.Verdict` of the seed-level interval.

    Raises:
        ExerciseError: a wrong value (with the likely mistake: no ½, a reversed sign, one rule only)
            or a wrong interval (unpaired seeds, another interval).
    """
    from mtdl_kit.verdicts import CROSSOVER_CONTRASTS, crossover_seeds, seed_bootstrap, seed_contrast, verdict_of

    table = crossover_seeds(run, root=root)
    weights = CROSSOVER_CONTRASTS["interaction"]
    lab = verdict_of(f"transfer_c_{run}", root=root, budget=table.attrs["budget"], contrast="interaction")
    per_seed = sum(w * table[k] for k, w in weights.items())
    mean, low, high = seed_bootstrap(per_seed)
    if not np.isclose(mean, lab.value, atol=1e-9):  # the runs table and the summary disagree: not the learner's fault
        raise ValueError(f"transfer_c_{run}: runs give {mean}, the summary {lab.value}; regenerate the tables.")
    try:
        got = tuple(float(v) for v in answer)
    except (TypeError, ValueError):
        got = ()
    if len(got) != 3:
        raise _fail(f"answer must be (interaction, ci_low, ci_high), got {answer!r}.", "a tuple of three numbers.")
    if not np.isclose(got[0], mean, atol=tolerance):
        one_rule = {r: float((table[f"{r}:related"] - table[f"{r}:unrelated"]).mean()) for r in ("A", "B")}
        if np.isclose(got[0], 2 * mean, atol=tolerance):
            hint = "the interaction is the *average* of the two rules' differences: multiply their sum by ½."
        elif np.isclose(got[0], -mean, atol=tolerance):
            hint = "the sign: related − unrelated, so that a positive value means the related task helps more."
        elif any(np.isclose(got[0], v, atol=tolerance) for v in one_rule.values()):
            hint = "that is one rule's related − unrelated; average it with the other rule's."
        else:
            hint = (
                "per seed: ½ · [(A:related − A:unrelated) + (B:related − B:unrelated)], the same seed in every "
                "column; then the mean over seeds."
            )
        raise _fail(f"The interaction is {mean:+.4f} (the lab's value), you have {got[0]:+.4f}.", hint)
    if not np.allclose(got[1:], (low, high), atol=tolerance):
        hierarchical = np.allclose(got[1:], (lab.ci_low, lab.ci_high), atol=tolerance)
        hint = (
            "that is the lab's hierarchical interval (it also resamples the test cases); here, bootstrap the "
            "seeds only: seed_bootstrap(per_seed)."
            if hierarchical
            else "pass the per-seed interactions (one number per seed, computed row by row, i.e. paired) to "
            "seed_bootstrap with its default arguments (2000 resamples, seed 0)."
        )
        raise _fail(
            f"The seed-level interval is [{low:+.4f}, {high:+.4f}], you have [{got[1]:+.4f}, {got[2]:+.4f}].", hint
        )
    result = seed_contrast(table, weights, what="interaction")
    _ok(
        f"Interaction {mean:+.4f} [{low:+.4f}, {high:+.4f}] over {len(table)} seeds (seeds resampled): "
        f"{result.word}. The lab's interval, which also resamples the test cases: {lab.interval()}."
    )
    return result


def check_contrast_weights(answer: Mapping[str, float], question: str) -> dict[str, float]:
    """Check contrast weights on the crossover's ``"rule:arm"`` columns for a named comparison.

    Args:
        answer: column -> weight, e.g. ``{"B:shuffled": 1, "B:none": -1}``; zero weights may be left out.
        question: a key of :data:`mtdl_kit.verdicts.CROSSOVER_CONTRASTS`, e.g. ``"interaction"`` or
            ``"B: shuffled - none"`` (the first-named arm's weights are positive).

    Returns:
        The weights (floats, zeros dropped), ready for :func:`mtdl_kit.verdicts.seed_contrast`.

    Raises:
        ExerciseError: an unknown arm, a reversed sign, a wrong scale or another comparison.
        ValueError: an unknown question.
    """
    from mtdl_kit.verdicts import CROSSOVER_ARMS, CROSSOVER_CONTRASTS, CROSSOVER_RULES

    if question not in CROSSOVER_CONTRASTS:
        raise ValueError(f"Unknown question {question!r}; the questions are {list(CROSSOVER_CONTRASTS)}.")
    want = CROSSOVER_CONTRASTS[question]
    columns = [f"{r}:{a}" for r in CROSSOVER_RULES for a in CROSSOVER_ARMS]
    if not isinstance(answer, Mapping) or not answer:
        raise _fail(f"answer must be a dict {{arm: weight}}, got {answer!r}.", f"the arms are {columns}.")
    unknown = [k for k in answer if k not in columns]
    if unknown:
        raise _fail(f"{unknown} are not arms of the crossover.", f"write 'rule:arm', one of {columns}.")
    try:
        got = {k: float(v) for k, v in answer.items() if float(v) != 0.0}
    except (TypeError, ValueError):
        raise _fail(f"weights must be numbers, got {answer!r}.", "e.g. {'A:related': 1, 'A:unrelated': -1}.") from None

    def vec(w: Mapping[str, float]) -> np.ndarray:
        return np.array([float(w.get(c, 0.0)) for c in columns])

    g, w = vec(got), vec(want)
    if np.allclose(g, w):
        _ok(f"{question}: {' '.join(f'{v:+g}·{k}' for k, v in got.items())} — the right contrast.")
        return got
    if np.allclose(g, -w):
        hint = f"reverse the signs: a positive value should mean that {question.split(' - ')[0]!r} is the better side."
    elif not np.isclose(g.sum(), 0.0):
        hint = f"a comparison's weights sum to 0 (each arm's + is balanced by another's −); yours sum to {g.sum():+g}."
    elif np.count_nonzero(g) == np.count_nonzero(w) and (g != 0).tolist() == (w != 0).tolist():
        ratio = g[w != 0] / w[w != 0]
        if not (np.allclose(ratio, ratio[0]) and ratio[0] > 0):
            hint = "the right arms, but not with these weights: write each difference as (+1, −1), then combine."
        elif question == "interaction":
            hint = (
                "the right arms and signs, the wrong scale: the interaction *averages* the two rules' differences "
                "(½ each), so it is in ROC-AUC points like each difference."
            )
        else:
            hint = "the right arms and signs, the wrong scale: a difference of two arms is +1 and −1."
    else:
        used = sorted(k for k, v in got.items())
        hint = (
            f"you compare {used}; name the arms of '{question}' (rule A or B, arm none/related/unrelated/shuffled) "
            "and give the first +, the second −."
        )
    raise _fail(f"These weights do not compute '{question}'.", hint)


def check_null_reading(word: str, largest_open: float | None, estimate: Any, *, tolerance: float = 1e-6) -> None:
    """Check the reading of one interval: its verdict word and, for a null result, the largest effect left open.

    Args:
        word: ``"better"``, ``"worse"`` or ``"no detectable difference"``.
        largest_open: for a null result, ``max(|ci_low|, |ci_high|)``: the largest effect in size the
            interval does not rule out (None when the interval excludes 0).
        estimate: the :class:`~mtdl_kit.verdicts.Verdict` read (e.g. from
            :func:`mtdl_kit.verdicts.seed_contrast`).

    Raises:
        ExerciseError: a wrong word, or a wrong bound.
    """
    from mtdl_kit.verdicts import NULL, WORDS

    if word not in WORDS:
        raise _fail(f"{word!r} is not a verdict.", f"use one of {list(WORDS)}.")
    if word != estimate.word:
        raise _fail(
            f"You wrote {word!r}; the interval [{estimate.ci_low:+.4f}, {estimate.ci_high:+.4f}] says "
            f"{estimate.word!r}.",
            "an interval entirely above 0 is 'better', entirely below 0 'worse'; one that contains 0 is "
            "'no detectable difference'.",
        )
    if estimate.word != NULL:
        _ok(f"{estimate.word}: the interval excludes 0, so there is no null result to bound.")
        return
    want = _check_largest_open(largest_open, estimate.ci_low, estimate.ci_high, "largest_open", tolerance)
    _ok(
        f"No detectable difference — and effects up to {want:.3f} in size are not ruled out by these "
        f"{estimate.n_seeds or 'few'} seeds: absence of evidence is not evidence of absence."
    )
