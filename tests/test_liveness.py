"""Orphaned RUNNING runs are told from live ones, and `python -m segbench.stale` closes them.

Real SQLite store; the runs' liveness tags are the ones a run writes (pid@host, heartbeat,
stale_after), set here to what a killed process or a lost node leaves behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from mlflow.tracking import MlflowClient

from segbench.stale import main as stale_main
from segbench.tracking import tracked_run
from segbench.tracking.liveness import (
    HEARTBEAT_TAG,
    PROCESS_TAG,
    STALE_AFTER_TAG,
    find_stale,
    format_time,
    is_stale,
    now,
    process_exists,
    stale_reason,
)

ROOT = Path(__file__).resolve().parents[1]


def dead_pid() -> int:
    """The pid of a process that existed and is gone."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def running(client: MlflowClient, experiment: str, **tags: str):
    run = client.create_run(experiment, tags={"segbench.algo": "kmeans", **tags})
    return client.get_run(run.info.run_id)


def test_a_live_run_has_its_liveness_tags_and_is_not_stale(tracking_uri):
    with tracked_run(tracking_uri, "exp", heartbeat_seconds=0.2, stale_after_seconds=30) as run:
        client = MlflowClient(tracking_uri)
        first = client.get_run(run.run_id).data.tags[HEARTBEAT_TAG]
        import time

        time.sleep(1.5)
        live = client.get_run(run.run_id)
        assert live.data.tags[PROCESS_TAG].startswith(f"{os.getpid()}@")
        assert live.data.tags[STALE_AFTER_TAG] == "30"
        assert live.data.tags[HEARTBEAT_TAG] >= first
        assert not is_stale(live)


def test_a_run_whose_process_is_gone_is_stale_at_once(tracking_uri):
    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("exp")
    host = os.uname().nodename
    orphan = running(client, experiment, **{PROCESS_TAG: f"{dead_pid()}@{host}",
                                            HEARTBEAT_TAG: format_time(now())})  # fmt: skip
    assert "no longer exists" in stale_reason(orphan, host=host)
    assert process_exists(f"{os.getpid()}@{host}", host) is True
    assert process_exists(f"{os.getpid()}@elsewhere", host) is None


def test_a_run_on_another_node_is_stale_when_its_heartbeat_is_old(tracking_uri):
    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("exp")
    old = format_time(now() - timedelta(seconds=120))
    lost = running(client, experiment, **{PROCESS_TAG: "1@node-7", HEARTBEAT_TAG: old,
                                          STALE_AFTER_TAG: "60"})  # fmt: skip
    fresh = running(client, experiment, **{PROCESS_TAG: "1@node-7", HEARTBEAT_TAG: old,
                                           STALE_AFTER_TAG: "600"})  # fmt: skip
    assert "last heartbeat" in stale_reason(lost) and not is_stale(fresh)
    # a tuning trial's run has no heartbeat of its own: its parent's counts
    trial = running(client, experiment, **{"mlflow.parentRunId": lost.info.run_id,
                                           "segbench.role": "trial"})  # fmt: skip
    assert is_stale(trial, parent=lost) and not is_stale(trial, parent=fresh)
    # runs of other tools are never judged
    other = client.get_run(client.create_run(experiment).info.run_id)
    assert not is_stale(other, at=now() + timedelta(days=30))
    found = {r.info.run_id for r, _ in find_stale(client, [experiment])}
    assert found == {lost.info.run_id, trial.info.run_id}


def test_the_stale_command_closes_only_orphans(tracking_uri, capsys):
    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("segbench")
    host = os.uname().nodename
    orphan = running(client, experiment, **{PROCESS_TAG: f"{dead_pid()}@{host}"})
    alive = running(client, experiment, **{PROCESS_TAG: f"{os.getpid()}@{host}",
                                           HEARTBEAT_TAG: format_time(now())})  # fmt: skip
    stale_main(["--tracking-uri", tracking_uri, "--dry-run"])
    out = capsys.readouterr().out
    assert "1 run(s) stale (dry run" in out and orphan.info.run_id in out
    assert client.get_run(orphan.info.run_id).info.status == "RUNNING"
    stale_main(["--tracking-uri", tracking_uri, "--experiment", "segbench"])
    assert "1 run(s) closed KILLED" in capsys.readouterr().out
    closed = client.get_run(orphan.info.run_id)
    assert closed.info.status == "KILLED"
    assert closed.data.tags["segbench.error"].startswith("KILLED: its process")
    assert client.get_run(alive.info.run_id).info.status == "RUNNING"
    stale_main(["--tracking-uri", tracking_uri])
    assert "no stale runs" in capsys.readouterr().out


def test_the_stale_command_refuses_a_missing_store(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "segbench.stale", "--tracking-uri", "sqlite:///nope.db"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "src")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "there is no store" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "nope.db").exists()
