"""The transfer lab: experiments under a protocol that makes multi-task effects show for stated reasons.

Paired seeds, validation-based stopping for every arm, paired bootstrap intervals
(:mod:`mtdl_kit.evaluation.paired`). :mod:`.transfer` is experiment A: a label-starved main task
with a related, a shuffled (information-free) or no auxiliary task; :mod:`.crossover` is experiment C,
the relatedness crossover (the same two auxiliary tasks, the label following one feature or the other).
"""

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
    "ARMS",
    "CONTRASTS",
    "CROSSOVER_ARMS",
    "QUICK",
    "RULES",
    "UNRELATED_CONTRASTS",
    "ArmRun",
    "CrossoverResult",
    "TransferConfig",
    "TransferResult",
    "configure",
    "crossover_configs",
    "crossover_reading",
    "default_crossover_config",
    "parse_seeds",
    "reading",
    "run_arm",
    "run_crossover",
    "run_transfer",
    "write_crossover_outputs",
    "write_outputs",
]
