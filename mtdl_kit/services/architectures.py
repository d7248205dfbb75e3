"""The Architectures page: a family's wiring on a region's tasks, and where its parameters are.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from mtdl_kit.models import ModelDescription


def describe_family(region: str, family: str, tasks: Sequence[str]) -> ModelDescription:
    """The description (wiring, parameter counts) of a fresh, untrained ``family`` model on ``tasks`` of ``region``.

    Raises:
        ValueError: an unknown family or task, or a family that does not fit the tasks (e.g. a
            cascade needs two tasks; the message suggests ``single``).
    """
    from mtdl_kit.models import build_model
    from mtdl_kit.regions import get_region

    reg = get_region(region)
    return build_model(family, reg.select_tasks(list(tasks)), reg.in_channels, region=region).describe()


def parameter_table(description: ModelDescription) -> pd.DataFrame:
    """One row per part of the model (``total``, ``shared``, each task): ``part``, ``parameters``."""
    import pandas as pd

    return pd.DataFrame([{"part": k, "parameters": v} for k, v in description.parameter_count.items()])


__all__ = ["describe_family", "parameter_table"]
