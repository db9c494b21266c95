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
  maximised over segments.
- Rousseeuw (1987), *Silhouettes*, J. Comput. Appl. Math. 20: the per-customer silhouette.
- Levin, Peres, Wilmer (2009), *Markov Chains and Mixing Times*, §4.1: total variation distance
  ``½ Σ |p − q|``.

A single group (or no customer with a known value) makes every metric trivial:
``balance = 1`` and the differences 0.

Every metric comes from the counts ``n_ka`` (one ``np.bincount``) or, for the silhouette gap,
one mean per group, in numpy: linear in customers. fairlearn's ``MetricFrame`` gives the same
``dp_difference`` and ``silhouette_gap`` (``tests/test_fairness_metrics.py`` compares them on a
real dataset) at about ten times the cost of the whole scoring of a small run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def group_codes(groups: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's group as an integer code into the sorted group names (``-1``: missing),
    and the names (the values as text, only those present): a categorical is read from its
    codes, anything else coded by one hash pass, so no string is made per customer.

    >>> codes, names = group_codes(np.array(["b", None, 1, "a", "1"], dtype=object))
    >>> codes.tolist(), names.tolist()
    ([2, -1, 0, 1, 0], ['1', 'a', 'b'])
    >>> codes, names = group_codes(pd.Series(["m", None, "f"], dtype="category"))
    >>> codes.tolist(), names.tolist()
    ([1, -1, 0], ['f', 'm'])
    """
    dtype = getattr(groups, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):  # its codes: one code per category
        values = groups.array if isinstance(groups, pd.Series) else groups
        raw = np.asarray(values.codes, dtype=np.intp)
        uniques = np.asarray(values.categories, dtype=object)
        present = np.bincount(raw[raw >= 0], minlength=len(uniques)) > 0
        if not present.all():  # unobserved categories are not groups
            keep = np.flatnonzero(present)
            recode = np.full(len(uniques) + 1, -1, dtype=np.intp)
            recode[keep] = np.arange(len(keep))
            raw, uniques = recode[raw], uniques[keep]  # code -1 reads the last entry: -1
    else:
        raw, uniques = pd.factorize(np.asarray(groups, dtype=object))
    text = np.array([str(u) for u in uniques], dtype=object)
    names, of_unique = np.unique(text, return_inverse=True)
    codes = np.where(raw >= 0, of_unique.reshape(-1)[np.maximum(raw, 0)], -1)
    return codes.astype(np.intp, copy=False), names.astype(object)


def _known(
    labels: np.ndarray, groups: pd.Series | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and group codes (into the sorted group names, :func:`group_codes`) of the
    customers whose group is known, and the names."""
    labels = np.asarray(labels)
    codes, names = group_codes(groups)
    if len(codes) != len(labels):
        raise DataError(
            f"fairness: {len(labels)} segment labels but {len(codes)} sensitive values; "
            "they must describe the same customers"
        )
    known = codes >= 0
    return labels[known], codes[known], names


def _table(
    labels: np.ndarray, groups: pd.Series | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of customers per (segment, group), the customers with a known group only, as
    ``pd.crosstab`` orders them (segments and group names sorted), from one ``bincount``;
    returns ``(counts, segments, group names)``."""
    lab, grp_code, names = _known(labels, groups)
    # sorted codes as np.unique gives them, by hashing (np.unique sorts a million values)
    seg_code, segments = pd.factorize(lab, sort=True)
    flat = np.bincount(seg_code * len(names) + grp_code, minlength=len(segments) * len(names))
    return flat.reshape(len(segments), len(names)).astype(np.int64), np.asarray(segments), names


def counts(labels: np.ndarray, groups: pd.Series | np.ndarray) -> np.ndarray:
    """Counts ``n_ka`` as an array: one row per segment (sorted, noise ``-1`` included), one
    column per group with a known value (sorted), from one ``np.bincount``.

    >>> counts([0, 0, 1], ["f", "m", "f"]).tolist()
    [[1, 1], [1, 0]]
    """
    table, segments, _ = _table(labels, groups)
    return table if len(segments) else np.zeros((0, 0), dtype=np.int64)


def crosstab(labels: np.ndarray, groups: pd.Series | np.ndarray) -> pd.DataFrame:
    """Counts ``n_ka``: one row per segment (noise ``-1`` included), one column per group."""
    table, segments, names = _table(labels, groups)
    if len(segments) == 0:
        return pd.DataFrame(dtype=np.int64)
    return pd.DataFrame(
        table,
        index=pd.Index(segments, name="segment"),
        columns=pd.Index(names, name="group"),
    )


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
    return _balance(counts(labels, groups))


def _balance(n: np.ndarray) -> float:
    if n.shape[0] == 0 or n.shape[1] < 2:
        return 1.0
    rho = (n / n.sum(axis=1, keepdims=True)) / (n.sum(axis=0) / n.sum())
    return float((rho.min(axis=1) / rho.max(axis=1)).min())


def dp_difference(labels: np.ndarray, groups: pd.Series | np.ndarray) -> float:
    """Largest demographic-parity difference of one-vs-rest segment membership.

    ``max_k (max_a P(segment = k | a) − min_a P(segment = k | a))``: fairlearn's
    ``demographic_parity_difference`` of "in segment ``k``" (the ``difference()`` between
    groups of a ``MetricFrame`` of ``selection_rate`` with ``pos_label=k``), maximum over
    segments, computed from the counts.

    >>> dp_difference([0, 0, 1, 1], ["f", "f", "m", "m"])
    1.0
    """
    return _dp_difference(counts(labels, groups))


def _dp_difference(n: np.ndarray) -> float:
    if n.shape[0] == 0 or n.shape[1] < 2:
        return 0.0
    rate = n / n.sum(axis=0)  # q(k|a): the selection rate of segment k in group a
    return float((rate.max(axis=1) - rate.min(axis=1)).max())


def distribution_distance(labels: np.ndarray, groups: pd.Series | np.ndarray) -> float:
    """Largest total variation distance between a group's and the population's segment mix.

    ``max_a ½ Σ_k |n_ka / n_a − n_k / n|`` (0 = every group spreads over the segments like
    the population; 1 = some group lives entirely in segments the others never enter).

    >>> distribution_distance([0, 0, 1, 1], ["f", "f", "m", "m"])
    0.5
    """
    return _distribution_distance(counts(labels, groups))


def _distribution_distance(n: np.ndarray) -> float:
    if n.shape[0] == 0 or n.shape[1] < 2:
        return 0.0
    of_group = n / n.sum(axis=0)
    population = n.sum(axis=1, keepdims=True) / n.sum()
    return float((0.5 * np.abs(of_group - population).sum(axis=0)).max())


def silhouette_gap(silhouettes: np.ndarray, groups: pd.Series | np.ndarray) -> float:
    """Largest difference between groups of the mean silhouette of their members.

    ``max_a s̄_a − min_a s̄_a`` with ``s̄_a`` the mean of the per-customer silhouettes
    (Rousseeuw 1987) of group ``a``'s members (fairlearn's ``MetricFrame`` of
    ``mean_prediction``, ``difference()``; here one ``np.mean`` per group). ``silhouettes``
    are those of the main silhouette's sample (non-noise customers), ``groups`` the attribute
    of the same customers. A group with no sampled member does not count.

    >>> round(silhouette_gap([0.5, 0.7, 0.1, 0.3], ["f", "f", "m", "m"]), 3)
    0.4
    """
    values = np.asarray(silhouettes, dtype=float)
    sil, grp, _ = _known(values, groups)  # codes in the order of the group names
    if len(sil) == 0 or len(np.unique(grp)) < 2:
        return 0.0
    order = np.argsort(grp, kind="stable")
    _, starts = np.unique(grp[order], return_index=True)
    means = [float(np.mean(part)) for part in np.split(sil[order], starts[1:])]
    return max(means) - min(means)


def fairness_metrics(
    labels: np.ndarray,
    groups: pd.Series | np.ndarray,
    silhouettes: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """Every metric of one attribute, keyed by metric name (see the module table).

    ``silhouettes`` is ``(per-customer silhouettes, their groups)`` of the silhouette sample,
    or ``None`` to leave ``silhouette_gap`` out.
    """
    n = counts(labels, groups)  # once for the three metrics of the counts
    metrics = {
        "balance": _balance(n),
        "dp_difference": _dp_difference(n),
        "distribution_distance": _distribution_distance(n),
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
