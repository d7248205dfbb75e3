"""Contract every region phantom must honour (shapes, determinism, coupling, label consistency)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mtdl_kit.regions import REGION_NAMES, get_region
from mtdl_kit.regions.base import score_to_class

N_COUPLING = 200
SIZE_COUPLING = 64


def _labels(region, relatedness, n=N_COUPLING, nuisance=None, size=SIZE_COUPLING):
    cls = region.coupling.classification
    rows = []
    for seed in range(n):
        s = region.sample(seed, size=size, relatedness=relatedness, nuisance=nuisance)
        rows.append((int(s.targets[cls]), s.latents))
    return np.array([r[0] for r in rows]), [r[1] for r in rows]


@pytest.mark.parametrize("name", REGION_NAMES)
def test_declaration(name):
    r = get_region(name)
    assert r.name == name
    assert r.in_channels in (1, 3)
    kinds = {t.kind for t in r.tasks}
    assert "segmentation" in kinds and "classification" in kinds
    assert len(r.tasks) >= 3
    assert r.coupling.segmentation in r.task_names
    assert r.coupling.classification in r.task_names
    assert r.references, "each region lists the review's representative networks"
    for task_name in r.measured_regression:
        assert r.task(task_name).kind == "regression"
    assert name in r.describe() or r.title in r.describe()


@pytest.mark.parametrize("name", REGION_NAMES)
@pytest.mark.parametrize("size", [32, 96, 128])
def test_shapes_dtypes_ranges(name, size):
    r = get_region(name)
    s = r.sample(3, size=size)
    assert s.image.shape == (r.in_channels, size, size)
    assert s.image.dtype == np.float32
    assert np.isfinite(s.image).all()
    assert s.image.min() >= 0.0 and s.image.max() <= 1.0
    assert s.image.std() > 0.02, "image must not be blank"
    assert set(s.targets) == set(r.task_names) | {t.name for t in r.lab_tasks}
    for t in r.tasks:
        y = s.targets[t.name]
        if t.kind == "segmentation":
            assert y.shape == (size, size) and y.dtype == np.int64
            assert y.min() >= 0 and y.max() < t.num_outputs
        elif t.kind == "classification":
            assert y.shape == () and y.dtype == np.int64
            assert 0 <= int(y) < t.num_outputs
        elif t.kind == "regression":
            assert y.shape == (t.num_outputs,) and y.dtype == np.float32
            assert np.isfinite(y).all()
        elif t.kind == "landmarks":
            assert y.shape == (t.num_outputs, 2) and y.dtype == np.float32
            assert (y >= 0).all() and (y <= size - 1).all()
        elif t.kind == "reconstruction":
            assert y.shape == (t.num_outputs, size, size) and y.dtype == np.float32
    for k, v in s.latents.items():
        assert isinstance(v, float) and np.isfinite(v), k


@pytest.mark.parametrize("name", REGION_NAMES)
def test_every_segmentation_class_appears(name):
    r = get_region(name)
    seg = r.coupling.segmentation
    n_cls = r.task(seg).num_outputs
    seen = set()
    for seed in range(12):
        seen |= set(np.unique(r.sample(seed, size=96).targets[seg]).tolist())
    assert seen == set(range(n_cls))


@pytest.mark.parametrize("name", REGION_NAMES)
def test_deterministic(name):
    r = get_region(name)
    kw = {"size": 64, "relatedness": 0.5}
    a, b, c = r.sample(11, **kw), r.sample(11, **kw), r.sample(12, **kw)
    assert a.digest() == b.digest()
    assert a.latents == b.latents
    assert a.digest() != c.digest()


@pytest.mark.parametrize("name", REGION_NAMES)
def test_mask_measurements_agree_with_targets(name):
    r = get_region(name)
    for seed in range(20):
        s = r.sample(seed, size=128)
        measured = r.measure(s.targets[r.coupling.segmentation], s.spacing_mm)
        assert measured[r.coupling.anatomy_latent] == pytest.approx(s.latents[r.coupling.anatomy_latent], abs=1e-6)
        for task, (keys, tol) in r.measured_regression.items():
            expected = np.array([measured[k] for k in keys], dtype=np.float32)
            np.testing.assert_allclose(s.targets[task], expected, atol=tol, err_msg=f"{name}.{task} seed {seed}")


@pytest.mark.parametrize("name", REGION_NAMES)
def test_composite_targets_are_their_weighted_latents(name):
    """A ``composite_regression`` target equals the weighted sum of the latents it names (skin: ABCD-like score)."""
    r = get_region(name)
    for task, weights in r.composite_regression.items():
        assert r.task(task).kind == "regression" and r.task(task).num_outputs == 1
        for seed in range(10):
            s = r.sample(seed, size=64)
            expected = sum(w * s.latents[k] for k, w in weights.items())
            assert float(s.targets[task][0]) == pytest.approx(expected, abs=1e-4), f"{name}.{task} seed {seed}"


@pytest.mark.parametrize("name", REGION_NAMES)
def test_measure_labels_are_named_as_labels_csv_columns(name):
    """``measure_labels`` gives every measured regression output under its labels.csv column, equal to the target."""
    from mtdl_kit.data import label_columns

    r = get_region(name)
    s = r.sample(5, size=96)
    labels = r.measure_labels(s.targets[r.coupling.segmentation], s.spacing_mm)
    expected_columns = [c for task in r.measured_regression for c in r.task(task).label_columns]
    assert list(labels) == expected_columns and set(labels) <= set(label_columns(r.tasks))
    for task, (_keys, tol) in r.measured_regression.items():
        got = [labels[c] for c in r.task(task).label_columns]
        np.testing.assert_allclose(got, s.targets[task], atol=tol, err_msg=f"{name}.{task}")


@pytest.mark.parametrize("name", REGION_NAMES)
def test_label_follows_clinical_rule_at_relatedness_one(name):
    r = get_region(name)
    cls = r.coupling.classification
    k = r.task(cls).num_outputs
    for seed in range(40):
        s = r.sample(seed, size=96, relatedness=1.0)
        measured = r.measure(s.targets[r.coupling.segmentation], s.spacing_mm)[r.coupling.anatomy_latent]
        assert int(s.targets[cls]) == score_to_class(r.anatomy_score(measured), k), f"seed {seed}: {r.coupling.rule}"


@pytest.mark.parametrize("name", REGION_NAMES)
def test_relatedness_knob_changes_coupling(name):
    r = get_region(name)
    anatomy, other = r.coupling.anatomy_latent, r.coupling.other_latent

    y1, lat1 = _labels(r, 1.0)
    rho_anatomy_1 = stats.spearmanr([lt[anatomy] for lt in lat1], y1).statistic
    y0, lat0 = _labels(r, 0.0)
    rho_anatomy_0 = stats.spearmanr([lt[anatomy] for lt in lat0], y0).statistic
    rho_other_0 = stats.spearmanr([lt[other] for lt in lat0], y0).statistic

    assert len(np.unique(y1)) == r.task(r.coupling.classification).num_outputs, "every class appears at r=1"
    assert rho_anatomy_1 > 0.7, f"label must follow the anatomy at r=1 (rho={rho_anatomy_1:.2f})"
    assert abs(rho_anatomy_0) < 0.2, f"label must not follow the anatomy at r=0 (rho={rho_anatomy_0:.2f})"
    assert rho_other_0 > 0.7, f"label must follow its own image feature at r=0 (rho={rho_other_0:.2f})"


@pytest.mark.parametrize("name", REGION_NAMES)
def test_nuisance_drives_label(name):
    r = get_region(name)
    assert r.nuisances, "each region offers at least one nuisance"
    for nuisance in r.nuisances:
        y, lat = _labels(r, 1.0, n=120, nuisance=nuisance)
        assert nuisance in lat[0], f"latents must record the nuisance {nuisance!r}"
        rho = stats.spearmanr([lt[nuisance] for lt in lat], y).statistic
        assert rho > 0.7, f"{nuisance}: label must follow the nuisance (rho={rho:.2f})"


@pytest.mark.parametrize("name", REGION_NAMES)
def test_label_noise_flips_some_labels(name):
    r = get_region(name)
    cls = r.coupling.classification
    flips = sum(
        int(r.sample(s, size=48).targets[cls]) != int(r.sample(s, size=48, label_noise=0.5).targets[cls])
        for s in range(40)
    )
    assert 8 <= flips <= 32


@pytest.mark.parametrize("name", REGION_NAMES)
def test_bad_arguments_name_allowed_values(name):
    r = get_region(name)
    with pytest.raises(ValueError, match=r"\[32, 1024\]"):
        r.sample(0, size=16)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        r.sample(0, relatedness=1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        r.sample(0, relatedness=-0.1)
    with pytest.raises(ValueError, match="allowed values are None or"):
        r.sample(0, nuisance="not-a-nuisance")
    with pytest.raises(ValueError, match="non-negative"):
        r.sample(-1)
    with pytest.raises(ValueError, match="allowed tasks"):
        r.task("nope")


def test_unknown_region_lists_allowed():
    with pytest.raises(ValueError, match="allowed regions are"):
        get_region("liver")


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(REGION_NAMES),
    seed=st.integers(0, 2**31 - 1),
    size=st.integers(32, 80),
    relatedness=st.floats(0.0, 1.0),
)
def test_any_valid_arguments_give_valid_sample(name, seed, size, relatedness):
    r = get_region(name)
    s = r.sample(seed, size=size, relatedness=relatedness)
    assert s.image.shape == (r.in_channels, size, size)
    assert s.image.min() >= 0.0 and s.image.max() <= 1.0
    cls = r.coupling.classification
    assert 0 <= int(s.targets[cls]) < r.task(cls).num_outputs
