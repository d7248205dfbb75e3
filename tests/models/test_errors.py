"""Bad input fails fast with a ValueError that says what to do."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from mtdl_kit.models import build_for_region, build_model
from mtdl_kit.regions import get_region
from mtdl_kit.regions.base import TaskSpec

EYE = get_region("eye")
SEG, CLS, REG = EYE.tasks

BUILD_ERRORS = [
    (lambda: build_model("star", EYE.tasks, 3), r"Unknown family 'star'; allowed families are \('parallel'"),
    (
        lambda: build_model("parallel", [SEG, SimpleNamespace(name="boxes", kind="detection", num_outputs=4)], 3),
        r"unknown kind 'detection'.*support",
    ),
    (lambda: build_model("parallel", [SimpleNamespace(foo=1)], 3), r"Expected a TaskSpec"),
    (lambda: build_model("cascaded", [SEG], 3), r"needs at least 2 tasks.*family='single'"),
    (lambda: build_model("interacted", [CLS], 3), r"needs at least 2 tasks.*family='single'"),
    (lambda: build_model("hybrid", [SEG], 3), r"needs at least 2 tasks.*family='single'"),
    (lambda: build_model("single", EYE.tasks, 3), r"builds one task.*build_baselines"),
    (lambda: build_model("cascaded", [CLS, REG], 3), r"no task is dense.*'parallel' or 'interacted'"),
    (lambda: build_model("hybrid", [CLS, REG], 3), r"no task is dense"),
    (lambda: build_model("hybrid", EYE.tasks, 3, source="glaucoma"), r"source must be dense"),
    (lambda: build_model("cascaded", EYE.tasks, 3, source="optic_nerve"), r"not one of the tasks"),
    (lambda: build_model("parallel", EYE.tasks, 3, interaction="cross_stitch"), r"does not apply to the parallel"),
    (lambda: build_model("parallel", EYE.tasks, 3, cascade_mode="two_stage"), r"does not apply"),
    (lambda: build_model("cascaded", EYE.tasks, 3, cascade_mode="joint"), r"allowed values are \('end_to_end'"),
    (lambda: build_model("interacted", EYE.tasks, 3, interaction="nddr"), r"allowed values are \('cross_stitch'"),
    (lambda: build_model("parallel", EYE.tasks, 3, dense_decoder="none"), r"allowed values are \('shared'"),
    (lambda: build_model("single", [CLS], 3, match_params=True), r"needs capacity_of"),
    (lambda: build_model("parallel", EYE.tasks, 3, width=1), r"width must be an integer >= 2"),
    (lambda: build_model("parallel", EYE.tasks, 0), r"in_channels must be an integer >= 1"),
    (lambda: build_model("parallel", EYE.tasks, 3, seed=-1), r"seed must be a non-negative integer"),
    (lambda: build_model("parallel", EYE.tasks, 3, spatial_dims=4), r"spatial_dims must be 2"),
    (lambda: build_model("parallel", [], 3), r"empty"),
    (lambda: build_model("parallel", [SEG, SEG], 3), r"duplicate task names"),
    (lambda: build_model("parallel", EYE, 3), r"pass the region's tasks"),
    (lambda: build_model("parallel", SEG, 3), r"sequence of TaskSpec"),
]


@pytest.mark.parametrize(("make", "match"), BUILD_ERRORS)
def test_build_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_unknown_kind_even_on_a_mutated_taskspec():
    t = TaskSpec("boxes", "regression", 4, "x")
    object.__setattr__(t, "kind", "detection")
    with pytest.raises(ValueError, match="unknown kind 'detection'"):
        build_model("parallel", [SEG, t], 3)


@pytest.fixture(scope="module")
def eye_model():
    return build_for_region("eye", "parallel", width=2)


def test_wrong_channel_count_names_expected_got_and_region(eye_model):
    with pytest.raises(ValueError, match=r"expects 3 input channel\(s\); the 'eye' region has 3, got 1") as err:
        eye_model(torch.rand(1, 1, 64, 64))
    assert "in_channels=region.in_channels" in str(err.value)


@pytest.mark.parametrize("size", [100, 72])
def test_size_not_divisible_says_which_sizes_work(eye_model, size):
    with pytest.raises(ValueError, match=r"multiple of 16.*Sizes that work: 32, 48, 64") as err:
        eye_model(torch.rand(1, 3, size, size))
    assert "DivisiblePad(k=16)" in str(err.value)
    lo, hi = (size // 16) * 16, -(-size // 16) * 16
    assert f"{lo}" in str(err.value) and f"{hi}" in str(err.value)


def test_too_small_and_other_input_errors(eye_model):
    with pytest.raises(ValueError, match="at least 32"):
        eye_model(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match=r"x\[None\]"):
        eye_model(torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match="floating-point"):
        eye_model(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"torch\.Tensor"):
        eye_model([[0.0]])
    with pytest.raises(ValueError, match=r"not enabled.*\('disc_cup', 'glaucoma', 'cdr'\)"):
        list(eye_model.task_parameters("vessels"))


def test_non_square_divisible_input_works(eye_model):
    out = eye_model(torch.rand(1, 3, 64, 96))
    assert out["disc_cup"].shape == (1, 3, 64, 96)
