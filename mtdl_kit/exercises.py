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

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ExerciseError",
    "check_cdr_from_mask",
    "check_delta_m",
    "check_family_parameter_share",
    "check_pcgrad_projection",
    "check_prediction",
    "reference_delta_m",
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
    from mtdl_kit.evaluation import _relative
    from mtdl_kit.metrics import higher_is_better

    names = list(mtl)
    m = np.array([mtl[n] for n in names], dtype=float)
    b = np.array([baseline[n] for n in names], dtype=float)
    sign = np.array([1.0 if higher_is_better(n) else -1.0 for n in names])
    return float(np.mean(_relative(m, b, sign)))


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
def check_prediction(prediction: str | None, *, observed: str, options: Sequence[str], explanation: str = "") -> bool:
    """Compare a predict-then-run answer with what the run showed; a wrong guess is not an error.

    Args:
        prediction: the learner's choice, one of ``options``.
        observed: what the experiment in the notebook actually produced (computed, not typed).
        options: the allowed answers.
        explanation: printed after the verdict (why the result came out this way).

    Returns:
        True when the prediction matched.

    Raises:
        ExerciseError: when ``prediction`` is missing or not one of ``options``.
    """
    if prediction is None or prediction not in options:
        raise _fail(f"Your prediction {prediction!r} is not one of the options.", f"set it to one of {list(options)}.")
    matched = prediction == observed
    if matched:
        _ok(f"Your prediction {prediction!r} matches what the run shows.")
    else:
        print(f"\U0001f914 You predicted {prediction!r}; this run shows {observed!r}. Worth a second look.")
    if explanation:
        print(explanation)
    return matched
