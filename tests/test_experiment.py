"""The whole run through the Python API, on the small toy dataset, against a temporary store."""

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from segbench.api import run
from segbench.configs import compose as compose_config
from segbench.errors import DataError

TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy", "dataset.n_customers=300"]


def overrides(uri: str, *more: str) -> list[str]:
    return [*TOY, f"tracking.uri={uri}", "blocks.text.progress=false", *more]


def artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found = set()
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found |= artifacts(client, run_id, item.path)
        else:
            found.add(item.path)
    return found


def test_a_run_logs_params_tags_metrics_and_artifacts(tracking_uri):
    result = run(
        overrides(tracking_uri, "algo=kmeans", "algo.n_clusters=3", "features=rfm+demographics")
    )
    client = MlflowClient(tracking_uri)
    stored = client.get_run(result.run_id)
    assert stored.info.status == "FINISHED"
    params, tags, metrics = stored.data.params, stored.data.tags, stored.data.metrics
    assert params["algo.n_clusters"] == "3" and params["features"] == "rfm+demographics"
    assert params["dataset.name"] == "toy" and params["algo.name"] == "kmeans"
    assert not any(k.endswith("_target_") or k.startswith("tracking.") for k in params)
    assert tags["segbench.features"] == "rfm+demographics" and tags["segbench.algo"] == "kmeans"
    assert len(tags["segbench.dataset_fingerprint"]) == 16
    assert "segbench.version" in tags and "algo.n_clusters=3" in tags["segbench.overrides"]
    for name in (
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
        "n_segments",
        "noise_fraction",
        "fit_seconds",
        "ari",
        "ami",
        "nmi",
        "inertia",
    ):
        assert name in metrics, name
    assert metrics["ari"] > 0.9 and metrics["n_segments"] == 3
    files = artifacts(client, result.run_id)
    assert {
        "config.yaml",
        "profiles/segment_profiles.md",
        "profiles/segment_profiles.csv",
        "plots/projection.png",
        "plots/segment_sizes.png",
        "assignments.parquet",
    } <= files
    local = Path(
        mlflow.artifacts.download_artifacts(run_id=result.run_id, tracking_uri=tracking_uri)
    )
    assignments = pd.read_parquet(local / "assignments.parquet")
    assert len(assignments) == 300
    assert not assignments["customer_id"].str.startswith("T").any()  # pseudonymised, never raw
    profiles = pd.read_csv(local / "profiles" / "segment_profiles.csv")
    assert {
        "size",
        "share",
        "mean_recency",
        "mean_frequency",
        "mean_monetary",
        "revenue_share",
    } <= set(profiles.columns)
    assert profiles["size"].sum() == 300
    model = mlflow.pyfunc.load_model(tags["segbench.model_uri"])
    assert model.metadata.signature is not None
    pred = model.predict(pd.DataFrame(result.features.X[:5], columns=result.features.columns))
    np.testing.assert_array_equal(np.asarray(pred), result.labels.to_numpy()[:5])


def test_the_logged_model_carries_the_runs_metrics_and_pinned_requirements(
    tracking_uri, monkeypatch
):
    """The run's metrics are logged once, linked to its logged model (MLflow 3's model
    metrics), and the model's requirements are the pins of the installed versions; MLflow's
    module map is not built while logging (segbench.serving.model.installed_versions_known)
    and is left as it was."""
    from mlflow.utils import requirements_utils

    from segbench.serving.model import model_requirements

    # as in a fresh process (loading a model, as other tests do, builds the map)
    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)
    result = run(overrides(tracking_uri, "algo=kmeans", "algo.n_clusters=3", "features=rfm"))
    assert requirements_utils._MODULES_TO_PACKAGES is None
    client = MlflowClient(tracking_uri)
    stored = client.get_run(result.run_id)
    model_id = stored.data.tags["segbench.model_uri"].removeprefix("models:/")
    logged = client.get_logged_model(model_id)
    linked = {m.key: m.value for m in logged.metrics}
    for name in ("silhouette", "davies_bouldin", "n_segments", "ari"):
        assert linked[name] == pytest.approx(stored.data.metrics[name]), name
    assert len(client.get_metric_history(result.run_id, "silhouette")) == 1  # logged once
    local = Path(
        mlflow.artifacts.download_artifacts(f"models:/{model_id}", tracking_uri=tracking_uri)
    )
    pins = (local / "requirements.txt").read_text().split()
    expected = model_requirements(result.estimator, object())
    assert set(expected) <= set(pins) and all("==" in p for p in expected)


def test_same_config_and_seed_give_the_same_labels_and_metrics(tracking_uri):
    args = overrides(tracking_uri, "algo=gmm", "algo.n_components=3", "features=rfm+text", "seed=7")
    a, b = run(args), run(args)
    np.testing.assert_array_equal(a.labels.to_numpy(), b.labels.to_numpy())
    for name in ("silhouette", "davies_bouldin", "ari", "bic"):
        assert a.metrics[name] == pytest.approx(b.metrics[name], rel=1e-12)


def test_k_larger_than_the_data_fails_the_run_with_a_clear_message(tracking_uri):
    with pytest.raises(DataError, match="larger than the number of customers"):
        run(overrides(tracking_uri, "algo.n_clusters=1000"))
    (failed,) = MlflowClient(tracking_uri).search_runs(["1"])
    assert failed.info.status == "FAILED"
    assert "algo.n_clusters=1000 is larger" in failed.data.tags["segbench.error"]
    assert failed.data.params["algo.n_clusters"] == "1000"  # logged before the failure, kept


def test_a_single_segment_finishes_with_internal_metrics_absent(tracking_uri):
    result = run(overrides(tracking_uri, "algo=dbscan", "algo.eps=100", "features=rfm"))
    stored = MlflowClient(tracking_uri).get_run(result.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.metrics["n_segments"] == 1
    assert "silhouette" not in stored.data.metrics
    assert "at least 2" in stored.data.tags["segbench.metrics_skipped"]


def test_compose_lists_valid_options_for_an_unknown_algorithm():
    from segbench.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"Could not find 'algo/nope'.*options in 'algo':.*kmeans"
    ):
        compose_config(["algo=nope"])


PHASES = ["setup", "load", "features", "fit", "score", "stability", "profile", "analyses", "report"]


def test_every_run_logs_its_phase_times_and_they_add_up_to_the_wall_time(tracking_uri):
    result = run(overrides(tracking_uri, "algo=kmeans", "algo.n_clusters=3"))
    metrics = MlflowClient(tracking_uri).get_run(result.run_id).data.metrics
    times = {k[len("time.") :]: v for k, v in metrics.items() if k.startswith("time.")}
    assert list(result.phase_seconds) == [*PHASES, "log"]  # in the order they ran
    assert set(times) == set(result.phase_seconds)
    assert all(v >= 0 for v in times.values())
    # a lap clock: the phases cover the run's wall time, nothing counted twice
    assert sum(times.values()) == pytest.approx(metrics["wall_seconds"], rel=1e-6)
    assert metrics["wall_seconds"] == pytest.approx(result.wall_seconds)
    # a tuned run has a tune phase in place of fit and score
    tuned = run(overrides(tracking_uri, "tune=optuna", "tune.n_trials=2", "tune.progress=none"))
    assert "tune" in tuned.phase_seconds and "fit" not in tuned.phase_seconds
