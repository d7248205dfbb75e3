"""mtdl-kit dashboard (Streamlit). UI state only: all data, model and plot logic lives in mtdl_kit.

Pages (Streamlit's navigation, ``st.navigation``; each page a file in ``dashboard/app_pages/`` with its
own URL, e.g. ``/clinicians``; the region and the sample are in the query string, e.g.
``/?region=eye&source=bundled&case=5``, so a link reproduces the view):

- **Explore**: a bundled sample (thumbnails), a generated phantom (held-out seeds; relatedness, nuisance) or
  an upload (PNG/JPEG, DICOM, NIfTI; :func:`mtdl_kit.data.read_upload`), the trained zoo
  models of one family or all four side by side, task toggles (the zoo model for that task subset
  when there is one, else the full model with the head hidden), joint outputs, wiring, device and
  latency (:mod:`mtdl_kit.services`, :mod:`mtdl_kit.inference`).
- **Task relationships**: predicted vs target, output correlation, gradient conflict and task
  affinity across the region's bundled samples (:mod:`mtdl_kit.analysis`).
- **Experiment**: live training on a per-session model with curves, a session table, a Pareto plot
  and the single-task baselines (:mod:`mtdl_kit.services.training`).
- **For clinicians**: plain-language trade-offs computed from the numbers, calibration.
- **Architectures** and **Catalog**: the families' wiring and the review's networks.

One module per page in ``dashboard/views/`` (UI state and caching only; everything they compute
comes from :mod:`mtdl_kit.services`), called by the thin page files in ``dashboard/app_pages/``.
Models are loaded once per process (``st.cache_resource``) and only read (``inference_mode``).
torch and MONAI are imported in a background thread at the first visit, so the first page renders
before they are loaded. Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

from mtdl_kit import DISCLAIMER
from mtdl_kit.services import warmup

st.set_page_config(page_title="mtdl-kit", page_icon="🩺", layout="wide")
st.warning(f"**{DISCLAIMER}** Images are synthetic phantoms; no output here is a diagnosis.", icon="⚠️")
st.title("mtdl-kit — multi-task deep learning in medical imaging")
st.caption(
    "After Zhao et al., *Multi-task deep learning for medical image computing and analysis: a review*, "
    "Comput. Biol. Med. 153:106496 (2023). Models are small networks trained on synthetic phantoms."
)

# The views live in a package: imported (compiled) once per process, so a rerun only runs them;
# views.main() declares the pages (st.navigation), draws the sidebar and runs the chosen page.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import views  # noqa: E402

try:
    views.main()
finally:
    # torch, MONAI and the zoo in a background thread, once per process (issue 19). Started after the
    # first page is drawn, so its import does not contend with the first render; `mtdl-kit dashboard`
    # has started it before serving (mtdl_kit.launch), and pages that need the models wait for it.
    warmup.start()
