"""Experiment G of the transfer lab: the four families against single-task networks, under the lab's protocol.

Table 1 of the wave-1 results compared the review's four architecture families (Zhao et al.,
"Multi-task deep learning for medical image computing and analysis: a review", Comput Biol Med 153,
106496, 2023: cascaded, parallel, interacted, hybrid) with single-task networks at a fixed budget of
400 steps on 3 seeds — a comparison of how fast each family learns, not of what it reaches. This
experiment repeats it under the lab's protocol (:class:`~mtdl_kit.lab.protocol.LabProtocol`): every
network, multi-task or single-task, trains until its validation metrics stop improving (the same
rule for all, the best checkpoint restored), on the same training subset per seed, from the same
initialisation seed, and is scored on one fixed test split; the steps each run used and its
validation curve are recorded.

**Two capacity rules** (issue 12, point 1), because "multi-task beats single-task" depends on what is
held equal:

- ``params`` — *equal total parameters*: the cascaded and interacted networks shrink their per-task
  sub-networks so the whole network has the parallel network's parameters (``match_params=True``),
  and each single-task baseline is sized like the parallel network of the whole task set
  (``capacity_of``; :func:`~mtdl_kit.models.build_baselines` with ``matched=True``). Sharing then
  buys width: the question is whether one shared network uses a fixed budget better than T.
- ``width`` — *equal per-task width*: every task gets sub-networks at the nominal width (cascaded
  and interacted at ``match_params=False``, about T times the encoder parameters; single-task
  baselines at the nominal width). The question is then whether tasks gain from each other when
  none is short of capacity.

The parallel and hybrid networks are the same under both rules (one shared trunk at the nominal
width) and are trained once; a single-task network that both rules build alike (a segmentation
baseline: width 8 either way) is trained once too (runs are cached by the network they build).

**Contrasts** (paired hierarchical bootstrap over seeds and test cases,
:func:`~mtdl_kit.evaluation.paired_contrast` and :func:`~mtdl_kit.evaluation.delta_m`): per rule and
family, each task's primary metric against the rule's single-task network of that task (signed so
that positive = the family is better; MAE flipped), and Δm over all tasks in % (Maninis et al., CVPR
2019); across rules, ``<family>@width − <family>@params`` per task (what giving each task its own
full-width sub-network changes). A cascade shares no layer, so a cascade that loses is error
propagation or a harder problem, not negative transfer (:func:`mtdl_kit.verdicts.shares_layers`).

Loss weighting is equal weighting (EW), as in table 1; regression targets are standardised (the
library's default).

The experiment in four modules: :mod:`.config` (the configuration, arms and networks), :mod:`.runs`
(training, the cache and its multi-process fill), :mod:`.summary` (the tables, contrasts and reading) and
:mod:`.diagnostics` (whether the early stop decided a comparison). Research and teaching use only — not for
clinical use.
"""

from mtdl_kit.lab.families.config import (
    ACROSS,
    CAPACITY_RULES,
    CASCADE_MODE,
    DELTA_M,
    NETWORK_KINDS,
    QUICK_FAMILIES,
    QUICK_SIZES,
    RULE_DEPENDENT,
    FamiliesConfig,
    Network,
    arm_name,
    build_network,
    change_label,
    change_words,
    check_test_classes,
    config_of_runs,
    default_families_config,
    distinct_networks,
    label_changes,
    network_digest,
    networks_of,
    rows_of_networks,
    rule_of,
    seed_splits,
)
from mtdl_kit.lab.families.diagnostics import (
    stop_outcomes,
    substituted_baseline,
)
from mtdl_kit.lab.families.runs import (
    DRAIN,
    SNAPSHOTS,
    FamilyRun,
    cache_stem,
    cached_count,
    cached_run,
    drain_requested,
    fill_cache,
    networks_in_training,
    pending_networks,
    snapshot_path,
    to_cap,
    train_families,
    train_network,
    unstopped_run,
)
from mtdl_kit.lab.families.summary import (
    RULE_WORDS,
    FamiliesResult,
    curves_frame,
    families_reading,
    run_families,
    runs_frame,
    summarise,
    summary_reading,
    write_families_outputs,
)
from mtdl_kit.lab.protocol import TRAINING_CASES

__all__ = [
    "ACROSS",
    "CAPACITY_RULES",
    "CASCADE_MODE",
    "DELTA_M",
    "DRAIN",
    "NETWORK_KINDS",
    "QUICK_FAMILIES",
    "QUICK_SIZES",
    "RULE_DEPENDENT",
    "RULE_WORDS",
    "SNAPSHOTS",
    "TRAINING_CASES",
    "FamiliesConfig",
    "FamiliesResult",
    "FamilyRun",
    "Network",
    "arm_name",
    "build_network",
    "cache_stem",
    "cached_count",
    "cached_run",
    "change_label",
    "change_words",
    "check_test_classes",
    "config_of_runs",
    "curves_frame",
    "default_families_config",
    "distinct_networks",
    "drain_requested",
    "families_reading",
    "fill_cache",
    "label_changes",
    "network_digest",
    "networks_in_training",
    "networks_of",
    "pending_networks",
    "rows_of_networks",
    "rule_of",
    "run_families",
    "runs_frame",
    "seed_splits",
    "snapshot_path",
    "stop_outcomes",
    "substituted_baseline",
    "summarise",
    "summary_reading",
    "to_cap",
    "train_families",
    "train_network",
    "unstopped_run",
    "write_families_outputs",
]
