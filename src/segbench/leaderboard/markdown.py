"""Leaderboard text: cells as display frames, the headline, and ``leaderboard.md``.

A metric cell reads ``mean [low, high] #rank``: the mean over seeds, its interval (the seeds'
min–max below 5 seeds, a 95% t-interval clipped to the metric's range from 5; none with one
seed) and the rank in its table when the metric is ranked there. ``†k/n`` marks a mean over
fewer seeds than the row has; ``—`` a metric the row does not have (never a zero).
The page itself is the template ``templates/leaderboard.md.j2``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from segbench.leaderboard.aggregate import COVERAGE, Cell, Leaderboard, direction
from segbench.leaderboard.stats import MIN_SEEDS_T, Comparison
from segbench.leaderboard.store import as_times

ARROWS = {"max": "↑", "min": "↓"}
#: A table row: a pandas row or a record of ``DataFrame.to_dict("records")``.
Row = Mapping[str, Any] | pd.Series
TEMPLATES = Path(__file__).parent / "templates"


def environment(autoescape: bool) -> jinja2.Environment:
    """The Jinja environment of the leaderboard's templates."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def _decimals(value: float) -> int:
    value = abs(value)
    return 0 if value >= 1000 else 1 if value >= 100 else 2 if value >= 1 else 3


def number(value: float | None, like: float | None = None) -> str:
    """A fixed-precision rendering (``—`` when missing); decimals from ``like`` if given;
    from 10,000 up in thousands (``k``) or millions (``M``) with 3 significant digits.

    >>> number(0.87234), number(1523.4), number(0.5, like=120.0), number(float("nan"))
    ('0.872', '1523', '0.5', '—')
    >>> number(86563.0), number(2636510.5), number(-0.0004)
    ('86.6k', '2.64M', '-0.000')
    """
    if value is None or pd.isna(value):
        return "—"
    value = float(value)
    if abs(value) >= 10_000:
        scaled, unit = (value / 1e6, "M") if abs(value) >= 1e6 else (value / 1e3, "k")
        return f"{scaled:.{max(0, 2 - int(math.log10(abs(scaled))))}f}{unit}"
    return f"{value:.{_decimals(value if like is None else like)}f}"


def segments(value: float) -> str:
    """Mean number of segments: an integer when every seed agreed."""
    if pd.isna(value):
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def percent(value: float) -> str:
    """A share as a percentage (``—`` when missing).

    >>> percent(0.004), percent(0.999), percent(1.0), percent(0.5)
    ('<1%', '>99%', '100%', '50%')
    """
    if pd.isna(value):
        return "—"
    if 0 < value < 0.01:
        return "<1%"
    if 0.99 < value < 1:
        return ">99%"
    return f"{100 * value:.0f}%"


def label(metric: str) -> str:
    """A column header: the metric name and its better direction."""
    return f"{metric} {ARROWS[direction(metric)]}"


def value_text(row: Row, metric: str) -> str:
    """The mean of ``metric`` in ``row`` (a percentage for coverage)."""
    return percent(row[metric]) if metric == COVERAGE else number(row[metric])


def interval_text(row: Row, metric: str) -> str:
    """``[low, high]`` of ``metric`` in ``row`` (``""`` with one seed, or when both ends read
    the same: every seed gave that value)."""
    low, high = row.get(f"{metric}.low"), row.get(f"{metric}.high")
    if low is None or pd.isna(low):
        return ""
    if metric == COVERAGE:
        ends = percent(low), percent(high)
    else:
        ends = number(low, like=row[metric]), number(high, like=row[metric])
    return "" if ends[0] == ends[1] else f"[{ends[0]}, {ends[1]}]"


def rank_text(row: Row, metric: str) -> str:
    rank = row.get(f"{metric}.rank")
    return "" if rank is None or pd.isna(rank) else f"#{rank:g}"


def missing_text(row: Row, metric: str) -> str:
    """``†k/n`` when only k of the row's n seeds have the metric."""
    n = row.get(f"{metric}.n", row["seeds"])
    return f"†{int(n)}/{int(row['seeds'])}" if n < row["seeds"] else ""


def cell(row: Row, metric: str) -> str:
    """``mean [low, high] #rank`` for one metric of one table row."""
    if pd.isna(row[metric]):
        return "—"
    parts = [
        value_text(row, metric),
        interval_text(row, metric),
        missing_text(row, metric),
        rank_text(row, metric),
    ]
    return " ".join(p for p in parts if p)


def note(row: Row) -> str:
    """Why a row is degenerate (``""`` when it is not)."""
    if not row["degenerate"]:
        return ""
    return f"degenerate: {row['why']} ({int(row['degenerate_seeds'])}/{int(row['seeds'])} seeds)"


def columns(cell_: Cell) -> list[str]:
    """The metrics a cell's table shows, in display order: ranked first, then context."""
    return [*cell_.ranked, *cell_.context]


def display_table(board: Leaderboard, cell_: Cell | pd.DataFrame) -> pd.DataFrame:
    """One table of the leaderboard with formatted cells, in its order."""
    if isinstance(cell_, pd.DataFrame):  # a table of board.tables
        cell_ = next(c for c in board.cells.values() if c.table is cell_)
    table = cell_.table
    out = pd.DataFrame(
        {
            "#": table["position"],
            "algorithm": table["algorithm"],
            "seeds": table["seeds"].astype(int),
            "segments": [segments(v) for v in table["segments"]],
        }
    )
    if (table["config"] != "").any():
        out["best config"] = table["config"]
    rows = cell_.records
    for m in columns(cell_):
        out[label(m)] = [cell(row, m) for row in rows]
    if not cell_.truth and "composite" in table:
        out["composite ↓"] = [
            "—" if row["degenerate"] else number(row["composite"]) for row in rows
        ]
    out["run (best seed)"] = table["run_id"]
    notes = [note(row) for row in rows]
    if any(notes):
        out["note"] = notes
    return out


def display_overall(board: Leaderboard) -> pd.DataFrame:
    """The overall table with formatted mean ranks."""
    frame = board.overall.copy()
    for col in frame.columns:
        if col not in ("algorithm", "cells"):
            frame[col] = [number(v) for v in frame[col]]
    return frame


def display_failed(board: Leaderboard) -> pd.DataFrame:
    """The runs that did not finish, with their error (RUNNING: still running or orphaned)."""
    frame = board.failed.copy()
    running = frame["status"] == "RUNNING"
    frame["error"] = frame["error"].astype(object).where(frame["error"].notna(), None)
    frame.loc[running.fillna(False), "error"] = (
        "still running, or orphaned by a killed process: not a result"
    )
    frame["error"] = frame["error"].fillna("(no segbench.error tag)")
    return frame


def display_superseded(board: Leaderboard) -> pd.DataFrame:
    """The results a later FINISHED run of the same configuration on the same data replaced."""
    frame = board.superseded
    if not len(frame):
        return pd.DataFrame(columns=["run_id", "started", "superseded_by"])
    return pd.DataFrame(
        {
            "dataset": frame.get("params.dataset.name", pd.Series("?", index=frame.index)),
            "features": frame.get("params.features", pd.Series("?", index=frame.index)),
            "algorithm": frame.get("params.algo.name", pd.Series("?", index=frame.index)),
            "seed": frame.get("params.seed", pd.Series("?", index=frame.index)),
            "run_id": frame["run_id"],
            "started": [_time(t) for t in as_times(frame["start_time"])],
            "superseded_by": frame["superseded_by"],
        }
    )


def _time(value: object) -> str:
    return "—" if pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M}"


def _separated(first: Row, second: Row, metric: str) -> bool:
    """Whether two rows' intervals of ``metric`` do not overlap."""
    lo1, hi1 = first.get(f"{metric}.low"), first.get(f"{metric}.high")
    lo2, hi2 = second.get(f"{metric}.low"), second.get(f"{metric}.high")
    if any(pd.isna(v) for v in (lo1, hi1, lo2, hi2)):
        return False
    return bool(lo1 > hi2 or lo2 > hi1)


def winner_text(cell_: Cell) -> str:
    """The winner of one cell, with its evidence (or why there is none)."""
    table = cell_.table
    first = cell_.records[0]
    if first["degenerate"]:
        return f"`{cell_.features}`: no segmentation that is not degenerate"
    parts = [f"`{cell_.features}`: **{first['algorithm']}**"]
    if cell_.truth:
        parts.append(f"ARI {number(first['ari'])} {interval_text(first, 'ari')}".strip())
    else:
        n_ok = int((~table["degenerate"]).sum())
        if n_ok == 1:
            parts.append("the only row that is not degenerate")
        else:
            parts.append(f"composite {number(first.get('composite'))} (of {n_ok} ranked rows)")
    parts.append(f"{segments(first['segments'])} segments")
    if not pd.isna(first.get(COVERAGE, float("nan"))) and first[COVERAGE] < 1:
        parts.append(f"coverage {percent(first[COVERAGE])}")
    text = ", ".join(parts)
    if len(table) > 1 and not cell_.records[1]["degenerate"] and cell_.truth:
        second = cell_.records[1]
        if first["ari"] == second["ari"]:
            text += f"; tied with {second['algorithm']}"
        elif not _separated(first, second, "ari"):
            text += f"; its interval overlaps {second['algorithm']}'s"
    return text


def headline(board: Leaderboard) -> list[str]:
    """Markdown lines: per dataset the winner of each feature expression, then the test
    across cells in one sentence."""
    lines = []
    for dataset in sorted({d for d, _ in board.cells}):
        cells = [c for (d, _), c in board.cells.items() if d == dataset]
        truth = any(c.truth for c in cells)
        by = "ground truth: ordered by ARI" if truth else "no ground truth: by the composite"
        lines.append(f"- **{dataset}** ({by})")
        lines += [f"  - {winner_text(c)}" for c in cells]
    lines.append(f"- **Across cells**: {comparison_summary(board.comparison)}")
    return lines


def comparison_summary(comparison: Comparison | str | None) -> str:
    """The test across cells in one sentence (the details: :func:`comparison_text`)."""
    if comparison is None or isinstance(comparison, str):
        return comparison_text(comparison)
    c = comparison
    head = f"over {c.n_cells} cells and {c.k} algorithms the ranks "
    if not c.significant:
        return head + f"do not differ significantly (Friedman p {_p(c.p_ff)}, α = {c.alpha:g})."
    text = head + f"differ significantly (Friedman p {_p(c.p_ff)}); "
    if not c.pairs:
        return text + "no pair differs by more than the Nemenyi critical difference."
    worse: dict[str, list[str]] = {}
    for better, loser, _, _ in c.pairs:
        worse.setdefault(better, []).append(loser)
    groups = [f"**{b}** better than {', '.join(w)}" for b, w in worse.items()]
    return text + "Nemenyi: " + "; ".join(groups) + "; no other pair differs significantly."


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def comparison_text(comparison: Comparison | str | None) -> str:
    """The Friedman and Nemenyi result in a paragraph."""
    if comparison is None:
        return "No test across cells: no results."
    if isinstance(comparison, str):
        return comparison[0].upper() + comparison[1:] + "."
    c = comparison
    ranks = ", ".join(f"{a} {r:.2f}" for a, r in c.mean_ranks.items())
    text = (
        f"Across {c.n_cells} cells (dataset × feature expression) and {c.k} algorithms, mean "
        f"ranks (1 = best): {ranks}. Friedman test: χ²_F = {c.chi2:.2f} (p {_p(c.p_chi2)}), "
        f"Iman–Davenport F_F = {c.ff:.2f} (p {_p(c.p_ff)}): "
    )
    if not c.significant:
        text += (
            f"the algorithms' mean ranks do **not** differ significantly at α = {c.alpha:g}, "
            "so no pair is declared different."
        )
    else:
        text += (
            f"they differ significantly at α = {c.alpha:g}. Nemenyi post-hoc test (critical "
            f"difference {c.cd:.2f}): "
        )
        if c.pairs:
            text += (
                "; ".join(
                    f"**{b}** ranks better than **{w}** (Δ {d:.2f}, p {_p(p)})"
                    for b, w, d, p in c.pairs
                )
                + "; no other pair differs significantly."
            )
        else:
            text += "no pair differs by more than it."
    if c.notes:
        text += " (" + "; ".join(c.notes) + ".)"
    return text


def how_to_read(board: Leaderboard) -> str:
    """The paragraph that explains cells, intervals, ranks and the ordering."""
    noise = percent(board.max_noise)
    return (
        "How to read: a cell is `mean [low, high] #rank` over seeds: with fewer than "
        f"{MIN_SEEDS_T} seeds the bracket is the seeds' min–max, from {MIN_SEEDS_T} seeds the "
        "95% Student-t interval clipped to the metric's range; no bracket with one seed; "
        "no bracket either when every seed gave the same value (as printed); `†k/n` = only k "
        "of n seeds had the metric; `—` = missing, never zero. With ground "
        "truth a table follows ARI (then AMI, NMI), and internal indices are context; without, "
        "it follows the composite: the mean rank of silhouette, Davies–Bouldin, "
        "Calinski–Harabasz, stability, coverage and one fairness term (the mean of the "
        "balance ranks). Ranks follow each metric's better direction (↑ / ↓), ties share the "
        "average rank, a row missing a metric ranks last on it, and a metric with the same "
        "value in every row is not ranked. A run with fewer than 2 segments or more than "
        f"{noise} of its customers labelled noise is degenerate: its row is listed last, "
        f"unranked. With several configurations of an algorithm the best by `{board.select}` "
        "is shown (an internal index: never chosen by the ground truth). Internal indices are "
        "not comparable across feature expressions (different spaces); ARI is."
    )


def cell_caption(cell_: Cell) -> str:
    """What orders a cell's table and what was not ranked."""
    seeds = sorted({int(s) for s in cell_.table["seeds"]})
    interval = (
        "the seeds' min–max"
        if max(seeds) < MIN_SEEDS_T
        else "95% t-intervals"
        if min(seeds) >= MIN_SEEDS_T
        else f"min–max below {MIN_SEEDS_T} seeds, t-intervals from {MIN_SEEDS_T}"
    )
    count = (
        f"{seeds[0]} seed{'s' if seeds[0] > 1 else ''} each" if len(seeds) == 1 else "seeds vary"
    )
    text = f"Ordered by {cell_.order_by}. Means over {count}; intervals: {interval}."
    if cell_.constant:
        same = ", ".join(f"`{m}` = {number(v)}" for m, v in cell_.constant.items())
        text += f" Same in every row, not ranked: {same}."
    return text


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
    starts, ends = as_times(runs["start_time"]).dropna(), as_times(runs["end_time"]).dropna()
    if len(starts):
        start = starts.min()
        busy = runs.get("metrics.wall_seconds", pd.Series(dtype=float)).sum()
        if len(ends):
            end = ends.max()
            span = (
                f"last ended {end:%Y-%m-%d %H:%M} UTC (span "
                f"{(end - start).total_seconds() / 60:.1f} min; "
            )
        else:
            span = "none has ended ("
        lines.append(
            f"- runs started {start:%Y-%m-%d %H:%M} UTC, {span}the finished runs' own "
            f"wall_seconds add up to {busy / 60:.1f} min)"
        )
    names = runs.get("params.dataset.name", pd.Series("?", index=runs.index)).fillna("?")
    for dataset, group in runs.groupby(names, sort=True):
        customers = group.get("metrics.n_customers", pd.Series(dtype=float)).dropna()
        size = f"{int(customers.iloc[0]):,} customers, " if len(customers) else ""
        lines.append(
            f"- dataset `{dataset}`: {size}fingerprint(s) "
            f"{_distinct(group, 'tags.segbench.dataset_fingerprint')}"
        )
    protocol = _distinct(runs, "tags.segbench.protocol")
    if protocol != "unknown":
        lines.append(f"- protocol: {protocol}")
    return lines + list(board.protocol)


def summary(board: Leaderboard) -> str:
    """The first line under the title: how many runs, of which kinds."""
    runs = board.runs
    results = int((runs.get("outcome", runs["status"]).isin(["result", "FINISHED"])).sum())
    text = (
        f"{len(runs) + len(board.superseded)} job runs: {results} results in {len(board.cells)} "
        f"tables (dataset × feature expression), {len(board.failed)} that did not finish, "
        f"{len(board.superseded)} superseded by a later finished rerun."
    )
    return text


def _md(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) if len(frame) else "_none_"


def render_markdown(board: Leaderboard, source: str = "") -> str:
    """The whole ``leaderboard.md``."""
    return (
        environment(autoescape=False)
        .get_template("leaderboard.md.j2")
        .render(
            board=board,
            source=source,
            summary=summary(board),
            how_to_read=how_to_read(board),
            headline=headline(board),
            cells=[
                (c, cell_caption(c), _md(display_table(board, c))) for c in board.cells.values()
            ],
            comparison=comparison_text(board.comparison),
            overall=_md(display_overall(board)),
            failed=_md(display_failed(board)),
            superseded=_md(display_superseded(board)),
            provenance=provenance(board),
        )
    )


__all__ = [
    "cell",
    "cell_caption",
    "comparison_summary",
    "comparison_text",
    "display_failed",
    "display_overall",
    "display_superseded",
    "display_table",
    "environment",
    "headline",
    "how_to_read",
    "interval_text",
    "label",
    "note",
    "number",
    "percent",
    "provenance",
    "render_markdown",
    "summary",
    "winner_text",
]
