"""Verdicts computed from the results tables: what a comparison's interval says, in words.

Every sentence of the lessons, the README or the dashboard that states an effect (helps, hurts,
best, worse) is meant to come from here, so that the text follows the numbers in
``benchmarks/results/*.csv`` when they are regenerated. The rule is the usual reading of a 95 %
confidence interval of a difference (Altman & Bland, "Absence of evidence is not evidence of
absence", *BMJ* 311:485, 1995):

- the interval lies above 0 → **better** (``"better: +4.1 % [+1.2, +7.0]"``);
- it lies below 0 → **worse**;
- it contains 0 → **no detectable difference** (not "no difference": the data cannot tell).

Tables: the six of :mod:`mtdl_kit.results` (Δm in %, ``delta_m``/``ci_low``/``ci_high``) and the
transfer lab's summaries ``transfer_<experiment>_<run>`` (``benchmarks/results/
transfer_a_headline_summary.csv``: paired contrasts in the metric's own units, ``value``/``ci_low``/
``ci_high``; the relatedness crossover's ``transfer_c_<region>_<run>``), and the starved task's
``starved_<region>_<run>`` (experiment E: each condition minus EW on raw targets, per task, signed so
that + is better). Rows without an interval (the reference row of ``cascade``, the arm means of the
transfer summaries) get no verdict.

The crossover (experiment C, :mod:`mtdl_kit.lab.crossover`) is also read seed by seed from its runs
table: :func:`crossover_seeds` gives one row per seed and one column per ``rule:arm``,
:func:`seed_contrast` any weighted contrast of those columns with a seed-level percentile bootstrap
(:func:`seed_bootstrap`), and :func:`crossover_table_reading` the lab's own contrasts in words.

"Negative transfer" is a causal claim: a shared representation made a task worse *because* of the
other task. :func:`negative_transfer_reading` uses the words only where something is shared and the
control row of ``negative_transfer`` supports it; a family that is merely worse than the
single-task baselines is called worse, nothing more (:func:`shares_layers`).

Fixed prose may state a verdict when it carries a machine-readable claim next to it, e.g.
``<!-- verdict families region=eye family=hybrid: worse -->``; :func:`check_claims` recomputes each
claim and ``tests/test_verdicts.py`` fails when one no longer holds. Values with spaces or colons are
quoted: ``<!-- verdict transfer_c_eye_headline budget=16 contrast="A: related - unrelated": better -->``.

The package: :mod:`.core` (the rule and the tables), :mod:`.readings`, :mod:`.crossover` and :mod:`.claims`.

Research and teaching use only — not for clinical use.
"""

from mtdl_kit.verdicts.claims import (
    Claim,
    check_claims,
    find_claims,
)
from mtdl_kit.verdicts.core import (
    BETTER,
    KEYS,
    NULL,
    SHARING_FAMILIES,
    WORDS,
    WORSE,
    Verdict,
    metric_unit,
    sentence,
    shares_layers,
    verdict,
    verdict_of,
    verdicts,
)
from mtdl_kit.verdicts.crossover import (
    CROSSOVER_ARMS,
    CROSSOVER_CONTRASTS,
    CROSSOVER_RULES,
    crossover_arms,
    crossover_seeds,
    crossover_table_reading,
    seed_bootstrap,
    seed_contrast,
)
from mtdl_kit.verdicts.readings import (
    STARVED_REFERENCE,
    family_reading,
    negative_transfer_reading,
    quality_generator_note,
    region_reading,
    starved_table_reading,
    transfer_reading,
)

__all__ = [
    "BETTER",
    "CROSSOVER_ARMS",
    "CROSSOVER_CONTRASTS",
    "CROSSOVER_RULES",
    "KEYS",
    "NULL",
    "SHARING_FAMILIES",
    "STARVED_REFERENCE",
    "WORDS",
    "WORSE",
    "Claim",
    "Verdict",
    "check_claims",
    "crossover_arms",
    "crossover_seeds",
    "crossover_table_reading",
    "family_reading",
    "find_claims",
    "metric_unit",
    "negative_transfer_reading",
    "quality_generator_note",
    "region_reading",
    "seed_bootstrap",
    "seed_contrast",
    "sentence",
    "shares_layers",
    "starved_table_reading",
    "transfer_reading",
    "verdict",
    "verdict_of",
    "verdicts",
]
