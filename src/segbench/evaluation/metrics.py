"""Metrics of one segmentation, with the stable names the leaderboard reads.

=====================  =========================================================
name                   meaning
=====================  =========================================================
``n_segments``         segments found, noise (label -1) excluded
``noise_fraction``     share of customers labelled noise (0 for partitioning methods)
``silhouette``         mean silhouette on non-noise points; sampled above
                       ``silhouette_sample_size`` (``silhouette_sample_size`` logged)
``davies_bouldin``     Davies–Bouldin index on non-noise points (lower is better)
``calinski_harabasz``  Calinski–Harabasz index on non-noise points
``ari`` ``ami`` ``nmi`` agreement with ground-truth labels over all customers, noise as a
                       segment of its own (only when the dataset has labels)
``bic`` ``aic``        for models that have them (GMM)
``inertia``            for models that have it (k-means)
=====================  =========================================================

Internal indices need at least two segments; with fewer they are absent (not zero) and
the reason is returned in ``notes["metrics_skipped"]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    normalized_mutual_info_score,
    silhouette_score,
)

#: Better direction of every metric ("max" or "min"); the leaderboard and tuning read it.
DIRECTIONS = {
    "silhouette": "max",
    "davies_bouldin": "min",
    "calinski_harabasz": "max",
    "ari": "max",
    "ami": "max",
    "nmi": "max",
    "bic": "min",
    "aic": "min",
    "inertia": "min",
    "noise_fraction": "min",
    "fit_seconds": "min",
    "stability": "max",
    # issue 7 (names documented in segbench.assignment_methods, .predictive, .temporal)
    "assign.agreement": "max",
    "assign.agreement_ari": "max",
    "assign.train_agreement": "max",
    "predictive.spend.r2_segments": "max",
    "predictive.spend.r2_model": "max",
    "predictive.spend.r2_log_segments": "max",
    "predictive.spend.r2_log_model": "max",
    "predictive.spend.mae_segments": "min",
    "predictive.spend.mae_model": "min",
    "predictive.churn.auc_segments": "max",
    "predictive.churn.auc_model": "max",
    "predictive.response.auc_segments": "max",
    "predictive.response.auc_model": "max",
    "predictive.response.max_lift": "max",
    "temporal.stability": "max",
    "temporal.mean_share_tvd": "min",
    "temporal.drift_windows": "min",
    "temporal.online.ari_vs_refit": "max",
    "temporal.online.ari_vs_refit_same_features": "max",
    "temporal.online.inertia_ratio": "min",
    "temporal.online.update_seconds_mean": "min",
    "temporal.online.refit_seconds": "min",
}


def sampled_silhouette(
    X: np.ndarray, labels: np.ndarray, sample_size: int, seed: int
) -> tuple[float, int]:
    """Silhouette on at most ``sample_size`` points (seeded); returns (value, points used)."""
    n = len(labels)
    if n > sample_size:
        rng = np.random.default_rng(seed)
        idx = rng.choice(n, size=sample_size, replace=False)
        X, labels = X[idx], labels[idx]
    if len(np.unique(labels)) < 2:
        return float("nan"), len(labels)
    return float(silhouette_score(X, labels)), len(labels)


def evaluate(
    X: np.ndarray,
    labels: np.ndarray,
    truth: np.ndarray | None = None,
    model: Any = None,
    silhouette_sample_size: int = 10_000,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, str]]:
    """All metrics of a segmentation; returns ``(metrics, notes)``."""
    labels = np.asarray(labels)
    noise = labels == -1
    segments = np.unique(labels[~noise])
    metrics: dict[str, float] = {
        "n_segments": float(len(segments)),
        "noise_fraction": float(noise.mean()) if len(labels) else 0.0,
    }
    notes: dict[str, str] = {}
    if len(segments) >= 2:
        Xc, lc = X[~noise], labels[~noise]
        value, used = sampled_silhouette(Xc, lc, silhouette_sample_size, seed)
        if np.isfinite(value):
            metrics["silhouette"] = value
        metrics["silhouette_sample_size"] = float(used)
        metrics["davies_bouldin"] = float(davies_bouldin_score(Xc, lc))
        metrics["calinski_harabasz"] = float(calinski_harabasz_score(Xc, lc))
    else:
        notes["metrics_skipped"] = (
            f"found {len(segments)} segment(s) (noise excluded); silhouette, davies_bouldin "
            "and calinski_harabasz need at least 2"
        )
    if truth is not None:
        metrics["ari"] = float(adjusted_rand_score(truth, labels))
        metrics["ami"] = float(adjusted_mutual_info_score(truth, labels))
        metrics["nmi"] = float(normalized_mutual_info_score(truth, labels))
    if model is not None:
        if hasattr(model, "bic") and hasattr(model, "aic"):
            metrics["bic"] = float(model.bic(X))
            metrics["aic"] = float(model.aic(X))
        if hasattr(model, "inertia_"):
            metrics["inertia"] = float(model.inertia_)
    return metrics, notes
