"""Catalog (URL ``/catalog``): the review's representative networks per region.

A thin page file for ``st.navigation``; the page is ``views/catalog.py`` (see ``views.PAGES``).
"""

from views import show

show("catalog")
