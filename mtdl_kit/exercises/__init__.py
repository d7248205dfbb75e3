"""Self-checking exercises for the tutorial notebooks.

Each ``check_*`` function takes the learner's answer (a value or a function), compares it with a
reference computed by the library, prints a friendly ✅ message when it agrees and raises
:class:`ExerciseError` with a hint when it does not. Notebooks stay short: the exercise cell holds
the learner's code, the next cell calls one of these checks.

A stub that still raises ``NotImplementedError`` (the student copies written by ``make student``)
is re-raised unchanged so the learner sees which exercise is left.

Example:
    >>> from mtdl_kit.exercises import check_prediction
    >>> check_prediction("parallel", observed="parallel", options=("parallel", "cascaded"))
    ✅ Your prediction 'parallel' matches what the run shows.

The checks live by subject — :mod:`~mtdl_kit.exercises.base` (the error and predict-then-look),
:mod:`~mtdl_kit.exercises.families`, :mod:`~mtdl_kit.exercises.gradients`,
:mod:`~mtdl_kit.exercises.measurements`, :mod:`~mtdl_kit.exercises.intervals`,
:mod:`~mtdl_kit.exercises.lab`, :mod:`~mtdl_kit.exercises.own_data` — and are all importable from
``mtdl_kit.exercises``, which is what the notebooks use.
"""

from mtdl_kit.exercises.base import ExerciseError, check_prediction
from mtdl_kit.exercises.families import (
    check_best_family,
    check_delta_m,
    check_family_parameter_share,
    check_quick_delta_m,
    reference_delta_m,
)
from mtdl_kit.exercises.gradients import check_pcgrad_projection, reference_pcgrad_projection
from mtdl_kit.exercises.intervals import (
    check_null_bound,
    check_null_reading,
    check_paired_interval,
    check_replicated,
    check_verdicts,
    reference_paired_interval,
)
from mtdl_kit.exercises.lab import (
    check_cascade_contrast,
    check_condition_rho,
    check_contrast_weights,
    check_crossover_interaction,
    check_families_contrast,
    check_mean_weight,
    check_runs_beating_chance,
    check_variant_gain,
)
from mtdl_kit.exercises.measurements import check_cdr_from_mask, check_region_measurement, check_region_rule
from mtdl_kit.exercises.own_data import check_hu_conversion, check_labels_row

__all__ = [
    "ExerciseError",
    "check_best_family",
    "check_cascade_contrast",
    "check_cdr_from_mask",
    "check_condition_rho",
    "check_contrast_weights",
    "check_crossover_interaction",
    "check_delta_m",
    "check_families_contrast",
    "check_family_parameter_share",
    "check_hu_conversion",
    "check_labels_row",
    "check_mean_weight",
    "check_null_bound",
    "check_null_reading",
    "check_paired_interval",
    "check_pcgrad_projection",
    "check_prediction",
    "check_quick_delta_m",
    "check_region_measurement",
    "check_region_rule",
    "check_replicated",
    "check_runs_beating_chance",
    "check_variant_gain",
    "check_verdicts",
    "reference_delta_m",
    "reference_paired_interval",
    "reference_pcgrad_projection",
]
