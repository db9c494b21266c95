"""Assignment of new customers: the methods, the whole-path pyfunc model, the assign CLI."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

from segbench.errors import ConfigError
from segbench.serving.assignment import (
    ApproximatePredict,
    NativePredict,
    NearestCorePoint,
    SurrogateKNN,
    assigner_for,
    holdout_agreement,
)

BLOBS, BLOB_LABELS = make_blobs(
    600, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=0.7, random_state=3
)


@pytest.fixture(autouse=True)
def _one_openmp_thread():
    """Small fits slow down 10-500x when OpenMP threads outnumber free cores (shared CI)."""
    with threadpool_limits(1, user_api="openmp"):
        yield


@pytest.mark.parametrize(
    ("estimator", "expected"),
    [
        (KMeans(3, n_init=2, random_state=0), NativePredict),
        (AgglomerativeClustering(3), SurrogateKNN),
        (DBSCAN(eps=0.8, min_samples=5), NearestCorePoint),
    ],
)
def test_each_algorithm_gets_its_documented_method(estimator, expected):
    labels = estimator.fit_predict(BLOBS)
    assigner = assigner_for(estimator).fit(BLOBS, labels)
    assert isinstance(assigner, expected)
    # far inside each blob, every method gives the blob's segment
    centres = np.array([[0, 0], [6, 0], [0, 6]], dtype=float)
    nearest = [labels[np.argmin(np.linalg.norm(BLOBS - c, axis=1))] for c in centres]
    np.testing.assert_array_equal(assigner.predict(centres), nearest)


def test_hdbscan_uses_approximate_predict_even_without_prediction_data():
    import hdbscan

    clusterer = hdbscan.HDBSCAN(min_cluster_size=30, prediction_data=False).fit(BLOBS)
    assigner = assigner_for(clusterer).fit(BLOBS, clusterer.labels_)
    assert isinstance(assigner, ApproximatePredict)
    assert clusterer.prediction_data_ is not None  # generated on demand
    far = np.array([[100.0, 100.0]])
    assert assigner.predict(far)[0] == -1  # far from everything: noise
    centre = np.array([[6.0, 0.0]])
    expected = clusterer.labels_[np.argmin(np.linalg.norm(BLOBS - centre, axis=1))]
    assert assigner.predict(centre)[0] == expected


def test_nearest_core_point_follows_dbscans_eps_rule():
    X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [20.0]])
    model = DBSCAN(eps=0.15, min_samples=2).fit(X)
    assigner = NearestCorePoint(model).fit(X, model.labels_)
    out = assigner.predict(np.array([[0.05], [5.3], [0.5], [19.0]]))
    assert out[0] == model.labels_[0]
    assert out[1] == model.labels_[3]
    assert out[2] == -1 and out[3] == -1  # farther than eps from every core point


def test_surrogate_reproduces_the_labels_of_the_fitted_points():
    model = AgglomerativeClustering(3, linkage="average").fit(BLOBS)
    assigner = SurrogateKNN().fit(BLOBS, model.labels_)
    np.testing.assert_array_equal(assigner.predict(BLOBS), model.labels_)


def test_unknown_or_impossible_methods_are_refused():
    with pytest.raises(ConfigError, match="unknown"):
        assigner_for(KMeans(2), method="magic")
    with pytest.raises(ConfigError, match="no predict"):
        assigner_for(AgglomerativeClustering(2), method="predict")


@pytest.mark.parametrize(
    "template",
    [
        {
            "name": "kmeans",
            "_target_": "sklearn.cluster.KMeans",
            "n_clusters": 3,
            "n_init": 2,
            "random_state": 0,
        },
        AgglomerativeClustering(3),
        {
            "name": "hdbscan",
            "_target_": "hdbscan.HDBSCAN",
            "min_cluster_size": 30,
            "prediction_data": True,
        },
    ],
)
def test_holdout_agreement_is_high_on_separated_blobs(template):
    from segbench.serving.assignment import refit

    _, labels = refit(template, BLOBS)
    metrics, method = holdout_agreement(template, BLOBS, labels, holdout=0.25, seed=1)
    assert metrics["assign.holdout_customers"] == 150
    assert metrics["assign.agreement"] > 0.95, (method, metrics)
    assert metrics["assign.agreement_ari"] > 0.9
    assert 0 <= metrics["assign.train_agreement"] <= 1


def test_holdout_agreement_reports_disagreement_honestly():
    # labels unrelated to the geometry: no method can reproduce them
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, len(BLOBS))
    metrics, _ = holdout_agreement(KMeans(3, n_init=2, random_state=0), BLOBS, labels, seed=0)
    assert metrics["assign.agreement"] < 0.6
    assert abs(metrics["assign.agreement_ari"]) < 0.1
