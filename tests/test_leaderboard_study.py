"""The leaderboard of a small real study: runs made by segbench itself (Python API, toy data)
in a temporary store, with two seeds per algorithm and one run that fails."""

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from segbench.api import run
from segbench.errors import DataError
from segbench.leaderboard import build_leaderboard, load_runs, read_runs_csv, write_leaderboard

TOY = ["dataset._target_=toydata.ToyDataset", "dataset.name=toy", "dataset.n_customers=300"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """kmeans and gmm × seeds 1, 2 (quick preset's lean settings, +study=lb) and a failure."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('study') / 'mlflow.db'}"
    common = ["experiment=quick", *TOY, f"tracking.uri={uri}", "study=lb", "features=rfm"]
    ids = {}
    for algo in ("kmeans", "gmm"):
        for seed in (1, 2):
            k = "algo.n_components=3" if algo == "gmm" else "algo.n_clusters=3"
            ids[(algo, seed)] = run([*common, f"algo={algo}", k, f"seed={seed}"]).run_id
    with pytest.raises(DataError, match="larger than the number of customers"):
        run([*common, "algo=kmeans", "algo.n_clusters=500", "seed=1"])
    runs, superseded = load_runs(uri, study="lb")
    return uri, ids, runs, superseded


@pytest.mark.slow
def test_rows_intervals_failures_and_files(study, tmp_path):
    _, ids, runs, superseded = study
    assert len(runs) == 5 and len(superseded) == 0
    board = build_leaderboard(runs, title="lb")
    assert list(board.tables) == [("toy", "rfm")]
    cell = board.cells[("toy", "rfm")]
    table = cell.table
    assert sorted(table["algorithm"]) == ["gmm", "kmeans"]
    assert (table["seeds"] == 2).all()
    # the toy data has ground truth: the table follows ARI, internal indices are context
    assert cell.truth and list(table["ari"]) == sorted(table["ari"], reverse=True)
    for metric in ("silhouette", "davies_bouldin", "calinski_harabasz", "stability", "ari"):
        low, high = table[f"{metric}.low"], table[f"{metric}.high"]
        assert (low <= table[metric]).all() and (table[metric] <= high).all(), metric
    assert set(table["run_id"]) <= set(ids.values())
    # the failure is listed apart with its error, not dropped and not a table row
    assert len(board.failed) == 1
    assert "larger than the number of customers" in board.failed.iloc[0]["error"]

    paths = write_leaderboard(board, tmp_path / "lb")
    md = paths["leaderboard.md"].read_text()
    assert "## toy · rfm" in md and "## Runs that did not finish" in md
    assert "larger than the number of customers" in md

    class Images(HTMLParser):
        def __init__(self):
            super().__init__()
            self.ids: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.ids.append(dict(attrs)["id"])

    images = Images()
    images.feed(paths["leaderboard.html"].read_text())
    assert {"chart-forest", "chart-rank-heatmap"} <= set(images.ids)
    # the toy data has a sensitive attribute (gender): the quality-vs-fairness chart is there
    assert "chart-quality-fairness" in images.ids

    back = read_runs_csv(str(paths["leaderboard.csv"]))
    pd.testing.assert_frame_equal(
        back, runs.sort_values(["start_time", "run_id"]).reset_index(drop=True)
    )
    assert len(back) == 5 and set(back["status"]) == {"FINISHED", "FAILED"}
    assert back["params.algo.name"].notna().all()
    assert np.isfinite(back.loc[back["status"] == "FINISHED", "metrics.silhouette"]).all()
