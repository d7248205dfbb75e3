"""The dashboard's services: everything its pages compute, without any UI (no Streamlit, no widgets).

The pages in ``dashboard/views/`` hold UI state and caching only; they call these functions and
show what they return (plain dicts, DataFrames, arrays and plotly figures). One module per concern:

- :mod:`.zoo_models`: which zoo model answers a task subset (:func:`resolve_model`), the manifest
  and the shared, frozen models (:func:`load_shared_model`).
- :mod:`.explore`: predictions at the model's size (:func:`predict`, through
  :func:`mtdl_kit.inference.predict_sample`), the joint picture and the output tables.
- :mod:`.relationships`: per-case table, output correlation, gradient conflict, task affinity.
- :mod:`.clinicians`: plain-language trade-off sentences, calibration and reliability.
- :mod:`.uploads`: browser uploads checked and read (:func:`upload_sample` never raises) and the
  frames, slices and volumes they offer (:func:`upload_choices`).
- :mod:`.training`: live training jobs (:class:`LiveRun`, the GPU slot, the CPU step cap) and the
  Pareto figure of a session's runs.
- :mod:`.architectures`: a family's wiring and parameter counts on a region's tasks.
- :mod:`.catalog`: the notebook of each region and the review's networks.

Importing this package imports neither torch nor a UI toolkit; the functions that need torch
import it when called. Research and teaching use only — not for clinical use.
"""

from mtdl_kit.services.architectures import describe_family, parameter_table
from mtdl_kit.services.catalog import FAMILIES_NOTEBOOK, NOTEBOOK_DIR, catalog_rows, notebook_path, region_notebook
from mtdl_kit.services.clinicians import (
    METRIC_WORDS,
    calibration_note,
    evaluate_on_samples,
    reliability_figure,
    reliability_table,
    tradeoff_sentences,
)
from mtdl_kit.services.explore import (
    Prediction,
    classification_rows,
    contact_sheet,
    joint_picture,
    latents_table,
    predict,
    reconstruction_picture,
    regression_rows,
)
from mtdl_kit.services.relationships import pred_vs_true_figure, relationships, sample_records
from mtdl_kit.services.training import (
    CPU_STEP_CAP,
    GPU_STEP_CAP,
    TRAINING_LOCK,
    LiveRun,
    RunSnapshot,
    TrainingSlot,
    baseline_comparison,
    cap_steps,
    pareto_figure,
    run_table,
    session_tradeoff,
)
from mtdl_kit.services.uploads import read_dashboard_upload, upload_choices, upload_sample
from mtdl_kit.services.zoo_models import (
    MODEL_SIZE,
    ZOO_ORDER_NOTE,
    ModelChoice,
    available_families,
    device_label,
    load_shared_model,
    manifest_stamp,
    read_manifest_or_empty,
    resolve_model,
)

__all__ = [
    "CPU_STEP_CAP",
    "FAMILIES_NOTEBOOK",
    "GPU_STEP_CAP",
    "METRIC_WORDS",
    "MODEL_SIZE",
    "NOTEBOOK_DIR",
    "TRAINING_LOCK",
    "ZOO_ORDER_NOTE",
    "LiveRun",
    "ModelChoice",
    "Prediction",
    "RunSnapshot",
    "TrainingSlot",
    "available_families",
    "baseline_comparison",
    "calibration_note",
    "cap_steps",
    "catalog_rows",
    "classification_rows",
    "contact_sheet",
    "describe_family",
    "device_label",
    "evaluate_on_samples",
    "joint_picture",
    "latents_table",
    "load_shared_model",
    "manifest_stamp",
    "notebook_path",
    "parameter_table",
    "pareto_figure",
    "pred_vs_true_figure",
    "predict",
    "read_dashboard_upload",
    "read_manifest_or_empty",
    "reconstruction_picture",
    "region_notebook",
    "regression_rows",
    "relationships",
    "reliability_figure",
    "reliability_table",
    "resolve_model",
    "run_table",
    "sample_records",
    "session_tradeoff",
    "tradeoff_sentences",
    "upload_choices",
    "upload_sample",
]
