"""Tiny multi-task networks implementing the model protocol the weighting methods rely on.

``ToyNet``: a two-layer conv encoder shared by up to four heads — segmentation (transposed conv,
3 classes), classification (pool + linear, 2 classes), regression (pool + linear) and a second
regression. ``handover=True`` feeds the segmentation's soft mask into the classification head (a
hybrid-style hand-over: the segmentation head's parameters are then used by two tasks without
being shared parameters). Variants without shared parameters (cascaded-like), without a
``forward_with_features`` method, and without the protocol at all test the compatibility checks.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

TASKS4 = ("seg", "cls", "reg", "reg2")


class ToyBase(nn.Module):
    """Shared conv encoder + task heads (the protocol without ``forward_with_features``)."""

    family = "toy"

    def __init__(self, tasks: tuple[str, ...] = TASKS4[:3], *, handover: bool = False, channels: int = 6) -> None:
        super().__init__()
        self.tasks = tuple(tasks)
        self.handover = handover
        c = channels
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, stride=2, padding=1), nn.ReLU()
        )
        heads: dict[str, nn.Module] = {}
        for t in self.tasks:
            if t == "seg":
                heads[t] = nn.ConvTranspose2d(c, 3, 2, stride=2)
            elif t == "cls":
                heads[t] = nn.Linear(c + (2 if handover else 0), 2)
            else:
                heads[t] = nn.Linear(c, 1)
        self.heads = nn.ModuleDict(heads)

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        return self.encoder.parameters()

    def task_parameters(self, name: str) -> Iterator[nn.Parameter]:
        return self.heads[name].parameters()

    def run(self, x: Tensor) -> tuple[dict[str, Tensor], tuple[Tensor, ...]]:
        """Outputs and the shared features (the encoder output, exposed as its own graph node)."""
        f = self.encoder(x)
        feat = f.view_as(f)  # its own graph node: the cut between shared and task-specific parts
        pooled = feat.mean((2, 3))
        out: dict[str, Tensor] = {}
        if "seg" in self.tasks:
            out["seg"] = self.heads["seg"](feat)
        for t in self.tasks:
            if t == "seg":
                continue
            if t == "cls" and self.handover:
                soft = torch.softmax(out["seg"], 1)[:, 1:].mean((2, 3))
                out[t] = self.heads[t](torch.cat([pooled, soft], 1))
            else:
                out[t] = self.heads[t](pooled)
        return {t: out[t] for t in self.tasks}, (feat,)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.run(x)[0]


class ToyNet(ToyBase):
    """:class:`ToyBase` with ``forward_with_features`` (the full protocol)."""

    def forward_with_features(self, x: Tensor) -> tuple[dict[str, Tensor], tuple[Tensor, ...]]:
        return self.run(x)


class NoSharedNet(ToyNet):
    """Cascaded-like: the protocol is there but nothing is shared."""

    family = "cascaded"

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        return iter(())


class NoFeaturesNet(ToyBase):
    """Shared parameters, but no ``forward_with_features``."""


class PlainNet(nn.Module):
    """No protocol at all."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2)


def make_targets(x: Tensor, tasks: tuple[str, ...], seed: int = 0) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    b = x.shape[0]
    y: dict[str, Tensor] = {}
    for t in tasks:
        if t == "seg":
            y[t] = (x[:, 0] > 0.3).long() + (x[:, 0] > 1.0).long()  # learnable from the image
        elif t == "cls":
            y[t] = (x.mean((1, 2, 3)) > 0).long()
        else:
            y[t] = torch.randn(b, 1, generator=g) + (2.0 if t == "reg" else -1.0)
    return y


def task_losses(out: dict[str, Tensor], y: dict[str, Tensor]) -> dict[str, Tensor]:
    losses = {}
    for t, o in out.items():
        if t in ("seg", "cls"):
            losses[t] = F.cross_entropy(o, y[t])
        else:
            losses[t] = F.mse_loss(o, y[t])
    return losses


class Problem:
    """A tiny fixed-batch multi-task problem: model, batch, targets and a loss function."""

    def __init__(self, tasks: tuple[str, ...] = TASKS4[:3], *, seed: int = 0, handover: bool = False, cls=ToyNet):
        torch.manual_seed(seed)
        self.tasks = tasks
        self.model = cls(tasks, handover=handover)
        g = torch.Generator().manual_seed(seed + 1)
        self.x = torch.randn(4, 1, 8, 8, generator=g)
        self.y = make_targets(self.x, tasks, seed)

    def forward(self) -> tuple[dict[str, Tensor], tuple[Tensor, ...]]:
        out, feats = self.model.run(self.x)
        return task_losses(out, self.y), feats

    def losses_now(self) -> dict[str, float]:
        with torch.no_grad():
            losses, _ = self.forward()
        return {k: float(v) for k, v in losses.items()}
