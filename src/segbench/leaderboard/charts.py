"""Charts of a leaderboard (matplotlib figures; the HTML writer embeds them as PNG).

Figures are built with :class:`matplotlib.figure.Figure`, not pyplot: no global state, no
backend switch (a notebook keeps its inline backend), nothing left open.

- :func:`metric_bars` — one figure per headline metric: a panel per (dataset, features)
  table, a bar per algorithm, the 95% interval over seeds as an error bar;
- :func:`quality_fairness` — per dataset, quality (e.g. silhouette) against the fairness
  balance averaged over the sensitive attributes, the Pareto front marked;
- :func:`rank_heatmap` — mean rank of every algorithm in every table.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from segbench.leaderboard.aggregate import (
    FAIRNESS_BALANCE,
    Leaderboard,
    direction,
)

ARROW = {"max": "↑ higher is better", "min": "↓ lower is better"}


def _colours(names: list[str]) -> dict[str, tuple]:
    cmap = matplotlib.colormaps["tab10"]
    return {name: cmap(i % 10) for i, name in enumerate(sorted(names))}


def _algorithms(board: Leaderboard) -> list[str]:
    return sorted({a for t in board.tables.values() for a in t["algorithm"]})


def _grid(n: int, width: float = 3.6, height: float = 2.8) -> tuple[Figure, np.ndarray]:
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(width * cols, height * rows + 0.6))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def metric_bars(board: Leaderboard, metric: str) -> Figure:
    """Mean of ``metric`` per algorithm in every table, with 95% intervals over seeds."""
    tables = [(k, t) for k, t in board.tables.items() if metric in t and t[metric].notna().any()]
    colours = _colours(_algorithms(board))
    fig, axes = _grid(max(len(tables), 1))
    for ax, ((dataset, features), table) in zip(axes.flat, tables, strict=False):
        table = table.sort_values("algorithm")
        x = np.arange(len(table))
        values = table[metric].to_numpy(dtype=float)
        errors = np.nan_to_num(table[f"{metric}.ci95"].to_numpy(dtype=float), nan=0.0)
        ax.bar(
            x,
            np.nan_to_num(values, nan=0.0),
            yerr=errors,
            capsize=3,
            color=[colours[a] for a in table["algorithm"]],
        )
        for xi, value in zip(x, values, strict=True):
            if np.isnan(value):
                ax.text(xi, 0, "n/a", ha="center", va="bottom", fontsize=7, color="0.4")
        ax.set_xticks(x, table["algorithm"], rotation=40, ha="right", fontsize=7)
        ax.set_title(f"{dataset} · {features}", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(f"{metric} ({ARROW[direction(metric)]}); bars: mean, whiskers: 95% CI", fontsize=9)
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


def fairness_points(board: Leaderboard, quality: str) -> dict[str, list[dict]]:
    """Per dataset, one point per table row: quality and the mean balance over attributes.

    The mean, not the worst attribute: one attribute whose balance is 0 for every row (a
    segment without any customer of some group) would otherwise flatten the whole chart.
    """
    points: dict[str, list[dict]] = {}
    for (dataset, features), table in board.tables.items():
        balance = [c for c in table.columns if FAIRNESS_BALANCE.match(str(c))]
        if not balance or quality not in table:
            continue
        for _, row in table.iterrows():
            values = row[balance].to_numpy(dtype=float)
            mean = float(np.nanmean(values)) if not np.isnan(values).all() else np.nan
            points.setdefault(dataset, []).append(
                {
                    "label": f"{row['algorithm']} · {features}",
                    "algorithm": row["algorithm"],
                    "balance": mean,
                    "quality": float(row[quality]),
                }
            )
    return points


def quality_fairness(board: Leaderboard, quality: str = "silhouette") -> Figure | None:
    """Quality against mean balance per dataset; ``None`` without fairness metrics."""
    points = fairness_points(board, quality)
    if not points:
        return None
    colours = _colours(_algorithms(board))
    fig, axes = _grid(len(points), width=4.2, height=3.4)
    for ax, (dataset, pts) in zip(axes.flat, sorted(points.items()), strict=False):
        x = np.array([p["balance"] for p in pts])
        y = np.array([p["quality"] for p in pts])
        front = pareto_front(x, y, (True, direction(quality) == "max"))
        for p, on in zip(pts, front, strict=True):
            ax.scatter(
                p["balance"],
                p["quality"],
                color=colours[p["algorithm"]],
                s=46 if on else 22,
                edgecolor="black" if on else "none",
                zorder=3,
            )
            ax.annotate(p["label"], (p["balance"], p["quality"]), fontsize=6, alpha=0.8)
        order = np.argsort(x[front])
        ax.plot(x[front][order], y[front][order], "k--", lw=0.8, label="Pareto front")
        ax.set_xlabel("fairness balance, mean over sensitive attributes (↑)", fontsize=7)
        ax.set_ylabel(f"{quality} ({'↑' if direction(quality) == 'max' else '↓'})", fontsize=7)
        ax.set_title(dataset, fontsize=8)
        ax.legend(fontsize=6, loc="best")
        ax.tick_params(labelsize=7)
    fig.suptitle("quality vs fairness (outlined points: Pareto front)", fontsize=9)
    fig.tight_layout()
    return fig


def rank_heatmap(board: Leaderboard) -> Figure:
    """Mean rank of every algorithm (rows) in every (dataset, features) table (columns)."""
    algorithms = _algorithms(board)
    keys = list(board.tables)
    grid = np.full((len(algorithms), len(keys)), np.nan)
    for j, key in enumerate(keys):
        for _, row in board.tables[key].iterrows():
            grid[algorithms.index(row["algorithm"]), j] = row["mean_rank"]
    fig = Figure(figsize=(max(4.0, 0.9 * len(keys) + 2), max(2.5, 0.45 * len(algorithms) + 1.6)))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(keys)), [f"{d}\n{f}" for d, f in keys], fontsize=7, rotation=45)
    ax.set_yticks(range(len(algorithms)), algorithms, fontsize=8)
    for i in range(len(algorithms)):
        for j in range(len(keys)):
            if not np.isnan(grid[i, j]):
                light = image.norm(grid[i, j]) < 0.5  # viridis_r: low ranks are light
                ax.text(
                    j,
                    i,
                    f"{grid[i, j]:.1f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="black" if light else "white",
                )
    fig.colorbar(image, ax=ax, label="mean rank (1 = best)")
    ax.set_title("mean rank per table (blank: not run or failed)", fontsize=9)
    fig.tight_layout()
    return fig


__all__ = ["fairness_points", "metric_bars", "pareto_front", "quality_fairness", "rank_heatmap"]
