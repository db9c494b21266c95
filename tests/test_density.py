"""Density methods whose defaults scale with the data (segbench.algorithms.density)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

from datapaths import shared_data_dir
from segbench.algorithms import build_estimator, fit_segmentation
from segbench.algorithms.density import (
    DBSCAN,
    HDBSCAN,
    auto_dbscan_min_samples,
    auto_min_cluster_size,
    auto_min_samples,
    knee_eps,
)
from segbench.configs import CONFIG_DIR
from segbench.errors import ConfigError
from segbench.serving.assignment import ApproximatePredict, NearestCorePoint, assigner_for


@pytest.fixture(autouse=True)
def _one_openmp_thread():
    with threadpool_limits(1, user_api="openmp"):
        yield


def algo(name: str) -> dict:
    from omegaconf import OmegaConf

    cfg = OmegaConf.merge({"seed": 0}, {"algo": OmegaConf.load(CONFIG_DIR / f"algo/{name}.yaml")})
    return OmegaConf.to_container(cfg.algo, resolve=True)


# -- the rules -----------------------------------------------------------------------------------
def test_rules_scale_with_the_number_of_customers():
    assert [auto_min_cluster_size(n) for n in (10, 212, 1000, 5000, 10**6)] == [
        5,
        5,
        20,
        100,
        20_000,
    ]
    assert [auto_min_samples(n) for n in (212, 1000, 5000, 10**6)] == [5, 20, 25, 25]
    # DBSCAN: 2 x columns, within [5, 25] and never above 2 % of the points (floor 5)
    assert auto_dbscan_min_samples(5000, 3) == 6
    assert auto_dbscan_min_samples(5000, 40) == 25
    assert auto_dbscan_min_samples(300, 19) == 6
    assert auto_dbscan_min_samples(100, 1) == 5


def test_the_yaml_defaults_are_auto_and_build_with_their_own_checks():
    for name, keys in (("dbscan", ("eps", "min_samples")), ("hdbscan", ("min_cluster_size",))):
        cfg = algo(name)
        assert all(cfg[key] == "auto" for key in keys)
        build_estimator(cfg, 5000)
    with pytest.raises(ConfigError, match=r"'eps' parameter of DBSCAN must be a float.*'auto'"):
        build_estimator(algo("dbscan") | {"eps": "knee"})
    with pytest.raises(ConfigError, match=r"'min_cluster_size' parameter of HDBSCAN"):
        build_estimator(algo("hdbscan") | {"min_cluster_size": 1})
    with pytest.raises(ConfigError, match="unexpected keyword argument 'min_cluster_sise'"):
        build_estimator(algo("hdbscan") | {"min_cluster_sise": 10})


def test_auto_is_resolved_in_fit_and_kept_in_the_parameters(caplog):
    X, _ = make_blobs(600, centers=3, random_state=1)
    with caplog.at_level(logging.INFO, logger="segbench.algorithms.density"):
        model = DBSCAN().fit(X)
    assert model.get_params()["eps"] == "auto" and model.eps_ > 0
    assert model.resolved_params_ == {"eps": model.eps_, "min_samples": 5}
    assert f"eps=auto → {model.eps_:.4g}" in caplog.text and "knee" in caplog.text
    # a clone resolves again for its own data: fewer points, a smaller min_cluster_size
    hdb = HDBSCAN().fit(X)
    assert hdb.min_cluster_size_ == 12 and clone(hdb).get_params()["min_cluster_size"] == "auto"
    assert clone(hdb).fit(X[:300]).min_cluster_size_ == 6
    # a number given is used as it is
    fixed = DBSCAN(eps=0.9, min_samples=7).fit(X)
    assert (fixed.eps_, fixed.min_samples_, fixed.eps_rule_) == (0.9, 7, "given")
    np.testing.assert_array_equal(
        fixed.labels_, __import__("sklearn.cluster").cluster.DBSCAN(eps=0.9, min_samples=7)
        .fit_predict(X)
    )  # fmt: skip


def test_knee_of_a_curve_with_a_tail_and_the_fallback_without_one():
    body = np.linspace(0.1, 0.2, 950)
    tail = np.linspace(0.5, 3.0, 50)
    eps, how = knee_eps(np.concatenate([body, tail]))
    assert 0.19 <= eps <= 0.55 and how.startswith("knee")
    eps, how = knee_eps(np.full(100, 0.3))  # flat: no knee
    assert eps == pytest.approx(0.3) and "95th percentile" in how


def test_a_small_dataset_is_no_longer_all_noise():
    """212 points in 7 blobs (FCPS hepta's shape): min_cluster_size 50 found nothing."""
    centres = np.vstack([np.zeros(3), 3 * np.eye(3), -3 * np.eye(3)])
    X, _ = make_blobs(212, centers=centres, cluster_std=0.5, random_state=3)
    old = build_estimator({"name": "h", "_target_": "hdbscan.HDBSCAN", "min_cluster_size": 50,
                           "min_samples": 10})  # fmt: skip
    assert set(old.fit(X).labels_) == {-1}
    seg = fit_segmentation(algo("hdbscan"), X)
    assert len(set(seg.labels) - {-1}) == 7


def test_dbscan_defaults_find_several_segments_on_the_default_data():
    from segbench.api import settings
    from segbench.datasets import load_dataset
    from segbench.experiment import build_features

    run = settings(["algo=dbscan"])
    data = load_dataset(run.dataset)
    _, features = build_features(run, data)
    seg = fit_segmentation(run.algo, features.X)
    found = len(set(seg.labels) - {-1})
    assert found >= 3, seg.estimator.resolved_params_
    assert (seg.labels == -1).mean() < 0.1
    assert seg.estimator.eps_rule_.startswith("knee")
    # the former fixed eps=0.5 found one segment
    old = __import__("sklearn.cluster").cluster.DBSCAN(eps=0.5, min_samples=10)
    assert len(set(old.fit_predict(features.X)) - {-1}) == 1


# -- new customers -----------------------------------------------------------------------------
def test_new_customers_are_assigned_with_the_values_the_fit_used():
    X, _ = make_blobs(600, centers=3, random_state=1)
    model = DBSCAN().fit(X)
    assigner = assigner_for(model).fit(X, model.labels_)
    assert isinstance(assigner, NearestCorePoint) and assigner.eps_ == model.eps_
    core = model.core_sample_indices_[:20]
    np.testing.assert_array_equal(assigner.predict(X[core]), model.labels_[core])
    hdb = HDBSCAN(prediction_data=True).fit(X)
    assigner = assigner_for(hdb).fit(X, hdb.labels_)
    assert isinstance(assigner, ApproximatePredict)
    inside = np.flatnonzero(hdb.probabilities_ > 0.9)[:20]
    np.testing.assert_array_equal(assigner.predict(X[inside]), hdb.labels_[inside])


# -- FCPS: how many datasets the defaults solve --------------------------------------------------
def fcps() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = shared_data_dir()
    battery = None if folder is None else folder / "clustbench" / "fcps"
    if battery is None or not battery.is_dir():
        pytest.skip("needs the FCPS battery: SEGBENCH_DATA_DIR/clustbench/fcps")
    out = {}
    for path in sorted(Path(battery).glob("*.data.gz")):
        name = path.name.split(".")[0]
        X = np.loadtxt(path, ndmin=2)
        y = np.loadtxt(battery / f"{name}.labels0.gz", dtype=int)
        X = X[:, X.std(axis=0) > 0]
        # segbench's scaling: every column standardised, the block to total variance 1
        out[name] = ((X - X.mean(0)) / X.std(0) / np.sqrt(X.shape[1]), y)
    return out


def solved(params: dict) -> list[str]:
    names = []
    for name, (X, y) in fcps().items():
        labels = fit_segmentation(algo("hdbscan") | params, X).labels
        if len(set(labels) - {-1}) == len(set(y) - {0}):
            names.append(name)
    return names


@pytest.mark.realdata
def test_hdbscan_defaults_find_the_reference_number_of_clusters_on_fcps():
    new = solved({})
    old = solved({"min_cluster_size": 50, "min_samples": 10})
    assert len(old) == 5 and "hepta" not in old
    # target's reference has four clusters of 3 points, below any sensible minimum size
    assert len(new) == 8 and set(new) == set(fcps()) - {"target"}
