"""Segment profiles: who is in each segment, in the source columns a person can read.

One row per segment (noise, label -1, is a row of its own): ``size``, ``share``, the mean of
each human-readable source column of the blocks used (recency, frequency, monetary, age, …)
and, when a ``monetary`` column exists, ``revenue_share`` (the segment's share of total spend).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def segment_profiles(labels: np.ndarray, profile: pd.DataFrame) -> pd.DataFrame:
    """Profile table of a segmentation (index ``segment``)."""
    frame = profile.copy()
    frame.index = range(len(frame))
    frame["segment"] = np.asarray(labels)
    grouped = frame.groupby("segment", sort=True)
    table = pd.DataFrame({"size": grouped.size()})
    table["share"] = table["size"] / table["size"].sum()
    numeric = [c for c in profile.columns if pd.api.types.is_numeric_dtype(profile[c])]
    if numeric:
        table = table.join(grouped[numeric].mean().add_prefix("mean_"))
    if "monetary" in profile.columns:
        revenue = grouped["monetary"].sum()
        total = revenue.sum()
        table["revenue_share"] = revenue / total if total else np.nan
    return table


def profiles_markdown(table: pd.DataFrame) -> str:
    """The profile table as Markdown (3 significant decimals)."""
    return table.round(3).to_markdown()
