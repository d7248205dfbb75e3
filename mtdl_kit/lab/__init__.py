"""The transfer lab: experiments under a protocol that makes multi-task effects show for stated reasons.

Paired seeds, validation-based stopping for every arm, paired bootstrap intervals
(:mod:`mtdl_kit.evaluation.paired`). :mod:`.transfer` is experiment A: a label-starved main task
with a related, a shuffled (information-free) or no auxiliary task.
"""

from mtdl_kit.lab.transfer import (
    ARMS,
    CONTRASTS,
    QUICK,
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
    "QUICK",
    "ArmRun",
    "TransferConfig",
    "TransferResult",
    "configure",
    "parse_seeds",
    "reading",
    "run_arm",
    "run_transfer",
    "write_outputs",
]
