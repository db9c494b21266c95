from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from segbench.errors import DataError
from segbench.tracking import ensure_experiment, resolve_uri, tracked_run
from segbench.tracking.mlflow_run import flatten, retry_locked


def test_relative_sqlite_uri_resolves_against_the_launch_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_uri("sqlite:///mlflow.db") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert resolve_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert resolve_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_flatten_joins_keys_with_dots():
    assert flatten({"algo": {"n_clusters": 6, "x": [1, 2]}, "seed": 1}) == {
        "algo.n_clusters": "6",
        "algo.x": "[1, 2]",
        "seed": "1",
    }


def test_experiment_artifacts_live_beside_the_sqlite_store(tracking_uri, tmp_path):
    experiment_id = ensure_experiment(tracking_uri, "exp")
    assert ensure_experiment(tracking_uri, "exp") == experiment_id  # idempotent
    location = MlflowClient(tracking_uri).get_experiment(experiment_id).artifact_location
    assert location == (tmp_path / "mlruns" / "exp").as_uri()


def test_a_failing_run_is_marked_failed_and_keeps_what_was_logged(tracking_uri):
    with pytest.raises(DataError), tracked_run(tracking_uri, "exp", run_name="r") as run:
        run.params({"a": 1})
        run.metrics({"m": 0.5})
        raise DataError("column 'x' missing")
    stored = MlflowClient(tracking_uri).get_run(run.run_id)
    assert stored.info.status == "FAILED"
    assert stored.data.tags["segbench.error"] == "DataError: column 'x' missing"
    assert stored.data.params == {"a": "1"} and stored.data.metrics == {"m": 0.5}
    error = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run.run_id, artifact_path="error.txt", tracking_uri=tracking_uri
        )
    )
    assert "column 'x' missing" in error.read_text()


def test_retry_locked_retries_only_lock_errors():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        return "ok"

    assert retry_locked(flaky) == "ok" and len(calls) == 3
    with pytest.raises(ValueError):
        retry_locked(lambda: (_ for _ in ()).throw(ValueError("other")))


def test_a_logged_figure_has_the_pixels_matplotlib_draws(tracking_uri, tmp_path):
    """Figures are logged as PNG at a cheaper zlib level: lossless, the same pixels."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    from segbench.tracking.mlflow_run import tracked_run

    def chart():
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.barh([0, 1, 2], [3, 1, 2], color=["C0", "C1", "C2"])
        ax.set_title("three segments")
        return fig

    reference = io.BytesIO()
    chart().savefig(reference, format="png")
    with tracked_run(tracking_uri, "figures") as run:
        run.figure(chart(), "plots/chart.png")
    local = mlflow.artifacts.download_artifacts(
        run_id=run.run_id, artifact_path="plots/chart.png", tracking_uri=tracking_uri
    )
    drawn = np.asarray(Image.open(local))
    np.testing.assert_array_equal(drawn, np.asarray(Image.open(reference)))
