"""``leaderboard.html``: the Markdown's tables plus charts, in one self-contained file.

Charts are PNGs embedded as base64 ``data:`` URIs and the style sheet is inline, so the file
opens in a browser with no server and no network. Chart ``<img>`` elements carry ids
``chart-bars-<metric>``, ``chart-quality-fairness`` and ``chart-rank-heatmap``.
"""

from __future__ import annotations

import base64
import html
import io
import re

import pandas as pd
from matplotlib.figure import Figure

from segbench.leaderboard import charts
from segbench.leaderboard.aggregate import Leaderboard
from segbench.leaderboard.markdown import (
    display_failed,
    display_overall,
    display_table,
    headline,
    how_to_read,
    provenance,
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #f2f2f2; } td:nth-child(2) { text-align: left; font-weight: 600; }
figure { margin: 1em 0; } img { max-width: 100%; }
.note { color: #555; font-size: 0.9em; }
"""


def png_data_uri(fig: Figure) -> str:
    """A figure as a ``data:image/png;base64,…`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(fig: Figure, ident: str, caption: str) -> str:
    return (
        f'<figure><img id="{ident}" alt="{html.escape(caption)}" src="{png_data_uri(fig)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _table(frame: pd.DataFrame) -> str:
    if not len(frame):
        return "<p class='note'>none</p>"
    return frame.to_html(index=False, escape=True, na_rep="—", border=0)


def _inline_md(text: str) -> str:
    """The headline lines' ``**bold**`` and backtick code spans as HTML (escaped first)."""
    text = re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)


def render_html(board: Leaderboard, source: str = "", quality: str = "silhouette") -> str:
    """The whole ``leaderboard.html``."""
    body = [f"<h1>{html.escape(board.title)}</h1>"]
    if source:
        body.append(f"<p class='note'>{html.escape(source)}</p>")
    body.append(f"<p class='note'>{_inline_md(how_to_read(board))}</p>")
    body += ["<h2>Headline</h2>", "<ul>"]
    body += [f"<li>{_inline_md(line[2:])}</li>" for line in headline(board)]
    body.append("</ul>")
    for (dataset, features), table in board.tables.items():
        body.append(f"<h2>{html.escape(dataset)} · {html.escape(features)}</h2>")
        body.append(_table(display_table(board, table)))
    body.append("<h2>Overall: mean rank per algorithm × feature expression</h2>")
    body.append(_table(display_overall(board)))
    body.append("<h2>Runs that did not finish</h2>")
    body.append(_table(display_failed(board)))
    body += ["<h2>Provenance</h2>", "<ul>"]
    body += [f"<li>{_inline_md(line[2:])}</li>" for line in provenance(board)]
    body.append("</ul>")

    body.append("<h2>Charts</h2>")
    for metric in board.metrics:
        if any(metric in t and t[metric].notna().any() for t in board.tables.values()):
            body.append(
                _figure(
                    charts.metric_bars(board, metric),
                    f"chart-bars-{metric}",
                    f"{metric}: mean per algorithm with 95% intervals over seeds",
                )
            )
    scatter = charts.quality_fairness(board, quality)
    if scatter is not None:
        body.append(
            _figure(
                scatter,
                "chart-quality-fairness",
                f"{quality} vs mean fairness balance; outlined points are the Pareto front",
            )
        )
    else:
        body.append(
            "<p class='note' id='chart-quality-fairness-missing'>No quality-vs-fairness chart: "
            "no run logged a <code>fairness.&lt;attribute&gt;.balance</code> metric.</p>"
        )
    if board.tables:
        body.append(
            _figure(
                charts.rank_heatmap(board),
                "chart-rank-heatmap",
                "mean rank of each algorithm in each (dataset, features) table",
            )
        )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(board.title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


__all__ = ["png_data_uri", "render_html"]
