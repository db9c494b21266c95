"""Charts of a leaderboard (matplotlib figures; the HTML writer embeds them as PNG).

Figures are built with :class:`matplotlib.figure.Figure`, not pyplot: no global state, no
backend switch (a notebook keeps its inline backend), nothing left open. Every chart is drawn
for a page 1,240 px wide (12.4 in at 100 dpi) and has no text placed at data points: algorithms
are told apart by colour and a legend, so labels cannot collide.

- :func:`forest` — one row per cell, one panel per metric (ARI where there is ground truth,
  silhouette, stability, coverage): each algorithm's mean as a dot, its interval as a line,
  the axis kept within the metric's valid range;
- :func:`rank_heatmap` — each algorithm's rank in each cell (degenerate rows marked);
- :func:`critical_difference` — the critical-difference diagram of the test across cells
  (:func:`scikit_posthocs.critical_difference_diagram`);
- :func:`quality_fairness` — per dataset, quality against the fairness balance averaged over
  the sensitive attributes, the Pareto front marked.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import transforms
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from segbench.evaluation.registry import lookup
from segbench.leaderboard.aggregate import COVERAGE, FAIRNESS_BALANCE, Leaderboard, direction
from segbench.leaderboard.stats import Comparison

WIDTH = 12.4  # inches, at 100 dpi: 1,240 px, the page's content width in a 1,280 px window
FONT = 9
#: Metrics of the forest chart, when some cell has them.
FOREST = ("ari", "silhouette", "stability", COVERAGE)
MARKERS = "osD^vP*Xh<>p"


def _colours(names: list[str]) -> dict[str, tuple]:
    cmap = matplotlib.colormaps["tab10"]
    return {name: cmap(i % 10) for i, name in enumerate(sorted(names))}


def algorithms(board: Leaderboard) -> list[str]:
    """Every algorithm with a row in some cell, sorted."""
    return sorted({a for c in board.cells.values() for a in c.table["algorithm"]})


def _label_room(labels: list[str], size: float = FONT) -> float:
    """Inches a column of tick labels needs (a fixed layout: tight_layout measures every
    text and costs more than drawing the chart)."""
    return 0.25 + 0.6 * size / 72 * max((len(t) for t in labels), default=1)


def _legend(fig: Figure, names: list[str], colours: dict[str, tuple], y: float = 1.0) -> None:
    handles = [Line2D([], [], marker="o", ls="", color=colours[n], label=n) for n in names]
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, y),
        ncol=min(len(names), 7),
        fontsize=FONT,
        frameon=False,
    )


def forest(board: Leaderboard) -> Figure | None:
    """Means and intervals of the headline metrics, a row per cell (module docstring)."""
    cells = list(board.cells.values())
    metrics = [m for m in FOREST if any(m in c.table and c.table[m].notna().any() for c in cells)]
    if not cells or not metrics:
        return None
    names = algorithms(board)
    colours = _colours(names)
    rows = len(cells)
    offsets = np.linspace(-0.3, 0.3, len(names)) if len(names) > 1 else np.zeros(1)
    long = pd.concat([c.table.assign(_y=y) for y, c in enumerate(cells)], ignore_index=True)
    long["_y"] = long["_y"] + offsets[[names.index(a) for a in long["algorithm"]]]
    height = 1.3 + rows * max(0.4, 0.09 * len(names))
    fig = Figure(figsize=(WIDTH, height))
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    labels = [f"{c.dataset} · {c.features}" for c in cells]
    fig.subplots_adjust(
        left=_label_room(labels) / WIDTH,
        right=0.985,
        top=1 - 0.75 / height,
        bottom=0.45 / height,
        wspace=0.2,
    )
    for ax, metric in zip(axes, metrics, strict=True):
        found = lookup(metric)
        frame = long[long[metric].notna()] if metric in long else long.iloc[0:0]
        for name, group in frame.groupby("algorithm", sort=True):
            colour = colours[name]
            y = group["_y"].to_numpy()
            low = group.get(f"{metric}.low", pd.Series(np.nan, index=group.index)).to_numpy(float)
            high = group.get(f"{metric}.high", pd.Series(np.nan, index=group.index)).to_numpy(float)
            has = ~np.isnan(low)
            ax.hlines(y[has], low[has], high[has], color=colour, lw=1.4)
            deg = group["degenerate"].to_numpy(dtype=bool)
            x = group[metric].to_numpy(dtype=float)
            ax.plot(x[~deg], y[~deg], "o", ms=4.5, color=colour)
            ax.plot(x[deg], y[deg], "o", ms=4.5, color=colour, mfc="white")
        lo, hi = (frame[metric].min(), frame[metric].max()) if len(frame) else (0.0, 1.0)
        bounds = (found.low, found.high) if found is not None else (-math.inf, math.inf)
        lows = frame.get(f"{metric}.low", pd.Series(dtype=float)).dropna()
        highs = frame.get(f"{metric}.high", pd.Series(dtype=float)).dropna()
        lo = min([lo, *lows.tolist()]) if len(lows) else lo
        hi = max([hi, *highs.tolist()]) if len(highs) else hi
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])  # the data never leaves the range
        pad = 0.05 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1.0)
        # the margin is drawing room for the dots; beyond a bound it stays small, untick'd
        view = (max(lo - pad, bounds[0] - 0.3 * pad), min(hi + pad, bounds[1] + 0.3 * pad))
        ax.set_xlim(*view)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ticks = [
            t for t in ax.get_xticks() if max(view[0], bounds[0]) <= t <= min(view[1], bounds[1])
        ]
        ax.set_xticks(ticks)
        for y in range(rows - 1):
            ax.axhline(y + 0.5, color="0.88", lw=0.8)
        arrow = "↑" if direction(metric) == "max" else "↓"
        ax.set_title(f"{metric} {arrow}", fontsize=FONT + 1)
        ax.tick_params(labelsize=FONT - 1)
        ax.grid(axis="x", color="0.92")
    axes[0].set_yticks(range(rows), labels)
    axes[0].set_ylim(rows - 0.5, -0.5)
    axes[0].tick_params(axis="y", labelsize=FONT)
    _legend(fig, names, colours)
    return fig


def rank_heatmap(board: Leaderboard) -> Figure:
    """Each algorithm's rank (columns) in each cell (rows); ``d`` marks a degenerate row."""
    names = algorithms(board)
    cells = list(board.cells.values())
    grid = np.full((len(cells), len(names)), np.nan)
    marks = np.full(grid.shape, "", dtype=object)
    for i, c in enumerate(cells):
        for row in c.records:
            j = names.index(row["algorithm"])
            grid[i, j] = row["rank"]
            marks[i, j] = f"{row['rank']:g}" + (" d" if row["degenerate"] else "")
    labels = [f"{c.dataset} · {c.features}" for c in cells]
    left = _label_room(labels)
    width = min(WIDTH, left + 1.6 + max(0.95 * len(names), 2.0))
    top = 0.35 + 0.095 * max(len(n) for n in names)  # room for the vertical names
    height = top + 0.3 + max(0.32 * len(cells), 2.2)  # the colour bar's label needs 2 in
    fig = Figure(figsize=(width, height))
    ax = fig.subplots()
    fig.subplots_adjust(
        left=left / width, right=1 - 1.5 / width, top=1 - top / height, bottom=0.2 / height
    )
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(names)), names, fontsize=FONT, rotation=90)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(cells)), labels, fontsize=FONT)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if not np.isnan(grid[i, j]):
                light = image.norm(grid[i, j]) < 0.5  # viridis_r: good ranks are light
                ax.text(
                    j,
                    i,
                    marks[i, j],
                    ha="center",
                    va="center",
                    fontsize=FONT - 1,
                    color="black" if light else "white",
                )
    fig.colorbar(image, ax=ax, label="rank in the cell (1 = best)", shrink=0.8, pad=0.03)
    return fig


def critical_difference(comparison: Comparison) -> Figure:
    """The critical-difference diagram (Demšar 2006) of the test across cells."""
    import scikit_posthocs

    fig = Figure(figsize=(WIDTH * 0.8, 1.2 + 0.28 * comparison.k))
    ax = fig.subplots()
    names = list(comparison.mean_ranks.index)
    colours = _colours(names)
    scikit_posthocs.critical_difference_diagram(
        comparison.mean_ranks,
        comparison.significance(),
        ax=ax,
        alpha=comparison.alpha,
        cd=None,  # drawn below, above the tick labels
        label_fmt_left="{label} ({rank:.2f})",
        label_fmt_right="({rank:.2f}) {label}",
        label_props={"fontsize": FONT},
        color_palette={n: colours[n] for n in names},
    )
    ax.tick_params(labelsize=FONT)
    if comparison.significant:
        above = transforms.offset_copy(ax.transData, fig=fig, y=20, units="points")
        start = float(comparison.mean_ranks.iloc[0])
        ax.plot(
            [start, start + comparison.cd], [0, 0], color="k", lw=2, transform=above, clip_on=False
        )
        ax.text(
            start + comparison.cd / 2,
            0,
            f"CD = {comparison.cd:.2f}",
            ha="center",
            va="bottom",
            fontsize=FONT,
            transform=transforms.offset_copy(ax.transData, fig=fig, y=23, units="points"),
        )
    verdict = (
        f"Friedman p {'< 0.001' if comparison.p_ff < 0.001 else f'= {comparison.p_ff:.3f}'}: "
        + (
            f"bars join algorithms that do not differ (Nemenyi, CD = {comparison.cd:.2f})"
            if comparison.significant
            else "no significant difference (one bar)"
        )
    )
    ax.set_title(
        f"mean rank over {comparison.n_cells} cells (1 = best) · {verdict}",
        fontsize=FONT,
        pad=44,
    )
    fig.tight_layout()
    return fig


def pareto_front(x: np.ndarray, y: np.ndarray, maximize: tuple[bool, bool] = (True, True)):
    """Mask of the non-dominated points of ``(x, y)`` (missing coordinates: never on it).

    A point is dominated when another is at least as good on both axes and better on one.
    """
    x = np.asarray(x, dtype=float) * (1 if maximize[0] else -1)
    y = np.asarray(y, dtype=float) * (1 if maximize[1] else -1)
    ok = ~(np.isnan(x) | np.isnan(y))
    front = np.zeros(len(x), dtype=bool)
    for i in np.flatnonzero(ok):
        others = ok & (np.arange(len(x)) != i)
        dominated = others & (x >= x[i]) & (y >= y[i]) & ((x > x[i]) | (y > y[i]))
        front[i] = not dominated.any()
    return front


def quality_of(board: Leaderboard, dataset: str, quality: str) -> str:
    """The quality axis for ``dataset``: ``quality``, or with ``"auto"`` ARI where the
    dataset has ground truth and silhouette elsewhere."""
    if quality != "auto":
        return quality
    truth = any(c.truth for (d, _), c in board.cells.items() if d == dataset)
    return "ari" if truth else "silhouette"


def fairness_points(board: Leaderboard, quality: str = "auto") -> dict[str, list[dict]]:
    """Per dataset, one point per table row: quality and the mean balance over attributes.

    The mean, not the worst attribute: one attribute whose balance is 0 for every row (a
    segment without any customer of some group) would otherwise flatten the whole chart.
    Degenerate rows are left out.
    """
    points: dict[str, list[dict]] = {}
    for (dataset, features), c in board.cells.items():
        axis = quality_of(board, dataset, quality)
        balance = [col for col in c.table.columns if FAIRNESS_BALANCE.match(str(col))]
        if not balance or axis not in c.table:
            continue
        for row in (r for r in c.records if not r["degenerate"]):
            values = np.array([row[b] for b in balance], dtype=float)
            mean = float(np.nanmean(values)) if not np.isnan(values).all() else np.nan
            points.setdefault(dataset, []).append(
                {
                    "algorithm": row["algorithm"],
                    "features": features,
                    "balance": mean,
                    "quality": float(row[axis]),
                    "axis": axis,
                }
            )
    return points


def quality_fairness(board: Leaderboard, quality: str = "auto") -> Figure | None:
    """Quality against mean balance per dataset; ``None`` without fairness metrics."""
    points = fairness_points(board, quality)
    if not points:
        return None
    names = algorithms(board)
    colours = _colours(names)
    n = len(points)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(WIDTH, 1.2 + 3.4 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    features = sorted({p["features"] for pts in points.values() for p in pts})
    marker = {f: MARKERS[i % len(MARKERS)] for i, f in enumerate(features)}
    for ax, (dataset, pts) in zip(axes.flat, sorted(points.items()), strict=False):
        axis = pts[0]["axis"]
        x = np.array([p["balance"] for p in pts])
        y = np.array([p["quality"] for p in pts])
        front = pareto_front(x, y, (True, direction(axis) == "max"))
        groups: dict[tuple[str, bool], list[int]] = {}
        for i, (p, on) in enumerate(zip(pts, front, strict=True)):
            groups.setdefault((p["features"], bool(on)), []).append(i)
        for (feature, on), members in groups.items():
            ax.scatter(
                x[members],
                y[members],
                c=[colours[pts[i]["algorithm"]] for i in members],
                marker=marker[feature],
                s=60 if on else 30,
                edgecolors="black" if on else "none",
                zorder=3,
            )
        order = np.argsort(x[front])
        ax.plot(x[front][order], y[front][order], "k--", lw=0.8, zorder=2)
        ax.set_xlabel("fairness balance, mean over attributes ↑", fontsize=FONT)
        ax.set_ylabel(f"{axis} {'↑' if direction(axis) == 'max' else '↓'}", fontsize=FONT)
        ax.set_title(dataset, fontsize=FONT + 1)
        ax.tick_params(labelsize=FONT - 1)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.grid(color="0.92")
    handles = [Line2D([], [], marker="o", ls="", color=colours[a], label=a) for a in names]
    handles += [
        Line2D([], [], marker=marker[f], ls="", color="0.35", label=f"features {f}")
        for f in features
    ]
    handles.append(Line2D([], [], ls="--", color="k", lw=0.8, label="Pareto front (outlined)"))
    fig.legend(
        handles=handles,
        loc="upper center",
        ncol=min(len(handles), 5),
        fontsize=FONT - 1,
        frameon=False,
    )
    legend_rows = math.ceil(len(handles) / 5)
    height = fig.get_figheight()
    fig.subplots_adjust(
        left=0.07,
        right=0.98,
        top=1 - (0.35 + 0.2 * legend_rows) / height,
        bottom=0.55 / height,
        hspace=0.5,
        wspace=0.3,
    )
    return fig


__all__ = [
    "algorithms",
    "critical_difference",
    "fairness_points",
    "forest",
    "pareto_front",
    "quality_fairness",
    "quality_of",
    "rank_heatmap",
]
