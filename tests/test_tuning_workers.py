"""Several processes on one persistent study: ``python -m segbench`` workers started together.

The MLflow store is created once before the workers start (as the sweep
callback does); the Optuna SQLite database is *not*: both workers create its schema at the
same moment, the race that :func:`segbench.tuning.study.open_storage` must survive.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from segbench.tracking import ensure_experiment

TESTS = Path(__file__).resolve().parent
TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy", "dataset.n_customers=300"]
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


def start(cwd: Path, *args: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "segbench", *WORKER, *args],
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


@pytest.mark.slow
def test_two_workers_started_together_share_one_sqlite_study(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ensure_experiment(uri, "segbench")
    storage = f"sqlite:///{tmp_path / 'study.db'}"

    # budget=run: each worker adds its own trials — 2 × 6 = 12, none lost, none twice
    finish([start(tmp_path, "tune.budget=run", "tune.n_trials=6") for _ in range(2)])
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("segbench").experiment_id
    runs = client.search_runs([experiment], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("segbench.role") != "trial"]
    trials = [r for r in runs if r.data.tags.get("segbench.role") == "trial"]
    assert len(parents) == 2 and len(trials) == 12
    names = {p.data.tags["segbench.tune.study_name"] for p in parents}
    assert len(names) == 1  # the same command, the same study
    study = optuna.load_study(study_name=names.pop(), storage=storage)
    assert sorted(t.number for t in study.trials) == list(range(12))
    assert all(t.state.is_finished() for t in study.trials)
    by_id = {r.info.run_id: r for r in trials}
    # every trial of the study has exactly one child run, nested under the worker that ran it
    assert {t.user_attrs["mlflow_run_id"] for t in study.trials} == set(by_id)
    for t in study.trials:
        kid = by_id[t.user_attrs["mlflow_run_id"]]
        assert kid.data.tags["segbench.trial_number"] == str(t.number)
    per_parent = {p.info.run_id: 0 for p in parents}
    for kid in trials:
        per_parent[kid.data.tags["mlflow.parentRunId"]] += 1
    assert sorted(per_parent.values()) == [6, 6]
    for p in parents:
        assert p.info.status == "FINISHED" and p.data.metrics["tune.n_trials_run"] == 6

    # budget=study: the workers share one total; a count and a trial start are not one
    # transaction, so each may overshoot it by at most one trial
    finish([start(tmp_path, "tune.study_name=shared-total", "tune.n_trials=8") for _ in range(2)])
    shared = optuna.load_study(study_name="shared-total", storage=storage)
    numbers = sorted(t.number for t in shared.trials)
    assert 8 <= len(numbers) <= 9 and numbers == list(range(len(numbers)))
