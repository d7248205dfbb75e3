"""``History``: tidy per-step records of a training run (losses, weights, gradient cosines, metrics)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: record kinds: per-task training loss, task weight, pairwise gradient cosine, evaluation metric,
#: learning rate, seconds per step.
KINDS = ("loss", "weight", "cosine", "metric", "lr", "step_time")


@dataclass
class History:
    """Long-format records ``(step, epoch, kind, name, value)`` — one row per measured number.

    ``name`` is a task (``"glaucoma"``), a task pair (``"disc_cup|glaucoma"``) or a metric
    (``"glaucoma/roc_auc"``). :meth:`to_frame` gives a pandas DataFrame every plot reads.
    """

    config: dict[str, object] = field(default_factory=dict)
    rows: list[tuple[int, int, str, str, float]] = field(default_factory=list)

    def add(self, step: int, epoch: int, kind: str, name: str, value: float) -> None:
        """Append one record."""
        if kind not in KINDS:
            raise ValueError(f"Unknown record kind {kind!r}; allowed kinds are {KINDS}.")
        self.rows.append((int(step), int(epoch), kind, str(name), float(value)))

    def add_many(self, step: int, epoch: int, kind: str, values: dict[str, float]) -> None:
        """Append one record per ``name -> value`` item."""
        for name, value in values.items():
            self.add(step, epoch, kind, name, value)

    def series(self, kind: str, name: str) -> list[tuple[int, float]]:
        """``[(step, value), ...]`` of one quantity."""
        return [(s, v) for s, _, k, n, v in self.rows if k == kind and n == name]

    def last(self, kind: str, name: str) -> float:
        """Latest value of one quantity (NaN if never recorded)."""
        values = self.series(kind, name)
        return values[-1][1] if values else math.nan

    def names(self, kind: str) -> list[str]:
        """Distinct names recorded for ``kind``, in first-seen order."""
        return list(dict.fromkeys(n for _, _, k, n, _ in self.rows if k == kind))

    @property
    def steps(self) -> int:
        """Number of optimisation steps recorded."""
        return 1 + max((s for s, _, k, _, _ in self.rows if k == "loss"), default=-1)

    def to_frame(self) -> pd.DataFrame:
        """Tidy DataFrame with columns step, epoch, kind, name, value."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["step", "epoch", "kind", "name", "value"])

    def save(self, path: str | Path) -> None:
        """Write config and records as JSON."""
        Path(path).write_text(json.dumps({"config": self.config, "rows": self.rows}))

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a History written by :meth:`save`."""
        data = json.loads(Path(path).read_text())
        return cls(config=data["config"], rows=[tuple(r) for r in data["rows"]])

    def extend(self, rows: Iterable[tuple[int, int, str, str, float]]) -> None:
        """Append raw rows (e.g. from another process)."""
        self.rows.extend(tuple(r) for r in rows)
