"""DBCV (Moulavi et al. 2014) for density methods: the index, its sample, the scorer hook."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs, make_moons

from segbench.algorithms import Segmentation
from segbench.algorithms.density import DBSCAN
from segbench.data import CustomerData, DatasetMeta
from segbench.evaluation.dbcv import dbcv_score, is_density_based, sampled_dbcv
from segbench.evaluation.registry import lookup
from segbench.evaluation.suite import Scorer
from segbench.features import FeatureMatrix
from segbench.settings import EvaluationSettings


def test_hand_checked_example():
    """Two 3-point segments on a line, d = 1 (worked in the module docstring).

    Core distances (1/((1/1 + 1/2)/2) = 4/3 at the ends, 1 in the middle); reachability
    tree 0-1-2 with edges 4/3, 4/3 and no internal edge, so DSC = 4/3; the internal vertices
    are the middles (1 and 11), DSPC = max(10, 1, 1) = 10; V = (10 - 4/3)/10 = 13/15.
    """
    X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert dbcv_score(X, labels) == pytest.approx(13 / 15)
    # a noise point counts against the score: 6 of 7 points are in segments
    noisy = np.vstack([X, [[100.0]]])
    assert dbcv_score(noisy, np.append(labels, -1)) == pytest.approx(6 / 7 * 13 / 15)
    # the same in 2 dimensions (rotated onto the diagonal): d = 2 changes only the core
    # distances (1/sqrt((1 + 1/4)/2) = 1.2649 at the ends); DSC = 1.2649, DSPC = 10
    rotated = np.column_stack([X[:, 0], X[:, 0]]) / np.sqrt(2)
    core_end = 1 / np.sqrt((1 + 1 / 4) / 2)
    assert dbcv_score(rotated, labels) == pytest.approx((10 - core_end) / 10)


def test_agrees_with_the_hdbscan_library_where_the_tree_is_unique():
    hdbscan = pytest.importorskip("hdbscan")
    X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0], [100.0]])
    labels = np.array([0, 0, 0, 1, 1, 1, -1])
    assert dbcv_score(X, labels) == pytest.approx(hdbscan.validity_index(X, labels))


def test_independent_of_row_order_and_of_translation():
    X, y = make_blobs(300, centers=3, n_features=3, random_state=0)
    reference = dbcv_score(X, y)
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(len(X))
        assert dbcv_score(X[order], y[order]) == pytest.approx(reference, abs=1e-12)
    assert dbcv_score(X + 7.0, y) == pytest.approx(reference, abs=1e-12)


def test_orders_segmentations_as_a_density_method_would():
    X, y = make_moons(400, noise=0.05, random_state=0)
    moons = dbcv_score(X, y)
    halves = dbcv_score(X, (X[:, 0] > 0.5).astype(int))  # a straight cut through both moons
    assert moons > 0 > halves + 0.5
    assert -1 <= halves <= moons <= 1


def test_many_dimensions_do_not_overflow():
    rng = np.random.default_rng(0)
    X = rng.normal(scale=0.01, size=(200, 384))
    X[100:] += 0.05
    value = dbcv_score(X, np.repeat([0, 1], 100))
    assert np.isfinite(value) and -1 <= value <= 1


def test_undefined_with_one_segment():
    X, _ = make_blobs(100, centers=1, random_state=0)
    assert np.isnan(dbcv_score(X, np.zeros(100, dtype=int)))
    assert np.isnan(sampled_dbcv(X, np.full(100, -1), 50, seed=0)[0])


def test_sampled_value_is_close_to_the_exact_one_and_keeps_the_whole_datas_weights():
    X, _ = make_blobs(3000, centers=4, n_features=4, cluster_std=1.0, random_state=1)
    labels = DBSCAN().fit(X).labels_
    assert 0 < (labels == -1).mean() < 0.1 and len(set(labels)) == 5
    exact, used = sampled_dbcv(X, labels, 5000, seed=0)
    assert used == (labels != -1).sum()
    sampled, used = sampled_dbcv(X, labels, 1000, seed=0)
    assert 990 <= used <= 1010
    # an estimate: density at the sample's resolution (here 0.55 against 0.42 exact)
    assert exact > 0.3 and sampled == pytest.approx(exact, abs=0.15)
    assert sampled_dbcv(X, labels, 1000, seed=0) == (sampled, used)  # seeded


def test_registered_with_direction_and_range():
    metric = lookup("dbcv")
    assert (metric.direction, metric.bounds) == ("max", (-1.0, 1.0))
    assert lookup("dbcv_sample_size").direction is None


def test_the_scorer_computes_it_for_density_methods_only():
    X, _ = make_blobs(400, centers=3, random_state=1)
    ids = pd.Index([f"c{i}" for i in range(len(X))], name="customer_id")
    data = CustomerData(customers=pd.DataFrame(index=ids), meta=DatasetMeta(name="toy"))
    features = FeatureMatrix(X, ids, ["a", "b"], {"toy": ["a", "b"]})
    scorer = Scorer(EvaluationSettings(dbcv_sample_size=200))
    model = DBSCAN().fit(X)
    metrics, notes = scorer(features, data, Segmentation(model, model.labels_, 0.0))
    assert -1 <= metrics["dbcv"] <= 1 and metrics["dbcv_sample_size"] == pytest.approx(200, abs=3)
    assert notes["resolved_params"] == f"eps={model.eps_:.4g}, min_samples=5"
    from sklearn.cluster import KMeans

    kmeans = KMeans(3, n_init=2, random_state=0).fit(X)
    metrics, notes = scorer(features, data, Segmentation(kmeans, kmeans.labels_, 0.0))
    assert "dbcv" not in metrics and "resolved_params" not in notes
    assert is_density_based(__import__("hdbscan").HDBSCAN())
