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


def test_fixed_weight_update_and_extra_arrows() -> None:
    import numpy as np

    from mtdl_kit.viz import aggregation_figure, fixed_weight_update

    J = np.array([[2.0, 0.3], [-0.5, 0.8]])
    np.testing.assert_allclose(fixed_weight_update(J, [0.25, 0.75]), 0.25 * J[0] + 0.75 * J[1])
    fig = aggregation_figure(J, methods=("ew",), extra={"fixed": fixed_weight_update(J, [1.0, 0.0])})
    names = [t.name for t in fig.data]
    assert "fixed" in names and len(names) == 4  # two gradients, EW, the extra arrow
    fixed = fig.data[names.index("fixed")]
    assert (fixed.x[-1], fixed.y[-1]) == (2.0, 0.3)
    with pytest.raises(ValueError, match="one weight per task"):
        fixed_weight_update(J, [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        fixed_weight_update(J, [1.5, -0.5])
