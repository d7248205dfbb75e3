"""Exercise checks on clinical measurements computed from masks: the eye's cup-to-disc ratio and each
region's measurement and label rule (notebooks 10-17)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from mtdl_kit.exercises.base import _fail, _ok


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
