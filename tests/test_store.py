"""The store is created once, its calls retried by one policy, and every run ends truthfully.

Real SQLite stores, real processes: the race that broke fresh stores (two processes creating
MLflow's schema at once) is run here, not simulated.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from segbench.errors import ConfigError
from segbench.settings import TrackingSettings
from segbench.tracking import ensure_experiment, recording, retry_store, tracked_run
from segbench.tracking.mlflow_run import Interrupted
from segbench.tracking.store import is_transient, ui_hint

ROOT = Path(__file__).resolve().parents[1]


def healthy(db: Path) -> list[str]:
    """The leftovers of a half-done schema migration in ``db`` (none when healthy)."""
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
    return [t for t in tables if t.startswith("_alembic_tmp")]


@pytest.mark.slow
def test_processes_opening_a_fresh_store_together_create_it_once(tmp_path):
    # each process opens the store, creates the experiment and records one run; before the
    # creation lock, two of them migrating at once left `_alembic_tmp_*` tables behind
    code = textwrap.dedent(
        f"""
        import sys
        from segbench.tracking import tracked_run
        with tracked_run("sqlite:///{tmp_path}/mlflow.db", "race", run_name=sys.argv[1]) as run:
            run.metrics({{"x": 1.0}})
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, f"p{i}"], env=env, stderr=subprocess.PIPE, text=True
        )
        for i in range(4)
    ]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    assert healthy(tmp_path / "mlflow.db") == []
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    (experiment,) = [e for e in client.search_experiments() if e.name == "race"]
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["p0", "p1", "p2", "p3"]
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert (tmp_path / "mlflow.db.lock").exists()


def _dump(db: Path) -> dict[str, object]:
    """Schema and rows of every table, times of experiment 0 left out. Each object's SQL is
    compared as its set of lines: MLflow's own migration orders a table's constraints by
    Python's hash seed (two migrations of one MLflow differ in the order, not the content)."""
    with sqlite3.connect(db) as con:
        schema = sorted(
            (kind, name, sorted(line.strip().rstrip(",") for line in (sql or "").splitlines()))
            for kind, name, sql in con.execute("select type, name, sql from sqlite_master")
        )
        tables = [r[1] for r in schema if r[0] == "table"]
        rows = {t: sorted(map(repr, con.execute(f"select * from '{t}'"))) for t in tables}
        rows["experiments"] = con.execute(
            "select experiment_id, name, artifact_location, lifecycle_stage from experiments"
        ).fetchall()
    con.close()
    return {"schema": schema, "rows": rows}


def test_a_new_store_is_the_shipped_empty_store_when_mlflow_made_it(tmp_path, monkeypatch, caplog):
    from importlib.metadata import version

    from segbench.tracking import template

    monkeypatch.chdir(tmp_path)
    migrated = tmp_path / "migrated.db"
    MlflowClient(f"sqlite:///{migrated}").search_experiments()
    seeded = tmp_path / "seeded.db"
    if template.template_version() != version("mlflow"):
        # another MLflow than the template's: nothing is copied, MLflow migrates as usual
        assert not template.seed(seeded) and not seeded.exists()
        ensure_experiment(f"sqlite:///{seeded}", "segbench")
        assert healthy(seeded) == []
        return
    assert template.seed(seeded)
    assert _dump(seeded) == _dump(migrated)  # the Default experiment's location included
    assert not template.seed(seeded)  # an existing store is never overwritten
    # a run goes through the entry point on a store it seeds
    uri = f"sqlite:///{tmp_path / 'run.db'}"
    with caplog.at_level("DEBUG", logger="segbench.tracking.template"):
        ensure_experiment(uri, "seeded")
    assert "run.db: a copy of the empty store of MLflow" in caplog.text
    with tracked_run(uri, "seeded") as tracker:
        tracker.metrics({"silhouette": 0.5})
    run = MlflowClient(uri).get_run(tracker.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics["silhouette"] == 0.5
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run.db")] == []


def test_the_template_is_not_used_by_another_mlflow_version(tmp_path):
    from segbench.tracking import template

    meta = tmp_path / "empty_store.json"
    meta.write_text('{"mlflow": "0.0.1"}')
    assert template.template_version(meta) == "0.0.1" and not template.usable(meta)
    assert template.template_version(tmp_path / "missing.json") is None


def test_transient_errors_are_told_from_lasting_ones():
    locked = RuntimeError("(sqlite3.OperationalError) database is locked")
    assert is_transient(locked)
    wrapped = ValueError("store call failed")
    wrapped.__cause__ = locked
    assert is_transient(wrapped)
    assert is_transient(RuntimeError("deadlock detected"))
    assert not is_transient(RuntimeError("table _alembic_tmp_tags already exists"))
    assert not is_transient(RuntimeError("no such table: experiments"))
    assert not is_transient(KeyboardInterrupt())


def test_runs_registering_one_new_dataset_together_all_link_it(tmp_path):
    # MLflow's log_inputs looks the dataset up and inserts it when absent: eight runs of one
    # new dataset started together insert it side by side and all but one fail on its unique
    # key (about one time in two, five or six of the eight, before retry_store retried it)
    import threading

    from mlflow.entities import Dataset, DatasetInput, InputTag

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    experiment_id = MlflowClient(uri).create_experiment("race")
    errors: list[str] = []
    run_ids: list[str] = []
    for round_ in range(3):
        dataset = Dataset(name="toy", digest=f"{round_:016x}", source_type="code", source="{}")
        barrier = threading.Barrier(8)

        def log_one(dataset: Dataset = dataset, barrier: threading.Barrier = barrier) -> None:
            client = MlflowClient(uri)
            run_id = client.create_run(experiment_id).info.run_id
            run_ids.append(run_id)
            linked = DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])
            barrier.wait()
            try:
                retry_store(client.log_inputs, run_id, [linked])
            except Exception as err:
                errors.append(str(err)[:300])

        threads = [threading.Thread(target=log_one) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    client = MlflowClient(uri)
    digests = [client.get_run(r).inputs.dataset_inputs[0].dataset.digest for r in run_ids]
    assert len(digests) == 24 and len(set(digests)) == 3


def test_unique_key_errors_other_than_a_dataset_registration_are_not_retried():
    assert is_transient(
        RuntimeError(
            '(psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "dataset_pk"'
        )
    )
    assert is_transient(
        RuntimeError(
            "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name"
        )
    )
    assert not is_transient(
        RuntimeError("(sqlite3.IntegrityError) UNIQUE constraint failed: experiments.name")
    )
    assert not is_transient(RuntimeError('duplicate key value violates unique constraint "run_pk"'))


def test_retry_store_retries_transient_errors_only():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        return "ok"

    assert retry_store(flaky) == "ok" and len(calls) == 3
    calls.clear()

    def broken():
        calls.append(1)
        raise ValueError("other")

    with pytest.raises(ValueError):
        retry_store(broken)
    assert len(calls) == 1


def test_a_deleted_experiment_is_one_clear_error(tracking_uri):
    client = MlflowClient(tracking_uri)
    client.delete_experiment(client.create_experiment("gone"))
    with pytest.raises(ConfigError, match=r"is deleted.*restore"):
        ensure_experiment(tracking_uri, "gone")


def test_an_interrupted_run_ends_killed_with_its_open_children(tracking_uri):
    with (
        pytest.raises(Interrupted),
        recording(tags={"segbench.sweep_job": "3"}) as record,
        tracked_run(tracking_uri, "exp", run_name="r") as run,
    ):
        run.metrics({"m": 1.0})
        child = MlflowClient(tracking_uri).create_run(
            run.experiment_id, tags={"mlflow.parentRunId": run.run_id}
        )
        raise Interrupted("SIGTERM")
    client = MlflowClient(tracking_uri)
    stored = client.get_run(run.run_id)
    assert stored.info.status == "KILLED" and record.status == "KILLED"
    assert stored.data.tags["segbench.error"] == "KILLED: interrupted by SIGTERM"
    assert stored.data.tags["segbench.sweep_job"] == "3" and stored.data.metrics == {"m": 1.0}
    assert record.run_id == run.run_id
    assert client.get_run(child.info.run_id).info.status == "KILLED"
    assert mlflow.active_run() is None


def test_a_signal_whose_exception_was_lost_still_ends_the_run_killed(tracking_uri):
    """Python runs a signal handler wherever the main thread is; raised inside a weakref
    callback (SQLAlchemy's, during garbage collection) the exception is dropped. The run still
    ends KILLED at its next phase boundary or at its end, and nothing is printed for it."""
    import gc
    import signal
    import weakref

    from segbench.tracking import mlflow_run

    class Thing:
        pass

    printed = []
    before = sys.unraisablehook
    sys.unraisablehook = mlflow_run._quiet_lost_interruption
    try:
        with pytest.raises(Interrupted), tracked_run(tracking_uri, "exp") as run:
            thing = Thing()
            ref = weakref.ref(thing, lambda _: mlflow_run._raise_interrupted(signal.SIGINT, None))
            del thing
            gc.collect()  # the callback's Interrupted is lost here; the block goes on
            printed.append(ref() is None)
    finally:
        sys.unraisablehook = before
    assert printed == [True]  # the block ran to its end
    assert MlflowClient(tracking_uri).get_run(run.run_id).info.status == "KILLED"
    assert not mlflow_run._PENDING  # delivered once


def test_a_scheduler_requeue_exit_ends_the_attempt_killed_not_failed(tracking_uri):
    # submitit's handler for a job at its time limit requeues it and calls sys.exit(-1)
    with pytest.raises(SystemExit), tracked_run(tracking_uri, "exp") as run:
        sys.exit(-1)
    stored = MlflowClient(tracking_uri).get_run(run.run_id)
    assert stored.info.status == "KILLED"
    assert stored.data.tags["segbench.error"].startswith("KILLED: the process was told to exit")


def test_a_failed_run_reports_failed_only_once_the_store_holds_it(tracking_uri):
    with (
        pytest.raises(ZeroDivisionError),
        recording() as record,
        tracked_run(tracking_uri, "exp") as run,
    ):
        1 / 0  # noqa: B018
    assert record.status == "FAILED"
    assert MlflowClient(tracking_uri).get_run(run.run_id).info.status == "FAILED"


def test_ui_hint_never_offers_mlflow_ui_for_a_server():
    assert "mlflow ui" not in ui_hint("https://mlflow.lab", "1", "r")
    assert ui_hint("https://mlflow.lab", "1", "r") == "https://mlflow.lab/#/experiments/1/runs/r"
    hint = ui_hint("postgresql://u:secret@db/mlflow", "1")
    assert "mlflow ui --backend-store-uri postgresql://u:***@db/mlflow" in hint
    assert "secret" not in hint


def test_the_tracking_uri_defaults_to_mlflow_tracking_uri(tmp_path, monkeypatch):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), MLFLOW_TRACKING_URI="http://mlflow.lab")
    done = subprocess.run(
        [sys.executable, "-m", "segbench", "--cfg", "job", "--package", "tracking"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "uri: http://mlflow.lab" in done.stdout
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert TrackingSettings().uri == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://db/mlflow")
    assert TrackingSettings().uri == "postgresql://db/mlflow"


def test_opening_a_store_leaves_the_users_mlflow_tracking_uri_alone(tmp_path, monkeypatch):
    """MLflow 3's ``set_tracking_uri`` writes ``MLFLOW_TRACKING_URI``: a run's store must not
    become the default of the next run or of a child process."""
    from segbench.tracking.store import ensure_experiment

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ensure_experiment(f"sqlite:///{tmp_path / 'a.db'}", "segbench")
    assert "MLFLOW_TRACKING_URI" not in os.environ
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.lab")
    ensure_experiment(f"sqlite:///{tmp_path / 'b.db'}", "segbench")
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://mlflow.lab"
