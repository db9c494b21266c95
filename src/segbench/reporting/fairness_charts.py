"""Chart of a per-segment × per-group table: each segment's group mix beside the population's."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from segbench.reporting.drawing import pyplot
from segbench.reporting.names import segment_label


def group_mix_chart(
    table: pd.DataFrame, attribute: str, title: str, names: Mapping[int, str] | None = None
):
    """Stacked horizontal bars: the population's group shares, then each segment's.

    ``table`` is a (k-anonymised) :func:`~segbench.fairness.metrics.group_table`; suppressed
    cells are drawn as one hatched grey block ("suppressed"), so the chart shows nothing the
    table hides. ``names``: the run's segment names (:mod:`segbench.reporting.names`).
    """
    groups = list(dict.fromkeys(table["group"].astype(str)))
    population = table.drop_duplicates("group").set_index("group")["population_share"]
    segments = sorted(table["segment"].unique())
    rows = [("population", population.reindex(groups).to_numpy(dtype=float, na_value=np.nan))]
    for segment in segments:
        part = table[table["segment"] == segment].set_index("group")
        rows.append(
            (
                segment_label(segment, names),
                part["segment_share"].reindex(groups).to_numpy(dtype=float, na_value=np.nan),
            )
        )
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.6))
    cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
    # one bar call per group (all rows at once), then the suppressed remainders
    shares = np.vstack([row for _, row in rows])
    drawn = np.where(np.isfinite(shares) & (shares > 0), shares, 0.0)
    lefts = np.cumsum(drawn, axis=1) - drawn
    ys = np.arange(len(rows))
    for i in range(len(groups)):
        shown = drawn[:, i] > 0
        if shown.any():
            ax.barh(
                ys[shown],
                drawn[shown, i],
                left=lefts[shown, i],
                color=cmap(i % cmap.N),
                edgecolor="white",
            )
    total = drawn.sum(axis=1)
    rest = total < 1 - 1e-9
    if rest.any():
        ax.barh(
            ys[rest],
            1 - total[rest],
            left=total[rest],
            color="lightgrey",
            hatch="//",
            edgecolor="white",
        )
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i % cmap.N)) for i in range(len(groups))]
    labels = list(groups)
    if any(not np.isfinite(shares).all() for _, shares in rows):
        handles.append(plt.Rectangle((0, 0), 1, 1, color="lightgrey", hatch="//"))
        labels.append("suppressed (< k customers)")
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"share of the segment, by {attribute}")
    ax.set_title(title)
    ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig
