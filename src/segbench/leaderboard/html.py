"""``leaderboard.html``: the Markdown's tables plus charts, in one self-contained page.

Rendered from the template ``templates/leaderboard.html.j2`` (Jinja, autoescaped); the
Markdown of the headline and the notes goes through markdown-it-py. Charts are PNGs embedded
as base64 ``data:`` URIs and the style sheet is inline, so the file opens in a browser with no
server and no network, and it has no script. The page is laid out for a 1,280 px window:
a metric cell holds the mean, its rank and, on a second line, its interval, none of which
wraps; run ids show their first 8 characters (the whole id in the tooltip). Chart ``<img>``
elements carry ids ``chart-forest``, ``chart-rank-heatmap``, ``chart-critical-difference``
and ``chart-quality-fairness``.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import pandas as pd
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from matplotlib.figure import Figure

from segbench.evaluation.registry import lookup
from segbench.leaderboard import charts
from segbench.leaderboard.aggregate import COST, Cell, Leaderboard, direction
from segbench.leaderboard.markdown import (
    ARROWS,
    Row,
    cell_caption,
    columns,
    comparison_text,
    display_failed,
    display_overall,
    display_superseded,
    environment,
    headline,
    how_to_read,
    interval_text,
    missing_text,
    note,
    number,
    provenance,
    rank_text,
    segments,
    summary,
    value_text,
)

DPI = 100
_MD = MarkdownIt("commonmark")


def png_bytes(fig: Figure) -> bytes:
    """A figure as PNG, at the page's resolution (:data:`DPI`)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def png_data_uri(fig: Figure | bytes) -> str:
    """A figure (or its PNG) as a ``data:image/png;base64,…`` URI."""
    png = fig if isinstance(fig, bytes) else png_bytes(fig)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass
class Chart:
    ident: str
    caption: str
    src: str
    width: int


def _chart(fig: Figure | None, ident: str, caption: str, png: bytes | None = None) -> Chart | None:
    if fig is None:
        return None
    width = round(fig.get_figwidth() * DPI)
    return Chart(ident, caption, png_data_uri(fig if png is None else png), width)


def inline(text: str) -> Markup:
    """One line of Markdown (``**bold**``, backtick code) as HTML."""
    return Markup(_MD.renderInline(text))


def block(text: str) -> Markup:
    """Markdown (paragraphs, lists) as HTML."""
    return Markup(_MD.render(text))


def header(metric: str) -> Markup:
    """A metric's column header: breakable after dots and underscores, its description in
    the tooltip."""
    found = lookup(metric)
    title = found.description if found is not None and found.description else metric
    name = str(escape(metric)).replace(".", ".<wbr>").replace("_", "_<wbr>")
    return Markup('<span title="{}">{} {}</span>').format(
        title, Markup(name), ARROWS[direction(metric)]
    )


def metric_cell(row: Row, metric: str) -> dict[str, str]:
    """The parts of one metric cell (empty ``value`` when the row lacks the metric). A cost
    (fit time) shows its mean only: the Markdown and the CSV keep its spread."""
    if pd.isna(row[metric]):
        return {"value": "", "rank": "", "interval": "", "missing": ""}
    cost = metric in COST
    return {
        "value": value_text(row, metric),
        "rank": rank_text(row, metric),
        "interval": "" if cost else interval_text(row, metric),
        "missing": missing_text(row, metric),
    }


def table_view(board: Leaderboard, c: Cell) -> dict:
    """What the template needs to draw one cell's table."""
    metrics = columns(c)
    table = c.table
    show_config = bool((table["config"] != "").any())
    rows = []
    for row in c.records:
        rows.append(
            {
                "position": int(row["position"]),
                "algorithm": row["algorithm"],
                "config": row["config"],
                "seeds": int(row["seeds"]),
                "segments": segments(row["segments"]),
                "metrics": [metric_cell(row, m) for m in metrics],
                "composite": "" if c.truth or row["degenerate"] else number(row["composite"]),
                "run_id": str(row["run_id"]),
                "note": note(row),
                "degenerate": bool(row["degenerate"]),
            }
        )
    return {
        "cell": c,
        "caption": inline(cell_caption(c)),
        "headers": [header(m) for m in metrics],
        "ranked": [m in c.ranked for m in metrics],
        "show_config": show_config,
        "show_composite": not c.truth and "composite" in table,
        "show_seeds": table["seeds"].nunique() > 1,
        "rows": rows,
    }


def frame_view(frame: pd.DataFrame) -> dict:
    """A plain table (overall, failed and superseded runs) for the template."""
    return {
        "headers": [str(c) for c in frame.columns],
        "rows": [["" if pd.isna(v) else str(v) for v in row] for row in frame.to_numpy()],
    }


def render_html(
    board: Leaderboard,
    source: str = "",
    quality: str = "auto",
    diagram: tuple[Figure, bytes] | None = None,
) -> str:
    """The whole ``leaderboard.html``; ``diagram``: the critical-difference diagram of
    ``board.comparison`` and its PNG, when the caller has drawn them already."""
    chart_list = [
        _chart(
            charts.forest(board),
            "chart-forest",
            "Each cell's algorithms: the mean over seeds (dot; hollow: degenerate) and its "
            "interval (line), within each metric's valid range.",
        ),
    ]
    comparison = board.comparison
    critical = None
    if comparison is not None and not isinstance(comparison, str):
        fig, png = diagram or (charts.critical_difference(comparison), None)
        critical = _chart(
            fig,
            "chart-critical-difference",
            "Critical-difference diagram (Demšar 2006): mean rank across cells; "
            "algorithms joined by a bar do not differ significantly (Nemenyi).",
            png,
        )
    if board.cells:
        chart_list.append(
            _chart(
                charts.rank_heatmap(board),
                "chart-rank-heatmap",
                "Rank of each algorithm in each cell (1 = best; d: degenerate, listed last).",
            )
        )
    fairness = _chart(
        charts.quality_fairness(board, quality),
        "chart-quality-fairness",
        "Quality (ARI with ground truth, else silhouette) against the mean fairness balance; "
        "outlined points are the Pareto front. Degenerate rows are left out.",
    )
    return (
        environment(autoescape=True)
        .get_template("leaderboard.html.j2")
        .render(
            board=board,
            source=source,
            summary=summary(board),
            how_to_read=inline(how_to_read(board)),
            headline=block("\n".join(headline(board))),
            comparison=inline(comparison_text(comparison)),
            tables=[table_view(board, c) for c in board.cells.values()],
            overall=frame_view(display_overall(board)),
            failed=frame_view(display_failed(board)),
            superseded=frame_view(display_superseded(board)),
            provenance=block("\n".join(provenance(board))),
            charts=[c for c in chart_list if c is not None],
            critical=critical,
            fairness=fairness,
        )
    )


__all__ = [
    "block",
    "header",
    "inline",
    "png_bytes",
    "png_data_uri",
    "render_html",
    "table_view",
]
