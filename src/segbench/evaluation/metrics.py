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
the reason is returned in ``notes["metrics_skipped"]``. Directions, families and ranges of
these and every other metric: :mod:`segbench.evaluation.registry`.
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
    silhouette_samples,
)

from segbench.data.sampling import sample_rows


def silhouette_sample(
    X: np.ndarray, labels: np.ndarray, sample_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The customers the silhouette is computed on, and each one's silhouette.

    Non-noise customers; above ``sample_size`` of them a seeded sample of that size
    (:func:`segbench.data.sampling.sample_rows`). Returns ``(row positions, silhouettes)``,
    or ``None`` when fewer than two segments are left. The logged ``silhouette`` is the mean
    of these values, and the fairness silhouette gap compares them by group.
    """
    labels = np.asarray(labels)
    rows = np.flatnonzero(labels != -1)
    picked = sample_rows(len(rows), sample_size, seed)
    if picked is not None:
        rows = rows[picked]
    if len(np.unique(labels[rows])) < 2:
        return None
    return rows, silhouette_samples(X[rows], labels[rows])


def sampled_silhouette(
    X: np.ndarray, labels: np.ndarray, sample_size: int, seed: int
) -> tuple[float, int]:
    """Mean silhouette on at most ``sample_size`` non-noise points (seeded); returns
    ``(value, points used)``, the value NaN with fewer than two segments."""
    sample = silhouette_sample(X, labels, sample_size, seed)
    if sample is None:
        labels = np.asarray(labels)
        return float("nan"), min(int((labels != -1).sum()), sample_size)
    return float(np.mean(sample[1])), len(sample[0])


def evaluate(
    X: np.ndarray,
    labels: np.ndarray,
    truth: np.ndarray | None = None,
    model: Any = None,
    silhouette_sample_size: int = 10_000,
    seed: int = 0,
    silhouettes: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """All metrics of a segmentation; returns ``(metrics, notes)``.

    ``silhouettes``: the result of :func:`silhouette_sample` when the caller already has it
    (it is computed here otherwise).
    """
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
        if silhouettes is None:
            silhouettes = silhouette_sample(X, labels, silhouette_sample_size, seed)
        if silhouettes is not None:
            metrics["silhouette"] = float(np.mean(silhouettes[1]))
        used = (
            len(silhouettes[0]) if silhouettes is not None else min(len(lc), silhouette_sample_size)
        )
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
