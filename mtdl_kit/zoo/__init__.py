"""The pretrained zoo: every region × family (and single-task baselines), trained with the library.

Layout (``data_samples/weights/``, or ``$MTDL_KIT_ZOO``; keys from :func:`zoo_key`)::

    manifest.json                   one :class:`ZooEntry` per model (config, seed, metrics, sha256, ...)
    <region>-<family>.pt            a multi-task model on all of the region's tasks (fp16 weights)
    <region>-<family>-<tasks>.pt    a model on a task subset (tasks joined by ``+``)
    <region>-single-<task>.pt       a single-task baseline

- :func:`train_zoo` trains the models with :func:`mtdl_kit.experiments.train_run`, stores the
  floating-point weights in half precision and records the held-out metrics **of the stored
  (fp16-rounded) model**, evaluated after the save/load round trip; the manifest is rewritten after
  every model, so an interrupted run keeps what it finished.
- :func:`load_pretrained` verifies the sha256 and loads with ``torch.load(weights_only=True)``
  (:mod:`mtdl_kit.checkpoint`); a missing or tampered file raises :class:`ZooError` with the
  command that rebuilds it.
- :func:`verify_zoo` recomputes every held-out metric on the same fixed phantom test set (the
  test seeds are a function of the recorded config) and compares it with the manifest;
  :func:`verify_zoo_quick` hash-checks every file and re-scores one model per region.

Research and teaching use only — not for clinical use.
"""

from mtdl_kit.zoo.chance import chance_report
from mtdl_kit.zoo.composite import composite_reading, zoo_composite_readings
from mtdl_kit.zoo.floors import REGRESSION_FLOORS, Floor, miss_diagnoses, quality_floors, quality_report, zoo_table
from mtdl_kit.zoo.importing import import_region
from mtdl_kit.zoo.loading import find_entry, load_entry, load_pretrained
from mtdl_kit.zoo.manifest import (
    DEFAULT_TOLERANCE,
    MANIFEST,
    ZOO_FORMAT,
    ZooEntry,
    ZooError,
    add_entry,
    default_root,
    read_manifest,
    write_manifest,
)
from mtdl_kit.zoo.naming import check_names, model_file, rebuild_command, zoo_key
from mtdl_kit.zoo.training import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_N_TEST,
    DEFAULT_N_TRAIN,
    DEFAULT_SEED,
    DEFAULT_SIZE,
    DEFAULT_STEPS,
    DEFAULT_WEIGHTING,
    FIXED_RECIPE,
    LAB_RECIPE,
    RECIPES,
    ZOO_MODEL_OPTIONS,
    ZOO_REGION_WEIGHTING,
    ZooRecipe,
    held_out_metrics,
    held_out_test_set,
    train_zoo,
    unstopped_run,
)
from mtdl_kit.zoo.verify import QUICK_FAMILY, quick_keys, verify_files, verify_zoo, verify_zoo_quick

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_N_TEST",
    "DEFAULT_N_TRAIN",
    "DEFAULT_SEED",
    "DEFAULT_SIZE",
    "DEFAULT_STEPS",
    "DEFAULT_TOLERANCE",
    "DEFAULT_WEIGHTING",
    "FIXED_RECIPE",
    "LAB_RECIPE",
    "MANIFEST",
    "QUICK_FAMILY",
    "RECIPES",
    "REGRESSION_FLOORS",
    "ZOO_FORMAT",
    "ZOO_MODEL_OPTIONS",
    "ZOO_REGION_WEIGHTING",
    "Floor",
    "ZooEntry",
    "ZooError",
    "ZooRecipe",
    "add_entry",
    "chance_report",
    "check_names",
    "composite_reading",
    "default_root",
    "find_entry",
    "held_out_metrics",
    "held_out_test_set",
    "import_region",
    "load_entry",
    "load_pretrained",
    "miss_diagnoses",
    "model_file",
    "quality_floors",
    "quality_report",
    "quick_keys",
    "read_manifest",
    "rebuild_command",
    "train_zoo",
    "unstopped_run",
    "verify_files",
    "verify_zoo",
    "verify_zoo_quick",
    "write_manifest",
    "zoo_composite_readings",
    "zoo_key",
    "zoo_table",
]
