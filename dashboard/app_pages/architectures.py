"""Architectures (URL ``/architectures``): the families' wiring on a region's tasks.

A thin page file for ``st.navigation``; the page is ``views/architectures.py`` (see ``views.PAGES``).
"""

from views import show

show("architectures")
