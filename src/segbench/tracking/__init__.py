"""MLflow tracking: store setup, the run lifecycle, and the multirun sweep parent."""

from segbench.tracking.mlflow_run import RunTracker, ensure_experiment, resolve_uri, tracked_run

__all__ = ["RunTracker", "ensure_experiment", "resolve_uri", "tracked_run"]
