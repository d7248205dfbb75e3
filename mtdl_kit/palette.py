"""The one colour palette of mtdl-kit: Okabe & Ito's colour-blind-safe colours, and cividis for maps.

Okabe, M. & Ito, K., "Color Universal Design (CUD): how to make figures and presentations that are
friendly to colorblind people" (2008). Every figure (plotly), overlay and diagram takes its colours
from here; this module imports nothing, so any layer may use it.
"""

#: Okabe-Ito colours by name.
OKABE_ITO_NAMED: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
#: The same colours in the order figures cycle through them.
OKABE_ITO: tuple[str, ...] = tuple(OKABE_ITO_NAMED.values())
#: Continuous colour scale of maps (perceptually uniform, colour-blind safe).
CONTINUOUS_COLORSCALE = "cividis"


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """``"#E69F00"`` -> ``(230, 159, 0)``."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
