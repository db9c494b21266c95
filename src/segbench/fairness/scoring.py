"""The fairness metrics of a fitted segmentation, as configured (``fairness`` settings).

:func:`fairness_scores` is what :class:`segbench.evaluation.suite.Scorer` calls, so every
``fairness.<attribute>.<metric>`` is a metric of runs *and* of tuning trials (a tuning
objective such as ``fairness.gender.balance:max``). Metrics and their formulas:
:mod:`segbench.fairness.metrics`.

Settings (:class:`segbench.settings.FairnessSettings`): ``attributes`` — the sensitive
attributes to audit; ``null`` means every column of the dataset's ``sensitive`` part (none
when it has none, so fairness is on by default exactly where there is something to audit);
an explicit list must name columns of that part. ``silhouette_gap`` — the per-group
silhouette gap, from the per-customer silhouettes of the main silhouette's sample.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from segbench.data.model import CustomerData
from segbench.errors import ConfigError
from segbench.fairness.metrics import fairness_metrics
from segbench.settings import FairnessSettings


def sensitive_frame(data: CustomerData, index: pd.Index) -> pd.DataFrame | None:
    """The dataset's sensitive attributes in the row order of ``index`` (or ``None``)."""
    if data.sensitive is None or data.sensitive.shape[1] == 0:
        return None
    return data.sensitive.reindex(index)


def resolve_attributes(attributes: list[str] | None, data: CustomerData) -> list[str]:
    """The attributes to audit: ``attributes``, or every sensitive column when ``None``."""
    available = [] if data.sensitive is None else [str(c) for c in data.sensitive.columns]
    if attributes is None:
        return available
    wanted = [str(a) for a in attributes]
    unknown = [a for a in wanted if a not in available]
    if unknown:
        raise ConfigError(
            f"fairness.attributes names {unknown}, which dataset '{data.name}' does not have as "
            f"sensitive attributes; it has: {', '.join(available) or 'none'}. Use "
            "fairness.attributes=null for all of them or fairness=none to audit nothing."
        )
    return wanted


def fairness_scores(
    settings: FairnessSettings,
    data: CustomerData,
    index: pd.Index,
    labels: np.ndarray,
    silhouettes: tuple[np.ndarray, np.ndarray] | None = None,
    only: Collection[str] | None = None,
) -> dict[str, float]:
    """``fairness.<attribute>.<metric>`` for every configured attribute (empty when none).

    ``silhouettes``: ``(row positions, silhouettes)`` of the main silhouette's sample
    (:func:`segbench.evaluation.metrics.silhouette_sample`), for the silhouette gap.
    ``only``: just these ``fairness.*`` names (a tuning trial's objectives); ``None``: all.
    """
    attributes = resolve_attributes(settings.attributes, data)
    if only is not None:
        attributes = [a for a in attributes if any(n.startswith(f"fairness.{a}.") for n in only)]
    sensitive = sensitive_frame(data, index)
    if not attributes or sensitive is None:
        return {}
    sample = silhouettes if settings.silhouette_gap else None
    out: dict[str, float] = {}
    for attribute in attributes:
        groups = sensitive[attribute]  # a categorical is counted from its codes
        sil = None
        if sample is not None:
            rows, values = sample
            sil = (values, groups.take(rows))
        if only is not None and f"fairness.{attribute}.silhouette_gap" not in only:
            sil = None
        for name, value in fairness_metrics(labels, groups, sil).items():
            if only is None or f"fairness.{attribute}.{name}" in only:
                out[f"fairness.{attribute}.{name}"] = value
    return out
