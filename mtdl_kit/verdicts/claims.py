"""Machine-readable claims in fixed prose (``<!-- verdict TABLE col=value ...: WORD -->``), found and
recomputed: :func:`check_claims` lists those the results contradict (:mod:`mtdl_kit.verdicts`)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from mtdl_kit.verdicts.core import verdict_of

_CLAIM = re.compile(
    r"<!--\s*verdict\s+(?P<table>[a-z0-9_]+)\s+"
    r'(?P<where>(?:"[^"]*"|[^:>"])*?):\s*'
    r"(?P<word>better|worse|no detectable difference)\s*-->"
)


@dataclass(frozen=True)
class Claim:
    """One machine-readable claim in fixed prose: ``<!-- verdict TABLE col=value ...: WORD -->``."""

    table: str
    where: dict[str, str]
    word: str
    line: int


def find_claims(text: str) -> list[Claim]:
    """Every ``<!-- verdict ... -->`` claim in ``text`` (values with spaces are quoted: ``contrast="a - b"``)."""
    claims = []
    for m in _CLAIM.finditer(text):
        pairs = [p.split("=", 1) for p in shlex.split(m.group("where"))]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(f"Malformed claim {m.group(0)!r}: write column=value pairs.")
        claims.append(Claim(m.group("table"), dict(pairs), m.group("word"), text.count("\n", 0, m.start()) + 1))
    return claims


def check_claims(text: str, *, source: str = "text", root: str | Path | None = None) -> list[str]:
    """The claims in ``text`` that the results tables contradict; empty when all hold.

    Args:
        text: prose (markdown, a notebook's percent-format source, the README).
        source: a name for messages (the file).
        root: folder of the CSVs (default: the bundled ``benchmarks/results/``).

    Returns:
        One message per claim that does not hold or selects no single row.
    """
    problems = []
    for claim in find_claims(text):
        try:
            got = verdict_of(claim.table, root=root, **claim.where)
        except (LookupError, ValueError, FileNotFoundError) as err:
            problems.append(f"{source}:{claim.line}: claim on {claim.table} {claim.where} cannot be checked: {err}")
            continue
        if got.word != claim.word:
            problems.append(
                f"{source}:{claim.line}: the prose says {claim.word!r} for {claim.table} {claim.where}, "
                f"the numbers say {got}"
            )
    return problems
