"""mtdl-kit: a teaching toolkit for multi-task deep learning (MTDL) in medical imaging.

Makes the review by Zhao et al., "Multi-task deep learning for medical image computing and
analysis: A review", Comput. Biol. Med. 153:106496 (2023), doi:10.1016/j.compbiomed.2022.106496,
executable: its four architecture families (cascaded, parallel, interacted, hybrid) on its eight
body regions (brain, eye, chest, cardiac, abdomen, musculoskeletal, pathology, other).

Research and teaching use only — not for clinical use.

``import mtdl_kit`` is light (numpy only); torch and MONAI are imported by the modules that need them.
"""

from mtdl_kit.regions import REGION_NAMES, Region, Sample, TaskSpec, all_regions, get_region

__version__ = "0.1.0"
DISCLAIMER = "Research and teaching use only — not for clinical use."

__all__ = [
    "DISCLAIMER",
    "REGION_NAMES",
    "Region",
    "Sample",
    "TaskSpec",
    "__version__",
    "all_regions",
    "get_region",
]
