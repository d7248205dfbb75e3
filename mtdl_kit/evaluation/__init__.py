"""Honest evaluation: one :func:`evaluate`, per-case records, Δm with a paired CI, and Pareto fronts.

- :func:`evaluate` scores a model on a test set (:mod:`.evaluate`); it runs
  :func:`collect_predictions` once and :func:`compute_metrics` per task (:mod:`.records`). Every
  metric can be recomputed from the per-case :class:`Records` on any subset of cases, with repeats —
  what a bootstrap needs.
- :func:`delta_m` compares a multi-task model with single-task baselines over several training
  seeds: the multi-task performance Δm of Maninis et al. (CVPR 2019) and Vandenhende et al. (TPAMI
  2021), with a paired hierarchical bootstrap CI over seeds and test cases (:mod:`.delta`).
- :func:`paired_contrast` compares training arms run on paired seeds: per-task differences and
  interactions in a metric's own units, with a paired hierarchical bootstrap CI (:mod:`.paired`);
  :func:`seed_bootstrap_mean` the coarser interval over seeds alone, for committed per-network metrics.
- :func:`non_dominated` marks the Pareto-optimal models of a trade-off plot (:mod:`.pareto`).
- :func:`chance_level` scores :class:`TrainingPrior`, a predictor that never sees the image, through the
  same :func:`evaluate`: the level a network must beat to have learnt anything (:mod:`.chance`);
  :func:`copy_input_level` the floor of a denoising task, the noisy input returned unchanged (:class:`CopyInput`).
"""

from mtdl_kit.evaluation.chance import CopyInput, TrainingPrior, chance_level, copy_input_level
from mtdl_kit.evaluation.delta import MIN_SEEDS, DeltaM, Estimate, delta_m, relative_change
from mtdl_kit.evaluation.evaluate import Evaluation, evaluate
from mtdl_kit.evaluation.paired import paired_contrast, seed_bootstrap_mean
from mtdl_kit.evaluation.pareto import non_dominated
from mtdl_kit.evaluation.records import RECORD_KEYS, Records, TaskRecords, collect_predictions, compute_metrics

__all__ = [
    "MIN_SEEDS",
    "RECORD_KEYS",
    "CopyInput",
    "DeltaM",
    "Estimate",
    "Evaluation",
    "Records",
    "TaskRecords",
    "TrainingPrior",
    "chance_level",
    "collect_predictions",
    "compute_metrics",
    "copy_input_level",
    "delta_m",
    "evaluate",
    "non_dominated",
    "paired_contrast",
    "relative_change",
    "seed_bootstrap_mean",
]
