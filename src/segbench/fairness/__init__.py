"""Responsible segmentation: fairness metrics, the proxy audit, fair clustering.

- :mod:`segbench.fairness.metrics` — ``balance``, ``dp_difference``, ``silhouette_gap``,
  ``distribution_distance`` and the per-segment × per-group table (formulas, references).
- :mod:`segbench.fairness.scoring` — the configured metrics of a segmentation, called by
  :class:`segbench.evaluation.suite.Scorer` (so they are tuning objectives).
- :mod:`segbench.fairness.proxy` — can the clustering features predict a sensitive attribute?
- :mod:`segbench.fairness.fair_kmeans` — k-means with a balance constraint (Bera et al. 2019).

What a run reports about fairness (tables, proxy audit, card) is assembled in
:mod:`segbench.reporting.responsibility`.
"""

from segbench.fairness.metrics import (
    FAIRNESS_METRICS,
    balance,
    distribution_distance,
    dp_difference,
    fairness_metrics,
    group_table,
    silhouette_gap,
)
from segbench.fairness.proxy import ProxyAudit, proxy_audit
from segbench.fairness.scoring import fairness_scores, resolve_attributes, sensitive_frame

__all__ = [
    "FAIRNESS_METRICS",
    "ProxyAudit",
    "balance",
    "distribution_distance",
    "dp_difference",
    "fairness_metrics",
    "fairness_scores",
    "group_table",
    "proxy_audit",
    "resolve_attributes",
    "sensitive_frame",
    "silhouette_gap",
]
