"""Leaderboard tables as display frames and as Markdown (``leaderboard.md``).

A metric cell reads ``mean ± half-width (#rank)``: the mean over seeds, the half-width of the
95% interval (only with two or more seeds) and the direction-aware rank in its table. A
``†`` marks a mean over fewer seeds than the row has (the metric was missing for some);
``—`` marks a metric the row does not have (never a zero).
"""

from __future__ import annotations

import math

import pandas as pd

from segbench.leaderboard.aggregate import Leaderboard, direction

ARROWS = {"max": "↑", "min": "↓"}


def _decimals(value: float) -> int:
    return 1 if abs(value) >= 100 else 2 if abs(value) >= 1 else 3


def number(value: float | None, like: float | None = None) -> str:
    """A fixed-precision rendering (``—`` when missing); decimals from ``like`` if given."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{_decimals(value if like is None else like)}f}"


def segments(value: float) -> str:
    """Mean number of segments: an integer when every seed agreed."""
    if pd.isna(value):
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def percent(value: float) -> str:
    """A share as a percentage (``—`` when missing)."""
    if pd.isna(value):
        return "—"
    return "<1%" if 0 < value < 0.01 else f"{100 * value:.0f}%"


def _context(row: pd.Series) -> str:
    text = f"{segments(row['segments'])} segments"
    if not pd.isna(row["noise"]) and row["noise"] > 0:
        text += f", {percent(row['noise'])} noise"
    return text


def cell(row: pd.Series, metric: str) -> str:
    """``mean ± ci (#rank)`` for one metric of one table row."""
    mean = row[metric]
    if pd.isna(mean):
        return "—"
    text = number(mean)
    half = row.get(f"{metric}.ci95")
    if half is not None and not pd.isna(half):
        text += f" ± {number(half, like=mean)}"
    if row.get(f"{metric}.n", row["seeds"]) < row["seeds"]:
        text += f" †{int(row[f'{metric}.n'])}/{int(row['seeds'])}"
    rank = row.get(f"{metric}.rank")
    if rank is not None and not pd.isna(rank):
        text += f" (#{rank:g})"
    return text


def display_table(board: Leaderboard, table: pd.DataFrame) -> pd.DataFrame:
    """One table of the leaderboard with formatted cells, in the order of the mean rank."""
    metrics = [m for m in board.metrics if f"{m}.rank" in table]
    out = pd.DataFrame(
        {
            "#": range(1, len(table) + 1),
            "algorithm": table["algorithm"],
            "seeds": table["seeds"].astype(int),
        }
    )
    out["segments"] = [segments(v) for v in table["segments"]]
    out["noise"] = [percent(v) for v in table["noise"]]
    if (table["config"] != "").any():
        out["best config"] = table["config"]
    for m in metrics:
        out[f"{m} {ARROWS[direction(m)]}"] = [cell(row, m) for _, row in table.iterrows()]
    out["mean rank"] = [number(v) for v in table["mean_rank"]]
    out["run (best seed)"] = table["run_id"]
    return out


def display_overall(board: Leaderboard) -> pd.DataFrame:
    """The overall table with formatted mean ranks."""
    frame = board.overall.copy()
    for col in frame.columns:
        if col not in ("algorithm", "tables"):
            frame[col] = [number(v) for v in frame[col]]
    return frame


def display_failed(board: Leaderboard) -> pd.DataFrame:
    frame = board.failed.copy()
    frame["error"] = frame["error"].fillna("(no segbench.error tag)")
    return frame


def headline(board: Leaderboard) -> list[str]:
    """One line per dataset: the winner of each feature table, and the best ARI if any."""
    lines = []
    winners = board.winners()
    for dataset in sorted({d for d, _ in board.tables}):
        parts = []
        for _, w in winners[winners["dataset"] == dataset].groupby("features", sort=True):
            algos = " = ".join(f"**{r['algorithm']}** ({_context(r)})" for _, r in w.iterrows())
            rank = number(w["mean_rank"].iloc[0])
            parts.append(f"{algos} on `{w['features'].iloc[0]}`, mean rank {rank}")
        line = f"- **{dataset}**: " + "; ".join(parts)
        ari = [
            (t.loc[t["ari"].idxmax(), "algorithm"], f, t["ari"].max())
            for (d, f), t in board.tables.items()
            if d == dataset and "ari" in t and t["ari"].notna().any()
        ]
        if ari:
            algo, features, value = max(ari, key=lambda a: a[2])
            line += (
                f". Closest to the planted segments: {algo} on `{features}` (ARI {number(value)})"
            )
        lines.append(line + ".")
    return lines


def how_to_read(board: Leaderboard) -> str:
    """The paragraph that explains cells, ranks and the mean rank of this leaderboard."""
    quality = [m for m in board.rank_metrics if not m.startswith("fairness.")]
    fairness = len(board.rank_metrics) > len(quality)
    return (
        "How to read: each cell is `mean ± 95% CI half-width (#rank)` over seeds (no interval "
        "with one seed; † = fewer seeds had the metric); `—` = metric missing, never zero. Ranks "
        "follow each metric's better direction (↑ higher / ↓ lower is better), ties share the "
        "average rank, a row missing a metric ranks last on it. Mean rank over: "
        f"{', '.join(quality) or 'none'}"
        + (" and one fairness term (the mean of the balance ranks)" if fairness else "")
        + "; fit time is ranked but not in the mean. With several configurations of one "
        f"algorithm the best by `{board.select}` is shown. Internal indices are not comparable "
        "across feature expressions (different spaces); ARI is."
    )


def _md(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) if len(frame) else "_none_"


def render_markdown(board: Leaderboard, source: str = "") -> str:
    """The whole ``leaderboard.md``."""
    runs = board.runs
    n_failed = len(board.failed)
    lines = [
        f"# {board.title}",
        "",
        f"{len(runs)} runs ({len(runs) - n_failed} finished, {n_failed} not finished) in "
        f"{len(board.tables)} tables (dataset × feature expression)"
        + (
            f"; {board.superseded} earlier runs of the same configurations superseded"
            if board.superseded
            else ""
        )
        + ".",
    ]
    if source:
        lines += ["", source]
    lines += [
        "",
        how_to_read(board),
        "",
        "## Headline",
        "",
        *headline(board),
    ]
    for (dataset, features), table in board.tables.items():
        lines += ["", f"## {dataset} · {features}", "", _md(display_table(board, table))]
    lines += [
        "",
        "## Overall: mean rank per algorithm × feature expression, averaged over datasets",
        "",
        _md(display_overall(board)),
        "",
        "## Runs that did not finish",
        "",
        _md(display_failed(board)),
        "",
        "## Provenance",
        "",
        *provenance(board),
        "",
    ]
    return "\n".join(lines)


def _distinct(runs: pd.DataFrame, column: str) -> str:
    if column not in runs:
        return "unknown"
    values = sorted(str(v) for v in runs[column].dropna().unique())
    return ", ".join(f"`{v}`" for v in values) or "unknown"


def provenance(board: Leaderboard) -> list[str]:
    """Where the numbers come from: code versions, datasets, when and how long the runs took."""
    runs = board.runs
    lines = [
        f"- segbench version(s) {_distinct(runs, 'tags.segbench.version')}; git commit(s) "
        f"tagged on the runs (the checkout's HEAD when each run started) "
        f"{_distinct(runs, 'tags.segbench.git_commit')}",
    ]
    if len(runs):
        start, end = runs["start_time"].min(), runs["end_time"].max()
        busy = runs.get("metrics.wall_seconds", pd.Series(dtype=float)).sum()
        lines.append(
            f"- runs started {start:%Y-%m-%d %H:%M} UTC, last ended {end:%Y-%m-%d %H:%M} UTC "
            f"(span {(end - start).total_seconds() / 60:.1f} min; the finished runs' own "
            f"wall_seconds add up to {busy / 60:.1f} min)"
        )
    described = runs.assign(
        dataset=runs.get("params.dataset.name", pd.Series("?", index=runs.index))
    )
    for dataset, group in described.groupby("dataset", sort=True):
        customers = group.get("metrics.n_customers", pd.Series(dtype=float)).dropna()
        size = f"{int(customers.iloc[0]):,} customers, " if len(customers) else ""
        lines.append(
            f"- dataset `{dataset}`: {size}fingerprint(s) "
            f"{_distinct(group, 'tags.segbench.dataset_fingerprint')}"
        )
    return lines


__all__ = [
    "cell",
    "display_failed",
    "display_overall",
    "display_table",
    "headline",
    "how_to_read",
    "number",
    "percent",
    "provenance",
    "render_markdown",
]
