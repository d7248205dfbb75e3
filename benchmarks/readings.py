"""Plain-language readings of the quality tables, computed from the numbers (never typed in).

Each function returns two or three sentences for one experiment of ``bench_quality.py``; a CI
that covers 0 is reported as "no significant effect".
"""

from __future__ import annotations

from typing import Any


def _ci(row: Any) -> str:
    return f"{row.delta_m:+.1f} % [{row.ci_low:+.1f}, {row.ci_high:+.1f}]"


def _verdict(row: Any) -> str:
    if row.ci_low > 0:
        return "better than single-task"
    if row.ci_high < 0:
        return "worse than single-task"
    return "no significant difference from single-task"


def families(frame: Any) -> str:
    n = len(frame)
    pos = frame[frame.ci_low > 0]
    neg = frame[frame.ci_high < 0]
    best = frame.loc[frame.groupby("region").delta_m.idxmax()]
    best_txt = ", ".join(f"{r.region}: {r.family} ({r.delta_m:+.1f} %)" for r in best.itertuples())
    fam_mean = frame.groupby("family").delta_m.mean().sort_values(ascending=False)
    fam_txt = ", ".join(f"{f} {v:+.1f} %" for f, v in fam_mean.items())
    return (
        f"**Reading.** Of {n} region × family pairs, {len(pos)} are significantly better than the single-task "
        f"networks and {len(neg)} significantly worse; the others have CIs that cover 0 (no significant effect). "
        f"Mean Δm by family over regions: {fam_txt}. Best family per region: {best_txt}."
    )


def relatedness(frame: Any) -> str:
    from scipy.stats import spearmanr

    parts = []
    for region, g in frame.groupby("region"):
        g = g.sort_values("relatedness")
        rho = spearmanr(g.relatedness, g.delta_m).statistic
        lo, hi = g.iloc[0], g.iloc[-1]
        parts.append(
            f"{region}: Δm {_ci(lo)} at relatedness {lo.relatedness:g} and {_ci(hi)} at {hi.relatedness:g} "
            f"(Spearman ρ = {rho:+.2f} over {len(g)} levels)"
        )
    rising = all(spearmanr(g.relatedness, g.delta_m).statistic > 0 for _, g in frame.groupby("region"))
    verdict = (
        "Δm rises with relatedness in every region, as expected."
        if rising
        else "Δm does not rise with relatedness in every region: the expected effect is not (fully) there."
    )
    return f"**Reading.** {'; '.join(parts)}. {verdict}"


def data_size(frame: Any) -> str:
    g = frame.sort_values("n_train")
    cells = "; ".join(f"{int(r.n_train)} phantoms: {_ci(r)} ({_verdict(r)})" for _, r in g.iterrows())
    larger_small = g.iloc[0].delta_m > g.iloc[-1].delta_m
    any_gain = bool((g.ci_low > 0).any())
    if larger_small and any_gain:
        verdict = "The gain is larger with less data, as expected."
    elif larger_small:
        verdict = (
            "Δm is higher with less data, but no training-set size shows a significant gain: the expected "
            "benefit of sharing with scarce data appears only as a smaller loss."
        )
    else:
        verdict = "The gain is not larger with less data here: the expected effect does not appear."
    return f"**Reading.** {cells}. {verdict}"


def negative_transfer(frame: Any) -> str:
    cells = "; ".join(
        f"{r.region}, auxiliary {r.aux_task} with nuisance {r.nuisance}: {_ci(r)}" for r in frame.itertuples()
    )
    nuis = frame[~frame.nuisance.str.startswith("none")]
    neg = (nuis.ci_high < 0).sum()
    below = (nuis.delta_m < 0).sum()
    related = frame[frame.nuisance.str.startswith("none")].set_index("region")
    comparisons, overlaps = [], []
    for r in nuis.itertuples():
        rel = related.loc[r.region]
        overlap = not (r.ci_high < rel.ci_low or rel.ci_high < r.ci_low)
        overlaps.append(overlap)
        comparisons.append(f"{r.region}: {rel.delta_m:+.1f} %, CIs {'overlap' if overlap else 'do not overlap'}")
    specific = "not specific to the nuisance" if all(overlaps) else "partly specific to the nuisance"
    return (
        f"**Reading.** Δm of the main task: {cells}. With the nuisance-driven auxiliary task the main task's Δm is "
        f"below 0 in {below} of {len(nuis)} regions and significantly so in {neg}. For comparison, with the related "
        f"auxiliary task: {'; '.join(comparisons)} — the loss is {specific}."
    )


def cascade(frame: Any) -> str:
    parts = []
    for region, g in frame.groupby("region"):
        direct = g[g.model.str.startswith("direct")].iloc[0]
        others = g[~g.model.str.startswith("direct")]
        cells = ", ".join(f"{r.model} {r['mean']:.3f} (Δ {_ci(r)})" for _, r in others.iterrows())
        parts.append(f"{region} ({direct.task}): direct classifier AUC {direct['mean']:.3f}; {cells}")
    return "**Reading.** " + "; ".join(parts) + "."


def weighting(frame: Any) -> str:
    best = frame.loc[frame.delta_m.idxmax()]
    sig = frame[(frame.ci_low > 0) | (frame.ci_high < 0)]
    cost = ", ".join(f"{r.weighting} {r.step_ratio:.2f}×" for r in frame.itertuples() if r.weighting != "ew")
    ew = frame[frame.weighting == "ew"].iloc[0]
    return (
        f"**Reading.** EW gives {_ci(ew)}; the highest Δm is {best.weighting} ({_ci(best)}). "
        f"{len(sig)} of {len(frame)} methods have a CI that excludes 0. Step time relative to EW: {cost}."
    )


def readings(tables: dict[str, Any]) -> dict[str, str]:
    """Experiment name -> reading (only for the tables present)."""
    fns = {
        "families": families,
        "relatedness": relatedness,
        "data_size": data_size,
        "negative_transfer": negative_transfer,
        "cascade": cascade,
        "weighting": weighting,
        "relatedness_long": relatedness_long,
    }
    return {name: fn(tables[name]) for name, fn in fns.items() if name in tables}


def relatedness_long(frame: Any) -> str:
    g = frame.sort_values("relatedness")
    cells = "; ".join(f"relatedness {r.relatedness:g}: {_ci(r)} ({_verdict(r)})" for r in g.itertuples())
    return f"**Reading.** At {int(g.steps.iloc[0])} steps — {cells}."
