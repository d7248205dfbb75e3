"""Text summary and wiring diagram of a :class:`~mtdl_kit.models.base.MultiTaskNet`.

:func:`model_description` turns the model's blocks into a :class:`ModelDescription`: one
:class:`Node` per block (box), one :class:`Edge` per tensor (arrow). Colours follow the Okabe-Ito
palette (colour-blind safe): shared blocks blue, each task's blocks in its own colour; blocks whose
parameters are shared although they sit in a task's lane (interacted columns) are blue with an
outline in the task's colour. Hand-over arrows (a task's result fed to another task) are dashed
vermillion, and grey dotted when detached (two-stage training). plotly is imported only by
:meth:`ModelDescription.figure`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mtdl_kit.palette import OKABE_ITO_NAMED

if TYPE_CHECKING:
    from mtdl_kit.models.base import MultiTaskNet

SHARED_COLOUR = OKABE_ITO_NAMED["blue"]
HANDOVER_COLOUR = OKABE_ITO_NAMED["vermillion"]
#: the width (px) a block label may take inside its box at the figure's default width.
BOX_TEXT_PX = 72
#: Task colours in task order (blue is reserved for shared blocks, vermillion for hand-overs).
TASK_COLOURS: tuple[str, ...] = (
    OKABE_ITO_NAMED["orange"],
    OKABE_ITO_NAMED["bluish_green"],
    OKABE_ITO_NAMED["reddish_purple"],
    OKABE_ITO_NAMED["sky_blue"],
    OKABE_ITO_NAMED["yellow"],
    OKABE_ITO_NAMED["black"],
)


@dataclass(frozen=True)
class Node:
    """A block of the diagram.

    Attributes:
        name: qualified module name of the block.
        label: display text.
        owner: ``"shared"`` or the owning task.
        lane: the task lane it is drawn in (``None`` = shared trunk).
        params: number of parameters of the block.
        x: horizontal position (depth).
        y: vertical position (lane).
        colour: fill colour.
        outline: outline colour.
        emits: the task whose output the block produces, if any.
    """

    name: str
    label: str
    owner: str
    lane: str | None
    params: int
    x: float
    y: float
    colour: str
    outline: str
    emits: str | None = None

    @property
    def shared(self) -> bool:
        """True if the block's parameters are shared between tasks."""
        return self.owner == "shared"


@dataclass(frozen=True)
class Edge:
    """A tensor between two blocks (``source`` may be ``"input"``).

    Attributes:
        source: producing block name or ``"input"``.
        target: consuming block name.
        kind: ``"feature"``, ``"skip"``, ``"exchange"`` or ``"handover"``.
        detached: no gradient flows along it.
        label: short text.
    """

    source: str
    target: str
    kind: str
    detached: bool = False
    label: str = ""


@dataclass(frozen=True)
class ModelDescription:
    """What :meth:`MultiTaskNet.describe` returns: a summary and the diagram's nodes and edges.

    Attributes:
        family: the family name.
        tasks: enabled task names.
        text: multi-line plain-text summary.
        nodes: one per block, in the model's block order.
        edges: one per tensor flowing into a block.
        outputs: task name -> the node emitting it.
        parameter_count: ``total``, ``shared`` and per-task counts.
    """

    family: str
    tasks: tuple[str, ...]
    text: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    outputs: dict[str, str]
    parameter_count: dict[str, int]

    def __str__(self) -> str:
        return self.text

    def legend(self) -> str:
        """The key of :meth:`figure`, naming only what this drawing contains (true for every family)."""
        return "; ".join(self.legend_lines())

    def legend_lines(self) -> list[str]:
        """:meth:`legend` as lines: the box colours, then the arrow styles (when there are any)."""
        items = []
        if any(n.colour == SHARED_COLOUR and n.outline == SHARED_COLOUR for n in self.nodes):
            items.append("blue = shared by all tasks")
        if any(n.colour == SHARED_COLOUR and n.outline != SHARED_COLOUR for n in self.nodes):
            items.append("blue with a coloured outline = shared layers drawn in a task's lane")
        owners = {n.owner: n.colour for n in self.nodes if n.colour != SHARED_COLOUR}
        if owners:
            names = {v: k for k, v in OKABE_ITO_NAMED.items()}
            coloured = ", ".join(f"{names.get(c, c).replace('_', ' ')} = {o}" for o, c in owners.items())
            items.append(f"{coloured} (that task's own layers)")
        lines = ["; ".join(items)]
        items = []
        kinds = {"detached" if e.detached else e.kind for e in self.edges}
        if "handover" in kinds:
            items.append("dashed = hand-over of a result")
        if "detached" in kinds:
            items.append("dotted grey = hand-over without gradient (two-stage)")
        if "skip" in kinds:
            items.append("dotted = U-Net skip")
        lines = [*lines, "; ".join(items)] if items else lines
        return [part for line in lines for part in _split_line(line)]

    def figure(self, *, width: int | None = None, height: int | None = None) -> Any:
        """A plotly figure of the wiring.

        Exactly one rectangle (``layout.shapes`` entry of type ``"rect"``, named after the node) per
        node; tensors are lines drawn beneath the boxes with an arrowhead annotation at the consumer;
        U-Net skips arc over the row; hovering a box shows its parameter count.
        """
        import plotly.graph_objects as go

        pos = {n.name: (n.x, n.y) for n in self.nodes}
        xs = [n.x for n in self.nodes]
        ys = [n.y for n in self.nodes]
        x_in = min(xs) - 1.0
        first = [pos[e.target][1] for e in self.edges if e.source == "input"]
        y_in = sum(first) / len(first) if first else max(ys)
        pos["input"] = (x_in, y_in)
        x_out = max(xs) + 1.0
        bw, bh = 0.42, 0.3  # half box sizes (data units)
        fig = go.Figure()

        def entry(sx: float, sy: float, tx: float, ty: float) -> tuple[float, float]:
            dx, dy = tx - sx, ty - sy
            s = min(bw / abs(dx) if dx else 1e9, bh / abs(dy) if dy else 1e9)
            return tx - dx * s, ty - dy * s

        def arrowhead(x: float, y: float, ux: float, uy: float, colour: str) -> None:
            fig.add_annotation(
                x=x,
                y=y,
                ax=x - 0.12 * ux,
                ay=y - 0.12 * uy,
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                showarrow=True,
                arrowhead=2,
                arrowsize=1.1,
                arrowwidth=1.5,
                arrowcolor=colour,
                text="",
                standoff=0,
            )

        styles = {
            "feature": ("#8C8C8C", "solid", 1.4),
            "skip": ("#B4B4B4", "dot", 1.2),
            "exchange": ("#8C8C8C", "solid", 1.2),
            "handover": (HANDOVER_COLOUR, "dash", 2.4),
            "detached": ("#8C8C8C", "dot", 2.0),
        }
        for e in self.edges:
            style = "detached" if e.detached else e.kind
            colour, dash, lw = styles.get(style, styles["feature"])
            (sx, sy), (tx, ty) = pos[e.source], pos[e.target]
            if e.kind == "skip" and sy == ty and tx - sx > 1.5:
                lift = bh + 0.25 + 0.08 * (tx - sx)
                t = [i / 24 for i in range(25)]
                px = [(1 - u) ** 2 * sx + 2 * u * (1 - u) * (sx + tx) / 2 + u * u * (tx - 0.15) for u in t]
                py = [(1 - u) ** 2 * (sy + bh) + 2 * u * (1 - u) * (sy + lift) + u * u * (ty + bh) for u in t]
                hx, hy, ux, uy = tx - 0.15, ty + bh, px[-1] - px[-3], py[-1] - py[-3]
            else:
                hx, hy = entry(sx, sy, tx, ty)
                px, py, ux, uy = [sx, hx], [sy, hy], tx - sx, ty - sy
            norm = max((ux * ux + uy * uy) ** 0.5, 1e-9)
            fig.add_trace(
                go.Scatter(
                    x=px,
                    y=py,
                    mode="lines",
                    line={"color": colour, "dash": dash, "width": lw},
                    hoverinfo="text",
                    hovertext=f"{e.source} -> {e.target} ({style})",
                    showlegend=False,
                )
            )
            arrowhead(hx, hy, ux / norm, uy / norm, colour)
            if e.label:
                fig.add_annotation(
                    x=(sx + hx) / 2,
                    y=(sy + hy) / 2,
                    text=e.label + (" (detached)" if e.detached else ""),
                    showarrow=False,
                    font={"size": 9, "color": colour},
                    bgcolor="rgba(255,255,255,0.8)",
                )
        for n in self.nodes:
            fig.add_shape(
                type="rect",
                name=n.name,
                x0=n.x - bw,
                x1=n.x + bw,
                y0=n.y - bh,
                y1=n.y + bh,
                fillcolor=n.colour,
                line={"color": n.outline, "width": 3 if n.outline != n.colour else 1},
                layer="above",
            )
            dark = n.colour in (SHARED_COLOUR, OKABE_ITO_NAMED["black"], OKABE_ITO_NAMED["bluish_green"])
            text, size = _fit_label(n.label)
            fig.add_annotation(
                x=n.x,
                y=n.y,
                text=text,
                showarrow=False,
                font={"size": size, "color": "white" if dark else "black"},
            )
        fig.add_annotation(x=x_in, y=y_in, text="<b>image</b>", showarrow=False, font={"size": 11})
        for task, node_name in self.outputs.items():
            nx, ny = pos[node_name]
            fig.add_trace(
                go.Scatter(
                    x=[nx + bw, x_out - 0.1],
                    y=[ny, ny],
                    mode="lines",
                    line={"color": "#666666", "width": 1.4},
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
            arrowhead(x_out - 0.1, ny, 1.0, 0.0, "#666666")
            fig.add_annotation(x=x_out, y=ny, text=f"<b>{task}</b>", showarrow=False, xanchor="left")
        hover = [
            f"{n.name}<br>{n.label}<br>{n.params:,} parameters<br>{'shared' if n.shared else 'task: ' + n.owner}"
            for n in self.nodes
        ]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                marker={"size": 30, "opacity": 0},
                hovertext=hover,
                hoverinfo="text",
                showlegend=False,
            )
        )
        pc = self.parameter_count
        span_x = x_out + 1.6 - (x_in - 0.7)
        span_y = max(ys) - min(ys) + 1.6 + 0.8
        fig.update_layout(
            title=(
                f"{self.family}: {', '.join(self.tasks)} — {pc['total']:,} parameters ({pc['shared']:,} shared)"
                + "".join(f"<br><sup>{line}</sup>" for line in self.legend_lines())
            ),
            title_font={"size": 13},
            width=width or int(min(1400, max(700, 78 * span_x))),
            height=height or int(120 + 62 * span_y),
            xaxis={"visible": False, "range": [x_in - 0.7, x_out + 1.6]},
            yaxis={"visible": False, "range": [min(ys) - 0.8, max(ys) + 1.6]},
            plot_bgcolor="white",
            margin={"l": 10, "r": 10, "t": 50 + 16 * len(self.legend_lines()), "b": 10},
        )
        return fig


def _split_line(line: str, width: int = 95) -> list[str]:
    """A legend line cut at ``"; "`` into parts of at most ``width`` characters (a title does not wrap)."""
    parts, cur = [], ""
    for item in line.split("; "):
        if cur and len(cur) + 2 + len(item) > width:
            parts.append(cur)
            cur = item
        else:
            cur = f"{cur}; {item}" if cur else item
    return [*parts, cur] if cur else parts


def _fit_label(label: str) -> tuple[str, int]:
    """A block label wrapped to fit inside its box, and the font size that keeps it inside."""
    text, size = _wrap(label, 16), 7
    for width, font in ((12, 10), (13, 9), (15, 8)):
        if _wrap(label, width).count("<br>") < 3:  # at most three lines
            text, size = _wrap(label, width), font
            break
    longest = max(len(line) for line in text.split("<br>"))
    # a box is ~65 px wide at the figure's default width and a character ~0.55 em: shrink long words
    return text, max(7, min(size, int(BOX_TEXT_PX / (0.55 * longest))))


def _wrap(label: str, width: int = 14) -> str:
    words, lines, cur = label.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    lines.append(cur)
    return "<br>".join(lines)


def model_description(model: MultiTaskNet) -> ModelDescription:
    """Build the :class:`ModelDescription` of ``model`` (see :meth:`MultiTaskNet.describe`)."""
    colours = {t.name: TASK_COLOURS[i % len(TASK_COLOURS)] for i, t in enumerate(model.tasks)}
    nodes = []
    edges = []
    outputs = {}
    for b in model.blocks:
        params = sum(p.numel() for p in model.get_submodule(b.name).parameters())
        if b.owner == "shared":
            fill = SHARED_COLOUR
            outline = colours[b.lane] if b.lane else SHARED_COLOUR
        else:
            fill = outline = colours[b.owner]
        nodes.append(Node(b.name, b.label, b.owner, b.lane, params, b.pos[0], b.pos[1], fill, outline, b.emits))
        for link in b.inputs:
            edges.append(Edge(link.source, b.name, link.kind, link.detached, link.label))
        if b.emits:
            outputs[b.emits] = b.name
    counts = model.parameter_count()
    lines = [
        f"{model.family} — {model.summary}",
        f"tasks: {', '.join(f'{t.name} [{t.kind}, {t.num_outputs}]' for t in model.tasks)}",
        f"input: {model.in_channels} channel(s), {model.spatial_dims}-D, sides divisible by {model.total_stride}",
        f"width: {model.width}" + "".join(f"; {k}: {v}" for k, v in model.options.items()),
        f"parameters: {counts['total']:,} total, {counts['shared']:,} shared, "
        + ", ".join(f"{t}: {counts[t]:,}" for t in model.task_names),
        "blocks:",
    ]
    for n in nodes:
        where = "shared" if n.shared else f"task {n.owner}"
        lane = f" (in {n.lane}'s column)" if n.shared and n.lane else ""
        lines.append(f"  {n.name:<28} {n.label:<34} {n.params:>9,}  {where}{lane}")
    for e in edges:
        if e.kind == "handover":
            state = "detached (two-stage)" if e.detached else "differentiable (end-to-end)"
            lines.append(f"hand-over: {e.source} -> {e.target}, {state}")
    return ModelDescription(
        family=model.family,
        tasks=model.task_names,
        text="\n".join(lines),
        nodes=tuple(nodes),
        edges=tuple(edges),
        outputs=outputs,
        parameter_count=counts,
    )
