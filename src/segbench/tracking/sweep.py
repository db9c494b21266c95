"""A Hydra callback that gives a multirun sweep one MLflow parent run.

``on_multirun_start`` creates the experiment (and so the store's schema) once, before any job
starts, then a parent run whose id it writes to ``<sweep dir>/mlflow_parent_run_id``; every job
reads that file (it works across processes and, on a shared file system, across cluster nodes)
and nests its run under the parent. ``on_multirun_end`` reads the children back from the store,
prints a summary of what failed, ends the parent FINISHED (or FAILED if any child failed) and
exits non-zero when something failed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from segbench.settings import TrackingSettings
from segbench.settings.base import coerce
from segbench.tracking.mlflow_run import ensure_experiment, resolve_uri, retry_locked

PARENT_FILE = "mlflow_parent_run_id"


def sweep_parent_run_id(sweep_dir: str | Path) -> str | None:
    """The parent run id written by :class:`SweepCallback` for this sweep, if any."""
    path = Path(sweep_dir) / PARENT_FILE
    return path.read_text().strip() if path.exists() else None


class SweepCallback(Callback):
    """Parent MLflow run for a Hydra multirun (see module docstring)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        tracking = coerce(TrackingSettings, config.tracking, "tracking")
        uri = resolve_uri(tracking.uri)
        experiment_id = ensure_experiment(uri, tracking.experiment)
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        overrides = " ".join(config.hydra.overrides.task)
        client = MlflowClient(uri)
        run = retry_locked(
            client.create_run,
            experiment_id,
            run_name=f"sweep {sweep_dir.name}",
            tags={
                "segbench.role": "sweep",
                "segbench.overrides": overrides,
                "segbench.sweep_dir": str(sweep_dir.resolve()),
            },
        )
        (sweep_dir / PARENT_FILE).write_text(run.info.run_id)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        uri = resolve_uri(coerce(TrackingSettings, config.tracking, "tracking").uri)
        parent = sweep_parent_run_id(config.hydra.sweep.dir)
        if parent is None:
            return
        client = MlflowClient(uri)
        experiment_id = client.get_run(parent).info.experiment_id
        children = retry_locked(
            client.search_runs,
            [experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent}'",
            max_results=10_000,
        )
        failed = [r for r in children if r.info.status != "FINISHED"]
        retry_locked(client.log_metric, parent, "sweep.jobs", len(children))
        retry_locked(client.log_metric, parent, "sweep.failed", len(failed))
        retry_locked(client.set_terminated, parent, "FAILED" if failed else "FINISHED")
        print(f"\nsweep: {len(children)} run(s), {len(failed)} failed; parent run {parent}")
        for run in failed:
            error = run.data.tags.get("segbench.error", run.info.status)
            print(f"  FAILED {run.info.run_name} ({run.info.run_id}): {error}")
        if failed:
            sys.exit(1)
