"""Exactly-once accounting of a sweep's jobs, read back from a real store."""

from __future__ import annotations

import subprocess
import time

from mlflow.tracking import MlflowClient

from segbench.settings import TrackingSettings
from segbench.tracking.liveness import PROCESS_TAG
from segbench.tracking.sweep import Account, JobOutcome, SweepRun, comparison, render

JOBS = [["algo.n_clusters=3"], ["algo.n_clusters=4"], ["algo.n_clusters=5"], ["algo.n_clusters=6"]]


def attempt(client, sweep, job, status, host, **tags):
    run = client.create_run(
        sweep.experiment_id,
        tags={"mlflow.parentRunId": sweep.run_id, "segbench.sweep_job": str(job), **tags},
    )
    if status != "RUNNING":
        client.log_metric(run.info.run_id, "n_segments", 3 + job)
        client.set_terminated(run.info.run_id, status)
    time.sleep(0.01)  # distinct start times
    return run.info.run_id


def test_each_job_counts_once_by_its_latest_attempt(tracking_uri, tmp_path):
    sweep = SweepRun(TrackingSettings(uri=tracking_uri, heartbeat_seconds=60))
    sweep.open(["algo.n_clusters=3,4,5,6"], tmp_path / "sweep", len(JOBS), "submitit_slurm")
    client = MlflowClient(tracking_uri)
    host = __import__("socket").gethostname()
    gone = subprocess.Popen(["true"])
    gone.wait()
    # job 0: killed at its time limit, requeued, finished; job 1: finished;
    # job 2: its process was killed with kill -9 (RUNNING, process gone);
    # job 3: failed before its run existed (its outcome carries the error)
    first = attempt(client, sweep, 0, "KILLED", host)
    latest = attempt(client, sweep, 0, "FINISHED", host)
    attempt(client, sweep, 1, "FINISHED", host)
    orphan = attempt(client, sweep, 2, "RUNNING", host, **{PROCESS_TAG: f"{gone.pid}@{host}"})
    outcomes = {3: JobOutcome(3, None, None, error="ConfigError: features='x'")}
    records = sweep.account(JOBS, len(JOBS), outcomes, finished_launching=True)
    account = Account(records, "FAILED")
    assert [r.status for r in records] == ["FINISHED", "FINISHED", "KILLED", "FAILED"]
    assert records[0].run_id == latest and len(records[0].attempts) == 2
    assert records[0].attempts[0] == f"{first[:8]} KILLED"
    assert client.get_run(orphan).info.status == "KILLED"
    assert "no longer exists" in records[2].error
    failed = client.get_run(records[3].run_id)
    assert failed.info.status == "FAILED" and failed.data.tags["segbench.sweep_job"] == "3"
    assert failed.data.tags["segbench.error"] == "ConfigError: features='x'"
    assert account.count("FINISHED") == 2 and account.attempts == 5
    summary = account.summary(sweep.run_id, "hint")
    assert summary.startswith("sweep: 4 job(s), 2 FINISHED, 1 FAILED, 1 KILLED; parent run")
    assert "job 0 (algo.n_clusters=3): 2 attempts (the latest counts)" in summary
    sweep.close(account, None)
    parent = client.get_run(sweep.run_id)
    assert parent.info.status == "FAILED"
    assert parent.data.params == {"algo.n_clusters": "3,4,5,6"}
    assert parent.data.metrics["sweep.jobs"] == 4 and parent.data.metrics["sweep.attempts"] == 5
    table = comparison(account)
    assert list(table.columns) == ["job", "algo.n_clusters", "status", "n_segments", "run"]
    assert "algo.n_clusters |" in render(table).splitlines()[0]


def test_a_job_launched_but_never_recorded_is_a_failed_child(tracking_uri, tmp_path):
    sweep = SweepRun(TrackingSettings(uri=tracking_uri))
    sweep.open(["seed=1,2"], tmp_path / "sweep", 2, "basic")
    records = sweep.account([["seed=1"], ["seed=2"]], 2, {}, finished_launching=True)
    assert [r.status for r in records] == ["FAILED", "FAILED"]
    assert "recorded no run" in records[0].error
    # an interrupted sweep: jobs that never started are not run, and nothing is invented
    sweep2 = SweepRun(TrackingSettings(uri=tracking_uri))
    sweep2.open(["seed=1,2"], tmp_path / "sweep2", 2, "basic")
    records = sweep2.account([["seed=1"], ["seed=2"]], 2, {}, finished_launching=False)
    assert [r.status for r in records] == ["NOT RUN", "NOT RUN"] and records[0].run_id is None
