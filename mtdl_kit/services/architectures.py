"""The Architectures page: a family's wiring on a region's tasks, and where its parameters are.

:func:`wiring_figure` draws a :class:`~mtdl_kit.models.ModelDescription` for the dashboard's main
column: the diagram keeps its layout, but every box label is fitted to the box's size in pixels at
the narrowest screen the dashboard supports (1024 px wide, sidebar open: a plot
:data:`NARROWEST_COLUMN_PX` wide), so a wide network (a four-task cascade: 12 blocks in a row) keeps
its labels inside their boxes. A label is shortened in steps only as far as needed — the lane's task
name dropped (the lane's colour, the legend and the output name at the end of the lane say it), then
the words abbreviated — and the figure returns the key of the abbreviations used; hovering a box
still shows its full name.

Research and teaching use only — not for clinical use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mtdl_kit.models import ModelDescription

#: width (px) of a plotly chart in the dashboard's main column at a 1024 px wide window with the sidebar
#: open (measured in chromium: 564 px), less a few px of slack; labels are fitted to it
NARROWEST_COLUMN_PX = 550
#: font sizes (px) of the box labels: the largest used, the smallest worth reading on a projector, the floor
MAX_FONT, READABLE_FONT, MIN_FONT = 11, 9, 7
#: width of an average character and line height of plotly's default font, in em (conservative)
CHAR_EM, BOLD_CHAR_EM, LINE_EM = 0.6, 0.66, 1.3
#: font size (px) of the task names at the end of the lanes, the smallest, and the share of the plot they may take
OUTPUT_FONT, MIN_OUTPUT_FONT, OUTPUT_SHARE = 11, 9, 0.16
#: px kept free between a label and its box's edge (left + right, top + bottom)
BOX_PAD_PX = 4
#: how long words read when a box is too small for them (the key is shown under the diagram)
ABBREVIATIONS: dict[str, str] = {
    "classification": "cls",
    "segmentation": "seg",
    "regression": "reg",
    "reconstruction": "rec",
    "landmarks": "lmk",
    "decoder": "dec",
    "guided": "gd",
    "cross-stitch": "CS",
}


def describe_family(region: str, family: str, tasks: Sequence[str]) -> ModelDescription:
    """The description (wiring, parameter counts) of a fresh, untrained ``family`` model on ``tasks`` of ``region``.

    Raises:
        ValueError: an unknown family or task, or a family that does not fit the tasks (e.g. a
            cascade needs two tasks; the message suggests ``single``).
    """
    from mtdl_kit.models import build_model
    from mtdl_kit.regions import get_region

    reg = get_region(region)
    return build_model(family, reg.select_tasks(list(tasks)), reg.in_channels, region=region).describe()


def parameter_table(description: ModelDescription) -> pd.DataFrame:
    """One row per part of the model (``total``, ``shared``, each task): ``part``, ``parameters``."""
    import pandas as pd

    return pd.DataFrame([{"part": k, "parameters": v} for k, v in description.parameter_count.items()])


@dataclass(frozen=True)
class FittedLabel:
    """A box label as drawn: ``text`` (lines joined by ``<br>``), ``size`` (px) and its box (px)."""

    name: str
    text: str
    size: int
    box_px: tuple[float, float]

    @property
    def lines(self) -> list[str]:
        return self.text.split("<br>")

    def text_px(self) -> tuple[float, float]:
        """Estimated width and height (px) of the text (:data:`CHAR_EM`, :data:`LINE_EM`)."""
        return CHAR_EM * self.size * max(len(line) for line in self.lines), LINE_EM * self.size * len(self.lines)

    def fits(self) -> bool:
        width, height = self.text_px()
        return width <= self.box_px[0] - BOX_PAD_PX and height <= self.box_px[1] - BOX_PAD_PX


@dataclass(frozen=True)
class WiringFigure:
    """What :func:`wiring_figure` returns: the plotly ``figure``, its box ``labels`` and the abbreviations' ``key``."""

    figure: Any
    labels: tuple[FittedLabel, ...]
    key: str


def _tokens(text: str) -> list[str]:
    """Words, with a break allowed after a hyphen (``cross-stitch`` -> ``cross-``, ``stitch``)."""
    return [t for word in text.split() for t in re.findall(r"[^-]+-?|-", word)]


def _unwrap(text: str) -> str:
    """A fitted label back on one line (``cross-<br>stitch`` -> ``cross-stitch``)."""
    return re.sub(r"(?<=-)<br>", "", text).replace("<br>", " ")


def _wraps(text: str, max_lines: int = 3) -> list[list[str]]:
    """Every greedy wrap of ``text`` into at most ``max_lines`` lines, one per line width."""
    tokens = _tokens(text)
    out, seen = [], set()
    for width in range(max((len(t) for t in tokens), default=1), len(text) + 1):
        lines, cur = [], ""
        for t in tokens:
            sep = "" if not cur or cur.endswith("-") else " "
            if cur and len(cur) + len(sep) + len(t) > width:
                lines.append(cur)
                cur = t
            else:
                cur = f"{cur}{sep}{t}"
        lines.append(cur)
        if len(lines) <= max_lines and tuple(lines) not in seen:
            seen.add(tuple(lines))
            out.append(lines)
    return out


def _best_font(lines: list[str], box: tuple[float, float]) -> int:
    width = max(len(line) for line in lines)
    by_width = (box[0] - BOX_PAD_PX) / (CHAR_EM * width)
    by_height = (box[1] - BOX_PAD_PX) / (LINE_EM * len(lines))
    return min(MAX_FONT, math.floor(min(by_width, by_height)))


def _candidates(label: str, tasks: Sequence[str]) -> list[str]:
    """The label, without the lane's task name, then with its long words abbreviated."""
    out = [label]
    words = label.split()
    kept = [w for w in words if w not in tasks]
    if kept and len(kept) < len(words):
        out.append(" ".join(kept))
    short = " ".join(ABBREVIATIONS.get(w, w) for w in out[-1].split())
    if short != out[-1]:
        out.append(short)
    return out


def _fit_form(form: str, box_px: tuple[float, float]) -> tuple[str, int]:
    """The wrap of ``form`` (at most three lines) with the largest font that fits ``box_px``: ``(text, font)``."""
    # the largest font; at equal fonts the fewest lines
    font, lines = max(((_best_font(w, box_px), w) for w in _wraps(form)), key=lambda fw: (fw[0], -len(fw[1])))
    return "<br>".join(lines), font


def label_stage(label: str, box_px: tuple[float, float], tasks: Sequence[str] = ()) -> int:
    """How far ``label`` must be shortened (an index into its forms, :func:`_candidates`) to fit ``box_px``.

    The first form readable at :data:`READABLE_FONT` or more; else the form with the largest font.
    """
    forms = _candidates(label, tasks)
    fonts = [_fit_form(f, box_px)[1] for f in forms]
    readable = [i for i, f in enumerate(fonts) if f >= READABLE_FONT]
    return readable[0] if readable else max(range(len(forms)), key=lambda i: (fonts[i], -i))


def fit_label(
    label: str, box_px: tuple[float, float], tasks: Sequence[str] = (), *, stage: int | None = None
) -> tuple[str, int]:
    """``(text, font px)`` of a box label inside a box of ``box_px`` (width, height) px.

    ``stage`` picks the form (0: the label; 1: without the lane's task name; 2: abbreviated; a label
    with fewer forms takes its last); by default :func:`label_stage`. The font is the largest that
    fits, up to :data:`MAX_FONT` and never below :data:`MIN_FONT`.
    """
    forms = _candidates(label, tasks)
    chosen = label_stage(label, box_px, tasks) if stage is None else min(stage, len(forms) - 1)
    text, font = _fit_form(forms[chosen], box_px)
    return text, max(MIN_FONT, font)


def _covers_a_box(ann: Any, boxes: Any, per_unit: float, per_unit_y: float) -> bool:
    """Whether a centred text annotation (its size estimated at its font) overlaps one of the ``boxes``."""
    size = ann.font.size or 12
    half_w = CHAR_EM * size * max(len(line) for line in ann.text.split("<br>")) / 2 / per_unit
    half_h = LINE_EM * size * (ann.text.count("<br>") + 1) / 2 / per_unit_y
    return any(
        ann.x - half_w < b.x1 and ann.x + half_w > b.x0 and ann.y - half_h < b.y1 and ann.y + half_h > b.y0
        for b in boxes
    )


def wiring_figure(description: ModelDescription, *, column_px: int = NARROWEST_COLUMN_PX) -> WiringFigure:
    """The wiring diagram of ``description`` with every label fitted to a plot ``column_px`` wide.

    The figure keeps its own width when the column is wider (Streamlit's ``width="content"``
    shrinks it to the column), so labels fitted at ``column_px`` stay inside at every width from
    ``column_px`` up. Also fitted: the task names at the end of the lanes (the plot is widened on the
    right to hold them) and the title (broken before the parameter count when it is too long).
    """
    fig = description.figure()
    layout = fig.layout
    plot_w = min(layout.width, column_px) - layout.margin.l - layout.margin.r
    x0, x1 = layout.xaxis.range
    xs = [n.x for n in description.nodes]
    x_out = max(xs) + 1.0
    # room on the right for the longest task name at OUTPUT_FONT: solve px-per-unit with the wider range
    longest = max((len(t) for t in description.outputs), default=0)
    out_font = max(MIN_OUTPUT_FONT, min(OUTPUT_FONT, math.floor(OUTPUT_SHARE * plot_w / (BOLD_CHAR_EM * longest or 1))))
    out_px = BOLD_CHAR_EM * out_font * longest + 6
    base_span = x_out - x0
    per_unit = min(plot_w / (x1 - x0), (plot_w - out_px) / base_span)
    x1 = max(x1, x_out + out_px / per_unit)
    fig.update_xaxes(range=[x0, x1])
    per_unit = plot_w / (x1 - x0)

    # the title: break its first line before the parameter count when it does not fit
    title = layout.title.text
    first, _, rest = title.partition("<br>")
    extra_lines = 0
    if CHAR_EM * layout.title.font.size * len(first) > plot_w and " — " in first:
        first = first.replace(" — ", "<br>", 1)
        extra_lines = 1
    fig.update_layout(
        title_text=first + (f"<br>{rest}" if rest else ""),
        margin_t=layout.margin.t + 18 * extra_lines,
        height=layout.height + 18 * extra_lines,
    )
    plot_h = layout.height - layout.margin.t - layout.margin.b
    y0, y1 = layout.yaxis.range
    per_unit_y = plot_h / (y1 - y0)

    boxes = {s.name: s for s in layout.shapes if s.type == "rect"}
    centres = {(n.x, n.y): n for n in description.nodes}
    tasks = tuple(description.tasks)

    def box_px(name: str) -> tuple[float, float]:
        shape = boxes[name]
        return (shape.x1 - shape.x0) * per_unit, (shape.y1 - shape.y0) * per_unit_y

    # one style for the whole diagram: every label shortened as far as the tightest one needs
    stage = max((label_stage(n.label, box_px(n.name), tasks) for n in description.nodes), default=0)
    fitted, kept, dropped = [], [], set()
    for ann in layout.annotations:
        if not ann.showarrow and (ann.x, ann.y) in centres:
            node = centres[(ann.x, ann.y)]
            text, size = fit_label(node.label, box_px(node.name), tasks, stage=stage)
            ann.text, ann.font.size = text, size
            fitted.append(FittedLabel(node.name, text, size, box_px(node.name)))
        elif not ann.showarrow and ann.xanchor == "left" and ann.text.startswith("<b>"):  # a lane's task name
            ann.font.size = out_font
        elif (
            not ann.showarrow
            and ann.text
            and ann.text != "<b>image</b>"
            and _covers_a_box(ann, boxes.values(), per_unit, per_unit_y)
        ):  # an arrow's label lying over a box: said under the diagram instead
            dropped.add(ann.text)
            continue
        kept.append(ann)
    fig.layout.annotations = kept
    shown = {f.name: _unwrap(f.text) for f in fitted}
    used = sorted(
        {f"{short} = {word}" for word, short in ABBREVIATIONS.items() for t in shown.values() if short in t.split()}
    )
    shortened = any(shown.get(n.name, n.label) != n.label for n in description.nodes)
    key = ""
    if shortened:
        key = (
            "Labels shortened to fit their boxes"
            + (f" ({', '.join(used)})" if used else "")
            + "; a lane's blocks belong to the task named at its end. Hover a box for its full name."
        )
    if dropped:
        key += (" " if key else "") + f"The hand-over arrows carry: {', '.join(sorted(dropped))}."
    return WiringFigure(fig, tuple(fitted), key)


__all__ = [
    "ABBREVIATIONS",
    "NARROWEST_COLUMN_PX",
    "FittedLabel",
    "WiringFigure",
    "describe_family",
    "fit_label",
    "label_stage",
    "parameter_table",
    "wiring_figure",
]
