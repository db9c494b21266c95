import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from segbench.algorithms import build_estimator, fit_labels
from segbench.configs import CONFIG_DIR
from segbench.errors import ConfigError, DataError
from segbench.settings import AlgoSettings

ALGO_DIR = CONFIG_DIR / "algo"
ALGOS = sorted(p.stem for p in ALGO_DIR.glob("*.yaml"))


def load(name: str) -> dict:
    cfg = OmegaConf.load(ALGO_DIR / f"{name}.yaml")
    cfg = OmegaConf.merge({"seed": 0}, {"algo": cfg})
    return OmegaConf.to_container(cfg.algo, resolve=True)


def test_every_required_algorithm_has_a_config():
    assert {"kmeans", "minibatch_kmeans", "agglomerative", "dbscan", "hdbscan", "gmm"} <= set(ALGOS)


@pytest.mark.parametrize("name", ALGOS)
def test_each_algorithm_config_fits_well_separated_blobs(name):
    X, truth = make_blobs(n_samples=600, centers=3, cluster_std=0.4, random_state=0)
    X = (X - X.mean(0)) / X.std(0)
    cfg = load(name)
    for key in ("n_clusters", "n_components"):
        if key in cfg:
            cfg[key] = 3
    estimator = build_estimator(cfg, len(X))
    if getattr(estimator, "requires_sensitive", False):
        # fairness-aware: fit gets a sensitive attribute (its own tests: test_fairness_kmeans)
        groups = np.arange(len(X)) % 2
        labels = np.asarray(estimator.fit(X, sensitive_features=groups).labels_)
    else:
        labels = fit_labels(estimator, X)
    assert labels.dtype == np.int64 and len(labels) == 600
    assert adjusted_rand_score(truth, labels) > 0.9
    assert "search_space" in cfg and "name" not in AlgoSettings.model_validate(cfg).params


def test_k_larger_than_the_data_is_refused_with_the_numbers():
    with pytest.raises(
        DataError, match=r"algo.n_clusters=50 is larger than the number of customers \(10\)"
    ):
        build_estimator(load("kmeans") | {"n_clusters": 50}, 10)


def test_quadratic_algorithm_is_refused_above_its_limit_with_advice():
    cfg = load("agglomerative") | {"max_customers": 100}
    with pytest.raises(DataError, match=r"O\(n²\).*minibatch_kmeans.*max_customers=101"):
        build_estimator(cfg, 101)
    build_estimator(cfg, 100)  # at the limit it is allowed


def test_empty_data_is_refused():
    with pytest.raises(DataError, match="empty"):
        build_estimator(load("kmeans"), 0)


def test_the_estimators_own_parameter_checks_run_when_it_is_built():
    with pytest.raises(ConfigError, match=r"'n_clusters' parameter of KMeans must be an int"):
        build_estimator(load("kmeans") | {"n_clusters": "abc"})
    with pytest.raises(ConfigError, match=r"'eps' parameter of DBSCAN must be a float.*'auto'"):
        build_estimator(load("dbscan") | {"eps": -1.0})
    with pytest.raises(ConfigError, match="unexpected keyword argument 'n_clusterz'"):
        build_estimator(load("kmeans") | {"n_clusterz": 3})
