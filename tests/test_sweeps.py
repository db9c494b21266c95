"""Sweeps a researcher can trust: concurrent sweeps on a fresh store, jobs that fail before
their run exists, other launchers, and exactly-once accounting.

Real SQLite stores and real ``python -m segbench -m ...`` processes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from process_helpers import QUICK, finish, start, statuses

pytestmark = pytest.mark.slow


def client(cwd: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{cwd / 'mlflow.db'}")


def runs(cwd: Path) -> list:
    c = client(cwd)
    return c.search_runs([e.experiment_id for e in c.search_experiments()], max_results=1000)


def artifact(run_id: str, path: str, cwd: Path) -> str:
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path=path, tracking_uri=f"sqlite:///{cwd / 'mlflow.db'}"
    )
    return Path(local).read_text()


def test_four_sweeps_started_together_on_a_fresh_store_record_every_job(tmp_path):
    sweeps = [start(tmp_path, "-m", "algo.n_clusters=2,3,4,5,6,7", *QUICK) for _ in range(4)]
    done = [finish(p) for p in sweeps]
    assert [code for code, _, _ in done] == [0] * 4, [err[-2000:] for _, _, err in done]
    for _, out, err in done:
        assert "sweep: 6 job(s), 6 FINISHED; parent run" in out
        assert "recorded FAILED" not in out + err and "Traceback" not in err
    with sqlite3.connect(tmp_path / "mlflow.db") as con:
        assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
    assert not [t for t in tables if t.startswith("_alembic_tmp")]

    everything = runs(tmp_path)
    parents = [r for r in everything if r.data.tags.get("segbench.role") == "sweep"]
    assert len(parents) == 4 and len(everything) == 28
    assert len({p.data.tags["segbench.sweep_dir"] for p in parents}) == 4  # one folder each
    for parent in parents:
        assert parent.info.status == "FINISHED"
        assert Path(parent.data.tags["segbench.sweep_dir"]).is_dir()
        assert parent.data.params["algo.n_clusters"] == "2,3,4,5,6,7"
        assert parent.data.metrics["sweep.jobs"] == 6 == parent.data.metrics["sweep.finished"]
        kids = [
            r for r in everything if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
        ]
        assert sorted(int(k.data.tags["segbench.sweep_job"]) for k in kids) == list(range(6))
        assert {k.info.status for k in kids} == {"FINISHED"}
        assert sorted(k.data.metrics["n_segments"] for k in kids) == [2, 3, 4, 5, 6, 7]
        table = artifact(parent.info.run_id, "sweep/comparison.md", tmp_path)
        assert table.count("FINISHED") == 6 and "algo.n_clusters |" in table.splitlines()[0]

    # the store is healthy: a later run in the same folder works
    code, out, err = finish(start(tmp_path, *QUICK))
    assert code == 0, err[-2000:]
    assert "FINISHED in" in out


def test_jobs_that_fail_before_their_run_exists_are_failed_children(tmp_path):
    composition = tmp_path / "composition"
    validation = tmp_path / "validation"
    composition.mkdir()
    validation.mkdir()
    # gmm has no n_clusters: Hydra cannot compose that job; rfm+nope fails validation
    sweeps = [
        start(composition, "-m", "algo=kmeans,gmm", "algo.n_clusters=4", *QUICK),
        start(validation, "-m", "features=rfm,rfm+nope", *QUICK),
    ]
    (code_c, out_c, err_c), (code_v, out_v, err_v) = [finish(p) for p in sweeps]
    assert code_c == 1 and code_v == 1
    assert "Traceback" not in err_c + err_v
    assert "sweep: 2 job(s), 1 FINISHED, 1 FAILED" in out_c
    assert "FAILED job 1 (algo=gmm): the job's configuration cannot be composed" in out_c
    assert "sweep: 2 job(s), 1 FINISHED, 1 FAILED" in out_v
    assert "unknown feature block(s) ['nope']" in out_v
    for folder, error in (
        (composition, "Could not override 'algo.n_clusters'"),
        (validation, "ConfigError: unknown feature block(s) ['nope']"),
    ):
        assert "RUNNING" not in statuses(folder / "mlflow.db")
        everything = runs(folder)
        (parent,) = [r for r in everything if r.data.tags.get("segbench.role") == "sweep"]
        assert parent.info.status == "FAILED"
        assert parent.data.metrics["sweep.failed"] == 1 == parent.data.metrics["sweep.finished"]
        (failed,) = [r for r in everything if r.info.status == "FAILED" and r != parent]
        assert failed.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert failed.data.tags["segbench.sweep_job"] == "1"
        assert error in failed.data.tags["segbench.error"]


@pytest.mark.parametrize(
    "launcher",
    [["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], ["hydra/launcher=submitit_local"]],
)
def test_other_launchers_nest_and_account_their_jobs(tmp_path, launcher):
    # job 1 fails validation in its worker process and records itself a FAILED child
    code, out, err = finish(start(tmp_path, "-m", *launcher, "features=rfm,rfm+nope", *QUICK))
    assert code == 1, err[-3000:]
    assert "sweep: 2 job(s), 1 FINISHED, 1 FAILED" in out
    everything = runs(tmp_path)
    (parent,) = [r for r in everything if r.data.tags.get("segbench.role") == "sweep"]
    kids = [r for r in everything if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(everything) == 3 and len(kids) == 2
    by_job = {k.data.tags["segbench.sweep_job"]: k for k in kids}
    assert by_job["0"].info.status == "FINISHED" and by_job["0"].data.metrics["n_segments"] == 6
    assert by_job["1"].info.status == "FAILED"
    assert "unknown feature block(s) ['nope']" in by_job["1"].data.tags["segbench.error"]
    assert parent.info.status == "FAILED" and parent.data.tags["segbench.launcher"] in launcher[0]
