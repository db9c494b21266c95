"""Stability: mean pairwise ARI between refits on resamples (segbench.evaluation.stability)."""

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.datasets import make_blobs

from segbench.algorithms import Segmentation
from segbench.api import run
from segbench.errors import ConfigError
from segbench.evaluation.stability import stability, stability_metrics
from segbench.settings import StabilitySettings

TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy", "dataset.n_customers=300"]
QUIET = ["blocks.text.progress=false", "tracking.log_model=false", "tracking.log_plots=false"]


@pytest.fixture(scope="module")
def separated():
    X, _ = make_blobs(n_samples=600, centers=4, n_features=4, cluster_std=0.5, random_state=3)
    return X


@pytest.fixture(scope="module")
def uniform():
    return np.random.default_rng(3).uniform(size=(600, 4))


class RandomLabels(ClusterMixin, BaseEstimator):
    """Labels that ignore the data: the least stable segmentation there is."""

    def __init__(self, n_clusters=4, random_state=None):
        self.n_clusters = n_clusters
        self.random_state = random_state

    def fit(self, X, y=None):
        rng = np.random.default_rng(self.random_state)
        self.labels_ = rng.integers(0, self.n_clusters, len(X))
        return self


@pytest.mark.parametrize("method", ["bootstrap", "subsample", "seeds"])
def test_well_separated_segments_are_stable_and_random_data_is_not(method, separated, uniform):
    kmeans = KMeans(4, n_init=2, random_state=0)
    good = stability(kmeans, separated, method=method, n_resamples=4, seed=1)
    bad = stability(kmeans, uniform, method=method, n_resamples=4, seed=1)
    assert good.mean > 0.99
    assert bad.mean < 0.8
    assert good.mean - bad.mean > 0.2
    assert good.n_fits == 4 and len(good.pair_scores) == 6  # all pairs of 4 fits


def test_labels_that_ignore_the_data_score_near_zero(separated):
    result = stability(RandomLabels(4, random_state=0), separated, method="seeds", seed=0)
    assert abs(result.mean) < 0.05


def test_density_and_hierarchical_methods_are_scored_too(separated, uniform):
    agglo = stability(AgglomerativeClustering(4), separated, n_resamples=3)
    assert agglo.mean > 0.95
    assert stability(AgglomerativeClustering(4), uniform, n_resamples=3).mean < 0.8
    dbscan = stability(DBSCAN(eps=1.0, min_samples=5), separated, n_resamples=3)
    assert dbscan.mean > 0.9


def test_sample_cap_bounds_the_work_and_the_result_is_seeded(separated):
    kmeans = KMeans(4, n_init=1, random_state=0)
    capped = stability(kmeans, separated, max_samples=300, n_resamples=3, seed=5)
    assert capped.sample_size == 300
    again = stability(kmeans, separated, max_samples=300, n_resamples=3, seed=5)
    assert capped.pair_scores == again.pair_scores
    small = stability(kmeans, separated[:250], max_samples=300, n_resamples=3, seed=5)
    assert small.sample_size == 250


def test_invalid_options_raise_config_errors(separated):
    kmeans = KMeans(4, n_init=1)
    with pytest.raises(ConfigError, match="bootstrap, subsample, seeds"):
        stability(kmeans, separated, method="jackknife")
    with pytest.raises(ConfigError, match="at least 2 fits"):
        stability(kmeans, separated, n_resamples=1)
    with pytest.raises(ConfigError, match="subsample_fraction"):
        stability(kmeans, separated, subsample_fraction=0.0)
    with pytest.raises(ConfigError, match="deterministic"):
        stability(AgglomerativeClustering(4), separated, method="seeds")


def test_run_level_metrics_and_skips_are_explained(separated):
    cfg = StabilitySettings(n_resamples=3)
    fitted = KMeans(4, n_init=1, random_state=0).fit(separated)
    seg = Segmentation(fitted, fitted.labels_, 0.0)
    metrics = stability_metrics(cfg, seg, separated, seed=1)
    assert set(metrics) == {
        "stability",
        "stability_std",
        "stability_resamples",
        "stability_sample_size",
    }
    assert metrics["stability_resamples"] == 3.0 and metrics["stability"] > 0.99

    notes: dict[str, str] = {}
    one = Segmentation(fitted, np.zeros(len(separated), dtype=np.int64), 0.0)
    assert stability_metrics(cfg, one, separated, 1, notes) == {}
    assert "1 segment" in notes["stability_skipped"]

    seeds_cfg = cfg.model_copy(update={"method": "seeds"})
    agglo = AgglomerativeClustering(4).fit(separated)
    notes = {}
    seg = Segmentation(agglo, agglo.labels_, 0.0)
    assert stability_metrics(seeds_cfg, seg, separated, 1, notes) == {}
    assert "no random_state" in notes["stability_skipped"]

    off = cfg.model_copy(update={"enabled": False})
    assert stability_metrics(off, seg, separated) == {}


@pytest.mark.slow
def test_a_run_logs_stability_when_configured(tracking_uri):
    common = [*TOY, f"tracking.uri={tracking_uri}", *QUIET, "algo=kmeans", "algo.n_clusters=3"]
    on = run([*common, "evaluation.stability.n_resamples=3"])
    stored = MlflowClient(tracking_uri).get_run(on.run_id).data.metrics
    assert stored["stability_resamples"] == 3.0
    assert stored["stability"] > 0.9  # the toy data has three well-separated groups
    off = run([*common, "evaluation.stability.enabled=false"])
    assert "stability" not in MlflowClient(tracking_uri).get_run(off.run_id).data.metrics


def test_fairness_aware_estimators_get_the_resampled_sensitive_attributes(separated):
    import pandas as pd

    from segbench.fairness.fair_kmeans import FairKMeans

    groups = pd.DataFrame({"gender": np.where(np.arange(len(separated)) % 3 == 0, "f", "m")})
    fair = FairKMeans(n_clusters=4, balance_target=0.5, n_init=1, random_state=0)
    result = stability(fair, separated, n_resamples=3, sensitive=groups, max_samples=400)
    assert result.n_fits == 3 and -1.0 <= result.mean <= 1.0
    with pytest.raises(ConfigError, match="sensitive"):
        stability(fair, separated, n_resamples=3)

    cfg = StabilitySettings()
    fitted = fair.fit(separated, sensitive_features=groups)
    notes: dict[str, str] = {}
    seg = Segmentation(fitted, fitted.labels_, 0.0)
    assert stability_metrics(cfg, seg, separated, 0, notes) == {}
    assert "sensitive" in notes["stability_skipped"]
    assert "stability" in stability_metrics(cfg, seg, separated, sensitive=groups)
