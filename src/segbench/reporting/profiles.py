"""Segment profiles: who is in each segment, in the source columns a person can read.

One row per segment (noise, label -1, is a row of its own): the segment's ``name`` (the run's
one naming rule, :mod:`segbench.reporting.names`: every other artifact reads the names from
this column), ``size``, ``share``, the mean of each human-readable source column of the blocks
used (recency, frequency, monetary, age, …) and, when a ``monetary`` column exists,
``revenue_share`` (the segment's share of total spend).

Small-cell suppression (``min_cell_size`` > 0, setting ``privacy.min_cell_size``,
:mod:`segbench.data.disclosure`): a cell that describes fewer than ``min_cell_size`` customers
is suppressed (missing) — every figure but ``size`` and ``share`` of a smaller segment, and
the mean of a 0/1 column (e.g. one-hot ``region=North``) where fewer than ``min_cell_size``
but more than 0 customers of the segment have the value 1 (the mean times the size would count
them). Such segments are flagged in the column ``small_segment``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segbench.data.disclosure import small_cells
from segbench.reporting.names import segment_names


def segment_profiles(
    labels: np.ndarray, profile: pd.DataFrame, min_cell_size: int = 0
) -> pd.DataFrame:
    """Profile table of a segmentation (index ``segment``), small cells suppressed.

    >>> profile = pd.DataFrame({"income": [10.0, 12, 90, 95]})
    >>> segment_profiles(np.array([0, 0, 1, 1]), profile)[["name", "size", "mean_income"]]
                    name  size  mean_income
    segment
    0         low income     2         11.0
    1        high income     2         92.5
    """
    frame = profile.copy()
    frame.index = range(len(frame))
    frame["segment"] = np.asarray(labels)
    grouped = frame.groupby("segment", sort=True)
    names = segment_names(profile, np.asarray(labels), min_cell_size).set_index("segment")
    table = pd.DataFrame({"name": names["name"], "size": grouped.size()})
    table.index.name = "segment"
    table["share"] = table["size"] / table["size"].sum()
    numeric = [c for c in profile.columns if pd.api.types.is_numeric_dtype(profile[c])]
    if numeric:
        table = table.join(grouped[numeric].mean().add_prefix("mean_"))
    if "monetary" in profile.columns:
        revenue = grouped["monetary"].sum()
        total = revenue.sum()
        table["revenue_share"] = revenue / total if total else np.nan
    if min_cell_size > 0:
        table = _suppress(table, grouped, numeric, frame, int(min_cell_size))
    table.attrs["naming"] = names["naming"].iloc[0] if len(names) else "segment ids"
    return table


def _suppress(
    table: pd.DataFrame, grouped: Any, numeric: list[str], frame: pd.DataFrame, k: int
) -> pd.DataFrame:
    """Suppress the cells of ``table`` that describe fewer than ``k`` customers."""
    table = table.copy()
    small = pd.Series(small_cells(table["size"].to_numpy(), k), index=table.index)
    table["small_segment"] = small
    figures = [c for c in table.columns if c not in ("name", "size", "share", "small_segment")]
    table.loc[small, figures] = np.nan
    binary = [c for c in numeric if frame[c].dropna().isin([0, 1]).all()]
    if binary:
        ones = grouped[binary].sum()
        for column in binary:
            few = ones[column][small_cells(ones[column].to_numpy(), k)]
            table.loc[few.index, f"mean_{column}"] = np.nan
    return table


def profiles_markdown(table: pd.DataFrame) -> str:
    """The profile table as Markdown (3 significant decimals)."""
    return table.round(3).to_markdown()
