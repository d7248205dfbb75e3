"""Experiment (URL ``/experiment``): live training of a fresh per-session model.

A thin page file for ``st.navigation``; the page is ``views/experiment.py`` (see ``views.PAGES``).
"""

from views import show

show("experiment")
