"""FairKMeans: the estimator contract, the balance it promises, and how the sensitive
attribute reaches it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.base import clone
from sklearn.cluster import KMeans

from segbench.algorithms import fit_segmentation
from segbench.api import run, settings
from segbench.datasets import load_dataset
from segbench.errors import ConfigError
from segbench.experiment import scorer
from segbench.fairness.fair_kmeans import FairKMeans
from segbench.fairness.metrics import balance
from segbench.fairness.scoring import sensitive_frame
from segbench.features import build_pipeline


def correlated_blobs(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three blobs whose group mix is very unequal (group 'a' mostly in blob 0)."""
    rng = np.random.default_rng(seed)
    blob = rng.integers(0, 3, n)
    X = rng.normal(0, 0.7, (n, 2)) + np.array([[0, 0], [5, 0], [0, 5]])[blob]
    p_a = np.array([0.85, 0.3, 0.1])[blob]
    groups = np.where(rng.random(n) < p_a, "a", np.where(rng.random(n) < 0.7, "b", "c"))
    return X, groups


def test_estimator_contract():
    X, groups = correlated_blobs(300)
    model = FairKMeans(n_clusters=3, balance_target=0.7, random_state=0)
    assert clone(model).get_params() == model.get_params()
    assert model.fit(X, sensitive_features=groups) is model
    assert model.labels_.shape == (300,) and set(model.labels_) <= {0, 1, 2}
    assert model.cluster_centers_.shape == (3, 2) and model.n_features_in_ == 2
    np.testing.assert_array_equal(
        clone(model).fit_predict(X, sensitive_features=groups), model.labels_
    )
    nearest = ((X[:, None, :] - model.cluster_centers_[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(model.predict(X), nearest)
    cost = ((X - model.cluster_centers_[model.labels_]) ** 2).sum()
    assert model.inertia_ == pytest.approx(cost)


@pytest.mark.parametrize("target", [0.5, 0.8, 0.95])
def test_reaches_the_balance_it_promises(target):
    X, groups = correlated_blobs(600, seed=1)
    plain = KMeans(3, n_init=4, random_state=0).fit(X)
    assert balance(plain.labels_, groups) < 0.3
    model = FairKMeans(n_clusters=3, balance_target=target, random_state=0).fit(
        X, sensitive_features=groups
    )
    assert model.balance_ == pytest.approx(balance(model.labels_, groups))
    assert model.balance_ >= target
    assert model.constraint_violation_ == 0
    assert model.vanilla_balance_ == pytest.approx(balance(plain.labels_, groups))
    # the LP relaxation bounds the cost from below; the price of fairness is positive
    assert model.lp_cost_ <= model.inertia_ + 1e-6
    assert model.inertia_ > model.vanilla_inertia_


def test_refinement_never_raises_the_cost():
    X, groups = correlated_blobs(600, seed=2)
    once = FairKMeans(3, balance_target=0.8, random_state=0).fit(X, sensitive_features=groups)
    refined = FairKMeans(3, balance_target=0.8, refine_iter=3, random_state=0).fit(
        X, sensitive_features=groups
    )
    assert refined.inertia_ <= once.inertia_ + 1e-9
    assert refined.balance_ >= 0.8


def test_a_dataframe_of_attributes_and_the_attribute_to_use():
    X, groups = correlated_blobs(300)
    frame = pd.DataFrame({"region": np.tile(["n", "s"], 150), "gender": groups})
    model = FairKMeans(3, balance_target=0.8, sensitive_attribute="gender", random_state=0)
    model.fit(X, sensitive_features=frame)
    assert model.sensitive_attribute_ == "gender" and model.balance_ >= 0.8
    assert set(model.groups_) == {"a", "b", "c"}
    first = FairKMeans(3, random_state=0).fit(X, sensitive_features=frame)
    assert first.sensitive_attribute_ == "region"
    with pytest.raises(ConfigError, match=r"not a sensitive attribute.*region, gender"):
        FairKMeans(3, sensitive_attribute="age").fit(X, sensitive_features=frame)


def test_clear_errors():
    X, groups = correlated_blobs(100)
    with pytest.raises(ConfigError, match="needs the sensitive attribute"):
        FairKMeans(3).fit(X)
    # scikit-learn's parameter validation: a ValueError when fitted directly ...
    with pytest.raises(ValueError, match=r"'balance_target' parameter of FairKMeans must be"):
        FairKMeans(3, balance_target=1.5).fit(X, sensitive_features=groups)
    # ... and segbench's one-paragraph ConfigError when segbench builds it, before any work
    target = {"name": "fair_kmeans", "_target_": FairKMeans.__module__ + ".FairKMeans"}
    with pytest.raises(ConfigError, match=r"rejects its parameters.*balance_target"):
        fit_segmentation({**target, "balance_target": 1.5}, X)
    with pytest.raises(ConfigError, match="needs the customers' sensitive attributes"):
        fit_segmentation(
            {"name": "fair_kmeans", "_target_": FairKMeans.__module__ + ".FairKMeans"}, X
        )


def strong_synthetic(n: int = 3000):
    cfg = settings(
        [
            "dataset.demographic_strength=0.9",
            f"dataset.n_customers={n}",
            "features=rfm+demographics",
            "algo=fair_kmeans",
            "algo.sensitive_attribute=gender",
            "evaluation.silhouette_sample_size=1000",
        ]
    )
    data = load_dataset(cfg.dataset)
    features = build_pipeline(cfg.features, cfg.blocks, cfg.preprocess, seed=cfg.seed)
    return cfg, data, features.fit_transform(data)


def test_on_synthetic_data_with_strong_demographic_correlation():
    """Plain k-means splits along gender; the fair algorithm reaches its balance target."""
    cfg, data, features = strong_synthetic()
    plain = fit_segmentation(
        {"_target_": "sklearn.cluster.KMeans", "n_clusters": 6, "n_init": 4, "random_state": 42},
        features.X,
    )
    fair = fit_segmentation(cfg.algo, features.X, sensitive_frame(data, features.index))
    plain_metrics, _ = scorer(cfg)(features, data, plain)
    fair_metrics, _ = scorer(cfg)(features, data, fair)
    target = cfg.algo.params["balance_target"]
    assert plain_metrics["fairness.gender.balance"] < 0.5 < target
    assert fair_metrics["fairness.gender.balance"] >= target
    assert fair.estimator.balance_ == pytest.approx(fair_metrics["fairness.gender.balance"])
    # the other fairness metrics improve with it
    for name in ("dp_difference", "distribution_distance"):
        assert (
            fair_metrics[f"fairness.gender.{name}"] < plain_metrics[f"fairness.gender.{name}"] / 2
        )
    assert len(np.unique(fair.labels)) == 6


@pytest.mark.slow
def test_a_fair_kmeans_run_logs_the_balance_it_promises(tracking_uri):
    common = [
        f"tracking.uri={tracking_uri}",
        "dataset.n_customers=2000",
        "dataset.demographic_strength=0.9",
        "features=rfm+demographics",
        "tracking.log_model=false",
        "analysis.predictive.enabled=false",
        "analysis.personalisation.enabled=false",
    ]
    # refits of a copy on X alone (stability, assignment hold-out) cannot give it the groups
    fair = run(
        [
            *common,
            "algo=fair_kmeans",
            "algo.sensitive_attribute=gender",
            "evaluation.stability.enabled=false",
            "analysis.assign.enabled=false",
        ]
    )
    plain = run([*common, "algo=kmeans", "evaluation.stability.enabled=false"])
    client = MlflowClient(tracking_uri)
    logged_fair = client.get_run(fair.run_id).data.metrics
    logged_plain = client.get_run(plain.run_id).data.metrics
    assert logged_fair["fairness.gender.balance"] >= 0.8 > logged_plain["fairness.gender.balance"]
    assert client.get_run(fair.run_id).data.params["algo.balance_target"] == "0.8"
