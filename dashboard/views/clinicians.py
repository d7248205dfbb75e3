"""For clinicians: plain-language comparisons with intervals over held-out phantoms, and calibration.

UI only: the metrics, sentences, intervals and reliability figures come from :mod:`mtdl_kit.services`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from mtdl_kit import DISCLAIMER, get_region, services
from mtdl_kit.services import families_findings, transfer_findings
from mtdl_kit.zoo import zoo_key

from .common import Ctx, manifest, model_for, model_size, zoo_families


@st.cache_resource(show_spinner=False, max_entries=8)
def held_out_cases(region: str, size: int) -> list:
    """:data:`~mtdl_kit.services.N_HELD_OUT` phantoms of the demo split at the models' size: seeds no zoo model saw."""
    from mtdl_kit.data.samples import demo_seed

    reg = get_region(region)
    return [reg.sample(demo_seed(i), size=size) for i in range(services.N_HELD_OUT)]


@st.cache_data(show_spinner=f"Scoring the models on {services.N_HELD_OUT} held-out phantoms…", max_entries=64)
def case_scores(region: str, key: str, sha256: str) -> dict:
    size = manifest()[key].image_size
    return services.evaluate_on_samples(model_for(key), get_region(region), held_out_cases(region, size), size=size)


@st.cache_data(show_spinner="Bootstrapping the intervals…", max_entries=64)
def comparisons(region: str, family: str, shas: tuple, _multi, _singles: dict) -> list[dict]:
    """:func:`mtdl_kit.services.compare_with_single`, cached by the models' digests (``shas``)."""
    return services.compare_with_single(get_region(region), family, _multi, _singles)


#: the page's transfer-lab sections: heading, the service that writes them, the CSVs they are computed from
LAB_SECTIONS: dict[str, tuple[str, Any, Any]] = {
    "crossover": (
        "What the transfer lab found: does a *related* auxiliary task help?",
        transfer_findings.clinician_summary,
        transfer_findings.results_stamp,
    ),
    "families": (
        "What the transfer lab found: one network for every task, or one network per task?",
        families_findings.families_summary,
        families_findings.results_stamp,
    ),
}


@st.cache_data(show_spinner=False, max_entries=64)
def lab_summary(section: str, region: str, results: str, stamp: tuple) -> Any:
    """One of :data:`LAB_SECTIONS`' summaries (findings and caveats), re-read when one of its CSVs changes."""
    return LAB_SECTIONS[section][1](region, root=results)


def transfer_lab_findings(region_name: str) -> None:
    """The page's lead: what the transfer lab's crossover and families experiment found, from the committed tables."""
    from mtdl_kit.results import results_dir

    results = str(results_dir())
    for section, (heading, _, stamp) in LAB_SECTIONS.items():
        summary = lab_summary(section, region_name, results, stamp(results))
        st.markdown(f"#### {heading}")
        for line in summary.findings:
            st.markdown(f"- {line}")
        st.caption("**What this does not show**\n" + "\n".join(f"- {line}" for line in summary.caveats))


def render(ctx: Ctx) -> None:
    region = ctx.region
    region_name = ctx.region_name

    man, fams = zoo_families(ctx)
    st.subheader(f"For clinicians: what training on several tasks at once changes ({region.title})")
    st.markdown(
        f"**{DISCLAIMER}** These networks were trained on synthetic phantoms; the numbers describe the "
        "phantoms, not patients."
    )
    transfer_lab_findings(region_name)
    if not fams:
        st.warning(f"No trained model of the {region_name} region in the zoo yet; it appears when its training ends.")
        return
    family = st.radio("Family", fams, key="clin_family", horizontal=True)
    key = zoo_key(region_name, family)
    multi = case_scores(region_name, key, man[key].sha256)
    singles = {}
    for t in region.task_names:
        sk = zoo_key(region_name, "single", [t])
        singles[t] = case_scores(region_name, sk, man[sk].sha256)["records"] if sk in man else None
    n = len(held_out_cases(region_name, model_size(region_name)))
    rows = comparisons(
        region_name,
        family,
        tuple(sorted(e.sha256 for e in man.values() if e.region == region_name)),
        multi["records"],
        singles,
    )
    st.markdown(f"**Multi-task against single-task: the {family} model against one model per task**")
    for row in rows:
        st.markdown(f"- {row['sentence']}")
    table = [{k: v for k, v in r.items() if k != "sentence"} for r in rows if "verdict" in r]
    if table:
        st.dataframe(pd.DataFrame(table), hide_index=True, key="comparison_table")
    st.caption(
        f"{n} held-out phantoms (seeds no zoo model was trained or tested on) at {model_size(region_name)} px. "
        f"Better or worse only when the 95 % interval of the difference excludes 0. {services.COMPARISON_NOTE}"
    )
    for task, (probs, labels) in multi["probs"].items():
        words = services.task_words(region, task)
        st.markdown(f"**How far the {words.lower()} probabilities can be trusted**")
        st.caption(services.calibration_note(man.get(key), task))
        table = services.reliability_table(probs, labels)
        left, right = st.columns([3, 2])
        left.plotly_chart(
            services.reliability_figure(table, f"{words}: confidence vs fraction correct ({n} held-out phantoms)"),
            key=f"rel_{task}",
        )
        right.dataframe(table, hide_index=True, key=f"rel_table_{task}")
        right.caption("Bins without cases are left out. On the diagonal, a 0.8 confidence is right 8 times in 10.")
