"""Exercise checks on gradient methods: the PCGrad projection (Yu et al., NeurIPS 2020), notebook 20."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mtdl_kit.exercises.base import _fail, _ok


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
