"""Pareto optimality of models over several metrics (the trade-off plots of notebooks and dashboard).

A model is on the Pareto front when no other model is at least as good on every metric and better on
one (Sener & Koltun, "Multi-task learning as multi-objective optimization", NeurIPS 2018, section 3).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def non_dominated(points: Sequence[Sequence[float]], higher_is_better: Sequence[bool]) -> list[bool]:
    """Pareto mask: which points no other point dominates (at least as good in every metric, better in one).

    Args:
        points: one metric vector per model.
        higher_is_better: per metric, whether higher is better.

    Returns:
        One flag per point, ``True`` for the non-dominated ones. NaN counts as the worst value.
    """
    signs = np.array([1.0 if h else -1.0 for h in higher_is_better])
    scored = np.array([[float(v) for v in p] for p in points], dtype=float).reshape(len(points), len(signs)) * signs
    scored[np.isnan(scored)] = -np.inf
    front = []
    for i, a in enumerate(scored):
        others = np.delete(scored, i, axis=0)
        dominated = bool(np.any(np.all(others >= a, axis=1) & np.any(others > a, axis=1)))
        front.append(not dominated)
    return front
