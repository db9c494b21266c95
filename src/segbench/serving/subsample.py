"""Subsample-then-assign: methods whose plain fit is quadratic, on millions of customers.

HDBSCAN, DBSCAN and agglomerative clustering cost O(n²) time or memory in the worst case (a
large ``eps``, Ward's distance matrix), so their configs carry a ``max_customers`` guard above
which the plain fit is refused before any work (:func:`segbench.algorithms.check_size`, whose
message names this mode). With ``algo.subsample=<m>`` the run instead

1. draws a seeded sample of ``m`` customers (:func:`segbench.data.sampling.sample_rows`,
   seed = the run's ``seed``) and fits the configured algorithm on it, with its guards;
2. assigns every other customer with the assignment method the project uses for new
   customers (:func:`segbench.serving.assignment.assigner_for`: HDBSCAN's approximate
   prediction, DBSCAN's nearest core point, a k-NN surrogate for agglomerative), in chunks of
   :data:`ASSIGN_CHUNK` customers so memory stays bounded;
3. measures how well that method reproduces the fit: the assignment agreement protocol of
   :func:`segbench.serving.assignment.holdout_agreement` on the sample (refit on
   ``1 - holdout`` of it, assign the held-out rest, compare with the sample fit's labels).

The run logs (names stable)

``subsample.size``               customers the algorithm was fitted on
``subsample.assigned``           customers placed by the assignment method
``subsample.agreement``          share of held-out sample customers the method puts in the
                                 segment the sample fit gave them (segments matched)
``subsample.agreement_ari``      adjusted Rand index of the same comparison
``subsample.holdout_customers``  number of held-out sample customers

and the tag ``segbench.subsample.method`` (the assignment method). At or below ``m``
customers the mode changes nothing: the algorithm is fitted on everyone, exactly as without
it (so stability refits on small resamples, and small datasets, behave as before).

Example
-------
>>> from sklearn.cluster import AgglomerativeClustering
>>> from sklearn.datasets import make_blobs
>>> X, _ = make_blobs(3000, centers=3, cluster_std=0.6, random_state=1)
>>> model = SubsampleAssign(AgglomerativeClustering(3), sample_size=500, seed=0).fit(X)
>>> len(model.labels_), model.method_, model.metrics_["subsample.size"]
(3000, 'surrogate_knn', 500.0)
>>> model.metrics_["subsample.agreement"]
1.0
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, clone

from segbench import algorithms
from segbench.algorithms import Segmentation, build_estimator, fit_labels, sensitive_fit_params
from segbench.data.sampling import sample_rows
from segbench.serving.assignment import assigner_for, holdout_agreement
from segbench.settings import AlgoSettings
from segbench.settings.base import coerce

log = logging.getLogger(__name__)

#: Customers assigned per call of the assignment method (bounds the memory of the k-NN and
#: nearest-core searches at millions of customers).
ASSIGN_CHUNK = 100_000
#: Share of the sample held out to measure the agreement of the assignment method.
HOLDOUT = 0.2


class SubsampleAssign(ClusterMixin, BaseEstimator):
    """Fit ``estimator`` on a seeded sample of ``sample_size`` rows, assign the others.

    Parameters
    ----------
    estimator
        The unfitted estimator (its parameters are copied, ``sklearn.base.clone``).
    sample_size
        Rows the estimator is fitted on; at or below it every row is (a plain fit).
    seed
        Seed of the sample and of the agreement hold-out.
    holdout
        Share of the sample held out to measure the agreement (module docstring).

    Fitted: ``labels_`` (every row), ``fitted_`` (the estimator fitted on the sample),
    ``sample_`` (its rows, or ``None`` for a plain fit), ``assigner_`` (the assignment
    method, fitted), ``method_``, ``metrics_`` (the ``subsample.*`` metrics; empty for a
    plain fit) and, forwarded from the fitted estimator, ``resolved_params_``.
    """

    def __init__(
        self,
        estimator: Any = None,
        sample_size: int = 50_000,
        seed: int = 0,
        holdout: float = HOLDOUT,
    ) -> None:
        self.estimator = estimator
        self.sample_size = sample_size
        self.seed = seed
        self.holdout = holdout

    @property
    def density_based(self) -> bool:
        """Whether the wrapped method is density-based (the scorer then logs DBCV)."""
        from segbench.evaluation.dbcv import is_density_based

        return is_density_based(self.estimator)

    @property
    def requires_sensitive(self) -> bool:
        return bool(getattr(self.estimator, "requires_sensitive", False))

    def fit(self, X: np.ndarray, y: Any = None, sensitive_features: Any = None) -> SubsampleAssign:
        X = np.asarray(X)
        n = len(X)
        rows = sample_rows(n, int(self.sample_size), self.seed, sort=True)
        fitted = clone(self.estimator)
        part = sensitive_features
        if rows is not None and sensitive_features is not None:
            part = sensitive_features.iloc[rows]
        fit_params = sensitive_fit_params(fitted, part)
        sample = X if rows is None else X[rows]
        sample_labels = fit_labels(fitted, sample, **fit_params)
        assigner = assigner_for(fitted, seed=self.seed).fit(sample, sample_labels)
        self.fitted_, self.sample_, self.assigner_ = fitted, rows, assigner
        self.method_ = assigner.method
        self.n_features_in_ = X.shape[1]
        resolved = getattr(fitted, "resolved_params_", None)
        if resolved is not None:
            self.resolved_params_ = resolved
        if rows is None:
            self.labels_ = sample_labels
            self.metrics_: dict[str, float] = {}
            return self
        labels = np.empty(n, dtype=np.int64)
        labels[rows] = sample_labels
        rest = np.ones(n, dtype=bool)
        rest[rows] = False
        labels[rest] = self._assign(X[rest])
        self.labels_ = labels
        agreement, _ = holdout_agreement(
            fitted,
            sample,
            sample_labels,
            holdout=float(self.holdout),
            seed=self.seed,
            max_customers=len(sample),
            sensitive=part,
        )
        self.metrics_ = {
            "subsample.size": float(len(rows)),
            "subsample.assigned": float(n - len(rows)),
            "subsample.agreement": agreement["assign.agreement"],
            "subsample.agreement_ari": agreement["assign.agreement_ari"],
            "subsample.holdout_customers": agreement["assign.holdout_customers"],
        }
        log.info(
            "subsample: %s fitted on %d of %d customers, the rest assigned by %s "
            "(agreement %.3f on %d held-out sample customers)",
            type(fitted).__name__, len(rows), n, self.method_,
            self.metrics_["subsample.agreement"], int(self.metrics_["subsample.holdout_customers"]),
        )  # fmt: skip
        return self

    def _assign(self, X: np.ndarray) -> np.ndarray:
        out = np.empty(len(X), dtype=np.int64)
        for start in range(0, len(X), ASSIGN_CHUNK):
            out[start : start + ASSIGN_CHUNK] = self.assigner_.predict(
                X[start : start + ASSIGN_CHUNK]
            )
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Segments of new rows, by the assignment method fitted on the sample."""
        return self._assign(np.asarray(X))

    def fit_predict(self, X: np.ndarray, y: Any = None, **fit_params: Any) -> np.ndarray:
        return self.fit(X, **fit_params).labels_


def fit_segmentation(
    algo: AlgoSettings | Mapping[str, Any], X: np.ndarray, sensitive: Any = None, seed: int = 0
) -> Segmentation:
    """:func:`segbench.algorithms.fit_segmentation`, in subsample-then-assign mode when
    ``algo.subsample`` is set and ``X`` has more rows (the module docstring); the mode's
    ``subsample.*`` metrics are in ``Segmentation.metrics``."""
    import time

    algo = coerce(AlgoSettings, algo, "algo")
    size = algo.subsample
    if size is None or len(X) <= size:
        return algorithms.fit_segmentation(algo, X, sensitive)
    template = build_estimator(algo, size)  # the guards, at the size actually fitted
    model = SubsampleAssign(template, sample_size=size, seed=seed)
    fit_params = sensitive_fit_params(template, sensitive, algo.name)
    tic = time.perf_counter()
    model.fit(X, **fit_params)
    seconds = time.perf_counter() - tic
    labels = np.asarray(model.labels_, dtype=np.int64)
    return Segmentation(model, labels, seconds, model.metrics_, {"subsample.method": model.method_})


__all__ = ["ASSIGN_CHUNK", "HOLDOUT", "SubsampleAssign", "fit_segmentation"]
