"""Validation-based stopping: the same rule for single-task and multi-task networks.

A fixed step budget compares how fast two networks learn, not what they reach (wave-1 results:
multi-task networks were still improving when the budget ended). :class:`ValidationStopping`
watches metrics on a validation split (disjoint seeds) every ``eval_every`` steps of
:func:`mtdl_kit.train.fit`, keeps the weights of the best evaluation, stops after ``patience``
evaluations without improvement, and restores the best weights at the end — early stopping with
checkpoint selection as in Prechelt, "Early stopping — but when?", Neural Networks: Tricks of the
Trade (1998), and as nnU-Net selects its final checkpoint (Isensee et al., Nature Methods 2021).

"Improvement" is scale-free, so several metrics in different units can be watched together: the mean
over watched metrics of the signed relative change against the best evaluation so far (the same
form as the multi-task Δm of Maninis et al., CVPR 2019) must exceed ``min_delta``.

With ``warmup`` the first evaluations only warm up: none of them can become the selected checkpoint
against a later one and patience starts counting after them (the latest warm-up weights are kept
only as a fallback for a run that ends inside the warm-up). Without it, one lucky early evaluation
on a small validation split can set a bar that later, better networks never clear, because
"improvement" is a mean relative change against the best so far: the transfer lab saw a related
arm keep its step-50 weights (validation AUC up, Dice far from its plateau) over everything after
it (benchmarks/RESULTS.md, "crossover-notes").

With ``chance`` (each watched metric's chance level on the validation split: what a predictor that never
sees the image scores, :func:`mtdl_kit.evaluation.chance.chance_level`) patience starts counting only once
every watched metric has beaten its chance level at some evaluation. A task still at chance is not on a
plateau of learning but before it: the knee's landmark heat maps sit at a blank-map error for hundreds of
steps, and a patience rule ended single-task runs there that learn the landmarks when trained on
(RESULTS "families-lab-unstopped-musculoskeletal-headline256"). A run whose task never leaves chance trains to its cap.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mtdl_kit.metrics import better_than, higher_is_better


@dataclass
class ValidationStopping:
    """Early stopping with best-checkpoint selection on validation metrics.

    Args:
        monitor: the validation metrics to watch, as ``"task/metric"`` names of the
            :class:`~mtdl_kit.history.History` (e.g. ``"glaucoma/auc"``), at least one.
        patience: stop after this many evaluations in a row without improvement.
        min_delta: the smallest mean relative improvement (a fraction: 0.005 = 0.5 %) that counts.
        min_evaluations: never stop before this many evaluations.
        warmup: the first ``warmup`` evaluations cannot be selected against later ones and do not
            count towards ``patience`` (0: every evaluation can be the best, the original rule).
        chance: watched metric -> its chance level on the validation split; patience counts only once every
            metric named here has beaten its level (``None``: no such guard, the original rule).

    Attributes:
        best_step: the step of the best evaluation (``-1`` before any).
        best_values: the watched metrics at that step.
        evaluations: evaluations seen so far.
        stopped_early: whether training stopped before its step budget.
        above_chance: the watched metrics of ``chance`` that have beaten their level at some evaluation.
    """

    monitor: Sequence[str]
    patience: int = 5
    min_delta: float = 0.0
    min_evaluations: int = 1
    warmup: int = 0
    chance: Mapping[str, float] | None = None
    best_step: int = field(default=-1, init=False)
    best_values: dict[str, float] = field(default_factory=dict, init=False)
    evaluations: int = field(default=0, init=False)
    stopped_early: bool = field(default=False, init=False)
    above_chance: set[str] = field(default_factory=set, init=False)
    _since_best: int = field(default=0, init=False, repr=False)
    _best_state: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.monitor, str):
            self.monitor = (self.monitor,)
        self.monitor = tuple(self.monitor)
        if not self.monitor or not all(isinstance(m, str) and "/" in m for m in self.monitor):
            raise ValueError(f"monitor needs 'task/metric' names (e.g. 'glaucoma/auc'), got {self.monitor!r}.")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1:
            raise ValueError(f"patience must be a positive integer, got {self.patience!r}.")
        if not (math.isfinite(self.min_delta) and self.min_delta >= 0):
            raise ValueError(f"min_delta must be a finite number >= 0, got {self.min_delta!r}.")
        if isinstance(self.min_evaluations, bool) or not isinstance(self.min_evaluations, int):
            raise ValueError(f"min_evaluations must be an integer, got {self.min_evaluations!r}.")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f"warmup must be an integer >= 0, got {self.warmup!r}.")
        if self.chance is not None:
            self.chance = dict(self.chance)
            unknown = sorted(set(self.chance) - set(self.monitor))
            if unknown:
                raise ValueError(f"chance names {unknown}, which are not watched; monitor is {list(self.monitor)}.")
            bad = {k: v for k, v in self.chance.items() if not (isinstance(v, float | int) and math.isfinite(v))}
            if bad:
                raise ValueError(f"chance levels must be finite numbers, got {bad}; leave out a metric without one.")

    @classmethod
    def on_primary_metrics(
        cls,
        tasks: Sequence[Any],
        *,
        patience: int,
        min_evaluations: int,
        warmup: int = 0,
        chance: Mapping[str, float] | None = None,
    ) -> ValidationStopping:
        """The rule the transfer lab and the zoo stop by: every task's primary validation metric watched together.

        Args:
            tasks: the network's :class:`~mtdl_kit.regions.base.TaskSpec` s.
            patience, min_evaluations, warmup: as in the class.
            chance: task name -> the chance level of its primary metric on the validation split (the guard
                of the class's ``chance``, keyed by task here).
        """
        from mtdl_kit.metrics import primary_metric

        names = {t.name: f"{t.name}/{primary_metric(t)}" for t in tasks}
        return cls(
            list(names.values()),
            patience=patience,
            min_evaluations=min_evaluations,
            warmup=warmup,
            chance=None if chance is None else {names[t]: v for t, v in chance.items() if t in names},
        )

    @property
    def at_chance(self) -> list[str]:
        """The watched metrics of ``chance`` that have not yet beaten their level (patience waits for them)."""
        return [m for m in (self.chance or {}) if m not in self.above_chance]

    def improvement(self, values: dict[str, float]) -> float:
        """Mean signed relative change of ``values`` against the best so far (``inf`` at the first evaluation).

        A NaN metric (e.g. AUC of a single-class validation set) counts as no change.
        """
        if not self.best_values:
            return math.inf
        changes = []
        for name in self.monitor:
            new, best = values[name], self.best_values[name]
            sign = 1.0 if higher_is_better(name.split("/", 1)[1]) else -1.0
            if not (math.isfinite(new) and math.isfinite(best)):
                changes.append(0.0 if not math.isfinite(new) else math.inf)
                continue
            changes.append(sign * (new - best) / max(abs(best), 1e-8))
        return sum(changes) / len(changes)

    def update(self, step: int, values: dict[str, float], model: Any) -> bool:
        """Record one evaluation; keep the model's weights if it is the best. Returns ``True`` to stop.

        Args:
            step: the training step of the evaluation.
            values: metric name -> validation value; must hold every watched metric.
            model: the ``nn.Module`` being trained (its ``state_dict`` is copied when it improves).

        Raises:
            ValueError: a watched metric is missing from ``values`` (the message lists what is there).
        """
        missing = [m for m in self.monitor if m not in values]
        if missing:
            raise ValueError(
                f"ValidationStopping watches {missing}, which the validation metrics lack; available: "
                f"{sorted(values)}. Watch a task the model has, e.g. '<task>/<primary metric>'."
            )
        self.evaluations += 1
        for name, level in (self.chance or {}).items():
            if better_than(values[name], level, name.split("/", 1)[1]):
                self.above_chance.add(name)
        if self.evaluations == self.warmup + 1:
            self.best_values = {}  # the warm-up is over: its weights are no longer a bar to clear
        if self.improvement(values) > self.min_delta or self._best_state is None or self.evaluations <= self.warmup:
            self.best_step = int(step)
            self.best_values = {m: float(values[m]) for m in self.monitor}
            self._best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            self._since_best = 0
        elif not self.at_chance:
            self._since_best += 1
        stop = self._since_best >= self.patience and self.evaluations >= self.min_evaluations
        self.stopped_early = self.stopped_early or stop
        return stop

    def replay(self, evaluations: Sequence[tuple[int, dict[str, float]]]) -> int | None:
        """Feed a recorded validation curve through the rule, as :func:`mtdl_kit.train.fit` would: the step
        at which it stops, or ``None`` if it never does (the run goes on to its cap). No model is needed:
        what a rule decides depends on the validation values alone, so a committed curve shows what
        another rule would have done up to the point where the two rules part.

        Args:
            evaluations: ``(step, values)`` in training order; ``values`` holds every watched metric.
        """
        for step, values in evaluations:
            if self.update(step, values, _NoWeights()):
                return int(step)
        return None

    def restore_best(self, model: Any) -> None:
        """Load the best evaluation's weights into ``model`` (nothing happens before any evaluation)."""
        if self._best_state is not None:
            model.load_state_dict(copy.deepcopy(self._best_state))

    def state_dict(self) -> dict[str, Any]:
        """What the rule has seen so far (best step and values, counters, the best weights), for a training
        snapshot (:func:`mtdl_kit.train.fit` with ``snapshot=``); :meth:`load_state_dict` restores it."""
        return {
            "monitor": list(self.monitor),
            "best_step": self.best_step,
            "best_values": dict(self.best_values),
            "evaluations": self.evaluations,
            "stopped_early": self.stopped_early,
            "above_chance": sorted(self.above_chance),
            "since_best": self._since_best,
            "best_state": self._best_state,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state_dict` of the same rule.

        Raises:
            ValueError: the state watched other metrics.
        """
        if list(state["monitor"]) != list(self.monitor):
            raise ValueError(f"this rule watches {list(self.monitor)}; the state was of {list(state['monitor'])}.")
        self.best_step = int(state["best_step"])
        self.best_values = {k: float(v) for k, v in state["best_values"].items()}
        self.evaluations = int(state["evaluations"])
        self.stopped_early = bool(state["stopped_early"])
        self.above_chance = set(state["above_chance"])
        self._since_best = int(state["since_best"])
        self._best_state = state["best_state"]

    def summary(self) -> dict[str, Any]:
        """What a results table reports: the best step, its values, evaluations, early stop."""
        return {
            "best_step": self.best_step,
            "best_values": dict(self.best_values),
            "evaluations": self.evaluations,
            "stopped_early": self.stopped_early,
            "warmup": self.warmup,
            **({"at_chance": self.at_chance} if self.chance is not None else {}),
        }


class _NoWeights:
    """A stand-in model for :meth:`ValidationStopping.replay` (no weights to keep)."""

    @staticmethod
    def state_dict() -> dict[str, Any]:
        return {}
