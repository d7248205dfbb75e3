"""Explore (the root URL, the default page): a bundled sample, a held-out phantom or an upload.

A thin page file for ``st.navigation``; the page is ``views/explore.py`` (see ``views.PAGES``).
"""

from views import show

show("explore")
