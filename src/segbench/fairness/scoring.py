"""The fairness metrics of a fitted segmentation, as configured (config group ``fairness/``).

:func:`fairness_scores` is what :func:`segbench.evaluation.suite.score` calls, so every
``fairness.<attribute>.<metric>`` is a metric of runs *and* of tuning trials (a tuning
objective such as ``fairness.gender.balance:max``). Metrics and their formulas:
:mod:`segbench.fairness.metrics`.

Config (``conf/fairness/default.yaml``): ``attributes`` — the sensitive attributes to audit;
``null`` means every column of the dataset's ``sensitive`` part (none when it has none, so
fairness is on by default exactly where there is something to audit); an explicit list must
name columns of that part. ``silhouette_gap`` — compute the per-group silhouette gap (it needs
per-customer silhouettes on the main silhouette's sample, about as costly again as the main
silhouette).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_samples

from segbench.customer_data import CustomerData
from segbench.errors import ConfigError
from segbench.fairness.metrics import fairness_metrics


def sensitive_frame(data: CustomerData, index: pd.Index) -> pd.DataFrame | None:
    """The dataset's sensitive attributes in the row order of ``index`` (or ``None``)."""
    if data.sensitive is None or data.sensitive.shape[1] == 0:
        return None
    return data.sensitive.reindex(index)


def resolve_attributes(fairness_cfg: Mapping[str, Any] | None, data: CustomerData) -> list[str]:
    """The attributes to audit: the configured list, or every sensitive column when null."""
    available = [] if data.sensitive is None else [str(c) for c in data.sensitive.columns]
    if fairness_cfg is None:
        return []
    wanted = fairness_cfg.get("attributes")
    if wanted is None:
        return available
    wanted = [str(a) for a in wanted]
    unknown = [a for a in wanted if a not in available]
    if unknown:
        raise ConfigError(
            f"fairness.attributes names {unknown}, which dataset '{data.name}' does not have as "
            f"sensitive attributes; it has: {', '.join(available) or 'none'}. Use "
            "fairness.attributes=null for all of them or fairness=none to audit nothing."
        )
    return wanted


def silhouette_sample(
    X: np.ndarray, labels: np.ndarray, sample_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Row positions and per-customer silhouettes of the main silhouette's sample.

    Draws exactly the sample of :func:`segbench.evaluation.metrics.sampled_silhouette`
    (non-noise customers; above ``sample_size`` a seeded ``default_rng(seed).choice`` of that
    size), so the mean of the returned silhouettes is the logged ``silhouette``.
    """
    labels = np.asarray(labels)
    rows = np.flatnonzero(labels != -1)
    if len(np.unique(labels[rows])) < 2:
        return None
    if len(rows) > sample_size:
        rng = np.random.default_rng(seed)
        rows = rows[rng.choice(len(rows), size=sample_size, replace=False)]
    if len(np.unique(labels[rows])) < 2:
        return None
    return rows, silhouette_samples(X[rows], labels[rows])


def fairness_scores(
    cfg: Mapping[str, Any],
    X: np.ndarray,
    index: pd.Index,
    data: CustomerData,
    labels: np.ndarray,
) -> dict[str, float]:
    """``fairness.<attribute>.<metric>`` for every configured attribute (empty when none)."""
    fairness_cfg = cfg.get("fairness")
    attributes = resolve_attributes(fairness_cfg, data)
    sensitive = sensitive_frame(data, index)
    if not attributes or sensitive is None:
        return {}
    sample = None
    if fairness_cfg.get("silhouette_gap", True):
        evaluation = cfg.get("evaluation") or {}
        sample = silhouette_sample(
            X,
            labels,
            int(evaluation.get("silhouette_sample_size", 10_000)),
            int(cfg.get("seed", 0)),
        )
    out: dict[str, float] = {}
    for attribute in attributes:
        groups = sensitive[attribute]
        sil = None
        if sample is not None:
            rows, values = sample
            sil = (values, groups.to_numpy()[rows])
        for name, value in fairness_metrics(labels, groups.to_numpy(), sil).items():
            out[f"fairness.{attribute}.{name}"] = value
    return out
