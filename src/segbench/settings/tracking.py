"""Settings of the MLflow tracking of a run (config group ``tracking``)."""

from __future__ import annotations

import os

from pydantic import Field

from segbench.settings.base import Section

#: The store when neither ``tracking.uri`` nor ``MLFLOW_TRACKING_URI`` says another.
LOCAL_STORE = "sqlite:///mlflow.db"


def default_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when it is set (as MLflow itself reads it), else the local
    SQLite store ``sqlite:///mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or LOCAL_STORE


class TrackingSettings(Section):
    """Where and what a run logs (:mod:`segbench.tracking`), and how it shows it is alive."""

    uri: str = Field(default_factory=default_uri, min_length=1)
    """The MLflow store. Default: ``$MLFLOW_TRACKING_URI`` when set (read when segbench is
    imported), else ``sqlite:///mlflow.db``. A relative ``sqlite:///`` path resolves against
    the directory you launched from; on a cluster use a tracking server, ``http://host:5000``
    (README, "Running on a cluster")."""
    experiment: str = Field("segbench", min_length=1)
    """The MLflow experiment."""
    run_name: str | None = None
    """null = ``<algorithm> · <features> · <dataset>``."""
    parent_run_id: str | None = None
    """A run to nest under (a multirun sweep nests its jobs under its own parent run)."""
    log_model: bool = True
    """Log the whole-path pyfunc model (:mod:`segbench.serving.model`)."""
    log_plots: bool = True
    """Log the figures (projection, sizes, fairness, tuning history, …)."""
    draw_aside: bool = True
    """Draw the run's figures in a second process, forked when the run starts, while the run
    goes on (:mod:`segbench.reporting.drawing`; Linux only, elsewhere they are drawn in the
    run's process). The same PNG bytes either way; ``false`` draws them in the run's process."""
    verbose: bool = False
    """Print where the run's time went (its ``time.<phase>`` metrics, which every run logs)
    in the summary; ``python -m segbench -v …`` is the same as ``tracking.verbose=true``."""
    heartbeat_seconds: float = Field(60.0, gt=0)
    """How often a running run refreshes its ``segbench.heartbeat`` tag
    (:mod:`segbench.tracking.liveness`)."""
    stale_after_seconds: float = Field(600.0, gt=0)
    """A RUNNING run whose heartbeat is older than this is stale: its process died (``kill
    -9``, a lost node). ``python -m segbench.stale`` closes such runs KILLED. Keep it well
    above ``heartbeat_seconds``."""
