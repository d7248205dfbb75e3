"""The dashboard's services: everything its pages compute, without any UI (no Streamlit, no widgets).

The pages in ``dashboard/views/`` hold UI state and caching only; they call these functions and
show what they return (plain dicts, DataFrames, arrays and plotly figures). One module per concern:

- :mod:`.zoo_models`: which zoo model answers a task subset (:func:`resolve_model`), the manifest
  and the shared, frozen models (:func:`load_shared_model`).
- :mod:`.explore`: predictions at the model's size (:func:`predict`, through
  :func:`mtdl_kit.inference.predict_sample`), the joint picture and the output tables.
- :mod:`.relationships`: per-case table, output correlation, gradient conflict, task affinity.
- :mod:`.clinicians`: plain-language comparisons with intervals over held-out cases, calibration.
- :mod:`.ood`: is an image like the training phantoms (:func:`ood_check`, a Mahalanobis distance on
  image statistics calibrated on held-out phantoms), and what was done to an upload
  (:func:`processing_notes`).
- :mod:`.uploads`: browser uploads checked and read (:func:`upload_sample` never raises) and the
  frames, slices and volumes they offer (:func:`upload_choices`).
- :mod:`.training`: live training jobs (:class:`LiveRun` in a pool of worker processes,
  :func:`training_pool`; the form's check :func:`validate_training`; the CPU step cap) and the
  Pareto figure of a session's runs.
- :mod:`.warmup`: the server's warm-up (torch, MONAI and the zoo models loaded once, the heap
  frozen for the garbage collector); imported by name, not re-exported here.
- :mod:`.architectures`: a family's wiring and parameter counts on a region's tasks; the wiring
  diagram with its labels fitted to the dashboard's column (:func:`wiring_figure`).
- :mod:`.transfer_findings`: what the transfer lab's crossover found, in plain words from its
  results tables (the lead of For clinicians); imported by name, not re-exported here.
- :mod:`.catalog`: the notebook of each region and the review's networks.

Importing this package imports neither torch nor a UI toolkit; the functions that need torch
import it when called. Research and teaching use only — not for clinical use.
"""

from mtdl_kit.services.architectures import WiringFigure, describe_family, parameter_table, wiring_figure
from mtdl_kit.services.catalog import FAMILIES_NOTEBOOK, NOTEBOOK_DIR, catalog_rows, notebook_path, region_notebook
from mtdl_kit.services.clinicians import (
    COMPARISON_NOTE,
    METRIC_WORDS,
    N_HELD_OUT,
    calibration_note,
    calibration_summary,
    compare_with_single,
    evaluate_on_samples,
    reliability_figure,
    reliability_table,
    task_words,
    verdict,
)
from mtdl_kit.services.explore import (
    Prediction,
    classification_rows,
    contact_sheet,
    joint_picture,
    latents_table,
    picture_tasks,
    png_bytes,
    predict,
    reconstruction_picture,
    regression_rows,
    shown_channel_note,
)
from mtdl_kit.services.ood import TRAINED_ON, OODReference, OODResult, ood_check, processing_notes, reference_for
from mtdl_kit.services.relationships import pred_vs_true_figure, relationships, sample_records
from mtdl_kit.services.training import (
    CPU_STEP_CAP,
    GPU_STEP_CAP,
    LIVE_STEPS,
    LiveRun,
    RunSnapshot,
    TrainingRefusedError,
    cap_steps,
    live_recipe,
    new_owner_token,
    valid_owner_token,
    validate_training,
)
from mtdl_kit.services.training_report import (
    baseline_comparison,
    live_recipe_note,
    pareto_figure,
    run_table,
    session_tradeoff,
)
from mtdl_kit.services.training_workers import TrainingPool, training_pool
from mtdl_kit.services.uploads import read_dashboard_upload, upload_choices, upload_sample
from mtdl_kit.services.zoo_models import (
    ZOO_ORDER_NOTE,
    ModelChoice,
    available_families,
    device_label,
    load_shared_model,
    manifest_stamp,
    read_manifest_or_empty,
    region_model_size,
    resolve_model,
)

__all__ = [
    "COMPARISON_NOTE",
    "CPU_STEP_CAP",
    "FAMILIES_NOTEBOOK",
    "GPU_STEP_CAP",
    "LIVE_STEPS",
    "METRIC_WORDS",
    "NOTEBOOK_DIR",
    "N_HELD_OUT",
    "TRAINED_ON",
    "ZOO_ORDER_NOTE",
    "LiveRun",
    "ModelChoice",
    "OODReference",
    "OODResult",
    "Prediction",
    "RunSnapshot",
    "TrainingPool",
    "TrainingRefusedError",
    "WiringFigure",
    "available_families",
    "baseline_comparison",
    "calibration_note",
    "calibration_summary",
    "cap_steps",
    "catalog_rows",
    "classification_rows",
    "compare_with_single",
    "contact_sheet",
    "describe_family",
    "device_label",
    "evaluate_on_samples",
    "joint_picture",
    "latents_table",
    "live_recipe",
    "live_recipe_note",
    "load_shared_model",
    "manifest_stamp",
    "new_owner_token",
    "notebook_path",
    "ood_check",
    "parameter_table",
    "pareto_figure",
    "picture_tasks",
    "png_bytes",
    "pred_vs_true_figure",
    "predict",
    "processing_notes",
    "read_dashboard_upload",
    "read_manifest_or_empty",
    "reconstruction_picture",
    "reference_for",
    "region_model_size",
    "region_notebook",
    "regression_rows",
    "relationships",
    "reliability_figure",
    "reliability_table",
    "resolve_model",
    "run_table",
    "sample_records",
    "session_tradeoff",
    "shown_channel_note",
    "task_words",
    "training_pool",
    "upload_choices",
    "upload_sample",
    "valid_owner_token",
    "validate_training",
    "verdict",
    "wiring_figure",
]
