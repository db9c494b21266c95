"""MLflow tracking: the store (:mod:`.store`), the run's lifecycle (:mod:`.mlflow_run`), its
heartbeat and the stale-run rule (:mod:`.liveness`), what a run logs (:mod:`.outputs`), the
multirun sweep (:mod:`.sweep`) and the privacy scan."""

from segbench.tracking.mlflow_run import RunTracker, recording, tracked_run
from segbench.tracking.store import ensure_experiment, resolve_uri, retry_store

__all__ = [
    "RunTracker",
    "ensure_experiment",
    "recording",
    "resolve_uri",
    "retry_store",
    "tracked_run",
]
