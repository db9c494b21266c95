"""Every metric of a fitted segmentation, as configured: the one scoring function that a run
and each tuning trial call, so a tuning objective can be any logged metric.
"""

from __future__ import annotations

from omegaconf import DictConfig

from segbench.algorithms import Segmentation
from segbench.customer_data import CustomerData
from segbench.evaluation.metrics import evaluate
from segbench.fairness.scoring import fairness_scores
from segbench.features import FeatureMatrix


def score(
    cfg: DictConfig, features: FeatureMatrix, data: CustomerData, seg: Segmentation
) -> tuple[dict[str, float], dict[str, str]]:
    """Metrics and notes of ``seg`` (internal, external when labels exist, model-specific,
    and ``fairness.<attribute>.<metric>`` per audited sensitive attribute, see
    :mod:`segbench.fairness.scoring`)."""
    truth = None
    if data.labels is not None and cfg.evaluation.get("external", True):
        truth = data.labels.reindex(features.index).astype(str).to_numpy()
    metrics, notes = evaluate(
        features.X,
        seg.labels,
        truth=truth,
        model=seg.estimator,
        silhouette_sample_size=cfg.evaluation.silhouette_sample_size,
        seed=cfg.seed,
    )
    metrics["fit_seconds"] = seg.fit_seconds
    metrics.update(fairness_scores(cfg, features.X, features.index, data, seg.labels))
    return metrics, notes
