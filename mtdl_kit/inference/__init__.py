"""Inference helpers shared by the region notebooks and the dashboard: predict, evaluate, draw.

The notebooks hold glue only; what they compute lives here, typed and tested:

- :func:`predict_sample` runs a model on one :class:`~mtdl_kit.regions.base.Sample` and returns
  readable predictions (class maps, class probabilities, values in the task's units, points); with
  ``size`` it runs the model at its training size (zoo: 64 px, :func:`resize_sample`) and brings the
  outputs back to the sample's size (the dashboard's predictions go through it too).
- :func:`evaluate_models` scores several models (multi-task families and single-task baselines)
  on the *same* phantom test cases and returns a long table ``model, family, task, metric, value``.
- :func:`metrics_table`, :func:`relative_to_single` and :func:`quick_delta_m` reshape that table:
  primary metric per task, relative change against the single-task baseline, and a one-seed Δm.
- :func:`joint_outputs_figure` draws one column per model: the segmentation overlay (truth as
  outline, prediction as fill, Okabe-Ito colours) with the class decision and the regression
  values, predicted against true, written underneath.
- :func:`tradeoff_figure` plots two tasks' primary metrics against each other (a Pareto view of
  the families against the single-task baselines).

A one-seed evaluation on a few dozen cases is a *demonstration*, not a result: the benchmark
tables (:func:`mtdl_kit.results.load_results`) give Δm over seeds with confidence intervals.

The package in four modules: :mod:`.checks` (argument checks), :mod:`.predict`, :mod:`.tables` and
:mod:`.figures`. Research and teaching use only — not for clinical use.
"""

from mtdl_kit.inference.figures import FAMILY_SYMBOLS, joint_outputs_figure, prediction_lines, tradeoff_figure
from mtdl_kit.inference.predict import predict_sample, resize_sample
from mtdl_kit.inference.tables import (
    FRAME_COLUMNS,
    SINGLE_LABEL,
    delta_m_summary,
    evaluate_models,
    mask_measurements,
    metrics_table,
    quick_delta_m,
    relative_table,
    relative_to_single,
)

__all__ = [
    "FAMILY_SYMBOLS",
    "FRAME_COLUMNS",
    "SINGLE_LABEL",
    "delta_m_summary",
    "evaluate_models",
    "joint_outputs_figure",
    "mask_measurements",
    "metrics_table",
    "predict_sample",
    "prediction_lines",
    "quick_delta_m",
    "relative_table",
    "relative_to_single",
    "resize_sample",
    "tradeoff_figure",
]
