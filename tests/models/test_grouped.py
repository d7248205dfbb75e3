"""Grouped inference of cascaded and interacted networks: the same outputs as the per-task modules.

The grouped runner (``mtdl_kit.models.grouped``) stacks the task columns' weights into one grouped
convolution per layer; these tests compare it with the per-task modules on the same weights, on
every region, on the shipped zoo's cascaded and interacted models, and after the weights change.
"""

from __future__ import annotations

import pytest
import torch
from model_test_utils import BATCH, SIZE
from torch import nn

from mtdl_kit.models import build_for_region
from mtdl_kit.models.base import module_key
from mtdl_kit.regions import REGION_NAMES, get_region

VARIANTS = [
    ("cascaded", {}),
    ("cascaded", {"cascade_mode": "two_stage"}),
    ("interacted", {}),
    ("interacted", {"interaction": "attention"}),
]


def _scramble(model: nn.Module, seed: int = 0) -> None:
    """Give every parameter (PReLU slopes, cross-stitch weights, biases) a distinct random value."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen))


def _both(model: nn.Module, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(per-task outputs, grouped outputs) of ``model`` in eval mode under ``inference_mode``."""
    model.eval()
    with torch.inference_mode():
        model.grouped_inference = False
        assert not model.uses_grouped()
        per_task = model(x)
        model.grouped_inference = True
        assert model.uses_grouped()
        grouped = model(x)
    assert model.grouping_error is None
    assert "_grouped_cache" in model.__dict__, "the grouped runner was not used"
    return per_task, grouped


def _assert_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert list(a) == list(b)
    for name in a:
        assert a[name].shape == b[name].shape, name
        # float32 rounding differs between one grouped and T separate convolutions (~1e-6 relative);
        # a wiring mistake (a column reading another column's channels) changes outputs by O(1)
        scale = max(float(a[name].abs().max()), 1.0)
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-4 * scale, msg=name)


@pytest.mark.parametrize(("family", "options"), VARIANTS)
def test_grouped_equals_per_task_on_every_region(region, family, options):
    model = build_for_region(region, family, seed=3, **options)
    _scramble(model)
    for batch in (1, BATCH):  # one image: instance norm as batch statistics in channels-last layout
        x = torch.rand(batch, region.in_channels, SIZE, SIZE)
        _assert_close(*_both(model, x))


@pytest.mark.parametrize("family", ["cascaded", "interacted"])
def test_grouped_runner_serves_only_inference(family):
    model = build_for_region("musculoskeletal", family)
    x = torch.rand(1, model.in_channels, SIZE, SIZE)
    model.train()
    assert not model.uses_grouped()
    with torch.no_grad():
        assert not model.uses_grouped()  # train mode: per-task modules
    model.eval()
    assert not model.uses_grouped()  # autograd on: per-task modules (gradients, TorchJD's graph)
    out = model(x)
    assert all(v.requires_grad for v in out.values())
    assert "_grouped_cache" not in model.__dict__
    with torch.no_grad():
        assert model.uses_grouped()


@pytest.mark.parametrize("family", ["cascaded", "interacted"])
def test_cached_grouped_weights_follow_weight_changes(family):
    model = build_for_region("brain", family, seed=1).eval()
    x = torch.rand(1, model.in_channels, SIZE, SIZE)
    before = _both(model, x)[1]
    first = model.__dict__["_grouped_cache"][3]
    # an optimiser step (in place) invalidates the cached stacked weights
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss = sum(v.square().mean() for v in model(x).values())
    loss.backward()
    opt.step()
    per_task, grouped = _both(model, x)
    _assert_close(per_task, grouped)
    assert model.__dict__["_grouped_cache"][3] is not first
    assert any(not torch.equal(before[k], grouped[k]) for k in grouped)
    # load_state_dict with assign=True swaps the parameter objects: the post-hook drops the cache
    other = build_for_region("brain", family, seed=2)
    model.load_state_dict(other.state_dict(), assign=True)
    assert "_grouped_cache" not in model.__dict__
    per_task, grouped = _both(model, x)
    _assert_close(per_task, grouped)
    with torch.inference_mode():
        expected = other.eval()(x)
    _assert_close(expected, grouped)
    # a dtype change moves every parameter to new storage
    model.double()
    _assert_close(*_both(model, x.double()))


def test_unsupported_block_falls_back_to_the_per_task_modules():
    model = build_for_region("eye", "interacted", seed=0).eval()
    key = module_key(model.tasks[1].name)
    model.encoders[key].stages[1].conv.unit0.adn.A = nn.ReLU()  # one column now differs from the others
    x = torch.rand(1, model.in_channels, SIZE, SIZE)
    with torch.inference_mode():
        model.grouped_inference = False
        expected = model(x)
        model.grouped_inference = True
        got = model(x)
    assert model.grouping_error is not None and "different blocks" in model.grouping_error
    assert not model.uses_grouped()
    _assert_close(expected, got)


@pytest.mark.parametrize("family", ["cascaded", "interacted"])
@pytest.mark.parametrize("region_name", REGION_NAMES)
def test_shipped_zoo_models_give_the_same_outputs_grouped(region_name, family):
    """The shipped files (sha256-verified, unchanged) load into the same modules; grouped = per-task."""
    from mtdl_kit.data.samples import load_samples
    from mtdl_kit.zoo import load_pretrained, read_manifest

    model = load_pretrained(region_name, family)
    size = read_manifest()[f"{region_name}-{family}"].config["size"]
    images = [torch.as_tensor(s.image).float() for s in load_samples(region_name)[:2]]
    x = torch.stack(images)
    if tuple(x.shape[2:]) != (size, size):
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="area")
    assert x.shape[1] == get_region(region_name).in_channels
    _assert_close(*_both(model, x))


def test_interacted_features_come_from_the_columns_also_in_inference():
    """forward_with_features keeps its contract (the shared features) when autograd is off."""
    model = build_for_region("musculoskeletal", "interacted", seed=0).eval()
    x = torch.rand(1, model.in_channels, SIZE, SIZE)
    with torch.inference_mode():
        out, feats = model.forward_with_features(x)
        grouped = model(x)
    assert len(feats) > 0
    _assert_close(out, grouped)


@pytest.mark.parametrize("family", ["cascaded", "interacted"])
def test_a_model_that_ran_grouped_still_pickles(family):
    """The cached stacked weights are not part of the model's state (e.g. for worker processes)."""
    import copy
    import pickle

    model = build_for_region("eye", family, seed=0).eval()
    x = torch.rand(1, model.in_channels, SIZE, SIZE)
    with torch.inference_mode():
        expected = model(x)
    assert "_grouped_cache" in model.__dict__
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert "_grouped_cache" not in clone.__dict__
        _assert_close(expected, _both(clone, x)[1])


@pytest.mark.parametrize("family", ["cascaded", "interacted"])
def test_batch_norm_columns_follow_their_running_statistics(family):
    """norm="batch": eval-mode statistics are stacked too, and refreshed when training updates them."""
    from mtdl_kit.models import build_model

    region = get_region("chest")
    model = build_model(family, region.tasks, region.in_channels, norm="batch", act="relu", seed=0)
    x = torch.rand(1, region.in_channels, SIZE, SIZE)
    _assert_close(*_both(model, x))
    model.train()
    with torch.no_grad():  # updates the running statistics (buffers), no parameter changes
        model(torch.rand(4, region.in_channels, SIZE, SIZE))
    _assert_close(*_both(model, x))
