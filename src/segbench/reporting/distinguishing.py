"""The features that set a segment apart from the whole customer base.

For a segment ``k`` and a human-readable profile column ``c`` the *standardised mean
difference* (Cohen's d against the population; Cohen 1988, *Statistical Power Analysis for the
Behavioral Sciences*, §2.2) is

    d_kc = (mean of c in segment k − mean of c overall) / standard deviation of c overall

and a segment's most distinguishing features are the columns with the largest ``|d_kc|``.
Small-cell suppression (:mod:`segbench.data.disclosure`): a segment with fewer than
``min_cell_size`` customers gets no features, and a 0/1 column (one-hot level) held by fewer
than ``min_cell_size`` (but more than 0) of the segment's customers is skipped, since its share
would count them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segbench.data.disclosure import small_cells
from segbench.reporting.numbers import readable

COLUMNS = ("feature", "segment_mean", "overall_mean", "effect", "binary")


def distinguishing_features(
    profile: pd.DataFrame, labels: np.ndarray, top: int = 5, min_cell_size: int = 0
) -> dict[int, pd.DataFrame]:
    """Per segment, the ``top`` columns with the largest ``|d|`` (columns :data:`COLUMNS`).

    >>> profile = pd.DataFrame({"spend": [1.0, 2, 9, 10], "age": [30.0, 31, 30, 31]})
    >>> out = distinguishing_features(profile, np.array([0, 0, 1, 1]), top=1)
    >>> out[1]["feature"].item(), round(out[1]["effect"].item(), 2)
    ('spend', 0.99)
    """
    labels = np.asarray(labels)
    numeric = [
        c
        for c in profile.columns
        if pd.api.types.is_numeric_dtype(profile[c]) or pd.api.types.is_bool_dtype(profile[c])
    ]
    frame = profile[numeric].astype(float).reset_index(drop=True)
    overall = frame.mean()
    spread = frame.std(ddof=0).replace(0.0, np.nan)
    binary = {c for c in numeric if frame[c].dropna().isin([0.0, 1.0]).all()}
    out: dict[int, pd.DataFrame] = {}
    for segment in np.unique(labels):
        members = frame[labels == segment]
        if small_cells([len(members)], min_cell_size)[0] or frame.empty:
            out[int(segment)] = pd.DataFrame(columns=list(COLUMNS))
            continue
        means = members.mean()
        effect = (means - overall) / spread
        keep = [
            c
            for c in numeric
            if np.isfinite(effect[c])
            and not (c in binary and small_cells([members[c].sum()], min_cell_size)[0])
        ]
        table = pd.DataFrame(
            {
                "feature": keep,
                "segment_mean": means[keep].to_numpy(),
                "overall_mean": overall[keep].to_numpy(),
                "effect": effect[keep].to_numpy(),
                "binary": [c in binary for c in keep],
            }
        )
        order = table["effect"].abs().sort_values(ascending=False, kind="stable").index
        out[int(segment)] = table.loc[order].head(top).reset_index(drop=True)
    return out


def describe(row: pd.Series) -> str:
    """One readable line for a row of :func:`distinguishing_features`."""
    sign = "+" if row["effect"] >= 0 else "−"
    if row["binary"]:
        return (
            f"{row['feature']}: {row['segment_mean']:.0%} of the segment vs "
            f"{row['overall_mean']:.0%} overall ({sign}{abs(row['effect']):.2f} sd)"
        )
    return (
        f"{row['feature']}: mean {readable(row['segment_mean'])} vs "
        f"{readable(row['overall_mean'])} overall "
        f"({sign}{abs(row['effect']):.2f} sd)"
    )
