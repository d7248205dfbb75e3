"""For clinicians (URL ``/clinicians``): plain-language trade-offs and calibration.

A thin page file for ``st.navigation``; the page is ``views/clinicians.py`` (see ``views.PAGES``).
"""

from views import show

show("clinicians")
