"""Parameter ownership: 'shared' means used by several tasks, nothing else."""

from __future__ import annotations

import torch

from mtdl_kit.models import build_model
from mtdl_kit.regions import get_region


def test_single_dense_task_owns_its_decoder():
    eye = get_region("eye")
    model = build_model("parallel", eye.tasks, 3, width=4)
    shared = {id(p) for p in model.shared_parameters()}
    encoder = {id(p) for p in model.encoder.parameters()}
    assert shared == encoder
    owned = {id(p) for p in model.task_parameters("disc_cup")}
    assert {id(p) for p in model.decoders.parameters()} <= owned


def test_every_shared_parameter_is_used_by_at_least_two_tasks():
    for region in ("eye", "brain", "musculoskeletal"):
        r = get_region(region)
        for family in ("parallel", "hybrid", "interacted"):
            model = build_model(family, r.tasks, r.in_channels, width=4)
            outputs = model(torch.rand(2, r.in_channels, 32, 32))
            shared = list(model.shared_parameters())
            users = torch.zeros(len(shared))
            for out in outputs.values():
                grads = torch.autograd.grad(out.float().pow(2).mean(), shared, retain_graph=True, allow_unused=True)
                users += torch.tensor([g is not None for g in grads], dtype=torch.float32)
            assert (users >= 2).all(), f"{region}/{family}: a 'shared' parameter is used by fewer than two tasks"
