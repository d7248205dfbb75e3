"""``fit``: train any family with any weighting method; device auto, AMP on cuda, History, DDP.

One optimisation step = forward (with the shared features) -> one :class:`~mtdl_kit.losses.TaskLoss`
per task (masked for unlabelled cases) -> the weighting method's backward (loss weighting or
TorchJD gradient aggregation, :mod:`mtdl_kit.weighting`) -> optimizer step. Every ``cosine_every``
steps the pairwise cosine similarity of the task gradients on the shared parameters is recorded
(gradient conflict: Yu et al., "Gradient surgery for multi-task learning", NeurIPS 2020).

Distributed data parallel: run the same script with ``torchrun --nproc_per_node=N``; ``fit``
detects the environment, initialises ``torch.distributed`` (gloo on CPU, nccl on GPU), shards
the data with ``DistributedSampler`` and averages gradients across processes after the weighting
method's backward. Averaging after the backward, rather than inside ``DistributedDataParallel``'s
autograd hooks, is deliberate: gradient-aggregation methods write ``.grad`` themselves (TorchJD's
``jac_to_grad``), which DDP's hooks do not see.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mtdl_kit.device import pick_device, pick_precision
from mtdl_kit.history import History
from mtdl_kit.losses import REGRESSION_TARGETS, compute_losses, make_losses
from mtdl_kit.regions.base import TaskSpec
from mtdl_kit.stopping import ValidationStopping

Callback = Callable[[History, str], None]
#: learning-rate schedules of :func:`fit`.
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")


class TrainingDivergedError(FloatingPointError):
    """A task's loss became NaN or infinite."""


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _distributed() -> tuple[bool, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not torch.distributed.is_available():
        return False, 0, 1
    return True, int(os.environ.get("RANK", "0")), world


def _init_distributed(device: torch.device) -> None:
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def _make_loader(
    data: Dataset | DataLoader, batch_size: int, seed: int, num_workers: int, distributed: bool, rank: int, world: int
) -> DataLoader:
    if isinstance(data, DataLoader):
        if distributed:
            raise ValueError("Under torchrun pass a Dataset, not a DataLoader, so fit() can shard it across processes.")
        return data
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    generator = torch.Generator().manual_seed(seed)
    if distributed:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=seed)
        return DataLoader(data, batch_size=batch_size, sampler=sampler, num_workers=num_workers, drop_last=True)
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
        num_workers=num_workers,
        drop_last=len(data) >= 2 * batch_size,
    )


def gradient_cosines(losses: dict[str, torch.Tensor], shared: Sequence[nn.Parameter]) -> dict[str, float]:
    """Pairwise cosine similarity of the task gradients on ``shared`` parameters (``"a|b" -> cos``)."""
    if not shared:
        return {}
    names = list(losses)
    flat = []
    for n in names:
        grads = torch.autograd.grad(losses[n], shared, retain_graph=True, allow_unused=True)
        flat.append(
            torch.cat(
                [
                    (g if g is not None else torch.zeros_like(p)).reshape(-1).float()
                    for g, p in zip(grads, shared, strict=True)
                ]
            )
        )
    out = {}
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            denom = flat[i].norm() * flat[j].norm()
            cos = float(flat[i] @ flat[j] / denom) if denom > 0 else math.nan
            out[f"{names[i]}|{names[j]}"] = cos
    return out


def _to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _lr_scheduler(optimizer: torch.optim.Optimizer, schedule: str, total: int) -> Any:
    """The scheduler of ``schedule`` over ``total`` steps (``None`` for a constant rate)."""
    if schedule == "constant":
        return None
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    )


def fit(
    model: nn.Module,
    data: Dataset | DataLoader,
    *,
    weighting: str = "ew",
    level: str = "parameters",
    weighting_options: dict[str, Any] | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int = 16,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    device: str | torch.device = "auto",
    amp: bool | None = None,
    seed: int = 0,
    eval_data: Dataset | DataLoader | None = None,
    eval_every: int | None = None,
    cosine_every: int = 10,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    checkpoint: str | Path | None = None,
    num_workers: int = 0,
    num_threads: int | None = None,
    region: Any = None,
    stopping: ValidationStopping | None = None,
    regression_targets: str = "standardised",
    lr_schedule: str = "constant",
    snapshot: str | Path | None = None,
) -> History:
    """Train ``model`` on ``data`` and return its :class:`~mtdl_kit.history.History`.

    Args:
        model: a :class:`~mtdl_kit.models.base.MultiTaskNet` (any family), trained in place.
        data: a Dataset of dict items (``"image"`` + one key per task) or a DataLoader.
        weighting: a method of :func:`mtdl_kit.weighting.available_weightings` (``"ew"``, ``"uw"``,
            ``"gradnorm"``, ``"dwa"``, ``"rlw"``, ``"upgrad"``, ``"mgda"``, ``"pcgrad"``, ...).
        level: ``"parameters"`` or ``"features"`` for gradient methods.
        weighting_options: extra keyword arguments of the weighting method.
        steps: number of optimisation steps (exactly one of ``steps`` / ``epochs``).
        epochs: number of passes over ``data``.
        batch_size: batch size when ``data`` is a Dataset.
        lr: Adam learning rate.
        weight_decay: Adam weight decay of the model's parameters. A weighting method's own parameters
            (UW's log-variances) never decay: they are in a parameter group of their own with
            ``weight_decay=0`` (decay would pull every ``log sigma_i^2`` towards 0, i.e. every task
            weight towards 1, against Kendall et al.'s objective).
        device: ``"auto"`` (cuda -> mps -> cpu), ``"cuda"``, ``"mps"`` or ``"cpu"``.
        amp: ``None`` = bf16/fp16 autocast on cuda only; ``False`` = full precision.
        seed: seeds data order, initial RNG state and random weightings (same seed on CPU -> same History).
        eval_data: held-out data for metrics every ``eval_every`` steps and at the end.
        eval_every: evaluation interval in steps (default: only at the end, if ``eval_data``).
        cosine_every: record task-gradient cosines every this many steps (0 = never).
        callbacks: functions ``callback(history, event)`` called with ``"step"``, ``"eval"`` and
            ``"end"`` (live plots in notebooks and the dashboard).
        progress: show a tqdm progress bar.
        checkpoint: if given, save the trained model there (atomic, sha256 sidecar).
        num_workers: DataLoader workers when ``data`` is a Dataset.
        num_threads: ``torch.set_num_threads`` on CPU (default: leave torch's choice).
        region: region object for regression scales and spacing (default: ``data.region`` if present).
        stopping: validation-based stopping (:class:`~mtdl_kit.stopping.ValidationStopping`): watched
            on ``eval_data`` every ``eval_every`` steps; training stops after its patience runs out and
            the best evaluation's weights are restored. ``history.config`` then records ``best_step``,
            ``steps_run`` and ``stopped_early``. ``steps`` becomes the upper bound.
        regression_targets: ``"standardised"`` (default: regression losses on targets divided by the
            region's spread, :func:`~mtdl_kit.losses.make_losses`) or ``"raw"`` (the MSE in the task's
            own units; ``history.config`` then records ``regression_targets``). For a fully raw
            regression task also leave its head unstandardised (do not call
            :meth:`~mtdl_kit.models.base.MultiTaskNet.set_regression_scaling`), as the transfer lab's
            experiment E does (:mod:`mtdl_kit.lab.starved`).
        lr_schedule: ``"constant"`` (default) or ``"cosine"``: the learning rate falls from ``lr`` to 0
            along half a cosine over the step budget (Loshchilov I., Hutter F., "SGDR: stochastic gradient
            descent with warm restarts", ICLR 2017, without restarts). A short run then ends on small
            steps, so its final weights vary less from seed to seed than at a constant rate. With
            ``stopping`` the schedule spans the step budget, not the steps run. ``history.config``
            records it when it is not ``"constant"``.
        snapshot: a file for a run that may be killed before it ends (the transfer lab's fills of networks
            that train for an hour): at every validation evaluation the whole training state is written there
            (weights, optimizer, weighting method, schedule, stopping rule, History, random generators and the
            position in the data order; atomically, with a sha256 sidecar); when the file exists as ``fit``
            starts, the run continues from it, to the same weights and History as a run never interrupted (on a
            CPU; bit for bit, tested), and ``history.config`` records ``resumed_at`` (steps) and
            ``seconds_before_resume``. A snapshot of another run (other seed, data, model, settings) is refused.
            The file is deleted when the run ends. Needs ``eval_data`` and ``eval_every``, a Dataset (``fit``
            must own the data order) and a weighting method whose state is in its ``state_dict``.

    Raises:
        ValueError: bad arguments, or a weighting method incompatible with the model (raised
            before the first step).
        TrainingDivergedError: a loss became NaN/inf (names the task and step), or a finite loss had a
            NaN/inf gradient (the weighting method's :class:`FloatingPointError`, with the step).
    """
    if (steps is None) == (epochs is None):
        raise ValueError("Give exactly one of steps=... or epochs=....")
    for name, value in (("steps", steps), ("epochs", epochs)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if lr <= 0 or not math.isfinite(lr):
        raise ValueError(f"lr must be a positive number, got {lr!r}.")
    if cosine_every < 0:
        raise ValueError(f"cosine_every must be >= 0, got {cosine_every}.")
    if regression_targets not in REGRESSION_TARGETS:
        raise ValueError(f"regression_targets must be one of {REGRESSION_TARGETS}, got {regression_targets!r}.")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}.")
    if stopping is not None and (eval_data is None or not eval_every):
        raise ValueError(
            "stopping=... watches validation metrics: pass eval_data=<a validation split> and eval_every=<steps>."
        )
    if snapshot is not None and (eval_data is None or not eval_every or isinstance(data, DataLoader)):
        raise ValueError(
            "snapshot=... is written at each validation evaluation and continues the data order where it stopped: "
            "pass eval_data=<a validation split>, eval_every=<steps> and the training data as a Dataset, not a "
            "DataLoader."
        )
    from mtdl_kit.weighting import build_weighting

    distributed, rank, world = _distributed()
    if stopping is not None and distributed:
        raise ValueError("stopping=... is not supported under torchrun yet; train with a fixed number of steps.")
    if snapshot is not None and distributed:
        raise ValueError("snapshot=... is not supported under torchrun; train without it.")
    dev = pick_device(device)
    if distributed and dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    precision = pick_precision(dev, amp)
    if num_threads is not None and dev.type == "cpu":
        torch.set_num_threads(num_threads)
    seed_everything(seed)
    if distributed:
        _init_distributed(dev)

    net = model.to(dev)
    tasks: tuple[TaskSpec, ...] = tuple(net.tasks)
    region = region if region is not None else getattr(getattr(data, "dataset", data), "region", None)
    loss_fns = {k: v.to(dev) for k, v in make_losses(tasks, region, regression_targets=regression_targets).items()}
    method = build_weighting(weighting, [t.name for t in tasks], model=net, level=level, **(weighting_options or {}))
    method.to(dev)
    if snapshot is not None and not method.resumable:
        raise ValueError(
            f"weighting {weighting!r} keeps state outside its state_dict, so a snapshot could not continue it; "
            "train without snapshot=..., or with another method."
        )
    model_params = [p for p in net.parameters() if p.requires_grad]
    method_params = list(method.parameters())
    params = model_params + method_params
    groups = [{"params": model_params, "weight_decay": weight_decay}]
    if method_params:  # the weighting's own parameters (UW's log-variances): never decayed
        groups.append({"params": method_params, "weight_decay": 0.0})
    # the fused kernel on CUDA: one launch for all parameters instead of a few per tensor (a small
    # network's step is bound by kernel launches there); the same update rule
    optimizer = torch.optim.Adam(groups, lr=lr, fused=dev.type == "cuda")
    loader = _make_loader(data, batch_size, seed, num_workers, distributed, rank, world)
    if len(loader) == 0:
        raise ValueError(
            f"The data gives no batch (len {len(getattr(loader, 'dataset', []))}, batch_size {batch_size})."
        )
    total = steps if steps is not None else epochs * len(loader)
    scheduler = _lr_scheduler(optimizer, lr_schedule, total)
    shared_all = list(net.shared_parameters())  # requires_grad is re-read at each step (a trunk may be frozen)
    eval_every = eval_every or 0

    if distributed:
        import torch.distributed as dist

        with torch.no_grad():
            for t in list(net.state_dict().values()) + list(method.parameters()):
                dist.broadcast(t.data if isinstance(t, nn.Parameter) else t, src=0)

    history = History(
        config={
            "family": getattr(net, "family", type(net).__name__),
            "tasks": [t.name for t in tasks],
            "weighting": weighting,
            "level": level,
            "steps": total,
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
            "device": str(dev),
            "precision": precision.label,
            "world_size": world,
        }
    )
    if regression_targets != "standardised":  # recorded only off the default: earlier histories stay comparable
        history.config["regression_targets"] = regression_targets
    if lr_schedule != "constant":  # likewise
        history.config["lr_schedule"] = lr_schedule
    bar = None
    if progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"{history.config['family']} / {weighting}", unit="step", leave=False)

    autocast = (
        (lambda: torch.autocast(device_type=dev.type, dtype=precision.dtype)) if precision.enabled else nullcontext
    )
    step, epoch = 0, 0
    evaluated_at = -1
    epoch_sums: dict[str, float] = {t.name: 0.0 for t in tasks}
    epoch_batches = 0
    started, seconds_before = time.perf_counter(), 0.0
    identity = _run_identity(history, net, data, eval_every, weight_decay, stopping) if snapshot is not None else {}
    resume = _read_snapshot(snapshot, identity) if snapshot is not None and Path(snapshot).exists() else None
    if resume is not None:
        net.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        method.load_state_dict(resume["method"])
        if scheduler is not None:
            scheduler.load_state_dict(resume["scheduler"])
        if stopping is not None:
            stopping.load_state_dict(resume["stopping"])
        history = History(config=dict(resume["history_config"]), rows=[tuple(r) for r in resume["history_rows"]])
        step, epoch, evaluated_at, total = resume["step"], resume["epoch"], resume["evaluated_at"], resume["total"]
        epoch_sums, epoch_batches = dict(resume["epoch_sums"]), resume["epoch_batches"]
        seconds_before = float(resume["seconds"])
        history.config["resumed_at"] = [*history.config.get("resumed_at", []), step]
        history.config["seconds_before_resume"] = seconds_before
        if bar is not None:
            bar.update(step)
    epoch_order = None  # the data-order generator's state where this epoch began (what a snapshot continues)
    net.train()
    while step < total:
        if distributed and hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)
        if resume is not None:  # the interrupted epoch: same order, its batches done skipped, then the generators
            loader.generator.set_state(resume["epoch_order"])
            epoch_order, batches = resume["epoch_order"], iter(loader)
            for _ in range(epoch_batches):
                next(batches)
            _set_rng_state(resume["rng"], dev)
            resume = None
        else:
            epoch_order = loader.generator.get_state() if snapshot is not None else None
            batches = iter(loader)
        for batch in batches:
            if step >= total:
                break
            t0 = time.perf_counter()
            batch = _to_device(batch, dev)
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                outputs, features = net.forward_with_features(batch["image"])
                losses = compute_losses(loss_fns, outputs, batch)
                for name, term in net.take_regularisers().items():  # e.g. an adversary's confusion term
                    losses[name] = losses[name] + term
            # one device synchronisation for all the losses' values (each float() on a GPU tensor is one)
            loss_values = dict(
                zip(losses, torch.stack([v.detach().float() for v in losses.values()]).tolist(), strict=True)
            )
            for name, v in loss_values.items():
                if not math.isfinite(v):
                    raise TrainingDivergedError(
                        f"Loss of task {name!r} is {v} at step {step} (epoch {epoch}); training stopped. "
                        "Lower the learning rate, check the targets of that task, or use amp=False."
                    )
            shared = [p for p in shared_all if p.requires_grad]
            if cosine_every and step % cosine_every == 0 and shared:
                history.add_many(step, epoch, "cosine", gradient_cosines(losses, shared))
            try:
                weights = method.backward(losses, features=features if len(features) else None)
            except FloatingPointError as exc:  # e.g. a finite loss with a NaN gradient: say when
                raise TrainingDivergedError(f"At step {step} (epoch {epoch}): {exc}") from exc
            if distributed:
                _average_gradients(params, world)
            optimizer.step()
            if distributed:
                _sync_weighting_state(method, world)
            history.add_many(step, epoch, "loss", loss_values)
            history.add_many(step, epoch, "weight", {k: float(v) for k, v in weights.items()})
            history.add(step, epoch, "lr", "lr", optimizer.param_groups[0]["lr"])
            if scheduler is not None:
                scheduler.step()
            history.add(step, epoch, "step_time", "seconds", time.perf_counter() - t0)
            for k, v in loss_values.items():
                epoch_sums[k] += v
            epoch_batches += 1
            step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{v:.3f}" for k, v in loss_values.items()})
            for cb in callbacks:
                cb(history, "step")
            if eval_data is not None and eval_every and step % eval_every == 0 and step < total:
                values = _evaluate_into(history, net, eval_data, tasks, dev, step, epoch, batch_size, region, rank)
                evaluated_at = step
                for cb in callbacks:
                    cb(history, "eval")
                if stopping is not None and stopping.update(step, values, net):
                    total = step  # patience ran out: ends both loops
                elif snapshot is not None:
                    from mtdl_kit.checkpoint import save_snapshot

                    save_snapshot(
                        {
                            "identity": identity,
                            "model": net.state_dict(),
                            "optimizer": optimizer.state_dict(),
                            "method": method.state_dict(),
                            "scheduler": None if scheduler is None else scheduler.state_dict(),
                            "stopping": None if stopping is None else stopping.state_dict(),
                            "history_config": history.config,
                            "history_rows": history.rows,
                            "step": step,
                            "epoch": epoch,
                            "evaluated_at": evaluated_at,
                            "total": total,
                            "epoch_sums": epoch_sums,
                            "epoch_batches": epoch_batches,
                            "epoch_order": epoch_order,
                            "rng": _rng_state(dev),
                            "seconds": seconds_before + time.perf_counter() - started,
                        },
                        snapshot,
                    )
        means = {k: v / max(epoch_batches, 1) for k, v in epoch_sums.items()}
        if distributed:
            means = _average_scalars(means, world)
        method.end_epoch(means)
        epoch += 1
        epoch_sums = {t.name: 0.0 for t in tasks}
        epoch_batches = 0

    if bar is not None:
        bar.close()
    if eval_data is not None and evaluated_at != step:
        values = _evaluate_into(history, net, eval_data, tasks, dev, step, epoch, batch_size, region, rank)
        for cb in callbacks:
            cb(history, "eval")
        if stopping is not None:
            stopping.update(step, values, net)
    if stopping is not None:
        stopping.restore_best(net)
        history.config.update(best_step=stopping.best_step, steps_run=step, stopped_early=stopping.stopped_early)
    net.eval()
    if snapshot is not None:
        from mtdl_kit.checkpoint import delete_snapshot

        delete_snapshot(snapshot)
    if checkpoint is not None and rank == 0:
        from mtdl_kit.checkpoint import save_checkpoint

        save_checkpoint(net, checkpoint, meta={"history_config": history.config})
    for cb in callbacks:
        cb(history, "end")
    return history


def _run_identity(
    history: History, net: nn.Module, data: Any, eval_every: int, weight_decay: float, stopping: Any
) -> dict[str, Any]:
    """What a snapshot must agree on to continue a run: the History's settings, the data size, the network's
    parameter names and shapes, the evaluation interval and the stopping rule's metrics."""
    import hashlib
    import json

    shapes = [[name, list(t.shape)] for name, t in net.state_dict().items()]
    return {
        **{k: v for k, v in history.config.items() if k not in ("device", "precision")},
        "n_data": len(data),
        "eval_every": eval_every,
        "weight_decay": weight_decay,
        "stopping": None if stopping is None else list(stopping.monitor),
        "architecture": hashlib.sha1(json.dumps(shapes).encode()).hexdigest(),
    }


def _read_snapshot(path: str | Path, identity: dict[str, Any]) -> dict[str, Any]:
    """The snapshot at ``path``, verified, if it was written by this run (``identity``).

    Raises:
        ValueError: a snapshot of another run (the settings that differ are named).
    """
    from mtdl_kit.checkpoint import load_snapshot

    state = load_snapshot(path)
    mine, theirs = identity, state.get("identity", {})
    differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
    if differ:
        detail = "; ".join(f"{k}: this run {mine.get(k)!r}, the snapshot {theirs.get(k)!r}" for k in differ[:4])
        raise ValueError(
            f"snapshot {path} was written by another run ({detail}); delete it to start this run from its first "
            "step, or pass another snapshot path."
        )
    return state


def _rng_state(dev: torch.device) -> dict[str, Any]:
    """Python's, numpy's and torch's global generators (and the device's), as a snapshot stores them."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)),
        "torch": torch.get_rng_state(),
    }
    if dev.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(dev)
    return state


def _set_rng_state(state: dict[str, Any], dev: torch.device) -> None:
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if dev.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], dev)


def _evaluate_into(
    history: History,
    net: nn.Module,
    eval_data: Dataset | DataLoader,
    tasks: Sequence[TaskSpec],
    dev: torch.device,
    step: int,
    epoch: int,
    batch_size: int,
    region: Any,
    rank: int,
) -> dict[str, float]:
    """Evaluate on ``eval_data`` into ``history``; returns ``{"task/metric": value}`` (empty off rank 0)."""
    if rank != 0:
        return {}
    from mtdl_kit.evaluation import evaluate

    result = evaluate(net, eval_data, tasks=tasks, region=region, batch_size=batch_size, device=dev)
    values = {}
    for name, metrics in result.metrics.items():
        for metric, value in metrics.items():
            history.add(step, epoch, "metric", f"{name}/{metric}", value)
            values[f"{name}/{metric}"] = value
    return values


def _average_gradients(params: Sequence[nn.Parameter], world: int) -> None:
    import torch.distributed as dist

    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad /= world


def _sync_weighting_state(method: nn.Module, world: int) -> None:
    """Average a weighting method's float buffers (e.g. GradNorm weights) so replicas stay identical."""
    import torch.distributed as dist

    with torch.no_grad():
        for b in method.buffers():
            if b.is_floating_point():
                dist.all_reduce(b, op=dist.ReduceOp.SUM)
                b /= world


def _average_scalars(values: dict[str, float], world: int) -> dict[str, float]:
    import torch.distributed as dist

    names = list(values)
    t = torch.tensor([values[n] for n in names], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {n: float(v) / world for n, v in zip(names, t, strict=True)}
