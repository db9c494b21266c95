"""Settings of the MLflow tracking of a run (config group ``tracking``)."""

from __future__ import annotations

from pydantic import Field

from segbench.settings.base import Section


class TrackingSettings(Section):
    """Where and what a run logs (:mod:`segbench.tracking`)."""

    uri: str = Field("sqlite:///mlflow.db", min_length=1)
    """The MLflow store. A relative ``sqlite:///`` path resolves against the directory you
    launched from; for a cluster use a tracking server, ``http://host:5000``."""
    experiment: str = Field("segbench", min_length=1)
    """The MLflow experiment."""
    run_name: str | None = None
    """null = ``<algorithm> · <features> · <dataset>``."""
    parent_run_id: str | None = None
    """A run to nest under (set automatically in a multirun sweep)."""
    log_model: bool = True
    """Log the whole-path pyfunc model (:mod:`segbench.serving.model`)."""
    log_plots: bool = True
    """Log the figures (projection, sizes, fairness, tuning history, …)."""
