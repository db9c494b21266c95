"""A Sankey (alluvial) diagram as one self-contained, interactive HTML page.

Columns of nodes (e.g. one column per time window, one node per segment) and flows between
nodes of neighbouring columns, drawn as inline SVG: node heights and band widths are
proportional to their values on one scale, nodes keep the order given (so a segment sits at
the same height in every column), bands leave and enter their nodes ordered by the height of
the other end. Interaction needs no library: hovering a band or a node shows its tooltip
(SVG ``<title>``) and brightens it; clicking a node keeps only its own flows bright (click
again, or on the background, to show all).

Why not a charting library: the page has to be self-contained (MLflow shows HTML artifacts
in an iframe, and runs may be viewed offline), so a library's JavaScript would be inlined into
every run's artifact — plotly's is 4.8 MB, and its thousands of numeric tokens collide with
raw customer ids in the store's privacy scan (:mod:`segbench.tracking.privacy_scan`). This
page is a few tens of kilobytes and holds only the labels, the values and coordinates below
10,000.

Example
-------
>>> page = sankey_html(
...     ["2024Q1", "2024Q2"],
...     [Node("a1", 0, "A", "#1f77b4"), Node("a2", 1, "A", "#1f77b4"),
...      Node("b2", 1, "B", "#ff7f0e")],
...     [Flow("a1", "a2", 30, "#1f77b4", "A → A: 30"),
...      Flow("a1", "b2", 10, "#1f77b4", "A → B: 10")],
...     title="Migration",
... )
>>> page.startswith("<!DOCTYPE html>"), page.count('class="node"'), page.count('class="flow"')
(True, 3, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 1280
NODE_WIDTH = 16
TOP = 46
NODE_GAP = 14


@dataclass(frozen=True)
class Node:
    """A node: its key, its column (0-based), label and colour; ``tooltip`` defaults to the
    label. Nodes are drawn in the order given, top to bottom, within their column."""

    key: str
    column: int
    label: str
    colour: str
    tooltip: str = ""


@dataclass(frozen=True)
class Flow:
    """A band from node ``source`` to node ``target`` (next column) of width ``value``."""

    source: str
    target: str
    value: float
    colour: str
    tooltip: str = ""


def _layout(columns: Sequence[str], nodes: Sequence[Node], flows: Sequence[Flow], height: int):
    inflow = {n.key: 0.0 for n in nodes}
    outflow = {n.key: 0.0 for n in nodes}
    for f in flows:
        outflow[f.source] += f.value
        inflow[f.target] += f.value
    size = {k: max(inflow[k], outflow[k]) for k in inflow}
    per_column: dict[int, list[Node]] = {}
    for n in nodes:
        per_column.setdefault(n.column, []).append(n)
    tallest = max(
        (sum(size[n.key] for n in col), len(col)) for col in per_column.values()
    )  # (customers, nodes) of the fullest column
    scale = (height - TOP - 10 - NODE_GAP * (max(len(c) for c in per_column.values()) - 1)) / max(
        tallest[0], 1e-9
    )
    step = (WIDTH - 2 * 20 - NODE_WIDTH) / max(len(columns) - 1, 1)
    box = {}
    for column, col in per_column.items():
        y = TOP
        for n in col:
            h = max(size[n.key] * scale, 1.0)
            box[n.key] = (20 + column * step, y, h)
            y += h + NODE_GAP
    return box, scale


def _band(x0: float, y0: float, x1: float, y1: float, width: float) -> str:
    middle = (x0 + x1) / 2
    return (
        f"M{x0:.1f},{y0:.1f} C{middle:.1f},{y0:.1f} {middle:.1f},{y1:.1f} {x1:.1f},{y1:.1f} "
        f"L{x1:.1f},{y1 + width:.1f} C{middle:.1f},{y1 + width:.1f} {middle:.1f},"
        f"{y0 + width:.1f} {x0:.1f},{y0 + width:.1f} Z"
    )


_SCRIPT = """
(function () {
  var svg = document.querySelector("svg.sankey"), picked = null;
  function show(key) {
    picked = key;
    svg.querySelectorAll(".flow").forEach(function (f) {
      var on = key === null || f.dataset.source === key || f.dataset.target === key;
      f.classList.toggle("dim", !on);
    });
  }
  svg.querySelectorAll(".node").forEach(function (n) {
    n.addEventListener("click", function (e) {
      e.stopPropagation();
      show(picked === n.dataset.key ? null : n.dataset.key);
    });
  });
  svg.addEventListener("click", function () { show(null); });
  document.body.dataset.sankey = "ready";
})();
"""

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 16px;
       color: #222; }
h1 { font-size: 18px; margin: 0 0 4px; font-weight: 600; }
p.note { font-size: 13px; color: #555; margin: 0 0 8px; max-width: 1200px; }
svg.sankey { width: 100%; min-width: 1000px; max-width: 1280px; height: auto; }
.flow { fill-opacity: 0.38; transition: fill-opacity 0.15s; cursor: pointer; }
.flow:hover { fill-opacity: 0.8; }
.flow.dim { fill-opacity: 0.06; }
.node { cursor: pointer; }
.node:hover { stroke: #222; stroke-width: 1.5; }
text { font-size: 12px; fill: #222; pointer-events: none; }
text.column { font-size: 13px; font-weight: 600; }
"""


def sankey_html(
    columns: Sequence[str],
    nodes: Sequence[Node],
    flows: Sequence[Flow],
    title: str,
    note: str = "",
    column_colours: Sequence[str] | None = None,
    height: int | None = None,
) -> str:
    """The page (module docstring). ``columns`` head the columns (``column_colours`` their
    text, e.g. red for a drifted window); ``note`` is a line under the title."""
    keys = {n.key for n in nodes}
    flows = [f for f in flows if f.value > 0 and f.source in keys and f.target in keys]
    rows = max((sum(1 for n in nodes if n.column == c) for c in range(len(columns))), default=1)
    height = height or max(480, 80 * rows + 120)
    box, scale = _layout(columns, nodes, flows, height)
    y_of = {k: y + h / 2 for k, (_, y, h) in box.items()}
    out_at = {k: box[k][1] for k in box}
    in_at = dict(out_at)
    parts = []
    ordered = sorted(flows, key=lambda f: (y_of[f.source], y_of[f.target]))
    bands: dict[int, tuple[float, float]] = {}
    for i, f in enumerate(ordered):  # leave each node ordered by the target's height
        bands[i] = (out_at[f.source], 0.0)
        out_at[f.source] += f.value * scale
    for i, f in sorted(enumerate(ordered), key=lambda p: (y_of[p[1].target], y_of[p[1].source])):
        bands[i] = (bands[i][0], in_at[f.target])
        in_at[f.target] += f.value * scale
    for i, f in enumerate(ordered):
        x0 = box[f.source][0] + NODE_WIDTH
        x1 = box[f.target][0]
        (y0, y1), width = bands[i], f.value * scale
        parts.append(
            f'<path class="flow" data-source="{escape(f.source)}" '
            f'data-target="{escape(f.target)}" fill="{escape(f.colour)}" '
            f'd="{_band(x0, y0, x1, y1, width)}"><title>{escape(f.tooltip)}</title></path>'
        )
    last = max((n.column for n in nodes), default=0)
    for n in nodes:
        x, y, h = box[n.key]
        tip = n.tooltip or n.label
        parts.append(
            f'<rect class="node" data-key="{escape(n.key)}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{NODE_WIDTH}" height="{h:.1f}" fill="{escape(n.colour)}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        right = n.column < last
        tx = x + NODE_WIDTH + 5 if right else x - 5
        parts.append(
            f'<text x="{tx:.1f}" y="{y + h / 2:.1f}" dominant-baseline="middle" '
            f'text-anchor="{"start" if right else "end"}">{escape(n.label)}</text>'
        )
    step = (WIDTH - 2 * 20 - NODE_WIDTH) / max(len(columns) - 1, 1)
    colours = list(column_colours or ["#222"] * len(columns))
    for i, name in enumerate(columns):
        x = 20 + i * step + (0 if i < last else NODE_WIDTH)
        anchor = "start" if i < last else "end"
        parts.append(
            f'<text class="column" x="{x:.1f}" y="24" text-anchor="{anchor}" '
            f'style="fill:{escape(colours[i])}">{escape(name)}</text>'
        )
    svg = (
        f'<svg class="sankey" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
        + "".join(parts)
        + "</svg>"
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        + (f'<p class="note">{escape(note)}</p>' if note else "")
        + svg
        + f"<script>{_SCRIPT}</script></body></html>\n"
    )


__all__ = ["Flow", "Node", "sankey_html"]
