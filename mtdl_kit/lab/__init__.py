"""The transfer lab: experiments under a protocol that makes multi-task effects show for stated reasons.

Paired seeds, validation-based stopping for every arm, paired bootstrap intervals
(:mod:`mtdl_kit.evaluation.paired`). :mod:`.transfer` is experiment A: a label-starved main task
with a related, a shuffled (information-free) or no auxiliary task; :mod:`.crossover` is experiment C,
the relatedness crossover (the same two auxiliary tasks, the label following one feature or the other);
:mod:`.starved` is experiment E, the starved task (a small-loss task under EW, UW, GradNorm, DWA and
UPGrad, on raw or standardised regression targets); :mod:`.adversarial` holds the building blocks of
experiment B, a site-adversarial auxiliary task (gradient reversal or domain confusion) whose site is coupled to
the disease.
"""

from mtdl_kit.lab.adversarial import (
    ADVERSARIAL_ARMS,
    ADVERSARIAL_CONTRASTS,
    CAMERA_TASK,
    AdversarialConfig,
    AdversarialResult,
    AdversarialRun,
    TwoCameraView,
    adversarial_reading,
    default_adversarial_config,
    run_adversarial,
    run_adversarial_arm,
    write_adversarial_outputs,
)
from mtdl_kit.lab.crossover import (
    CROSSOVER_ARMS,
    RULES,
    CrossoverResult,
    crossover_configs,
    crossover_reading,
    default_crossover_config,
    run_crossover,
    write_crossover_outputs,
)
from mtdl_kit.lab.starved import (
    METHODS,
    REFERENCE,
    REGION_TASKS,
    TARGETS,
    StarvedConfig,
    StarvedResult,
    StarvedRun,
    build_network,
    default_starved_config,
    run_condition,
    run_starved,
    starved_reading,
    write_starved_outputs,
)
from mtdl_kit.lab.starved import QUICK as STARVED_QUICK
from mtdl_kit.lab.transfer import (
    ARMS,
    CONTRASTS,
    QUICK,
    UNRELATED_CONTRASTS,
    ArmRun,
    TransferConfig,
    TransferResult,
    configure,
    parse_seeds,
    reading,
    run_arm,
    run_transfer,
    write_outputs,
)

__all__ = [
    "ADVERSARIAL_ARMS",
    "ADVERSARIAL_CONTRASTS",
    "ARMS",
    "CAMERA_TASK",
    "CONTRASTS",
    "CROSSOVER_ARMS",
    "METHODS",
    "QUICK",
    "REFERENCE",
    "REGION_TASKS",
    "RULES",
    "STARVED_QUICK",
    "TARGETS",
    "UNRELATED_CONTRASTS",
    "AdversarialConfig",
    "AdversarialResult",
    "AdversarialRun",
    "ArmRun",
    "CrossoverResult",
    "StarvedConfig",
    "StarvedResult",
    "StarvedRun",
    "TransferConfig",
    "TransferResult",
    "TwoCameraView",
    "adversarial_reading",
    "build_network",
    "configure",
    "crossover_configs",
    "crossover_reading",
    "default_adversarial_config",
    "default_crossover_config",
    "default_starved_config",
    "parse_seeds",
    "reading",
    "run_adversarial",
    "run_adversarial_arm",
    "run_arm",
    "run_condition",
    "run_crossover",
    "run_starved",
    "run_transfer",
    "starved_reading",
    "write_adversarial_outputs",
    "write_crossover_outputs",
    "write_outputs",
    "write_starved_outputs",
]
