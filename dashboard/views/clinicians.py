"""For clinicians: plain-language trade-offs computed from the numbers, and calibration.

UI only: the metrics, sentences and reliability figures come from :mod:`mtdl_kit.services`.
"""

from __future__ import annotations

import streamlit as st

from mtdl_kit import DISCLAIMER, get_region, services
from mtdl_kit.zoo import zoo_key

from .common import Ctx, bundled, model_for, zoo_families


@st.cache_data(show_spinner="Scoring the models on the bundled samples…", max_entries=64)
def sample_metrics(region: str, key: str, sha256: str) -> dict:
    return services.evaluate_on_samples(model_for(key), get_region(region), bundled(region))


def render(ctx: Ctx) -> None:
    region = ctx.region
    region_name = ctx.region_name

    man, fams = zoo_families(ctx)
    st.subheader(f"For clinicians: what multi-task learning changes ({region.title})")
    st.markdown(
        f"**{DISCLAIMER}** These networks were trained on synthetic phantoms; the numbers describe the "
        "phantoms, not patients."
    )
    if not fams:
        st.warning(f"No trained model of the {region_name} region in the zoo yet; it appears when its training ends.")
        return
    family = st.radio("Family", fams, key="clin_family", horizontal=True)
    key = zoo_key(region_name, family)
    multi = sample_metrics(region_name, key, man[key].sha256)
    singles = {}
    for t in region.task_names:
        sk = zoo_key(region_name, "single", [t])
        singles[t] = sample_metrics(region_name, sk, man[sk].sha256)["metrics"][t] if sk in man else None
    n = len(bundled(region_name))
    st.markdown("**Trade-offs on these samples**")
    for line in services.tradeoff_sentences(region, family, multi["metrics"], singles, n):
        st.markdown(f"- {line}")
    st.caption(f"{n} bundled samples: a demonstration, not a study. Held-out numbers are in the zoo manifest.")
    for task, (probs, labels) in multi["probs"].items():
        st.markdown(f"**Calibration of {task}**")
        st.caption(services.calibration_note(man.get(key), task))
        table = services.reliability_table(probs, labels)
        left, right = st.columns([3, 2])
        left.plotly_chart(
            services.reliability_figure(table, f"{task}: confidence vs fraction correct ({n} samples)"),
            key=f"rel_{task}",
        )
        right.dataframe(table, hide_index=True, key=f"rel_table_{task}")
