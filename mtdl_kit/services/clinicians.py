"""The For clinicians page: plain-language trade-offs computed from the numbers, and calibration.

- :func:`evaluate_on_samples`: a model's metrics on samples, and the class probabilities with
  their labels (plain arrays) for the reliability diagram.
- :func:`compare_with_single`: each task, the multi-task model against the model trained on it
  alone, in plain words with units and a 95 % interval over held-out cases; the verdict is the
  library's one rule (:func:`mtdl_kit.verdicts.verdict`, worded by :func:`verdict`), no causal
  wording, a baseline below chance flagged.
- :func:`calibration_note`, :func:`reliability_table`, :func:`reliability_figure`: how far the
  class probabilities can be trusted.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mtdl_kit.palette import OKABE_ITO, OKABE_ITO_NAMED
from mtdl_kit.services.relationships import sample_records
from mtdl_kit.verdicts import BETTER, NULL, WORSE
from mtdl_kit.verdicts import verdict as library_verdict

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from mtdl_kit.regions.base import Region, Sample
    from mtdl_kit.zoo import ZooEntry

#: how metric names read in sentences.
METRIC_WORDS = {"dice": "Dice", "auc": "ROC-AUC", "mae": "mean absolute error", "rmse": "RMS error"}


def evaluate_on_samples(
    model: Any, region: Region, samples: Sequence[Sample], *, size: int, batch_size: int = 16
) -> dict[str, dict[str, Any]]:
    """Metrics and class probabilities of ``model`` on ``samples`` (resized to ``size``, in batches of ``batch_size``).

    Returns:
        ``{"metrics": task -> metric -> value, "probs": task -> (probabilities (n, K), labels (n,)),
        "records": the per-case :class:`~mtdl_kit.evaluation.Records`}`` with ``probs`` for the
        classification tasks (what :func:`reliability_table` takes) and ``records`` for
        :func:`compare_with_single`.
    """
    import torch

    from mtdl_kit.evaluation import evaluate

    data = sample_records(samples, region, model.task_names, size)
    # evaluate() takes a list as batches (reused as is), so the per-case dicts are batched here
    batches = [torch.utils.data.default_collate(data[i : i + batch_size]) for i in range(0, len(data), batch_size)]
    scored = evaluate(model, batches, spacing_mm=region.spacing_mm(size))
    probs = {}
    for t in region.tasks:
        if t.kind == "classification" and t.name in scored.metrics:
            values = scored.records[t.name].values
            probs[t.name] = (np.asarray(values["probs"]), np.asarray(values["labels"]))
    return {"metrics": scored.metrics, "probs": probs, "records": scored.records}


#: how many held-out phantoms the page scores (the demo split at the models' size): enough for a
#: reliability diagram with several filled bins and for intervals narrower than the effects they test.
N_HELD_OUT = 128


def task_words(region: Region, task: str) -> str:
    """A task in words from its description (``"Glioma grade"`` for ``grade``), not its internal name."""
    spec = region.task(task)
    if spec.kind == "reconstruction":
        return "Clean-image reconstruction (denoising)"
    text = spec.description
    sentence_end = re.search(r"\.(\s|$)", text)  # a full stop, not a decimal point ("score 1.3A + ...")
    stops = (text.find(":"), text.find(" ("), sentence_end.start() if sentence_end else -1)
    cut = min((i for i in stops if i > 0), default=len(text))
    return text[:cut].strip() or task


def measure_words(region: Region, task: str, metric: str) -> tuple[str, str, int]:
    """``(what the metric measures in plain words, its unit, decimals it deserves)`` for one task's metric."""
    spec = region.task(task)
    if metric.startswith("dice"):
        return "overlap of the outline with the truth (Dice; 0 = none, 1 = perfect)", "", 2
    if metric == "auc":
        names = spec.class_names or ("negative", "positive")
        return f"how well cases are ranked from {names[0]} to {names[-1]} (ROC-AUC; 0.5 = chance, 1 = perfect)", "", 2
    if metric.startswith("mre"):
        return "average distance of the landmarks from the true points", "mm", 1
    if spec.kind == "reconstruction":
        return "average pixel error of the reconstructed image (0-1 brightness scale)", "", 3
    unit = spec.units or ""
    digits = 0 if "²" in unit else (1 if unit else 2)  # mm²: whole numbers; mm, counts: 0.1; ratios, scores: 0.01
    return (
        "average error of the estimate" + (f", in {unit}" if unit else " (a ratio or score without unit)"),
        unit,
        digits,
    )


def _num(v: float, digits: int, unit: str = "", signed: bool = False) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    text = f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    return f"{text} {unit}".rstrip() if unit else text


def _case_interval(multi: Any, single: Any, task: str, metric: str, n_boot: int, seed: int) -> Any:
    """Multi-task minus single-task on the same cases, 95 % interval from a bootstrap of the cases.

    One training run per zoo model: :func:`~mtdl_kit.evaluation.paired_contrast` resamples training
    seeds and test cases; the one run given as two identical "seeds" makes the seed resampling a
    no-op, so the interval covers the choice of test cases only. Positive: the multi-task model is
    better (lower-is-better metrics are flipped).
    """
    from mtdl_kit.evaluation import paired_contrast

    arms = {"multi": {0: multi, 1: multi}, "single": {0: single, 1: single}}
    import warnings

    with warnings.catch_warnings():  # an AUC resample with one class is left out, as documented there
        warnings.simplefilter("ignore", RuntimeWarning)
        return paired_contrast(arms, {"multi": 1, "single": -1}, task, metric, n_boot=n_boot, seed=seed)


#: how the page words each verdict of :mod:`mtdl_kit.verdicts` (the null one names the number of cases)
VERDICT_WORDS: dict[str, str] = {
    BETTER: "the multi-task model is better here",
    WORSE: "the multi-task model is worse here",
    NULL: "these {n_cases} cases cannot tell",
}


def verdict(estimate: Any, n_cases: int) -> str:
    """The page's words for :func:`mtdl_kit.verdicts.verdict` of one multi-task minus single-task estimate.

    The rule is the library's one rule (interval above 0 better, below 0 worse, else no detectable
    difference); this function only words it for clinicians. An estimate without a finite interval
    (e.g. an AUC on cases of one class) has no verdict: the cases cannot tell.

    Args:
        estimate: an object with ``value``, ``ci_low`` and ``ci_high`` (positive = multi-task better),
            e.g. :func:`mtdl_kit.evaluation.paired_contrast`'s.
        n_cases: the held-out cases behind the interval, named in the null verdict.

    Returns:
        One of :data:`VERDICT_WORDS`, with ``n_cases`` filled in.
    """
    try:
        word = library_verdict(estimate.value, estimate.ci_low, estimate.ci_high, unit="").word
    except ValueError:  # a missing (NaN) interval: nothing to read
        word = NULL
    return VERDICT_WORDS[word].format(n_cases=n_cases)


def compare_with_single(
    region: Region,
    family: str,
    multi: Any,
    single: Mapping[str, Any | None],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per task: the multi-task model against the model trained on that task alone, with an interval.

    Args:
        region: the region.
        family: the multi-task model's family (for the words).
        multi: :class:`~mtdl_kit.evaluation.Records` of the multi-task model on held-out cases.
        single: task -> records of that task's single-task baseline on the same cases (``None``:
            not in the zoo).
        n_boot, seed: bootstrap replicates and seed.

    Returns:
        Rows with ``task`` (words), ``alone``, ``multi-task``, ``advantage (95 % interval)`` (of the
        multi-task model, in the metric's units; positive = better, whichever way the metric runs),
        ``verdict`` (the library's rule, :func:`mtdl_kit.verdicts.verdict`, in the page's words:
        :func:`verdict`) and ``sentence`` (plain language, no causal claim). A baseline
        below chance (AUC < 0.5) is flagged in its sentence.
    """
    from mtdl_kit.evaluation import compute_metrics
    from mtdl_kit.metrics import primary_metric

    rows = []
    n = multi.n_cases
    for spec in region.tasks:
        if spec.name not in multi.tasks:
            continue
        task = spec.name
        words = task_words(region, task)
        base = single.get(task)
        if base is None:
            rows.append(
                {
                    "task": words,
                    "sentence": f"{words}: no model trained on this task alone is in the zoo, so there is nothing "
                    "to compare with.",
                }
            )
            continue
        metric = primary_metric(spec)
        what, unit, digits = measure_words(region, task, metric)
        a = float(compute_metrics(task, base)[metric])
        b = float(compute_metrics(task, multi)[metric])
        est = _case_interval(multi, base, task, metric, n_boot, seed)
        says = verdict(est, n)
        sentence = (
            f"**{words}** — {what}: {_num(b, digits, unit)} for the {family} multi-task model, "
            f"{_num(a, digits, unit)} for the model trained on this task alone. Advantage of the multi-task "
            f"model {_num(est.value, digits, unit, signed=True)} (95 % interval "
            f"{_num(est.ci_low, digits, signed=True)} to {_num(est.ci_high, digits, signed=True)}; "
            f"positive = multi-task better) over {n} held-out "
            f"phantoms: {says}."
        )
        if metric == "auc" and a < 0.5:
            sentence += (
                f" Caution: the single-task model ranks worse than chance (AUC {a:.2f} < 0.5); "
                "a comparison against it says little."
            )
        unstopped = _unstopped_baseline(region.name, task, metric)
        if unstopped is not None:
            shipped, retrained = unstopped
            sentence += (
                " The model trained on this task alone was also retrained without the validation rule's early "
                f"stop (to its step cap, its best validation evaluation kept): {_num(retrained, digits, unit)} "
                f"against the shipped model's {_num(shipped, digits, unit)} on the zoo's test cases "
                '(benchmarks/RESULTS.md, "zoo-unstopped"; one training seed).'
            )
        rows.append(
            {
                "task": words,
                "alone": _num(a, digits, unit),
                "multi-task": _num(b, digits, unit),
                "advantage (95 % interval)": f"{_num(est.value, digits, signed=True)} "
                f"[{_num(est.ci_low, digits, signed=True)}, {_num(est.ci_high, digits, signed=True)}]",
                "verdict": says,
                "sentence": sentence,
            }
        )
    return rows


#: said once under the comparisons: what the intervals cover, and why no sentence says "because".
COMPARISON_NOTE = (
    "Each zoo model was trained once, so the intervals cover which test cases were drawn, not how much "
    "another training run would differ. One multi-task model against one single-task model shows a "
    "difference, not its cause: the transfer lab (`mtdl-kit lab`) compares training arms over many seeds."
)


def calibration_note(entry: ZooEntry | None, task: str) -> str:
    """One sentence on how far the model's probabilities can be trusted, from its held-out ECE."""
    if entry is None:
        return f"{task}: no held-out calibration measured for this model."
    m = entry.metrics.get(task, {})
    ece, n = m.get("ece"), m.get("n_cases")
    if ece is None:
        return f"{task}: no held-out calibration measured for this model."
    n_txt = f"{int(n)} held-out phantoms" if n else "the held-out phantoms"
    if ece < 0.05:
        verdict = "the probabilities are close to observed frequencies"
    elif ece < 0.15:
        verdict = "the probabilities are somewhat off: read them as a rough guide"
    else:
        verdict = "the probabilities are poorly calibrated: read them as a ranking, not as a risk"
    return f"{task} ({entry.key}): expected calibration error {ece:.2f} on {n_txt} — {verdict}."


def calibration_summary(entries: Mapping[str, ZooEntry | None], task: str) -> str:
    """One sentence for several models' probabilities of one task: each model's held-out ECE, the reading once.

    ``entries``: label (e.g. the family) -> zoo entry. Replaces one :func:`calibration_note` per model,
    which repeats the same advice four times side by side.
    """
    values = {
        label: e.metrics.get(task, {}).get("ece") for label, e in entries.items() if e is not None and task in e.tasks
    }
    known = {k: v for k, v in values.items() if v is not None}
    if not known:
        return f"{task}: no held-out calibration measured for these models."
    worst = max(known.values())
    if worst < 0.05:
        reading = "the probabilities are close to observed frequencies"
    elif worst < 0.15:
        reading = "read the probabilities as a rough guide"
    else:
        reading = "read the probabilities as a ranking, not as a risk"
    listed = ", ".join(f"{k} {v:.2f}" for k, v in known.items())
    return f"{task}: expected calibration error on the held-out phantoms {listed} (0 = perfect) — {reading}."


def reliability_table(probs: np.ndarray, labels: np.ndarray, n_bins: int = 5) -> pd.DataFrame:
    """Reliability diagram data: per filled confidence bin, mean confidence, accuracy (2 decimals) and cases."""
    import pandas as pd

    probs, labels = np.asarray(probs, float), np.asarray(labels).astype(int)
    conf, correct = probs.max(1), (probs.argmax(1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    rows = []
    for lo, hi in itertools.pairwise(edges):
        sel = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if not sel.any():  # an empty bin has no confidence or accuracy: left out, never shown as "None"
            continue
        rows.append(
            {
                "bin": f"{lo:.1f}–{hi:.1f}",
                "confidence": round(float(conf[sel].mean()), 2),
                "accuracy": round(float(correct[sel].mean()), 2),
                "cases": int(sel.sum()),
            }
        )
    return pd.DataFrame(rows, columns=["bin", "confidence", "accuracy", "cases"])


def reliability_figure(table: pd.DataFrame, title: str = "") -> go.Figure:
    """Reliability diagram (accuracy vs confidence per bin, the diagonal is perfect calibration)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"color": OKABE_ITO_NAMED["black"], "dash": "dot"}, name="ideal"
        )
    )
    fig.add_trace(
        go.Scatter(
            x=table["confidence"],
            y=table["accuracy"],
            mode="lines+markers",
            marker={"size": 6 + 2 * np.sqrt(table["cases"].to_numpy())},
            line={"color": OKABE_ITO[4]},
            name="model",
            text=[f"{c} cases" for c in table["cases"]],
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="confidence (top-class probability)",
        yaxis_title="fraction correct",
        height=320,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        xaxis={"range": [0, 1]},
        yaxis={"range": [0, 1.05]},
    )
    return fig


def _unstopped_baseline(region: str, task: str, metric: str) -> tuple[float, float] | None:
    """``(shipped, retrained)``: the single-task baseline's ``metric`` as shipped and retrained without the early
    stop (:func:`~mtdl_kit.services.zoo_models.unstopped_baselines`), else ``None``."""
    from mtdl_kit.services.zoo_models import unstopped_baselines

    rows = unstopped_baselines(region)
    rows = rows[(rows["task"] == task) & (rows["metric"] == metric)]
    return None if rows.empty else (float(rows["shipped"].iloc[0]), float(rows["unstopped"].iloc[0]))


__all__ = [
    "COMPARISON_NOTE",
    "METRIC_WORDS",
    "N_HELD_OUT",
    "VERDICT_WORDS",
    "calibration_note",
    "calibration_summary",
    "compare_with_single",
    "evaluate_on_samples",
    "reliability_figure",
    "reliability_table",
    "task_words",
    "verdict",
]
