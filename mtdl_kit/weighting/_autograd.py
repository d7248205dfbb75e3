"""Autograd helpers shared by GradNorm and the gradient methods: per-task gradients at a graph cut.

The shared features ``F`` (the tensors the task branches consume from the shared trunk) cut the
autograd graph in two. The per-task gradients ``dL_i/dF`` and the gradients of the task-specific
parameters only need the graph *above* the cut; one backward pass of ``sum_i c_i dL_i/dF`` through
the trunk then gives the trunk's gradient of ``sum_i c_i L_i``. This is how representation-level
methods cost a single backward through the shared trunk.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mtdl_kit.weighting.base import reached_leaves


def task_gradients(
    losses: Sequence[Tensor], inputs: Sequence[Tensor], *, batched: bool = False, overlap: bool = True
) -> list[list[Tensor | None]]:
    """Gradient of each loss with respect to each input; ``None`` where a loss does not reach an input.

    Only the graph *above* the inputs is traversed, so the shared trunk below the features stays
    available for a later backward. With ``overlap=False`` (the branches share no autograd node) each
    branch's saved tensors are freed as soon as it is differentiated; otherwise they are kept until
    the last task (and until the caller drops the losses).

    Args:
        losses: ``T`` scalar losses.
        inputs: tensors to differentiate with respect to (features and/or parameters).
        batched: one vectorised backward (``torch.autograd.grad(..., is_grads_batched=True)``, i.e.
            ``torch.vmap`` over the ``T`` rows) instead of ``T`` sequential ones. Sequential is
            usually cheaper when the task branches are disjoint (each loss then only traverses its
            own branch, while the vectorised pass runs every branch for every row).
        overlap: whether the losses share autograd nodes above the inputs
            (:func:`~mtdl_kit.weighting.base.branches_overlap`); ``True`` is always safe.

    Returns:
        ``grads[i][k]`` = ``dL_i / d inputs[k]`` (or ``None``).
    """
    if batched:
        stacked = torch.stack([loss.reshape(()) for loss in losses])
        eye = torch.eye(len(losses), device=stacked.device, dtype=stacked.dtype)
        batch = torch.autograd.grad(
            stacked, list(inputs), grad_outputs=eye, is_grads_batched=True, retain_graph=False, allow_unused=True
        )
        return [[None if g is None else g[i] for g in batch] for i in range(len(losses))]
    last = len(losses) - 1
    return [
        list(torch.autograd.grad(loss, list(inputs), retain_graph=overlap and i < last, allow_unused=True))
        for i, loss in enumerate(losses)
    ]


def accumulate(params: Sequence[nn.Parameter], grads: Sequence[Tensor | None]) -> None:
    """Add ``grads`` into ``params[k].grad`` (skipping ``None``), like ``loss.backward()`` does."""
    for p, g in zip(params, grads, strict=True):
        if g is None:
            continue
        if p.grad is None:
            p.grad = g.to(p.dtype)  # autograd returned a fresh tensor: no copy needed
        else:
            p.grad.add_(g.to(p.dtype))


def combine(
    rows: Sequence[Sequence[Tensor | None]], coefficients: Sequence[float] | Tensor | None = None
) -> list[Tensor | None]:
    """``sum_i c_i rows[i][k]`` for every column ``k`` (``None`` when no row has a value; ``c = 1`` by default)."""
    out: list[Tensor | None] = []
    for k in range(len(rows[0]) if rows else 0):
        total: Tensor | None = None
        for i, row in enumerate(rows):
            g = row[k]
            if g is None:
                continue
            term = g if coefficients is None else g * coefficients[i]
            total = term if total is None else total + term
        out.append(total)
    return out


def flatten_rows(rows: Sequence[Sequence[Tensor | None]], like: Sequence[Tensor]) -> list[Tensor]:
    """One float32 vector per row: the row's tensors flattened and concatenated (zeros for ``None``)."""
    flat = []
    for row in rows:
        parts = [
            (torch.zeros(t.numel(), device=t.device, dtype=torch.float32) if g is None else g.reshape(-1).float())
            for g, t in zip(row, like, strict=True)
        ]
        flat.append(torch.cat(parts))
    return flat


def gramian_blocks(
    rows: Sequence[Sequence[Tensor | None]], num_tasks: int
) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
    """The Gramian ``J J^T`` (float32) of a Jacobian given by blocks, without concatenating it.

    ``rows[i][k]`` is task ``i``'s gradient on tensor ``k`` (``None`` = zero). Returns the ``T x T``
    Gramian and, per tensor ``k``, ``(task indices, stacked non-zero rows)`` to combine afterwards
    (:func:`combine_blocks`). Blocks that are zero for a task cost nothing.
    """
    gram: Tensor | None = None
    blocks: list[tuple[Tensor, Tensor]] = []
    for k in range(len(rows[0]) if rows else 0):
        idx = [i for i in range(num_tasks) if rows[i][k] is not None]
        if not idx:
            blocks.append((torch.empty(0, dtype=torch.long), torch.empty(0)))
            continue
        block = torch.stack([rows[i][k].reshape(-1).float() for i in idx])  # type: ignore[union-attr]
        if gram is None:
            gram = torch.zeros(num_tasks, num_tasks, device=block.device, dtype=torch.float32)
        ix = torch.tensor(idx, device=block.device)
        gram.index_put_((ix[:, None], ix[None, :]), block @ block.T, accumulate=True)
        blocks.append((ix, block))
    if gram is None:
        gram = torch.zeros(num_tasks, num_tasks)
    return gram, blocks


def combine_blocks(
    blocks: Sequence[tuple[Tensor, Tensor]], weights: Tensor, like: Sequence[Tensor]
) -> list[Tensor | None]:
    """``sum_i w_i J_i`` per tensor, from the blocks of :func:`gramian_blocks`, shaped and typed like ``like``."""
    out: list[Tensor | None] = []
    for (ix, block), t in zip(blocks, like, strict=True):
        if ix.numel() == 0:
            out.append(None)
            continue
        out.append((weights.to(block.device, block.dtype)[ix] @ block).reshape(t.shape).to(t.dtype))
    return out


def check_cut(
    losses: Sequence[Tensor], features: Sequence[Tensor], shared: Sequence[nn.Parameter], *, method: str
) -> None:
    """Raise ``ValueError`` if a loss reaches a shared parameter without passing through ``features``.

    Representation-level gradients are exact only when the features separate the shared trunk
    from the task-specific parts (``MultiTaskNet.forward_with_features`` guarantees it).
    """
    leaked = reached_leaves(losses, stop_at=features) & set(shared)
    if leaked:
        raise ValueError(
            f"{method}: the features passed to backward() do not separate the shared parameters from the task "
            f"branches ({len(leaked)} shared parameter tensor(s) reach a loss without passing through them). Pass "
            "every tensor the task branches consume from the shared part (model.forward_with_features(x)[1]), or "
            "use level='parameters' without features."
        )
