"""The leaderboard never hides a finished result (issue 11): a real SQLite store with killed,
failed, orphaned and superseded reruns, and a rerun on changed data.

Study "reruns", dataset d, features rfm, seed 1 unless said:

- x: FINISHED (silhouette .5), then a FAILED rerun, then a KILLED rerun, then a run left
  RUNNING (its process killed with SIGKILL): the FINISHED run stays the result;
- y: FINISHED (.3), then a FINISHED rerun (.4): the first is superseded, listed with the id
  of the second;
- z: FINISHED on data fingerprint f1 (.6), then FINISHED on f2 (.7), same settings: both stay,
  in two tables (d @f1…, d @f2…);
- x, seed 2: only a FAILED run.
"""

import pytest
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from segbench.leaderboard import build_leaderboard, load_runs, read_runs_csv
from segbench.leaderboard.__main__ import main
from segbench.leaderboard.markdown import render_markdown

T0 = 1_700_000_000_000


def run(client, exp, start, algo, seed=1, status="FINISHED", metrics=None, fingerprint="f1" * 8):
    params = {"dataset.name": "d", "features": "rfm", "algo.name": algo, "seed": seed}
    params["study"] = "reruns"
    tags = {"segbench.dataset_fingerprint": fingerprint}
    if status == "FAILED":
        tags["segbench.error"] = f"DataError: planted failure of {algo}"
    created = client.create_run(exp, start_time=start, tags=tags)
    rid = created.info.run_id
    metrics = {"n_segments": 4.0, "noise_fraction": 0.0} | (metrics or {})
    client.log_batch(
        rid,
        metrics=[Metric(k, v, start, 0) for k, v in metrics.items()],
        params=[Param(k, str(v)) for k, v in params.items()],
    )
    if status != "RUNNING":
        client.set_terminated(rid, status, end_time=start + 500)
    return rid


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    uri = f"sqlite:///{tmp_path_factory.mktemp('reruns') / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("reruns")
    t = iter(range(T0, T0 + 10**9, 1000))
    ids = {
        "x": run(client, exp, next(t), "x", metrics={"silhouette": 0.5}),
        "y_old": run(client, exp, next(t), "y", metrics={"silhouette": 0.3}),
        "z_f1": run(client, exp, next(t), "z", metrics={"silhouette": 0.6}),
        "x_failed": run(client, exp, next(t), "x", status="FAILED"),
        "x_killed": run(client, exp, next(t), "x", status="KILLED", metrics={"silhouette": 0.9}),
        "y_new": run(client, exp, next(t), "y", metrics={"silhouette": 0.4}),
        "z_f2": run(client, exp, next(t), "z", metrics={"silhouette": 0.7}, fingerprint="f2" * 8),
        "x_orphan": run(client, exp, next(t), "x", status="RUNNING"),
        "x2_failed": run(client, exp, next(t), "x", seed=2, status="FAILED"),
    }
    return uri, ids


def test_a_killed_failed_or_orphaned_rerun_never_hides_a_finished_result(store):
    uri, ids = store
    runs, superseded = load_runs(uri, study="reruns")
    board = build_leaderboard(runs, superseded=superseded)
    results = set(runs.loc[runs["outcome"] == "result", "run_id"])
    assert results == {ids["x"], ids["y_new"], ids["z_f1"], ids["z_f2"]}
    row = board.cells[("d @f1f1f1f1", "rfm")].table.set_index("algorithm").loc["x"]
    assert row["run_id"] == ids["x"] and row["silhouette"] == 0.5  # not the KILLED run's .9
    failed = board.failed.set_index("run_id")
    assert failed["status"].to_dict() == {
        ids["x_failed"]: "FAILED",
        ids["x_killed"]: "KILLED",
        ids["x_orphan"]: "RUNNING",
        ids["x2_failed"]: "FAILED",
    }
    md = render_markdown(board)
    assert "still running, or orphaned by a killed process: not a result" in md
    assert "DataError: planted failure of x" in md


def test_only_a_finished_rerun_on_the_same_data_supersedes(store):
    uri, ids = store
    runs, superseded = load_runs(uri, study="reruns")
    assert list(superseded["run_id"]) == [ids["y_old"]]
    assert list(superseded["superseded_by"]) == [ids["y_new"]]
    board = build_leaderboard(runs, superseded=superseded)
    md = render_markdown(board)
    assert "## Superseded results" in md and ids["y_old"] in md
    # z ran on two versions of the data: two tables, neither result replaced the other
    tables = {d: c.table.set_index("algorithm") for (d, _), c in board.cells.items()}
    assert set(tables) == {"d @f1f1f1f1", "d @f2f2f2f2"}
    assert tables["d @f1f1f1f1"].loc["z", "silhouette"] == 0.6
    assert tables["d @f2f2f2f2"].loc["z", "silhouette"] == 0.7
    assert "x" not in tables["d @f2f2f2f2"].index  # x never ran on the new data


def test_every_run_is_in_the_csv(store, tmp_path):
    uri, ids = store
    assert main(["--tracking-uri", uri, "--study", "reruns", "--out", str(tmp_path)]) == 0
    every = read_runs_csv(tmp_path / "leaderboard.csv")
    assert set(every["run_id"]) == set(ids.values())
    outcome = every.set_index("run_id")["outcome"]
    assert outcome[ids["y_old"]] == "superseded" and outcome[ids["x_orphan"]] == "not finished"


def test_a_store_of_orphaned_running_runs_only_builds(tmp_path, capsys):
    """Before: ``NaTType does not support strftime`` (no run had ended)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("orphans")
    for i in range(3):
        run(client, exp, T0 + i, "x", seed=i, status="RUNNING")
    out = tmp_path / "out"
    assert main(["--tracking-uri", uri, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 job runs, 0 tables, 3 not finished, 0 superseded" in printed
    md = (out / "leaderboard.md").read_text()
    assert "none has ended" in md and md.count("orphaned by a killed process") == 3
    assert (out / "leaderboard.html").read_text().count("orphaned by a killed process") == 3


def test_any_mix_of_statuses_builds(store):
    uri, _ = store
    runs, superseded = load_runs(uri, study="reruns")
    for status in ("FINISHED", "FAILED", "KILLED", "RUNNING"):
        subset = runs[runs["status"] == status]
        board = build_leaderboard(subset, superseded=superseded.iloc[0:0])
        assert render_markdown(board).startswith("# segbench leaderboard")
    empty = build_leaderboard(runs.iloc[0:0])
    assert empty.cells == {} and "0 job runs" in render_markdown(empty)
