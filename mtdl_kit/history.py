"""``History``: tidy per-step records of a training run (losses, weights, gradient cosines, metrics)."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def json_safe(value: object) -> object:
    """``value`` with every NaN or infinite number replaced by ``None``, recursively (dicts, lists, tuples).

    JSON (RFC 8259, section 6) has no NaN or Infinity; Python's ``json`` writes them as the bare
    tokens ``NaN`` / ``Infinity`` by default, which strict parsers (browsers' ``JSON.parse``, ``jq``,
    most other languages) reject. An undefined metric (the AUC of a test set with one class) is
    written as ``null`` instead. Finite non-integer numbers (numpy scalars too) become ``float``.
    """
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def to_json(value: object, **options: object) -> str:
    """Strict JSON text of ``value``: NaN / infinities as ``null`` (:func:`json_safe`), never the ``NaN`` token.

    ``allow_nan=False`` makes :func:`json.dumps` raise rather than write invalid JSON, should a
    non-finite number ever get past :func:`json_safe`. ``options`` go to :func:`json.dumps` (``indent``).
    """
    return json.dumps(json_safe(value), allow_nan=False, **options)  # type: ignore[arg-type]


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
        """Write config and records as strict JSON (a NaN value, e.g. an undefined weight, as ``null``)."""
        Path(path).write_text(to_json({"config": self.config, "rows": self.rows}))

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a History written by :meth:`save` (``null`` values back to NaN)."""
        data = json.loads(Path(path).read_text())
        rows = [(*r[:4], math.nan if r[4] is None else r[4]) for r in data["rows"]]
        return cls(config=data["config"], rows=rows)

    def extend(self, rows: Iterable[tuple[int, int, str, str, float]]) -> None:
        """Append raw rows (e.g. from another process)."""
        self.rows.extend(tuple(r) for r in rows)
