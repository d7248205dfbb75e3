"""Task relationships: gradient conflict, lookahead task affinity, and output correlation.

- Gradient conflict: cosine similarity of task gradients on the shared parameters (Yu et al.,
  "Gradient surgery for multi-task learning", NeurIPS 2020); a negative cosine is a conflict.
  Summarised from a training :class:`~mtdl_kit.history.History`, or measured per shared block
  (encoder stage) on a batch with :func:`stage_gradient_cosines`, or for one task pair on all shared
  parameters, with the lookahead affinities both ways, by :func:`pair_relation` (the transfer lab's
  experiment F, :mod:`mtdl_kit.lab.conflict`).
- Task affinity: the lookahead inter-task affinity of Fifty et al., "Efficiently identifying task
  groupings for multi-task learning", NeurIPS 2021 (TAG): how much a step on task *i*'s gradient
  alone lowers task *j*'s loss, ``Z[i, j] = 1 - L_j(theta_s - lr * g_i) / L_j(theta)``.
- Output correlation: per-case scalar summaries of every task's prediction (the region's clinical
  quantity measured on the predicted mask, the predicted class probability, the predicted value)
  and their correlations with each other and with the truth — e.g. predicted cup-to-disc ratio vs
  predicted glaucoma probability.

Each function returns plain data (pandas / numpy); figures are in :mod:`mtdl_kit.viz`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

if TYPE_CHECKING:
    import pandas as pd

    from mtdl_kit.history import History


def conflict_summary(history: History) -> pd.DataFrame:
    """Per task pair: mean, median and minimum gradient cosine, and the fraction of conflicting steps.

    Raises:
        ValueError: if the run recorded no cosines (cascaded models share nothing, or
            ``cosine_every=0``).
    """
    import pandas as pd

    frame = history.to_frame()
    cos = frame[frame.kind == "cosine"]
    if cos.empty:
        raise ValueError(
            "This History has no gradient cosines: train with cosine_every > 0 on a model with shared parameters "
            "(cascaded networks share none)."
        )
    rows = []
    for pair, group in cos.groupby("name", sort=False):
        v = group["value"].to_numpy()
        rows.append(
            {
                "pair": pair,
                "mean_cosine": float(np.nanmean(v)),
                "median_cosine": float(np.nanmedian(v)),
                "min_cosine": float(np.nanmin(v)),
                "conflict_fraction": float(np.mean(v < 0)),
                "measurements": int(v.size),
            }
        )
    return pd.DataFrame(rows)


def _task_losses(
    model: nn.Module, batch: dict[str, torch.Tensor], region: Any, device: torch.device
) -> dict[str, torch.Tensor]:
    from mtdl_kit.losses import compute_losses, make_losses

    losses = {k: v.to(device) for k, v in make_losses(model.tasks, region).items()}
    outputs = model(batch["image"].to(device))
    return compute_losses(losses, outputs, {k: v.to(device) for k, v in batch.items()})


def stage_gradient_cosines(model: nn.Module, batch: dict[str, torch.Tensor], *, region: Any = None) -> pd.DataFrame:
    """Cosine of every task pair's gradients on each shared block (e.g. each encoder stage).

    Returns:
        DataFrame with columns block, pair, cosine (one row per shared block and task pair).
    """
    import pandas as pd

    device = next(model.parameters()).device
    shared_blocks = [b for b in model.blocks if b.owner == "shared"]
    if not shared_blocks:
        raise ValueError(f"The {model.family} model has no shared blocks; gradient conflict is undefined for it.")
    losses = _task_losses(model, batch, region, device)
    names = list(losses)
    rows = []
    for block in shared_blocks:
        params = [p for p in model.get_submodule(block.name).parameters() if p.requires_grad]
        grads = {}
        for n in names:
            g = torch.autograd.grad(losses[n], params, retain_graph=True, allow_unused=True)
            grads[n] = torch.cat(
                [(x if x is not None else torch.zeros_like(p)).reshape(-1) for x, p in zip(g, params, strict=True)]
            )
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                a, b = grads[names[i]], grads[names[j]]
                denom = float(a.norm() * b.norm())
                rows.append(
                    {
                        "block": block.name,
                        "pair": f"{names[i]}|{names[j]}",
                        "cosine": float(a @ b) / denom if denom > 0 else float("nan"),
                    }
                )
    return pd.DataFrame(rows)


def task_affinity(
    model: nn.Module,
    data: Dataset | DataLoader,
    *,
    lr: float = 1e-3,
    batches: int = 4,
    batch_size: int = 8,
    region: Any = None,
) -> pd.DataFrame:
    """Lookahead inter-task affinity (TAG, Fifty et al. NeurIPS 2021), averaged over ``batches``.

    ``Z[i, j] = 1 - L_j(theta_shared - lr * grad_shared L_i, theta_j) / L_j(theta)``: positive when
    a step for task *i* alone helps task *j*. The model is not modified.

    Returns:
        Square DataFrame, rows = source task *i*, columns = target task *j*.
    """
    import pandas as pd

    device = next(model.parameters()).device
    shared_ids = {id(p) for p in model.shared_parameters()}
    if not shared_ids:
        raise ValueError(f"The {model.family} model has no shared parameters; lookahead affinity needs them.")
    named = dict(model.named_parameters())
    shared_names = [n for n, p in named.items() if id(p) in shared_ids]
    loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size)
    names = list(model.task_names)
    z = np.zeros((len(names), len(names)))
    count = 0
    was_training = model.training
    model.eval()  # lookahead on fixed normalisation statistics
    from mtdl_kit.losses import compute_losses, make_losses

    loss_fns = {k: v.to(device) for k, v in make_losses(model.tasks, region).items()}
    for b, batch in enumerate(loader):
        if b >= batches:
            break
        batch = {k: v.to(device) for k, v in batch.items()}
        outputs = model(batch["image"])
        losses = compute_losses(loss_fns, outputs, batch)
        base = {n: float(losses[n].detach()) for n in names}
        for i, src in enumerate(names):
            grads = torch.autograd.grad(
                losses[src], [named[n] for n in shared_names], retain_graph=True, allow_unused=True
            )
            look = _lookahead_losses(model, batch, loss_fns, dict(zip(shared_names, grads, strict=True)), lr)
            for j, dst in enumerate(names):
                z[i, j] += 1.0 - look[dst] / base[dst] if base[dst] > 0 else 0.0
        count += 1
    if was_training:
        model.train()
    if count == 0:
        raise ValueError("task_affinity got no batch from the data.")
    return pd.DataFrame(z / count, index=names, columns=names)


def _lookahead_losses(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    loss_fns: dict[str, nn.Module],
    grads: dict[str, torch.Tensor | None],
    lr: float,
) -> dict[str, float]:
    """Every task's loss on ``batch`` after one SGD step of size ``lr`` along ``grads`` (parameter name -> gradient).

    The model is not modified (:func:`torch.func.functional_call` on stepped copies of its parameters).
    """
    from torch.func import functional_call

    from mtdl_kit.losses import compute_losses

    params = {n: p.detach() for n, p in model.named_parameters()}
    for n, g in grads.items():
        if g is not None:
            params[n] = params[n] - lr * g
    with torch.no_grad():
        look = compute_losses(loss_fns, functional_call(model, params, (batch["image"],)), batch)
    return {k: float(v) for k, v in look.items()}


def pair_relation(
    model: nn.Module, batch: dict[str, torch.Tensor], first: str, second: str, *, lr: float, region: Any = None
) -> dict[str, float]:
    """How two tasks' gradients relate on one batch, as the optimiser would see them now.

    In the model's current mode (a training-mode network normalises by the batch, as in a training
    step); normalisation statistics are left as they were.

    Args:
        model: a network with shared parameters.
        batch: one batch (``"image"`` and the two tasks' targets, with ``<task>__present`` masks if partial).
        first, second: the two task names.
        lr: the lookahead's step size per parameter: the source task's gradient is scaled to a
            root-mean-square of ``lr`` per shared parameter — the size of an Adam step early in
            training (Kingma & Ba, ICLR 2015), as TAG looks ahead by the optimiser's own update (Fifty
            et al. NeurIPS 2021). A plain SGD step of the same ``lr`` changes a loss by less than float32
            resolves.

    Returns:
        ``cosine``: cosine of the two tasks' gradients on all shared parameters together (Yu et al.
        NeurIPS 2020; negative = conflict); ``affinity_<first>_to_<second>`` and
        ``affinity_<second>_to_<first>``: ``1 - L_dst(theta_s - step_src) / L_dst(theta)``, where
        ``step_src`` is the source task's rescaled gradient (positive = a step for the source helps
        the destination).

    Raises:
        ValueError: the model has no shared parameters, or a task's loss does not reach them.
    """
    from mtdl_kit.losses import make_losses

    device = next(model.parameters()).device
    shared_ids = {id(p) for p in model.shared_parameters()}
    if not shared_ids:
        raise ValueError(f"The {model.family} model has no shared parameters; gradient relations need them.")
    named = dict(model.named_parameters())
    shared_names = [n for n, p in named.items() if id(p) in shared_ids and p.requires_grad]
    saved = {n: b.detach().clone() for n, b in model.named_buffers()}
    try:
        batch = {k: v.to(device) for k, v in batch.items()}
        losses = _task_losses(model, batch, region, device)
        grads: dict[str, dict[str, torch.Tensor | None]] = {}
        for task in (first, second):
            g = torch.autograd.grad(
                losses[task], [named[n] for n in shared_names], retain_graph=True, allow_unused=True
            )
            if all(x is None for x in g):
                raise ValueError(f"Task {task!r}'s loss does not reach the shared parameters.")
            grads[task] = dict(zip(shared_names, g, strict=True))
        flat = {
            t: torch.cat([(x if x is not None else torch.zeros_like(named[n])).reshape(-1) for n, x in g.items()])
            for t, g in grads.items()
        }
        denom = float(flat[first].norm() * flat[second].norm())
        out = {"cosine": float(flat[first] @ flat[second]) / denom if denom > 0 else float("nan")}
        loss_fns = {k: v.to(device) for k, v in make_losses(model.tasks, region).items()}
        base = {t: float(losses[t].detach()) for t in (first, second)}
        for src, dst in ((first, second), (second, first)):
            rms = float(flat[src].norm()) / math.sqrt(flat[src].numel())
            look = _lookahead_losses(model, batch, loss_fns, grads[src], lr / rms if rms > 0 else 0.0)
            out[f"affinity_{src}_to_{dst}"] = 1.0 - look[dst] / base[dst] if base[dst] > 0 else float("nan")
    finally:
        for n, b in model.named_buffers():
            b.copy_(saved[n])
    return out


def case_table(model: nn.Module, data: Dataset, region: Any, *, batch_size: int = 16) -> pd.DataFrame:
    """Per-case scalar summaries of predictions and truths, for output-correlation analysis.

    Columns: ``pred:<name>`` and ``true:<name>`` for each summary — the region's anatomy quantity
    measured on the predicted / true mask (``region.coupling.anatomy_latent``), the probability of
    the highest class... for classification (binary: of class 1; multi-class: the expected class
    index), and each regression output.
    """
    import pandas as pd

    from mtdl_kit.metrics import predictions

    device = next(model.parameters()).device
    loader = DataLoader(data, batch_size=batch_size)
    rows: list[dict[str, float]] = []
    seg = region.coupling.segmentation
    anatomy = region.coupling.anatomy_latent
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for batch in loader:
            size = int(batch["image"].shape[-1])
            spacing = region.spacing_mm(size)
            outputs = model(batch["image"].to(device))
            preds = {t.name: predictions(t, outputs[t.name]).cpu() for t in model.tasks}
            for k in range(batch["image"].shape[0]):
                row: dict[str, float] = {}
                for t in model.tasks:
                    if t.kind == "segmentation" and t.name == seg:
                        row[f"pred:{anatomy}"] = region.measure(preds[t.name][k].numpy(), spacing)[anatomy]
                        if t.name in batch:
                            row[f"true:{anatomy}"] = region.measure(batch[t.name][k].numpy(), spacing)[anatomy]
                    elif t.kind == "classification":
                        p = preds[t.name][k]
                        score = float(p[1]) if t.num_outputs == 2 else float((p * torch.arange(t.num_outputs)).sum())
                        row[f"pred:{t.name}"] = score
                        if t.name in batch:
                            row[f"true:{t.name}"] = float(batch[t.name][k])
                    elif t.kind == "regression":
                        names = t.output_names or tuple(f"{t.name}[{i}]" for i in range(t.num_outputs))
                        for i, on in enumerate(names):
                            row[f"pred:{t.name}:{on}"] = float(preds[t.name][k][i])
                            if t.name in batch:
                                row[f"true:{t.name}:{on}"] = float(batch[t.name][k][i])
                rows.append(row)
    if was_training:
        model.train()
    return pd.DataFrame(rows)


def output_correlation(
    table: pd.DataFrame, method: str = "spearman", columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Correlation matrix of a :func:`case_table` (Spearman by default: robust to monotone scales)."""
    if method not in ("spearman", "pearson", "kendall"):
        raise ValueError(f"Unknown correlation method {method!r}; allowed are 'spearman', 'pearson', 'kendall'.")
    cols = list(columns) if columns is not None else list(table.columns)
    return table[cols].corr(method=method)
