"""Responsible segmentation: fairness metrics, the proxy audit and the fairness scores of a run.

- :mod:`segbench.fairness.metrics` — ``balance``, ``dp_difference``, ``silhouette_gap``,
  ``distribution_distance`` and the per-segment × per-group table (formulas, references).
- :mod:`segbench.fairness.proxy` — can the clustering features predict a sensitive attribute?
- :mod:`segbench.fairness.scoring` — the configured metrics of a segmentation, called by
  :func:`segbench.evaluation.suite.score` (so they are tuning objectives).
- :mod:`segbench.fairness.report` — everything a run logs about fairness, privacy and
  transparency (:func:`log_responsibility`).
"""

from segbench.fairness.metrics import (
    FAIRNESS_DIRECTIONS,
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
    "FAIRNESS_DIRECTIONS",
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
