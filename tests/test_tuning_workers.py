"""Several processes on one persistent study: ``python -m segbench`` workers started together,
and a worker killed mid-trial then resumed.

The MLflow store is created once before the workers start (as the sweep
callback does); the Optuna SQLite database is *not*: both workers create its schema at the
same moment, the race that :func:`segbench.tuning.study.open_storage` must survive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from segbench.tracking import ensure_experiment
from segbench.tuning.study import counts

TESTS = Path(__file__).resolve().parent
TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy"]
WORKER = [
    *TOY,
    "features=demographics",
    "tune=optuna",
    "tune.storage=sqlite:///study.db",
    "tune.sampler=random",
    "tune.baseline=false",
    "tracking.log_plots=false",
    "tracking.log_model=false",
    "blocks.text.progress=false",
]


def start(cwd: Path, *args: str, customers: int = 300) -> subprocess.Popen:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "segbench", *WORKER, f"dataset.n_customers={customers}", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(workers: list[subprocess.Popen]) -> None:
    for w in workers:
        _, err = w.communicate(timeout=900)
        assert w.returncode == 0, err[-3000:]


def counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's evaluations: finished trials that did not repeat an evaluated point."""
    return [t for t in study.trials if counts(t)]


@pytest.mark.slow
def test_two_workers_started_together_share_one_sqlite_study(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ensure_experiment(uri, "segbench")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    space = "algo.search_space.n_clusters.high=20"  # 19 points: room for 12 evaluations

    # budget=run: each worker adds its own evaluations — 2 × 6 = 12, none lost, none twice
    finish([start(tmp_path, space, "tune.budget=run", "tune.n_trials=6") for _ in range(2)])
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("segbench").experiment_id
    runs = client.search_runs([experiment], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("segbench.role") != "trial"]
    trials = [r for r in runs if r.data.tags.get("segbench.role") == "trial"]
    assert len(parents) == 2 and len(trials) == 12
    names = {p.data.tags["segbench.tune.study_name"] for p in parents}
    assert len(names) == 1  # the same command, the same study
    study = optuna.load_study(study_name=names.pop(), storage=storage)
    assert sorted(t.number for t in study.trials) == list(range(len(study.trials)))
    assert all(t.state.is_finished() for t in study.trials)
    evaluated = counted(study)
    assert len(evaluated) == 12
    by_id = {r.info.run_id: r for r in trials}
    # every evaluation of the study has exactly one child run, nested under the worker that
    # ran it; a trial that drew an evaluated point has none
    assert {t.user_attrs["mlflow_run_id"] for t in evaluated} == set(by_id)
    for t in evaluated:
        kid = by_id[t.user_attrs["mlflow_run_id"]]
        assert kid.data.tags["segbench.trial_number"] == str(t.number)
    assert all("mlflow_run_id" not in t.user_attrs for t in study.trials if not counts(t))
    per_parent = {p.info.run_id: 0 for p in parents}
    for kid in trials:
        per_parent[kid.data.tags["mlflow.parentRunId"]] += 1
    assert sorted(per_parent.values()) == [6, 6]
    for p in parents:
        assert p.info.status == "FINISHED" and p.data.metrics["tune.n_trials_run"] >= 6

    # budget=study: the workers share one total of evaluations; each runs trials until the
    # study holds it, so two finishing together may overshoot it by one
    shared = ["tune.study_name=shared-total", "tune.n_trials=8", space]
    finish([start(tmp_path, *shared) for _ in range(2)])
    study = optuna.load_study(study_name="shared-total", storage=storage)
    numbers = sorted(t.number for t in study.trials)
    assert numbers == list(range(len(numbers)))
    assert 8 <= len(counted(study)) <= 9


def wait_for(condition, timeout: float = 300.0, every: float = 0.05):
    """Poll ``condition()`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = condition()
        except Exception:  # the database is being created or written
            found = None
        if found:
            return found
        time.sleep(every)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_a_killed_worker_leaves_a_trial_that_the_resume_fails_and_runs_again(tmp_path):
    """SIGKILL of a tuning worker mid-trial (real process, real SQLite storage): Optuna's
    heartbeat lets the resumed run fail the lost trial, close its MLflow run as KILLED and
    run its parameters again, and the study ends with exactly the requested evaluations."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ensure_experiment(uri, "segbench")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    worker = [
        "tune.study_name=killed",
        "tune.n_trials=6",
        "algo.search_space.n_clusters.high=20",
        "tune.heartbeat_interval=1",
        "tune.grace_period=2",
        "algo.n_init=50",  # trials of ~1 s (a trial fits only what its objective needs)
    ]
    first = start(tmp_path, *worker, customers=3000)  # a kill lands in a trial
    try:

        def running_after_two() -> optuna.trial.FrozenTrial | None:
            study = optuna.load_study(study_name="killed", storage=storage)
            done = [t for t in study.trials if t.state == TrialState.COMPLETE]
            running = [  # in a trial whose MLflow run exists
                t
                for t in study.trials
                if t.state == TrialState.RUNNING and "mlflow_run_id" in t.user_attrs
            ]
            return running[0] if len(done) >= 2 and running else None

        lost = wait_for(running_after_two)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    study = optuna.load_study(study_name="killed", storage=storage)
    assert study.trials[lost.number].state == TrialState.RUNNING  # left behind by the kill
    assert len(counted(study)) < 6

    finish([start(tmp_path, *worker, customers=3000)])  # the resume, after the grace period
    study = optuna.load_study(study_name="killed", storage=storage)
    states = {t.number: t.state for t in study.trials}
    assert states[lost.number] == TrialState.FAIL  # failed by the resume, not counted
    assert TrialState.RUNNING not in states.values()
    assert len(counted(study)) == 6  # the budget, complete
    (retry,) = [t for t in study.trials if t.system_attrs.get("failed_trial") == lost.number]
    assert retry.params == lost.params and counts(retry)  # the lost point, evaluated again

    client = MlflowClient(uri)
    killed = client.get_run(lost.user_attrs["mlflow_run_id"])
    assert killed.info.status == "KILLED"
    assert killed.data.tags["segbench.trial_state"] == "KILLED"
    assert "heartbeat" in killed.data.tags["segbench.error"]
    experiment = client.get_experiment_by_name("segbench").experiment_id
    parents = client.search_runs(
        [experiment], "tags.`segbench.tune.study_name` = 'killed'", order_by=["start_time ASC"]
    )
    resumed = parents[-1]
    assert resumed.info.status == "FINISHED"
    assert resumed.data.metrics["tune.n_trials"] == 6
