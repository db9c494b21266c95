"""The command line as a new user runs it: exit codes, messages, and what the store holds."""

import sys
from pathlib import Path

import pytest

from cli_helpers import all_runs, segbench, store

pytestmark = pytest.mark.slow


def test_main_command_leaves_a_finished_run_in_the_local_store(tmp_path):
    done = segbench(tmp_path, "algo=gmm", "features=rfm+text")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "mlflow.db").exists()  # MLflow's default place: the launch directory
    (run,) = all_runs(store(tmp_path))
    out = done.stdout
    for word in (
        run.info.run_id,
        "segments 6",
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
        "ari",
        "FINISHED in",
    ):
        assert word in out
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    assert metrics["n_segments"] == 6 and -1 <= metrics["silhouette"] <= 1
    assert metrics["davies_bouldin"] > 0 and metrics["calinski_harabasz"] > 0
    assert 0 < metrics["ari"] <= 1 and "bic" in metrics
    assert metrics["text.embeddings_computed"] + metrics["text.embeddings_cached"] > 0
    assert run.data.params["algo.name"] == "gmm" and "algo._target_" not in run.data.params
    assert (
        run.data.tags["segbench.overrides"]
        == "algo=gmm features=rfm+text blocks.text.progress=false"
    )
    # artifacts sit beside the database, not in Hydra's output folder
    assert list((tmp_path / "mlruns").rglob("segment_profiles.md"))


def test_sweep_gives_six_finished_children_of_one_parent(tmp_path):
    done = segbench(
        tmp_path,
        "-m",
        "algo=kmeans,gmm,hdbscan",
        "features=rfm,rfm+text",
        "dataset.n_customers=1500",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = all_runs(store(tmp_path))
    parents = [r for r in runs if r.data.tags.get("segbench.role") == "sweep"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(children) == 6 and len(runs) == 7
    assert all(r.info.status == "FINISHED" for r in children)
    combos = {(r.data.tags["segbench.algo"], r.data.tags["segbench.features"]) for r in children}
    assert combos == {(a, f) for a in ("kmeans", "gmm", "hdbscan") for f in ("rfm", "rfm+text")}
    assert (
        parents[0].data.metrics["sweep.jobs"] == 6 and parents[0].data.metrics["sweep.failed"] == 0
    )
    assert "sweep: 6 job(s), 6 FINISHED; parent run" in done.stdout


def test_a_failing_job_does_not_stop_the_sweep_and_is_summarised(tmp_path):
    done = segbench(tmp_path, "-m", "algo.n_clusters=3,500", *TOY)
    assert done.returncode == 1
    assert "sweep: 2 job(s), 1 FINISHED, 1 FAILED" in done.stdout
    assert "algo.n_clusters=500 is larger than the number of customers (300)" in done.stdout
    runs = all_runs(store(tmp_path))
    statuses = sorted(r.info.status for r in runs if "mlflow.parentRunId" in r.data.tags)
    assert statuses == ["FAILED", "FINISHED"]
    parent = next(r for r in runs if r.data.tags.get("segbench.role") == "sweep")
    assert parent.info.status == "FAILED"


TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy", "dataset.n_customers=300"]


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["features=rfm+nope"], 2, "valid blocks: channels, demographics, numeric, rfm, text"),
        (["algo=nope"], 1, "Available options in 'algo'"),
        (["dataset=nope"], 1, "Available options in 'dataset'"),
        (
            ["algo.n_clusters=500", *TOY],
            2,
            "algo.n_clusters=500 is larger than the number of customers (300)",
        ),
    ],
)
def test_expected_errors_are_one_clear_message_without_traceback(tmp_path, args, code, expected):
    done = segbench(tmp_path, *args)
    assert done.returncode == code
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_a_run_that_fails_after_starting_is_marked_failed(tmp_path):
    done = segbench(tmp_path, "algo.n_clusters=500", *TOY)
    assert done.returncode == 2
    (run,) = all_runs(store(tmp_path))
    assert run.info.status == "FAILED"
    assert "is larger than the number of customers" in run.data.tags["segbench.error"]


def test_console_script_is_the_same_program(tmp_path):
    import subprocess

    script = Path(sys.executable).with_name("segbench")
    done = subprocess.run(
        [str(script), "--cfg", "job", "algo=gmm"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "_target_: segbench.algorithms.mixture.ParallelGaussianMixture" in done.stdout


def test_verbose_flag_prints_where_the_time_went(tmp_path):
    done = segbench(tmp_path, "-v", "dataset.n_customers=400", "extras=lean")
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [x for x in done.stdout.splitlines() if x.strip().startswith("time:")]
    for phase in ("setup", "load", "features", "fit", "score", "log", "report"):
        assert f" {phase} " in line
    (run,) = all_runs(store(tmp_path))
    assert run.data.metrics["time.fit"] > 0
    # the command leaves without the interpreter's teardown (cli.leave): what logging wrote
    # to the job's log file is there, flushed
    (logged,) = tmp_path.glob("outputs/*/*/*.log")
    assert "features: 400 customers" in logged.read_text()
    # without the flag the summary stays short; the setting does the same as the flag
    quiet = segbench(tmp_path, "dataset.n_customers=400", "extras=lean")
    assert quiet.returncode == 0 and "time:" not in quiet.stdout
    setting = segbench(tmp_path, "dataset.n_customers=400", "extras=lean", "tracking.verbose=true")
    assert "  time: setup" in setting.stdout
