"""One nested MLflow run per Optuna trial, logged in three batched store calls.

A trial's run is a child of the job's run (tag ``mlflow.parentRunId``) and holds:

- params: the trial's values by config path (``algo.n_clusters``, ``blocks.text.pca_components``);
- metrics: every metric the trial scored, under the regular names (``silhouette``, ``ari``…);
- tags: ``segbench.role=trial``, ``segbench.trial_number``, ``segbench.trial_state``
  (``COMPLETE``, ``INFEASIBLE`` or ``FAIL``), ``segbench.study_name``, and the reason in
  ``segbench.infeasible`` or ``segbench.error``; plus the parent's static tags (dataset,
  features, algorithm) so trials can be filtered like runs.

The run ends FINISHED for complete and infeasible trials (the trial itself ran; the tag says
it is no solution), FAILED for a trial whose fit raised, and KILLED for a trial whose worker
was lost (closed by the worker that noticed, :class:`segbench.tuning.study.StaleTrials`). A
trial that drew the parameters of an earlier finished trial takes its result and gets no
run. No plots or artifacts per trial.
Leaderboards should skip runs tagged ``segbench.role=trial``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from segbench.tracking.mlflow_run import MAX_PARAM_LENGTH, RunTracker, retry_locked

#: Parent tags copied to every trial run.
INHERITED = ("segbench.dataset", "segbench.features", "segbench.algo", "segbench.preprocess")


class TrialRuns:
    """Creates the child runs of ``parent``'s trials."""

    def __init__(self, parent: RunTracker, study_name: str) -> None:
        self.parent = parent
        self.client = MlflowClient(parent.uri)
        self.study_name = study_name
        parent_tags = retry_locked(self.client.get_run, parent.run_id).data.tags
        self.tags = {k: parent_tags[k] for k in INHERITED if k in parent_tags}
        #: wall time spent logging trials (the ``tune.trial_logging_seconds`` metric)
        self.seconds = 0.0

    def start(self, number: int) -> str:
        """Create the run of trial ``number``; returns its id."""
        tic = time.perf_counter()
        run = retry_locked(
            self.client.create_run,
            self.parent.experiment_id,
            run_name=f"trial {number}",
            tags={
                **self.tags,
                "mlflow.parentRunId": self.parent.run_id,
                "segbench.role": "trial",
                "segbench.trial_number": str(number),
                "segbench.study_name": self.study_name,
            },
        )
        self.seconds += time.perf_counter() - tic
        return run.info.run_id

    def finish(
        self,
        run_id: str,
        state: str,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        reason: str | None = None,
    ) -> None:
        """Log the trial's params, metrics and state in one batch and end its run."""
        tic = time.perf_counter()
        now = int(time.time() * 1000)
        tags = [RunTag("segbench.trial_state", state)]
        if reason:
            key = "segbench.error" if state == "FAIL" else "segbench.infeasible"
            tags.append(RunTag(key, reason[:MAX_PARAM_LENGTH]))
        retry_locked(
            self.client.log_batch,
            run_id,
            metrics=[
                Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None and v == v
            ],
            params=[Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in params.items()],
            tags=tags,
        )
        status = "FAILED" if state == "FAIL" else "FINISHED"
        retry_locked(self.client.set_terminated, run_id, status, now)
        self.seconds += time.perf_counter() - tic

    def kill(self, run_id: str, reason: str) -> None:
        """End the run of a trial whose worker was lost: KILLED, with the reason."""
        retry_locked(self.client.set_tag, run_id, "segbench.trial_state", "KILLED")
        retry_locked(self.client.set_tag, run_id, "segbench.error", reason[:MAX_PARAM_LENGTH])
        retry_locked(self.client.set_terminated, run_id, "KILLED", int(time.time() * 1000))
