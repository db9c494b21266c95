"""The leaderboard on a hand-built tracking store whose every rank and interval is checked by hand.

Store (experiment "hand"): a sweep parent with job runs of study "hand" on two datasets:

d1 · rfm, seeds 1 and 2:
    a: silhouette .5/.7  davies_bouldin 1.0/1.2  calinski_harabasz 100/120  balance .9/.9
    b: silhouette .4/.4  davies_bouldin 0.5/0.7  calinski_harabasz 200/200  balance .2/.2
       (a switched-off section's setting differs between its seeds: still one configuration)
    c: no internal metrics (one segment found)                           balance .5/.5
    d: FAILED with a segbench.error tag
    second attribute, region balance: a .1, b .8, c .8
  ranks  silhouette a1 b2 c3 · davies_bouldin b1 a2 c3 · calinski_harabasz b1 a2 c3 ·
         gender a1 c2 b3 · region b1.5 c1.5 a3 → fairness term a 2, b 2.25, c 1.75
  mean ranks (three quality ranks and the fairness term): a 1.75, b 1.5625, c 2.6875
d2 · rfm, one seed: a in two configurations (n_clusters 3: silhouette .3, 4: silhouette .6),
    b silhouette .5; t tuned (best.* params differ by seed), silhouette .55/.45
    → a (n_clusters=4) 1, b and t tied 2.5.
Not job runs: tuning trials (nested under a job, or tagged segbench.role=trial), the sweep
parent, a run of another study; and an earlier run of a's seed-1 configuration, superseded.
"""

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient
from scipy import stats

from segbench.errors import ConfigError
from segbench.leaderboard import build_leaderboard, direction, load_runs, read_runs_csv
from segbench.leaderboard.__main__ import main
from segbench.leaderboard.aggregate import interval95
from segbench.leaderboard.charts import pareto_front
from segbench.leaderboard.markdown import render_markdown
from segbench.leaderboard.store import defining_params

T0 = 1_700_000_000_000


def make_run(client, exp, start, params, metrics, status="FINISHED", tags=None, parent=None):
    all_tags = dict(tags or {})
    if parent:
        all_tags["mlflow.parentRunId"] = parent
    run = client.create_run(exp, start_time=start, tags=all_tags)
    rid = run.info.run_id
    client.log_batch(
        rid,
        metrics=[Metric(k, v, start, 0) for k, v in metrics.items()],
        params=[Param(k, str(v)) for k, v in params.items()],
    )
    client.set_terminated(rid, status, end_time=start + 1000)
    return rid


def params(dataset, algo, seed, study="hand", **extra):
    return {
        "dataset.name": dataset,
        "features": "rfm",
        "algo.name": algo,
        "seed": seed,
        "algo.random_state": seed,
        "study": study,
        "tracking.uri": "sqlite:///x.db",
        **extra,
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    uri = f"sqlite:///{tmp_path_factory.mktemp('hand') / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("hand")
    other = client.create_experiment("other")
    parent = client.create_run(exp, start_time=T0, tags={"segbench.role": "sweep"}).info.run_id
    ids = {}
    t = T0 + 10_000

    def job(key, p, m, **kw):
        nonlocal t
        t += 1000
        ids[key] = make_run(client, exp, t, p, m, parent=parent, **kw)

    # superseded: an earlier run of a's first configuration (same params), worse silhouette
    job("a1_old", params("d1", "a", 1), {"silhouette": 0.1, "davies_bouldin": 9.0})
    for seed, (sil, db, ch) in {1: (0.5, 1.0, 100.0), 2: (0.7, 1.2, 120.0)}.items():
        m = {"silhouette": sil, "davies_bouldin": db, "calinski_harabasz": ch}
        fair = {"fairness.gender.balance": 0.9, "fairness.region.balance": 0.1}
        job(f"a{seed}", params("d1", "a", seed), m | fair)
    for seed, db in {1: 0.5, 2: 0.7}.items():
        m = {"silhouette": 0.4, "davies_bouldin": db, "calinski_harabasz": 200.0}
        fair = {"fairness.gender.balance": 0.2, "fairness.region.balance": 0.8}
        # a switched-off section whose settings changed between seeds: still one configuration
        off = {"proxy.enabled": "False", "proxy.cv": 5 if seed == 1 else 3}
        job(f"b{seed}", params("d1", "b", seed, **off), m | fair)
    for seed in (1, 2):
        fair = {"fairness.gender.balance": 0.5, "fairness.region.balance": 0.8}
        job(f"c{seed}", params("d1", "c", seed), {"n_segments": 1.0} | fair)
    job(
        "d1",
        params("d1", "d", 1),
        {},
        status="FAILED",
        tags={"segbench.error": "DataError: algo.n_clusters=500 is larger than 300"},
    )
    for k, sil in {3: 0.3, 4: 0.6}.items():
        job(f"a_k{k}", params("d2", "a", 1, **{"algo.n_clusters": k}), {"silhouette": sil})
    job("b_d2", params("d2", "b", 1), {"silhouette": 0.5})
    for seed, (k, sil) in {1: (4, 0.55), 2: (5, 0.45)}.items():
        tuned = params("d2", "t", seed, **{"tune.name": "optuna", "best.algo.n_clusters": k})
        job(f"t{seed}", tuned, {"silhouette": sil}, tags={"segbench.tune.best_number": "3"})
        t += 1000
        make_run(
            client,
            exp,
            t,
            tuned,
            {"silhouette": 0.99},
            parent=ids[f"t{seed}"],
            tags={"segbench.role": "trial", "segbench.trial_number": "3"},
        )
    # not job runs
    t += 1000
    make_run(client, exp, t, params("d1", "a", 1), {"silhouette": 0.99}, parent=ids["a1"])
    job("trial", params("d1", "e", 1), {"silhouette": 0.99}, tags={"segbench.role": "trial"})
    make_run(client, other, t, params("d1", "a", 1, study="elsewhere"), {"silhouette": 0.8})
    return uri, ids, parent


@pytest.fixture(scope="module")
def board(store):
    uri, _, _ = store
    runs, superseded = load_runs(uri, study="hand")
    return build_leaderboard(runs, superseded=superseded, title="hand")


def test_store_reading_keeps_job_runs_only(store, board):
    _, ids, _ = store
    got = set(board.runs["run_id"])
    keys = ("a1", "a2", "b1", "b2", "c1", "c2", "d1", "a_k3", "a_k4", "b_d2", "t1", "t2")
    expected = {ids[k] for k in keys}
    assert got == expected  # no trial, no sweep parent, no other study, no superseded run
    assert board.superseded == 1
    assert set(board.tables) == {("d1", "rfm"), ("d2", "rfm")}


def test_hand_checked_ranks_and_mean_ranks(board):
    t = board.tables[("d1", "rfm")].set_index("algorithm")
    assert list(board.tables[("d1", "rfm")]["algorithm"]) == ["b", "a", "c"]
    assert t["silhouette.rank"].to_dict() == {"a": 1.0, "b": 2.0, "c": 3.0}
    assert t["davies_bouldin.rank"].to_dict() == {"a": 2.0, "b": 1.0, "c": 3.0}  # lower wins
    assert t["calinski_harabasz.rank"].to_dict() == {"a": 2.0, "b": 1.0, "c": 3.0}
    assert t["fairness.gender.balance.rank"].to_dict() == {"a": 1.0, "b": 3.0, "c": 2.0}
    assert t["fairness.region.balance.rank"].to_dict() == {"a": 3.0, "b": 1.5, "c": 1.5}
    # fairness counts once: the mean of its two ranks joins the three quality ranks
    assert t["mean_rank"].to_dict() == pytest.approx({"a": 1.75, "b": 1.5625, "c": 2.6875})
    assert board.rank_metrics == [
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
        "fairness.gender.balance",
        "fairness.region.balance",
    ]


def test_settings_of_switched_off_sections_do_not_split_configurations(board):
    b = board.tables[("d1", "rfm")].set_index("algorithm").loc["b"]
    assert b["seeds"] == 2 and b["configs"] == 1 and b["config"] == ""
    kept = defining_params(
        {
            "proxy.enabled": "False",
            "proxy.cv": "5",
            "algo.k": "3",
            "tracking.uri": "x",
            "best.k": "4",
        }
    )
    assert kept == {"proxy.enabled": "False", "algo.k": "3"}
    on = defining_params({"proxy.enabled": "True", "proxy.cv": "5"})
    assert on == {"proxy.enabled": "True", "proxy.cv": "5"}


def test_intervals_over_seeds(board, store):
    _, ids, _ = store
    a = board.tables[("d1", "rfm")].set_index("algorithm").loc["a"]
    assert a["seeds"] == 2 and a["silhouette"] == pytest.approx(0.6)
    half = stats.t.ppf(0.975, 1) * np.std([0.5, 0.7], ddof=1) / np.sqrt(2)
    assert a["silhouette.ci95"] == pytest.approx(half)  # 12.706 · 0.1414 / 1.414 = 1.2706
    assert a["run_id"] == ids["a2"]  # best seed by silhouette
    mean, half3, n = interval95(pd.Series([1.0, 2.0, 3.0, np.nan]))
    assert (mean, n) == (2.0, 3) and half3 == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    single = board.tables[("d2", "rfm")].set_index("algorithm")
    assert single.loc[["a", "b"], "silhouette.ci95"].isna().all()  # one seed: no interval
    assert single.loc["t", "silhouette.ci95"] > 0  # the tuned algorithm ran two seeds


def test_missing_metrics_stay_missing(board):
    c = board.tables[("d1", "rfm")].set_index("algorithm").loc["c"]
    assert np.isnan(c["silhouette"]) and np.isnan(c["davies_bouldin"])
    md = render_markdown(board)
    row = next(line for line in md.splitlines() if re.match(r"\|\s+3 \| c ", line))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3:5] == ["1", "—"]  # context: segments (n_segments), noise (not logged here)
    assert cells[5:8] == ["—", "—", "—"]  # silhouette, davies_bouldin, calinski_harabasz
    assert cells[8] == "0.500 ± 0.000 (#2)"  # gender balance: same both seeds, zero-width CI


def test_best_configuration_is_selected_and_named(board):
    d2 = board.tables[("d2", "rfm")]
    assert list(d2["algorithm"]) == ["a", "b", "t"]
    assert d2["silhouette.rank"].tolist() == [1.0, 2.5, 2.5]
    tuned = d2.set_index("algorithm").loc["t"]  # best.* (tuning results) do not split seeds
    assert (
        tuned["seeds"] == 2 and tuned["configs"] == 1 and tuned["silhouette"] == pytest.approx(0.5)
    )
    a = d2.set_index("algorithm").loc["a"]
    assert a["silhouette"] == pytest.approx(0.6) and a["configs"] == 2
    assert a["config"] == "algo.n_clusters=4"


def test_failed_runs_are_listed_with_their_error(board, store):
    _, ids, _ = store
    assert len(board.failed) == 1
    failed = board.failed.iloc[0]
    assert failed["run_id"] == ids["d1"] and failed["status"] == "FAILED"
    assert "larger than 300" in failed["error"]
    assert "DataError: algo.n_clusters=500" in render_markdown(board)
    assert "d" not in set(board.tables[("d1", "rfm")]["algorithm"])


def test_overall_table_averages_mean_ranks_over_datasets(board):
    overall = board.overall.set_index("algorithm")
    # a: 1.75 on d1 and 1 on d2; b: 1.5625 and 2.5; c: 2.6875 on d1 only; t: 2.5 on d2 only
    assert overall.loc["a", "all"] == pytest.approx(1.375)
    assert overall.loc["b", "all"] == pytest.approx(2.03125)
    assert overall.loc["c", "tables"] == 1
    assert list(overall.index) == ["a", "b", "t", "c"]


def test_directions():
    assert direction("davies_bouldin") == "min" and direction("silhouette") == "max"
    assert direction("fairness.age_band.balance") == "max"
    # one registry: every fairness metric has its direction here, in tuning and in evaluation
    assert direction("fairness.gender.dp_difference") == "min"
    with pytest.raises(ConfigError, match="not a metric segbench knows"):
        direction("mystery")
    with pytest.raises(ConfigError, match="has no better direction"):
        direction("n_segments")


def test_pareto_front_on_a_hand_checked_case():
    x = np.array([0.9, 0.2, 0.5, 0.5, np.nan])
    y = np.array([0.6, 0.9, 0.3, 0.7, 1.0])
    # (0.9, .6) and (0.2, .9) and (0.5, .7) are non-dominated; (0.5, .3) is dominated by (0.5, .7)
    assert pareto_front(x, y).tolist() == [True, True, False, True, False]
    # y lower-is-better: (0.9, .6) keeps the best x, (0.5, .3) the best y; the others lose to them
    assert pareto_front(x, y, (True, False)).tolist() == [True, False, True, False, False]


def test_filters_study_as_sweep_parent_tags_and_experiment(store):
    uri, ids, parent = store
    by_parent, superseded = load_runs(uri, study=parent)
    assert len(by_parent) == 12 and superseded == 1
    error = "DataError: algo.n_clusters=500 is larger than 300"
    by_tag, _ = load_runs(uri, tags={"segbench.error": error})
    assert list(by_tag["run_id"]) == [ids["d1"]]
    other, _ = load_runs(uri, experiments=["other"])
    assert list(other["params.study"]) == ["elsewhere"] and list(other["experiment"]) == ["other"]
    everything, superseded = load_runs(uri, keep_superseded=True)
    assert len(everything) == 14 and superseded == 0  # 12 + superseded + other study


class Parsed(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tables, self.headings = {}, 0, []
        self._h = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images[attrs["id"]] = attrs["src"]
        elif tag == "table":
            self.tables += 1
        self._h = tag in ("h1", "h2")

    def handle_data(self, data):
        if self._h:
            self.headings.append(data)
            self._h = False


def test_cli_writes_markdown_html_and_csv(store, tmp_path):
    import base64

    uri, _, _ = store
    out = tmp_path / "results" / "hand"
    assert main(["--tracking-uri", uri, "--study", "hand", "--out", str(out)]) == 0
    md = (out / "leaderboard.md").read_text()
    assert "## d1 · rfm" in md and "## d2 · rfm" in md and "## Overall" in md
    assert "0.600 ± 1.271 (#1)" in md  # a's silhouette: mean ± t-interval half-width (rank)

    parser = Parsed()
    parser.feed((out / "leaderboard.html").read_text())
    assert parser.tables == 4  # two tables, overall, failed runs
    for chart in (
        "chart-bars-silhouette",
        "chart-bars-davies_bouldin",
        "chart-quality-fairness",
        "chart-rank-heatmap",
    ):
        src = parser.images[chart]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<script" not in (out / "leaderboard.html").read_text()  # nothing to fetch or run

    runs = read_runs_csv(str(out / "leaderboard.csv"))
    loaded, _ = load_runs(uri, study="hand")
    pd.testing.assert_frame_equal(runs, loaded)
    assert len(runs) == 12 and runs["metrics.silhouette"].isna().sum() == 3  # c1, c2, d1


def test_cli_reports_what_exists_when_nothing_matches(store, capsys):
    uri, _, _ = store
    assert main(["--tracking-uri", uri, "--study", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no runs match study='nope'" in err and "Studies there: elsewhere, hand" in err
    assert main(["--tracking-uri", uri, "--experiment", "missing"]) == 2
    assert "no MLflow experiment named 'missing'" in capsys.readouterr().err
