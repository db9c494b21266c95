"""Killed work is accounted for: Ctrl-C and SIGTERM end runs KILLED with one line; what
``kill -9`` leaves RUNNING is recognised as stale and closed by ``python -m segbench.stale``.

Real ``python -m segbench`` processes on real SQLite stores, interrupted while a run is
RUNNING.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from mlflow.tracking import MlflowClient

from process_helpers import (
    TOY,
    environment,
    finish,
    kill_owner,
    query,
    start,
    statuses,
    wait_for_running_job,
)

pytestmark = pytest.mark.slow
#: long enough to be caught RUNNING: 3,000 toy customers and the stability resamples
LONG = [
    *TOY[:2],
    "dataset.n_customers=3000",
    "extras=lean",
    "blocks.text.progress=false",
    "evaluation.stability.n_resamples=50",  # seconds of refits: a run is caught RUNNING
    "evaluation.stability.max_samples=3000",
]


def test_ctrl_c_ends_the_run_killed_with_one_line(tmp_path):
    proc = start(tmp_path, *LONG)
    run_id, _ = wait_for_running_job(tmp_path / "mlflow.db", proc)
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130
    assert err.strip() == f"segbench: interrupted by SIGINT; run {run_id} recorded KILLED"
    run = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["segbench.error"] == "KILLED: interrupted by SIGINT"


def test_sigterm_ends_a_sweep_its_job_and_its_parent_killed(tmp_path):
    db = tmp_path / "mlflow.db"
    proc = start(tmp_path, "-m", "algo.n_clusters=3,4", *LONG)
    job_run, _ = wait_for_running_job(db, proc)
    proc.send_signal(signal.SIGTERM)
    code, out, err = finish(proc)
    assert code == 143 and "Traceback" not in err
    assert err.strip().endswith("segbench: interrupted by SIGTERM")
    assert "sweep: 2 job(s), 1 KILLED, 1 not run; parent run" in out
    assert "RUNNING" not in statuses(db)
    client = MlflowClient(f"sqlite:///{db}")
    assert client.get_run(job_run).info.status == "KILLED"
    ((parent,),) = query(db, "select run_uuid from tags where key = 'segbench.role'")
    assert client.get_run(parent).info.status == "KILLED"
    assert client.get_run(parent).data.metrics["sweep.not_run"] == 1


def test_kill_9_leaves_a_running_run_that_the_stale_command_closes(tmp_path):
    db = tmp_path / "mlflow.db"
    proc = start(tmp_path, *LONG)
    run_id, owner = wait_for_running_job(db, proc)
    proc.kill()
    code, _, _ = finish(proc)
    assert code == -signal.SIGKILL
    client = MlflowClient(f"sqlite:///{db}")
    left = client.get_run(run_id)
    # what a killed job leaves behind: a RUNNING run that says who owned it and when it last
    # showed a sign of life
    assert left.info.status == "RUNNING" and left.info.end_time is None
    assert left.data.tags["segbench.process"] == owner
    assert {"segbench.heartbeat", "segbench.stale_after"} <= set(left.data.tags)
    done = subprocess.run(
        [sys.executable, "-m", "segbench.stale"],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"1 run(s) closed KILLED in sqlite:///{db}" in done.stdout and run_id in done.stdout
    closed = client.get_run(run_id)
    assert closed.info.status == "KILLED"
    assert closed.data.tags["segbench.error"] == f"KILLED: its process {owner} no longer exists"


def test_a_submitit_job_killed_with_kill_9_is_accounted_and_closed(tmp_path):
    db = tmp_path / "mlflow.db"
    proc = start(tmp_path, "-m", "hydra/launcher=submitit_local", "features=rfm,rfm+nope", *LONG)
    run_id, owner = wait_for_running_job(db, proc)
    deadline = time.monotonic() + 300  # job 1 fails validation; it records itself FAILED
    while not query(db, "select 1 from runs where status = 'FAILED'"):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    kill_owner(owner)
    code, out, err = finish(proc)
    assert code == 1
    assert "segbench: error: the launcher failed: UncompletedJobError" in err
    assert "Traceback" not in err
    assert "sweep: 2 job(s), 1 FAILED, 1 KILLED; parent run" in out
    assert "RUNNING" not in statuses(db)
    client = MlflowClient(f"sqlite:///{db}")
    killed = client.get_run(run_id)
    assert (
        killed.info.status == "KILLED" and "no longer exists" in killed.data.tags["segbench.error"]
    )
    ((parent,),) = query(db, "select run_uuid from tags where key = 'segbench.role'")
    stored = client.get_run(parent)
    assert stored.info.status == "FAILED"
    assert stored.data.tags["segbench.error"].startswith("the launcher failed: UncompletedJobError")
    assert "error.txt" in {a.path for a in client.list_artifacts(parent)}
