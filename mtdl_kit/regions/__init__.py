"""The review's eight body regions, one phantom generator per module (``get_region(name)``)."""

from mtdl_kit.regions.base import (
    REGION_NAMES,
    TASK_KINDS,
    Coupling,
    Reference,
    Region,
    Sample,
    TaskSpec,
    all_regions,
    get_region,
)

__all__ = [
    "REGION_NAMES",
    "TASK_KINDS",
    "Coupling",
    "Reference",
    "Region",
    "Sample",
    "TaskSpec",
    "all_regions",
    "get_region",
]
