"""Chance level: what a predictor that never looks at the image scores, through the same :func:`evaluate`.

A network's metric says nothing about learning until it is set against what the training labels give
without the image. :class:`TrainingPrior` is that predictor, fit on a training set's labels alone:

- segmentation: each pixel's most frequent training class (the "mean anatomy" mask — strong wherever
  the anatomy hardly moves between cases);
- classification: the training class frequencies for every case (ROC-AUC 0.5, quadratic weighted κ 0);
- regression: each output's training median (the constant with the least absolute error);
- landmarks: a heat map peaked at each landmark's mean training position (rounded to a pixel, as a
  network's arg-max is);
- reconstruction: the mean training target image.

It is the "no-information" reference of a learning curve (Hastie, Tibshirani & Friedman, *The Elements
of Statistical Learning*, 2nd ed. 2009, §7: a model is judged against the best constant predictor),
and the reason a landmark error must be read against the spread of the landmarks themselves (Wang et
al., MedIA 31:63-76, 2016, report the radial error next to the inter-observer variability). A run whose
metric does not beat :func:`chance_level` learnt nothing the labels' statistics do not already give.

A denoising task has a second floor that does look at the image: :class:`CopyInput` returns the noisy
input unchanged, and :func:`copy_input_level` scores it. A reconstruction network whose error is above it
does worse than no network at all (the brain's shared-trunk networks of experiment G, lesson 10).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch

from mtdl_kit.regions.base import TaskSpec

#: what the prior predicts for each task kind, in words (tables and lessons quote it)
PRIOR_WORDS: dict[str, str] = {
    "segmentation": "each pixel's most frequent training class",
    "classification": "the training class frequencies",
    "regression": "the training median",
    "landmarks": "the mean training position",
    "reconstruction": "the mean training image",
}


def _labelled(items: Iterable[Mapping[str, Any]], name: str) -> list[torch.Tensor]:
    """The targets of ``name`` in ``items``, skipping items whose ``<name>__present`` flag is false."""
    return [
        torch.as_tensor(item[name])
        for item in items
        if name in item and bool(torch.as_tensor(item.get(f"{name}__present", True)))
    ]


class TrainingPrior(torch.nn.Module):
    """A predictor fit on training labels alone: the same output for every image (see the module docstring).

    Args:
        tasks: the tasks to predict.
        train: the training cases (a map-style dataset or a list of sample dicts) whose labels fit the prior;
            images are not read. Partial labels (``"<task>__present"`` false) are skipped.

    Raises:
        ValueError: a task has no labelled training case, or its targets differ in shape between cases.
    """

    def __init__(self, tasks: Sequence[TaskSpec], train: Any) -> None:
        super().__init__()
        self.tasks = tuple(tasks)
        if not self.tasks:
            raise ValueError("TrainingPrior needs at least one TaskSpec.")
        items = [train[i] for i in range(len(train))]
        self._outputs: dict[str, torch.Tensor] = {}
        for task in self.tasks:
            targets = _labelled(items, task.name)
            if not targets:
                raise ValueError(
                    f"TrainingPrior: no training case labels {task.name!r}; give a training set with its labels."
                )
            if len({tuple(t.shape) for t in targets}) != 1:
                raise ValueError(f"TrainingPrior: the targets of {task.name!r} differ in shape between cases.")
            self._outputs[task.name] = self._fit(task, torch.stack(targets))

    @staticmethod
    def _fit(task: TaskSpec, y: torch.Tensor) -> torch.Tensor:
        """One case's output (no batch axis) from the stacked training targets ``y``."""
        k = task.num_outputs
        if task.kind == "segmentation":
            counts = torch.nn.functional.one_hot(y.long(), k).sum(0)  # (H, W, K)
            return torch.nn.functional.one_hot(counts.argmax(-1), k).permute(2, 0, 1).float()
        if task.kind == "classification":
            freq = torch.bincount(y.long().reshape(-1), minlength=k).float() / y.numel()
            return torch.log(freq.clamp_min(1e-6))
        if task.kind == "regression":
            return y.float().median(0).values
        if task.kind == "landmarks":
            return y.float().mean(0).round()  # (K, 2) (row, col); the heat map is drawn per batch
        return y.float().mean(0)  # reconstruction

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x`` (B, C, H, W) -> the same prediction for every case (only its batch size and size are read)."""
        b, (h, w) = x.shape[0], x.shape[-2:]
        out = {}
        for task in self.tasks:
            value = self._outputs[task.name]
            if task.kind == "landmarks":
                maps = torch.zeros(value.shape[0], h, w)
                rows = value[:, 0].clamp(0, h - 1).long()
                cols = value[:, 1].clamp(0, w - 1).long()
                maps[torch.arange(value.shape[0]), rows, cols] = 1.0
                value = maps
            elif task.kind in ("segmentation", "reconstruction") and tuple(value.shape[-2:]) != (h, w):
                raise ValueError(
                    f"TrainingPrior: {task.name!r} was fit on {tuple(value.shape[-2:])} images, asked for {(h, w)}; "
                    "fit it on training cases of the test set's size."
                )
            out[task.name] = value.unsqueeze(0).expand(b, *value.shape).to(x.device)
        return out


def chance_level(tasks: Sequence[TaskSpec], train: Any, test: Any, **evaluate_options: Any) -> Any:
    """Every metric of ``tasks`` on ``test`` for :class:`TrainingPrior` fit on ``train``'s labels.

    Args:
        tasks: the tasks to score.
        train: training cases (their labels fit the prior).
        test: the test cases, as :func:`~mtdl_kit.evaluation.evaluate` takes them.
        evaluate_options: further :func:`~mtdl_kit.evaluation.evaluate` arguments (``region``, ``spacing_mm``…).

    Returns:
        An :class:`~mtdl_kit.evaluation.Evaluation` (``.metrics[task][metric]``), comparable metric for
        metric with a network's evaluation on the same cases.
    """
    from mtdl_kit.evaluation.evaluate import evaluate

    return evaluate(TrainingPrior(tasks, train), test, tasks=tasks, **evaluate_options)


class CopyInput(torch.nn.Module):
    """The identity predictor of an image-to-image (``reconstruction``) task: its output is its input.

    Args:
        tasks: reconstruction tasks whose target has the input's channels (the brain's clean three-sequence
            image); :func:`~mtdl_kit.evaluation.evaluate` checks the shapes case by case.

    Raises:
        ValueError: no task, or a task of another kind (its "copy" would mean nothing).
    """

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        super().__init__()
        self.tasks = tuple(tasks)
        if not self.tasks:
            raise ValueError("CopyInput needs at least one reconstruction TaskSpec.")
        other = [t.name for t in self.tasks if t.kind != "reconstruction"]
        if other:
            raise ValueError(f"CopyInput predicts reconstruction tasks only; {other} are not (use TrainingPrior).")

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x`` (B, C, H, W) -> ``{task: x}`` for every task."""
        return {task.name: x for task in self.tasks}


def copy_input_level(tasks: Sequence[TaskSpec], test: Any, **evaluate_options: Any) -> Any:
    """Every metric of the reconstruction ``tasks`` on ``test`` for :class:`CopyInput` (the noisy input as the
    prediction), through the same :func:`~mtdl_kit.evaluation.evaluate` as a network.

    Returns:
        An :class:`~mtdl_kit.evaluation.Evaluation` (``.metrics[task]["mae"]``).

    Raises:
        ValueError: a task that is not a reconstruction, or a target whose shape is not the input's.
    """
    from mtdl_kit.evaluation.evaluate import evaluate

    return evaluate(CopyInput(tasks), test, tasks=tasks, **evaluate_options)
