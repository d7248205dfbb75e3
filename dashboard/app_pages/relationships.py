"""Task relationships (URL ``/relationships``): predicted vs target, correlation, conflict, affinity.

A thin page file for ``st.navigation``; the page is ``views/relationships.py`` (see ``views.PAGES``).
"""

from views import show

show("relationships")
