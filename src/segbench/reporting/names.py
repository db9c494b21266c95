"""Segment names: one readable name per segment of a run, from one rule, used everywhere.

A run names its segments once, from its own segments and its own customers
(:func:`segment_names`); the names are the ``name`` column of the run's profile table
(:func:`segbench.reporting.profiles.segment_profiles`), and every artifact that shows a
segment — the segment card, the profiles, personalisation, segments over time, every plot —
reads them from there and writes a segment as :func:`segment_label` does (``"2 · champions"``).

The rule
--------
**RFM grid**, where the profile has recency, frequency and monetary: each segment is placed
on a 3×3 grid by the percentile ranks, among all the run's customers, of its *median*
customer: ``r = 1 − PR(recency)`` (recent is high), ``fm = (PR(frequency) + PR(monetary)) / 2``;
high ≥ 0.6, low < 0.4, mid between:

=========  ===============  ================  ==============
r \\ fm     low              mid               high
=========  ===============  ================  ==============
high       new customers    promising         champions
mid        about to sleep   need attention    loyal
low        lost             hibernating       at risk
=========  ===============  ================  ==============

**Distinguishing features**, otherwise: the segment's (at most two) readable columns with the
largest standardised mean difference ``|d| ≥ 0.5`` against all customers
(:mod:`segbench.reporting.distinguishing`), e.g. ``"high income · low age"``; ``"average"``
when no column sets it apart. 0/1 columns (one-hot levels) do not name segments.

**Plain ids** ``"segment <id>"`` when the profile has no readable column (e.g. text embeddings
only), and for a segment of fewer than ``min_cell_size`` customers: its name would describe
them (small-cell suppression, :mod:`segbench.data.disclosure`). Noise (``-1``) is ``"noise"``.

Two segments with the same name get `` (2)``, `` (3)``… in decreasing order of ``r + fm``
(RFM) or of size (the best, or the larger, keeps the plain name).

Example
-------
>>> import numpy as np, pandas as pd
>>> income, age = [10.0, 12, 11, 90, 95, 99], [30.0, 31, 30, 30, 31, 30]
>>> profile = pd.DataFrame({"income": income, "age": age})
>>> table = segment_names(profile, np.array([0, 0, 0, 1, 1, 1]))
>>> table["name"].tolist()
['low income', 'high income']
>>> segment_label(1, table["name"]), segment_label(-1, table["name"])
('1 · high income', 'noise')
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from segbench.data.disclosure import small_segments
from segbench.reporting.distinguishing import distinguishing_features

RFM = ("recency", "frequency", "monetary")
NOISE = "noise"
HIGH, LOW = 0.6, 0.4
MIN_EFFECT = 0.5
"""Smallest ``|d|`` (Cohen's "medium" effect) for a feature to name a segment."""
NAME_GRID = {
    ("high", "low"): "new customers",
    ("high", "mid"): "promising",
    ("high", "high"): "champions",
    ("mid", "low"): "about to sleep",
    ("mid", "mid"): "need attention",
    ("mid", "high"): "loyal",
    ("low", "low"): "lost",
    ("low", "mid"): "hibernating",
    ("low", "high"): "at risk",
}
COLUMNS = ("segment", "size", "name", "naming", "r_score", "fm_score")


def plain_name(segment: int) -> str:
    """The name of a segment that has no readable name: ``"segment <id>"`` (``"noise"``)."""
    return NOISE if int(segment) == -1 else f"segment {int(segment)}"


def _level(value: float) -> str:
    return "high" if value >= HIGH else "low" if value < LOW else "mid"


def _rfm(profile: pd.DataFrame, labels: np.ndarray, table: pd.DataFrame) -> pd.DataFrame:
    frame = profile[list(RFM)].astype(float).reset_index(drop=True)
    medians = frame.groupby(labels).median()

    def rank(column: str, value: float) -> float:
        values = frame[column].to_numpy()
        return float((np.sum(values < value) + 0.5 * np.sum(values == value)) / len(values))

    for segment, row in medians.iterrows():
        r = 1.0 - rank("recency", row["recency"])
        fm = (rank("frequency", row["frequency"]) + rank("monetary", row["monetary"])) / 2
        table.loc[segment, ["r_score", "fm_score"]] = [r, fm]
        table.loc[segment, "name"] = NAME_GRID[(_level(r), _level(fm))]
    table["naming"] = "rfm grid"
    return table


def _distinguishing(profile: pd.DataFrame, labels: np.ndarray, table: pd.DataFrame):
    effects = distinguishing_features(profile.reset_index(drop=True), labels, top=len(profile))
    for segment, rows in effects.items():
        rows = rows[~rows["binary"].astype(bool) & (rows["effect"].abs() >= MIN_EFFECT)]
        words = [
            f"{'high' if effect > 0 else 'low'} {feature}"
            for feature, effect in zip(rows["feature"].head(2), rows["effect"].head(2), strict=True)
        ]
        table.loc[segment, "name"] = " · ".join(words) if words else "average"
    table["naming"] = "distinguishing features"
    return table


def segment_names(
    profile: pd.DataFrame, labels: np.ndarray, min_cell_size: int = 0
) -> pd.DataFrame:
    """One name per segment (the rule in the module docstring).

    ``profile``: the readable columns per customer (``FeatureMatrix.profile``), in the order
    of ``labels``. Returns one row per segment, sorted by id, with the columns
    ``segment, size, name, naming`` (the rule used) and, for the RFM grid, ``r_score`` and
    ``fm_score``.
    """
    labels = np.asarray(labels)
    segments, sizes = np.unique(labels, return_counts=True)
    table = pd.DataFrame(
        {
            "segment": segments.astype(np.int64),
            "size": sizes.astype(np.int64),
            "name": [plain_name(s) for s in segments],
            "naming": "segment ids",
            "r_score": np.nan,
            "fm_score": np.nan,
        },
        index=segments.astype(np.int64),
    )
    numeric = [c for c in profile.columns if pd.api.types.is_numeric_dtype(profile[c])]
    if set(RFM) <= set(numeric):
        table = _rfm(profile, labels, table)
    elif numeric and len(profile):
        table = _distinguishing(profile[numeric], labels, table)
    hidden = small_segments(labels, int(min_cell_size)) | {-1}
    for segment in hidden & set(table.index):
        table.loc[segment, ["name", "r_score", "fm_score"]] = [plain_name(segment), np.nan, np.nan]
    named = ~table.index.isin(list(hidden))
    order = (
        table[named]
        .assign(_rank=table["r_score"].fillna(0) + table["fm_score"].fillna(0))
        .sort_values(["_rank", "size", "segment"], ascending=[False, False, True])
    )
    seen: dict[str, int] = {}
    for segment, name in order["name"].items():
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            table.loc[segment, "name"] = f"{name} ({seen[name]})"
    return table[list(COLUMNS)].reset_index(drop=True)


def names_of(profiles: pd.DataFrame) -> dict[int, str]:
    """``{segment: name}`` from a profile table (its ``name`` column; index ``segment``)."""
    if "name" not in profiles.columns:
        return {int(s): plain_name(s) for s in profiles.index}
    return {int(s): str(n) for s, n in profiles["name"].items()}


def segment_label(segment: int, names: Mapping[int, str] | pd.Series | None = None) -> str:
    """How a segment is written on plots and tables: ``"2 · champions"``; ``"segment 3"``
    when it has no readable name; ``"noise"`` for ``-1``."""
    segment = int(segment)
    name = None if names is None else names.get(segment)
    if segment == -1:
        return NOISE
    if name is None or name == plain_name(segment):
        return plain_name(segment)
    return f"{segment} · {name}"


def segment_labels(segments, names: Mapping[int, str] | pd.Series | None = None) -> list[str]:
    """:func:`segment_label` of each of ``segments``."""
    return [segment_label(s, names) for s in segments]


__all__ = [
    "NAME_GRID",
    "NOISE",
    "names_of",
    "plain_name",
    "segment_label",
    "segment_labels",
    "segment_names",
]
