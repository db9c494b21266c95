"""Charts of segments over time: migration heat maps, a migration Sankey diagram and segment
shares, drift marked in red.

Segments are written as :func:`segbench.reporting.names.segment_label` writes them, with the
run's names (the windows' segment ids are the run's, :mod:`.migration`), in the colours of
:func:`segbench.reporting.plots.segment_colours`.

The Sankey diagram (:func:`migration_sankey`) is one self-contained interactive HTML page
(:mod:`segbench.reporting.sankey`: inline SVG, no library, no network; MLflow shows HTML
artifacts): one column per window, one node per segment active in it plus "not active", bands
as wide as the number of customers who moved; hovering a band shows the counts and the share
of its source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segbench.analyses.temporal.migration import INACTIVE, TemporalSegments
from segbench.reporting.drawing import pyplot
from segbench.reporting.names import segment_label
from segbench.reporting.plots import segment_colours
from segbench.reporting.sankey import Flow, Node, sankey_html

DRIFT_COLOUR = "crimson"
INACTIVE_LABEL = "not active"
INACTIVE_COLOUR = "#bdbdbd"


def _label(value: str, names: dict[int, str] | None) -> str:
    """A migration matrix's row/column label (segment id as text, or ``inactive``)."""
    if value == INACTIVE:
        return INACTIVE_LABEL
    return segment_label(int(value), names)


def migration_heatmaps(result: TemporalSegments, names: dict[int, str] | None = None):
    """One heat map per transition: the colour and the percentage of a cell are the share of
    the row's customers (those in a segment, or not active, in the earlier window) who are in
    the column's segment in the later window; each row's number of customers is in its label.
    Drifted windows framed and titled in red; suppressed cells (fewer customers than the
    minimum, or complementary to such a cell) grey. ``names``: the run's segment names."""
    transitions = result.transitions
    n = max(1, len(transitions))
    plt = pyplot()
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n + 1, 4.8), squeeze=False)
    for ax, t in zip(axes[0], transitions, strict=False):
        counts = t.matrix.to_numpy(dtype=float)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        hidden = t.shown().isna().to_numpy()
        cmap = plt.get_cmap("Blues").with_extremes(bad="#e0e0e0")
        ax.imshow(np.ma.masked_array(shares, hidden), cmap=cmap, vmin=0, vmax=1)
        ax.set_xticks(
            range(counts.shape[1]),
            [_label(c, names) for c in t.matrix.columns],
            rotation=40,
            ha="right",
            fontsize=7,
        )
        ax.set_yticks(
            range(counts.shape[0]),
            [
                f"{_label(r, names)} (n={int(total):,})"
                for r, total in zip(t.matrix.index, totals[:, 0], strict=True)
            ],
            fontsize=7,
        )
        for i in range(counts.shape[0]):
            for j in range(counts.shape[1]):
                if hidden[i, j]:
                    ax.text(j, i, "–", ha="center", va="center", fontsize=6.5, color="grey")
                elif counts[i, j]:
                    ax.text(
                        j,
                        i,
                        f"{shares[i, j]:.0%}",
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if shares[i, j] > 0.5 else "black",
                    )
        title = f"{t.source} → {t.target}\nmodel ARI {t.model_ari:.2f} · stay {t.stay_rate:.0%}"
        if t.drift:
            title += " · DRIFT"
            for spine in ax.spines.values():
                spine.set_edgecolor(DRIFT_COLOUR)
                spine.set_linewidth(2.5)
        ax.set_title(title, fontsize=8, color=DRIFT_COLOUR if t.drift else "black")
        ax.set_xlabel(f"segment in {t.target}", fontsize=7)
        ax.set_ylabel(f"segment in {t.source}", fontsize=7)
    if not transitions:
        axes[0][0].text(0.5, 0.5, "one window only: no migration", ha="center", va="center")
        axes[0][0].set_axis_off()
    suppressed = any(
        t.suppressed is not None and t.suppressed.to_numpy().any() for t in transitions
    )
    fig.suptitle(
        "Segment migration between consecutive windows: share of each row's customers "
        "(rows sum to 100 %; n = customers in the row)"
        + ("; – = suppressed (too few customers)" if suppressed else ""),
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def share_chart(result: TemporalSegments, names: dict[int, str] | None = None):
    """Stacked segment shares per window, named; drifted windows marked in red."""
    shares = result.shares
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.2 * len(shares) + 4.5, 4))
    bottom = np.zeros(len(shares))
    colours = segment_colours(shares.columns)
    for seg in shares.columns:
        ax.bar(
            range(len(shares)),
            shares[seg],
            bottom=bottom,
            color=colours[int(seg)],
            label=segment_label(seg, names),
        )
        bottom += shares[seg].to_numpy()
    drift = set(result.drift_windows)
    ax.set_xticks(range(len(shares)), shares.index)
    for tick, window in zip(ax.get_xticklabels(), shares.index, strict=True):
        if window in drift:
            tick.set_color(DRIFT_COLOUR)
            tick.set_fontweight("bold")
    for i, window in enumerate(shares.index):
        if window in drift:
            ax.annotate("drift", (i, 1.01), ha="center", color=DRIFT_COLOUR, fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("share of active customers")
    ax.set_title("Segment shares per window (the run's segments; drift in red)", fontsize=9)
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return fig


def sankey_parts(
    result: TemporalSegments, names: dict[int, str] | None = None
) -> tuple[list[Node], list[Flow], int]:
    """The nodes and flows of :func:`migration_sankey`, and how many flows small-cell
    suppression left out."""
    windows = result.windows
    segments = sorted({int(s) for s in result.shares.columns})
    colours = segment_colours(segments)
    order = [*map(str, segments), INACTIVE]
    present: set[tuple[str, str]] = set()
    flows: list[Flow] = []
    hidden = 0
    for t in result.transitions:
        totals = t.matrix.sum(axis=1)
        shown = t.shown()
        for row in t.matrix.index:
            for column in t.matrix.columns:
                if pd.isna(shown.loc[row, column]):  # small-cell suppression
                    hidden += 1
                    continue
                count = int(shown.loc[row, column])
                if count == 0 or (row == INACTIVE and column == INACTIVE):
                    continue
                present |= {(t.source, row), (t.target, column)}
                source, target = _label(row, names), _label(column, names)
                flows.append(
                    Flow(
                        f"{t.source}|{row}",
                        f"{t.target}|{column}",
                        count,
                        INACTIVE_COLOUR if row == INACTIVE else colours[int(row)],
                        f"{source} ({t.source}) → {target} ({t.target}): {count:,} customers, "
                        f"{count / totals[row]:.0%} of the {int(totals[row]):,} in {source}",
                    )
                )
    nodes = [
        Node(
            f"{window}|{value}",
            i,
            _label(value, names),
            INACTIVE_COLOUR if value == INACTIVE else colours[int(value)],
            f"{_label(value, names)} · {window}",
        )
        for i, window in enumerate(windows)
        for value in order
        if (window, value) in present
    ]
    return nodes, flows, hidden


def migration_sankey(
    result: TemporalSegments, names: dict[int, str] | None = None, title: str = ""
) -> str:
    """The migration between windows as one self-contained interactive HTML page
    (:func:`segbench.reporting.sankey.sankey_html`): one column per window, one node per
    segment active in it plus "not active", bands as wide as the customers who moved."""
    nodes, flows, hidden = sankey_parts(result, names)
    drift = set(result.drift_windows)
    note = (
        "Customers moving between the run's segments from window to window; “not active”: no "
        "purchase in the window. Hover a band or a node for its customers; click a node to "
        "keep only its flows."
        + (f" Windows in red drifted ({', '.join(sorted(drift))})." if drift else "")
        + (
            f" {hidden} flows of too few customers to show (or that would reveal one) are left out."
            if hidden
            else ""
        )
    )
    return sankey_html(
        [f"{w} · drift" if w in drift else w for w in result.windows],
        nodes,
        flows,
        title or "Segment migration",
        note,
        column_colours=[DRIFT_COLOUR if w in drift else "#222" for w in result.windows],
    )
