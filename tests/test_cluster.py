"""The cluster path against real services: an MLflow tracking server whose store is a real
PostgreSQL, a sweep logging to it, and two Optuna workers sharing a study in PostgreSQL.

The PostgreSQL server is named by ``SEGBENCH_TEST_POSTGRES`` (a ``postgresql://`` URL of a
role that may create databases), which ``.ci/run`` exports after installing Debian's
``postgresql`` and starting it on 127.0.0.1. The test is skipped only when the variable is
unset; set but unreachable, it fails. Each run creates its own databases and drops them.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import make_url

from process_helpers import QUICK, TOY, finish, start

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres() -> str:
    """The admin URL of the test PostgreSQL server."""
    url = os.environ.get("SEGBENCH_TEST_POSTGRES")
    if not url:
        pytest.skip("SEGBENCH_TEST_POSTGRES is not set (.ci/run starts PostgreSQL and sets it)")
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=10) as con:
            con.execute("select 1")
    except psycopg.Error as err:
        pytest.fail(f"SEGBENCH_TEST_POSTGRES={make_url(url)!r} is set but unreachable: {err}")
    return url


@contextmanager
def database(admin_url: str, purpose: str) -> Iterator[str]:
    """A new database for this test; its ``postgresql://`` URL (dropped afterwards)."""
    import psycopg

    name = f"segbench_{purpose}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f"create database {name}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as con:
            con.execute(f"drop database if exists {name} with (force)")


@contextmanager
def tracking_server(store: str, artifacts: Path) -> Iterator[str]:
    """``mlflow server`` on ``store``, on a free port of 127.0.0.1; its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store,
         "--artifacts-destination", str(artifacts), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # a fresh store: MLflow migrates its schema first
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start: {server.communicate()[0][-3000:]}")
            time.sleep(1)
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)


def test_sweep_and_optuna_workers_against_a_tracking_server_on_postgresql(tmp_path, postgres):
    with (
        database(postgres, "mlflow") as store,
        database(postgres, "optuna") as study_db,
        tracking_server(store, tmp_path / "artifacts") as server,
    ):
        # the documented URL: SQLAlchemy 2.1 reads postgresql:// as psycopg 3 (the extra)
        assert store.startswith("postgresql://") and study_db.startswith("postgresql://")
        sweep_dir, tune_dir = tmp_path / "sweep", tmp_path / "tune"
        sweep_dir.mkdir()
        tune_dir.mkdir()
        worker = [
            *TOY,
            "features=demographics",
            "tune=optuna",
            f"tune.storage={study_db}",
            "tune.study_name=shared",
            "tune.sampler=random",
            "tune.baseline=false",
            "tune.budget=run",
            "tune.n_trials=3",
            "extras=lean",
            "evaluation.stability.enabled=false",
            f"tracking.uri={server}",
        ]
        procs = [
            start(sweep_dir, "-m", "features=rfm,rfm+nope", *QUICK, f"tracking.uri={server}"),
            start(tune_dir, *worker),
            start(tune_dir, *worker),
        ]
        (code, out, err), *workers = [finish(p) for p in procs]
        for w_code, _, w_err in workers:
            assert w_code == 0, w_err[-3000:]

        # the sweep: a parent on the server, its jobs nested, the links the server's own
        assert code == 1, err[-3000:]
        assert "sweep: 2 job(s), 1 FINISHED, 1 FAILED" in out
        assert f"{server}/#/experiments/" in out
        assert "mlflow ui --backend-store-uri http" not in out + err
        assert not (sweep_dir / "mlflow.db").exists()  # nothing went to a local store
        client = MlflowClient(server)
        experiment = client.get_experiment_by_name("segbench").experiment_id
        runs = client.search_runs([experiment], max_results=1000)
        (parent,) = [r for r in runs if r.data.tags.get("segbench.role") == "sweep"]
        kids = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(k.info.status for k in kids) == ["FAILED", "FINISHED"]
        assert parent.info.status == "FAILED" and parent.data.params["features"] == "rfm,rfm+nope"
        assert {a.path for a in client.list_artifacts(parent.info.run_id, "sweep")} == {
            "sweep/comparison.csv",
            "sweep/comparison.md",
        }
        assert "RUNNING" not in {r.info.status for r in runs}

        # the study: both workers' trials in PostgreSQL, numbered once, all finished
        study = optuna.load_study(study_name="shared", storage=study_db)
        # numbered once; a trial that drew an evaluated point takes that result and has no run
        # (segbench.tuning.study.repeated_trial), so each worker evaluated 3 points of its own
        assert sorted(t.number for t in study.trials) == list(range(len(study.trials)))
        assert all(t.state.is_finished() for t in study.trials)
        evaluated = [t for t in study.trials if "repeats_trial" not in t.user_attrs]
        assert len(evaluated) == 6
        tuned = [r for r in runs if r.data.tags.get("segbench.tune.study_name") == "shared"]
        trials = [r for r in runs if r.data.tags.get("segbench.role") == "trial"]
        assert len(tuned) == 2 and {r.info.status for r in tuned} == {"FINISHED"}
        assert {t.user_attrs["mlflow_run_id"] for t in evaluated} == {r.info.run_id for r in trials}
