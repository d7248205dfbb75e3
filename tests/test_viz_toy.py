"""The 2-D toy aggregation helpers behind notebook 20."""

from __future__ import annotations

import numpy as np
import pytest

from mtdl_kit.viz import aggregation_figure, toy_aggregations


def test_toy_aggregations_geometry() -> None:
    J = np.array([[2.0, 0.3], [-0.5, 0.8]])
    out = toy_aggregations(J)
    np.testing.assert_allclose(out["ew"], J.mean(0), atol=1e-6)
    # MGDA: the minimum-norm point of the convex hull is never longer than the mean
    assert np.linalg.norm(out["mgda"]) <= np.linalg.norm(out["ew"]) + 1e-6
    # UPGrad and MGDA never push a task uphill
    for m in ("mgda", "upgrad"):
        assert (J @ out[m] >= -1e-6).all()


def test_aggregation_figure_traces_and_errors() -> None:
    fig = aggregation_figure([[1.0, 0.0], [-0.5, 1.0]], methods=("ew", "upgrad"))
    assert len(fig.data) == 4
    with pytest.raises(ValueError, match=r"\(T, 2\)"):
        aggregation_figure(np.ones((2, 3)))
    with pytest.raises(ValueError, match="Unknown toy aggregator"):
        toy_aggregations([[1.0, 0.0]], methods=("nope",))
