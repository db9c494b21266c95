"""Fairness of a segmentation with respect to one sensitive attribute.

Notation: ``n`` customers, segment labels ``k`` (noise, label ``-1``, is **a segment of its
own** here: a group that lands in noise more often than others is treated differently, so noise
counts), groups ``a`` of the sensitive attribute, ``n_ka`` customers of group ``a`` in segment
``k``, ``n_k`` the size of segment ``k``, ``n_a`` the size of group ``a``;
``p(a|k) = n_ka / n_k`` the share of group ``a`` within segment ``k``, ``r_a = n_a / n`` its
share of the population, ``ρ_ka = p(a|k) / r_a`` its *representation* in segment ``k``
(1 = as in the population) and ``q(k|a) = n_ka / n_a`` the share of group ``a`` that is in
segment ``k``. Customers whose attribute is missing are left out of that attribute's metrics.

====================  ==============================================================  =========
name                  formula                                                         best
====================  ==============================================================  =========
``balance``           ``min_k  min_{a,b} ρ_ka / ρ_kb  =  min_k (min_a ρ_ka / max_b ρ_kb)``  1 (max)
``dp_difference``     ``max_k (max_a q(k|a) − min_a q(k|a))``                          0 (min)
``silhouette_gap``    ``max_a s̄_a − min_a s̄_a``, ``s̄_a`` the mean silhouette of group     0 (min)
                      ``a``'s members (sampled, non-noise, like the main silhouette)
``distribution_       ``max_a ½ Σ_k |q(k|a) − n_k / n|`` (total variation distance of a  0 (min)
distance``            group's distribution over segments from the population's)
====================  ==============================================================  =========

References
----------
- Chierichetti, Kumar, Lattanzi, Vassilvitskii (2017), *Fair Clustering Through Fairlets*,
  NeurIPS 30: balance of a cluster with two groups = ``min(#red/#blue, #blue/#red)``. The
  ``balance`` above generalises it to several groups and unequal population shares by comparing
  the *representation* of every pair of groups; with two groups of equal population share it is
  exactly Chierichetti et al.'s balance.
- Bera, Chakrabarty, Flores, Negahbani (2019), *Fair Algorithms for Clustering*, NeurIPS 32:
  representation ``ρ_ka`` bounded per cluster and group (the constraint the ``fair_kmeans``
  algorithm enforces).
- Dwork, Hardt, Pitassi, Reingold, Zemel (2012), *Fairness Through Awareness*, ITCS:
  demographic (statistical) parity; ``dp_difference`` is fairlearn's
  ``demographic_parity_difference`` of the one-vs-rest indicator "in segment ``k``",
  maximised over segments (computed with one fairlearn ``MetricFrame``).
- Rousseeuw (1987), *Silhouettes*, J. Comput. Appl. Math. 20: the per-customer silhouette.
- Levin, Peres, Wilmer (2009), *Markov Chains and Mixing Times*, §4.1: total variation distance
  ``½ Σ |p − q|``.

A single group (or no customer with a known value) makes every metric trivial:
``balance = 1`` and the differences 0.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, mean_prediction, selection_rate

from segbench.data.disclosure import small_cells
from segbench.errors import DataError

#: Metric names per attribute, logged as ``fairness.<attribute>.<metric>`` (directions and
#: ranges: :mod:`segbench.evaluation.registry`).
FAIRNESS_METRICS = ("balance", "dp_difference", "silhouette_gap", "distribution_distance")
#: Columns of :func:`group_table`.
GROUP_TABLE_COLUMNS = (
    "segment",
    "group",
    "count",
    "segment_share",
    "group_share",
    "population_share",
    "representation",
)


def _known(labels: np.ndarray, groups: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and group values (as strings) of the customers whose group is known."""
    labels = np.asarray(labels)
    values = pd.Series(np.asarray(groups, dtype=object))
    if len(values) != len(labels):
        raise DataError(
            f"fairness: {len(labels)} segment labels but {len(values)} sensitive values; "
            "they must describe the same customers"
        )
    known = values.notna().to_numpy()
    return labels[known], values[known].astype(str).to_numpy()


def crosstab(labels: np.ndarray, groups: pd.Series | np.ndarray) -> pd.DataFrame:
    """Counts ``n_ka``: one row per segment (noise ``-1`` included), one column per group."""
    lab, grp = _known(labels, groups)
    if len(lab) == 0:
        return pd.DataFrame(dtype=np.int64)
    table = pd.crosstab(pd.Series(lab, name="segment"), pd.Series(grp, name="group"))
    return table.sort_index().astype(np.int64)


def representation(counts: pd.DataFrame) -> pd.DataFrame:
    """``ρ_ka = (n_ka / n_k) / (n_a / n)`` for a :func:`crosstab` table."""
    n = counts.to_numpy().sum()
    within = counts.div(counts.sum(axis=1), axis=0)
    population = counts.sum(axis=0) / n
    return within.div(population, axis=1)


def segment_balance(labels: np.ndarray, groups: pd.Series | np.ndarray) -> pd.Series:
    """Balance of each segment: ``min_a ρ_ka / max_b ρ_kb`` (1 = mirrors the population)."""
    counts = crosstab(labels, groups)
    if counts.shape[1] < 2:
        return pd.Series(1.0, index=counts.index, name="balance")
    rho = representation(counts)
    return (rho.min(axis=1) / rho.max(axis=1)).rename("balance")


def balance(labels: np.ndarray, groups: pd.Series | np.ndarray) -> float:
    """Balance of a segmentation (Chierichetti et al. 2017, generalised to several groups).

    ``balance = min_k min_{a,b} ρ_ka / ρ_kb`` with ``ρ_ka = (n_ka/n_k) / (n_a/n)``; in [0, 1],
    1 when every segment mirrors the population, 0 when some segment lacks a group entirely.

    >>> balance([0, 0, 1, 1], ["f", "m", "f", "m"])
    1.0
    >>> round(balance([0, 0, 0, 1, 1, 1], ["f", "f", "m", "f", "m", "m"]), 3)
    0.5
    """
    per_segment = segment_balance(np.asarray(labels), groups)
    return float(per_segment.min()) if len(per_segment) else 1.0


def dp_difference(labels: np.ndarray, groups: pd.Series | np.ndarray) -> float:
    """Largest demographic-parity difference of one-vs-rest segment membership.

    ``max_k (max_a P(segment = k | a) − min_a P(segment = k | a))``, computed with fairlearn:
    one :class:`~fairlearn.metrics.MetricFrame` whose metrics are the selection rates of
    "in segment ``k``" (``selection_rate`` with ``pos_label=k``), ``difference()`` between
    groups, maximum over segments.

    >>> dp_difference([0, 0, 1, 1], ["f", "f", "m", "m"])
    1.0
    """
    frame = membership_frame(labels, groups)
    if frame is None:
        return 0.0
    return float(np.max(frame.difference(method="between_groups").to_numpy()))


def membership_frame(labels: np.ndarray, groups: pd.Series | np.ndarray) -> MetricFrame | None:
    """fairlearn ``MetricFrame`` of ``P(segment = k | group)`` (one metric per segment)."""
    lab, grp = _known(labels, groups)
    if len(lab) == 0 or len(np.unique(grp)) < 2:
        return None
    metrics = {int(k): partial(selection_rate, pos_label=k) for k in np.unique(lab)}
    return MetricFrame(metrics=metrics, y_true=lab, y_pred=lab, sensitive_features=grp)


def distribution_distance(labels: np.ndarray, groups: pd.Series | np.ndarray) -> float:
    """Largest total variation distance between a group's and the population's segment mix.

    ``max_a ½ Σ_k |n_ka / n_a − n_k / n|`` (0 = every group spreads over the segments like
    the population; 1 = some group lives entirely in segments the others never enter).

    >>> distribution_distance([0, 0, 1, 1], ["f", "f", "m", "m"])
    0.5
    """
    counts = crosstab(labels, groups)
    if counts.shape[1] < 2:
        return 0.0
    of_group = counts / counts.sum(axis=0)
    population = counts.sum(axis=1) / counts.to_numpy().sum()
    tv = 0.5 * of_group.sub(population, axis=0).abs().sum(axis=0)
    return float(tv.max())


def silhouette_gap(silhouettes: np.ndarray, groups: pd.Series | np.ndarray) -> float:
    """Largest difference between groups of the mean silhouette of their members.

    ``max_a s̄_a − min_a s̄_a`` with ``s̄_a`` the mean of the per-customer silhouettes
    (Rousseeuw 1987) of group ``a``'s members, via fairlearn's ``MetricFrame`` of
    ``mean_prediction``. ``silhouettes`` are those of the main silhouette's sample (non-noise
    customers), ``groups`` the attribute of the same customers. A group with no sampled member
    does not count.

    >>> round(silhouette_gap([0.5, 0.7, 0.1, 0.3], ["f", "f", "m", "m"]), 3)
    0.4
    """
    values = np.asarray(silhouettes, dtype=float)
    sil, grp = _known(values, groups)
    if len(sil) == 0 or len(np.unique(grp)) < 2:
        return 0.0
    frame = MetricFrame(metrics=mean_prediction, y_true=sil, y_pred=sil, sensitive_features=grp)
    return float(frame.difference(method="between_groups"))


def fairness_metrics(
    labels: np.ndarray,
    groups: pd.Series | np.ndarray,
    silhouettes: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """Every metric of one attribute, keyed by metric name (see the module table).

    ``silhouettes`` is ``(per-customer silhouettes, their groups)`` of the silhouette sample,
    or ``None`` to leave ``silhouette_gap`` out.
    """
    metrics = {
        "balance": balance(labels, groups),
        "dp_difference": dp_difference(labels, groups),
        "distribution_distance": distribution_distance(labels, groups),
    }
    if silhouettes is not None:
        metrics["silhouette_gap"] = silhouette_gap(*silhouettes)
    return metrics


def group_table(
    labels: np.ndarray, groups: pd.Series | np.ndarray, min_cell_size: int = 0
) -> pd.DataFrame:
    """Per-segment × per-group table, one row per (segment, group) pair.

    Columns: ``count`` ``n_ka``; ``segment_share`` ``p(a|k)``; ``group_share`` ``q(k|a)``;
    ``population_share`` ``r_a``; ``representation`` ``ρ_ka``. With ``min_cell_size`` > 0, cells
    that describe fewer than ``min_cell_size`` customers are suppressed (missing), with the
    complementary cells that would give them away (:func:`suppress_cells`).

    >>> group_table([0, 0, 1], ["f", "m", "f"])[["segment", "group", "count"]].values.tolist()
    [[0, 'f', 1], [0, 'm', 1], [1, 'f', 1], [1, 'm', 0]]
    """
    counts = crosstab(labels, groups)
    if counts.empty:
        return pd.DataFrame(columns=list(GROUP_TABLE_COLUMNS))
    n = counts.to_numpy().sum()
    within = counts.div(counts.sum(axis=1), axis=0)
    of_group = counts / counts.sum(axis=0)
    population = counts.sum(axis=0) / n
    long = counts.stack().rename("count").reset_index()
    long["segment_share"] = within.stack().to_numpy(dtype=float)
    long["group_share"] = of_group.stack().to_numpy(dtype=float)
    long["population_share"] = long["group"].map(population).astype(float)
    long["representation"] = representation(counts).stack().to_numpy(dtype=float)
    long = long[list(GROUP_TABLE_COLUMNS)]
    long["count"] = long["count"].astype("Int64")
    return suppress_cells(long, min_cell_size)


def suppress_cells(table: pd.DataFrame, min_cell_size: int) -> pd.DataFrame:
    """Small-cell suppression of a :func:`group_table` (adds the boolean column ``suppressed``).

    1. *Primary suppression*: every figure of a small cell (more than 0 and fewer than
       ``min_cell_size`` customers, :func:`segbench.data.disclosure.small_cells`) is blanked,
       and the ``population_share`` of a group with fewer than ``min_cell_size`` in all.
    2. *Secondary suppression* (complementary cells; Cox 1980, *Suppression methodology and
       statistical disclosure control*, JASA 75): segment sizes and group totals are published
       (in the profiles, and by the population shares), so a segment or a group with exactly
       one blanked cell would give it away by subtraction. While some segment or group has
       exactly one, its smallest published cell is blanked too (possibly a zero).

    A blanked cell reads "fewer than the minimum or complementary", never its value.
    """
    if min_cell_size <= 0 or table.empty:
        return table
    out = table.copy()
    count = out["count"].astype("Int64").fillna(0).to_numpy(dtype=np.int64)
    hidden = small_cells(count, min_cell_size)
    totals = out.groupby("group", sort=False)["count"].transform("sum").to_numpy(dtype=np.int64)
    small_group = small_cells(totals, min_cell_size)
    lines = [out["segment"].to_numpy(), out["group"].astype(str).to_numpy()]
    changed = True
    while changed:
        changed = False
        for keys in lines:
            for key in pd.unique(keys):
                members = np.flatnonzero(keys == key)
                if hidden[members].sum() == 1 and (~hidden[members]).any():
                    shown = members[~hidden[members]]
                    hidden[shown[np.argmin(count[shown])]] = True
                    changed = True
    figures = ["count", "segment_share", "group_share", "representation"]
    for column in figures:
        out[column] = out[column].astype("Float64" if column != "count" else "Int64")
        out.loc[hidden, column] = pd.NA
    out["population_share"] = out["population_share"].astype("Float64")
    out.loc[small_group, "population_share"] = pd.NA
    out["suppressed"] = hidden
    return out
