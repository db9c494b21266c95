"""Placing new customers in the segments of a fitted segmentation.

Some algorithms define where a new point belongs (``predict``: k-means, mini-batch k-means,
GMM, Birch…). Others only label the points they were fitted on; for those segbench uses a
documented method chosen by :func:`assigner_for`:

===================== ======================== ==============================================
estimator             method                   rule
===================== ======================== ==============================================
has ``predict``       ``predict``              the estimator's own rule (nearest centroid,
                                               most probable component, …)
``hdbscan.HDBSCAN``   ``approximate_predict``  McInnes & Healy's approximate prediction
                                               (``hdbscan.approximate_predict``): the point is
                                               placed in the condensed tree where it would
                                               have joined, without refitting; ``-1`` when it
                                               would be noise. Needs ``prediction_data=True``
                                               (generated on demand otherwise).
``DBSCAN``            ``nearest_core_point``   the label of the nearest core sample when it is
                                               within ``eps`` (DBSCAN's own rule for border
                                               points), else noise ``-1``.
anything else         ``surrogate_knn``        a k-nearest-neighbour classifier (``k = 15``,
(agglomerative,       (surrogate classifier)   distance-weighted) trained on the fitted
scikit-learn HDBSCAN,                          points and their labels (at most
OPTICS, spectral…)                             ``max_train`` of them, sampled with the seed).
===================== ======================== ==============================================

Each method is an estimator with scikit-learn's contract: parameters in ``__init__``,
``fit(X, labels)`` on the points the segmentation was fitted on, ``predict(X_new)``.

How well a method reproduces the segmentation on customers it has not seen is measured by
:func:`holdout_agreement` and logged as the run metrics (names stable):

``assign.agreement``        share of held-out customers the method puts in the segment the
                            full fit gave them (segment ids of the refit matched to the full
                            fit's by Hungarian assignment on the training customers)
``assign.agreement_ari``    adjusted Rand index between the two labelings of the held-out
                            customers (no matching needed)
``assign.train_agreement``  the same share on the training customers: how far the refit
                            alone moves them (the part of the disagreement not due to the
                            assignment method)
``assign.holdout_customers`` number of held-out customers

Protocol: shuffle the customers (seeded), hold out ``holdout`` of them (at most
``max_customers`` customers take part; larger data are sampled), refit the configured
algorithm on the rest, assign the held-out customers with the method, compare with the labels
of the run's fit on everyone.

Example
-------
>>> from sklearn.cluster import AgglomerativeClustering
>>> from sklearn.datasets import make_blobs
>>> X, _ = make_blobs(300, centers=3, random_state=0)
>>> model = AgglomerativeClustering(3).fit(X)
>>> assigner = assigner_for(model).fit(X, model.labels_)
>>> assigner.method, bool((assigner.predict(X[:50]) == model.labels_[:50]).all())
('surrogate_knn', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from segbench.algorithms import K_PARAMS, fit_labels, fit_segmentation, sensitive_fit_params
from segbench.data.sampling import sample_rows
from segbench.errors import ConfigError, DataError
from segbench.evaluation.matching import match_by_overlap, relabel
from segbench.settings import AlgoSettings

METHODS = ("auto", "predict", "approximate_predict", "nearest_core_point", "surrogate_knn")


def _labels(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


class NativePredict(BaseEstimator):
    """The estimator's own ``predict``."""

    method = "predict"

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: np.ndarray, labels: np.ndarray) -> NativePredict:
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return _labels(self.estimator.predict(X))


class ApproximatePredict(BaseEstimator):
    """``hdbscan.approximate_predict`` of a fitted ``hdbscan.HDBSCAN``."""

    method = "approximate_predict"

    def __init__(self, clusterer: Any = None) -> None:
        self.clusterer = clusterer

    def fit(self, X: np.ndarray, labels: np.ndarray) -> ApproximatePredict:
        if getattr(self.clusterer, "prediction_data_", None) is None:
            self.clusterer.generate_prediction_data()
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        import hdbscan

        labels, _strengths = hdbscan.approximate_predict(self.clusterer, X)
        return _labels(labels)


class NearestCorePoint(BaseEstimator):
    """DBSCAN's rule for a new point: the nearest core sample's label if within ``eps``."""

    method = "nearest_core_point"

    def __init__(self, dbscan: Any = None) -> None:
        self.dbscan = dbscan

    def fit(self, X: np.ndarray, labels: np.ndarray) -> NearestCorePoint:
        core = np.asarray(self.dbscan.core_sample_indices_)
        labels = _labels(labels)
        self.eps_ = float(self.dbscan.eps)
        self.core_labels_ = labels[core]
        self.n_features_in_ = X.shape[1]
        if len(core):
            self.index_ = NearestNeighbors(
                n_neighbors=1, metric=self.dbscan.metric, p=self.dbscan.p
            ).fit(np.asarray(X)[core])
        else:
            self.index_ = None
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        out = np.full(len(X), -1, dtype=np.int64)
        if self.index_ is None or len(X) == 0:
            return out
        dist, idx = self.index_.kneighbors(X, n_neighbors=1)
        near = dist[:, 0] <= self.eps_
        out[near] = self.core_labels_[idx[near, 0]]
        return out


class SurrogateKNN(BaseEstimator):
    """A distance-weighted k-NN classifier trained on the fitted points and their labels."""

    method = "surrogate_knn"

    def __init__(self, n_neighbors: int = 15, max_train: int = 100_000, seed: int = 0) -> None:
        self.n_neighbors = n_neighbors
        self.max_train = max_train
        self.seed = seed

    def fit(self, X: np.ndarray, labels: np.ndarray) -> SurrogateKNN:
        X, labels = np.asarray(X), _labels(labels)
        keep = sample_rows(len(X), self.max_train, self.seed)
        if keep is not None:
            X, labels = X[keep], labels[keep]
        k = max(1, min(self.n_neighbors, len(X)))
        self.classifier_ = KNeighborsClassifier(n_neighbors=k, weights="distance").fit(X, labels)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return _labels(self.classifier_.predict(X))


def assigner_for(estimator: Any, method: str = "auto", seed: int = 0) -> BaseEstimator:
    """The (unfitted) assignment method for a fitted ``estimator`` (see the module table)."""
    if method not in METHODS:
        raise ConfigError(f"assignment method {method!r} unknown; expected one of {METHODS}")
    if getattr(estimator, "density_based", False) and hasattr(estimator, "estimator_"):
        # segbench.algorithms.density: the fitted library estimator, with the values used
        estimator = estimator.estimator_
    module = type(estimator).__module__
    name = type(estimator).__name__
    if method == "auto":
        if hasattr(estimator, "predict"):
            method = "predict"
        elif module.startswith("hdbscan") and name == "HDBSCAN":
            method = "approximate_predict"
        elif name == "DBSCAN" and hasattr(estimator, "core_sample_indices_"):
            method = "nearest_core_point"
        else:
            method = "surrogate_knn"
    if method == "predict":
        if not hasattr(estimator, "predict"):
            raise ConfigError(f"{name} has no predict method; use method='auto'")
        return NativePredict(estimator)
    if method == "approximate_predict":
        return ApproximatePredict(estimator)
    if method == "nearest_core_point":
        return NearestCorePoint(estimator)
    return SurrogateKNN(seed=seed)


def refit(template: Any, X: np.ndarray, sensitive: Any = None) -> tuple[Any, np.ndarray]:
    """Fit a copy of ``template`` on ``X``: ``(estimator, labels)``.

    ``template`` is an algorithm config (built with :func:`segbench.algorithms.build_estimator`
    and its guards) or an estimator whose parameters are copied (``sklearn.base.clone``), e.g.
    a run's tuned estimator, so refits use the parameters the run actually used.
    ``sensitive`` (rows aligned with ``X``) reaches fairness-aware estimators
    (``requires_sensitive``), which cannot be refitted without it.
    """
    if isinstance(template, Mapping | AlgoSettings):
        seg = fit_segmentation(template, X, sensitive)
        return seg.estimator, seg.labels
    estimator = clone(template)
    fit_params = sensitive_fit_params(estimator, sensitive)
    params = estimator.get_params(deep=False)
    for key in K_PARAMS:
        if params.get(key) is not None and int(params[key]) > len(X):
            raise DataError(
                f"{key}={params[key]} is larger than the number of customers ({len(X)}) to refit on"
            )
    return estimator, fit_labels(estimator, X, **fit_params)


def holdout_agreement(
    template: Any,
    X: np.ndarray,
    labels: np.ndarray,
    holdout: float = 0.2,
    seed: int = 0,
    max_customers: int = 50_000,
    method: str = "auto",
    sensitive: Any = None,
) -> tuple[dict[str, float], str]:
    """Agreement of the assignment method with the full fit on held-out customers.

    ``template``: the algorithm config or the run's estimator (see :func:`refit`);
    ``sensitive``: a frame of sensitive attributes aligned with ``X`` (fairness-aware
    algorithms only). Returns
    ``(metrics, method name)``; see the module docstring for the protocol and metric names.
    """
    if not 0 < holdout < 1:
        raise ConfigError(f"assign holdout={holdout}; expected a share in (0, 1)")
    labels = _labels(labels)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))[: min(len(X), max_customers)]
    n_held = max(1, round(holdout * len(order)))
    held, train = order[:n_held], order[n_held:]
    part = None if sensitive is None else sensitive.iloc[train]
    estimator, train_labels = refit(template, X[train], part)
    assigner = assigner_for(estimator, method, seed).fit(X[train], train_labels)
    predicted = assigner.predict(X[held])
    mapping = match_by_overlap(labels[train], train_labels)
    metrics = {
        "assign.agreement": float(np.mean(relabel(predicted, mapping) == labels[held])),
        "assign.agreement_ari": float(adjusted_rand_score(labels[held], predicted)),
        "assign.train_agreement": float(np.mean(relabel(train_labels, mapping) == labels[train])),
        "assign.holdout_customers": float(n_held),
    }
    return metrics, assigner.method
