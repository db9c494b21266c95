"""One MLflow run of segbench: setup of the store, logging, and FINISHED/FAILED endings.

Conventions (docs/architecture.md, "Conventions"): params are the resolved settings flattened
with dots; tags are prefixed ``segbench.``; a run that raises is ended FAILED with the message
in the tag ``segbench.error`` and the traceback in the artifact ``error.txt`` (nothing logged
before is lost). SQLite serialises writers: every store write is retried while the database
is locked.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from segbench.errors import store_message, store_traceback

T = TypeVar("T")
MAX_PARAM_LENGTH = 6000
_RETRIES = 30


def launch_dir() -> Path:
    """The directory the user launched from (Hydra's original cwd when Hydra runs)."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.utils import get_original_cwd

        if HydraConfig.initialized():
            return Path(get_original_cwd())
    except (ImportError, ValueError):
        pass
    return Path.cwd()


def resolve_uri(uri: str) -> str:
    """Make a relative ``sqlite:///file.db`` absolute against the launch directory."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        path = (launch_dir() / uri[len(prefix) :]).resolve()
        return f"{prefix}{path}"
    return uri


def retry_locked(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn``, retrying with backoff while SQLite reports 'database is locked'."""
    for attempt in range(_RETRIES):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # MlflowException or sqlalchemy OperationalError
            if "locked" not in str(err).lower() or attempt == _RETRIES - 1:
                raise
            time.sleep(min(0.05 * 2**attempt, 2.0))
    raise AssertionError("unreachable")


def ensure_experiment(uri: str, name: str) -> str:
    """Create (once) and return the id of experiment ``name`` in the store at ``uri``.

    With a SQLite store the artifacts go to ``mlruns/`` beside the database file.
    """
    uri = resolve_uri(uri)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    found = retry_locked(client.get_experiment_by_name, name)
    if found is not None:
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri[len("sqlite:///") :]).parent / "mlruns" / name).as_uri()
    try:
        return retry_locked(client.create_experiment, name, artifact_location=location)
    except Exception:  # created meanwhile by a parallel job
        found = retry_locked(client.get_experiment_by_name, name)
        if found is None:
            raise
        return found.experiment_id


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"algo": {"n_clusters": 6}}`` → ``{"algo.n_clusters": "6"}`` (values as strings)."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = str(value)[:MAX_PARAM_LENGTH]
    return flat


class RunTracker:
    """Logging into one active MLflow run (thin, batch-oriented)."""

    def __init__(self, run_id: str, experiment_id: str, uri: str) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.uri = uri

    def params(self, params: Mapping[str, Any]) -> None:
        retry_locked(mlflow.log_params, {k: str(v)[:MAX_PARAM_LENGTH] for k, v in params.items()})

    def metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        clean = {k: float(v) for k, v in metrics.items() if v is not None and v == v}
        if clean:
            retry_locked(mlflow.log_metrics, clean, step=step)

    def tags(self, tags: Mapping[str, Any]) -> None:
        retry_locked(mlflow.set_tags, {k: str(v)[:MAX_PARAM_LENGTH] for k, v in tags.items()})

    def text(self, text: str, path: str) -> None:
        retry_locked(mlflow.log_text, text, path)

    def table(self, frame: pd.DataFrame, path: str, index: bool = True) -> None:
        """Log a DataFrame as CSV (``.csv``) or Parquet (``.parquet``)."""
        if path.endswith(".parquet"):
            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=index)
            self.bytes(buffer.getvalue(), path)
        else:
            self.text(frame.to_csv(index=index), path)

    def bytes(self, payload: bytes, path: str) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / Path(path).name
            target.write_bytes(payload)
            parent = str(Path(path).parent)
            retry_locked(mlflow.log_artifact, str(target), None if parent == "." else parent)

    def figure(self, fig: Any, path: str) -> None:
        import matplotlib.pyplot as plt

        try:
            retry_locked(mlflow.log_figure, fig, path)
        finally:
            plt.close(fig)


@contextmanager
def tracked_run(
    uri: str,
    experiment: str,
    run_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
) -> Iterator[RunTracker]:
    """Start an MLflow run; end it FINISHED, or FAILED with the error recorded, on exit."""
    uri = resolve_uri(uri)
    experiment_id = ensure_experiment(uri, experiment)
    all_tags = dict(tags or {})
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id
    run = retry_locked(
        mlflow.start_run,
        experiment_id=experiment_id,
        run_name=run_name,
        tags={k: str(v) for k, v in all_tags.items()},
    )
    tracker = RunTracker(run.info.run_id, experiment_id, uri)
    try:
        yield tracker
    except BaseException as err:
        try:
            tracker.tags({"segbench.error": store_message(err)})
            tracker.text(store_traceback(err), "error.txt")
        finally:
            retry_locked(mlflow.end_run, "FAILED")
        raise
    else:
        retry_locked(mlflow.end_run, "FINISHED")


def git_commit() -> str | None:
    """The commit of the segbench source checkout, if it is one."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
