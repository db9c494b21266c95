"""The leaderboard on a hand-built tracking store whose every rank and interval is checked by hand.

Store (experiment "hand", a real SQLite MLflow store): a sweep parent with job runs of study
"hand".

d1 · rfm, no ground truth, seeds 1 and 2:
    a: silhouette .5/.7  davies_bouldin 1.0/1.2  calinski_harabasz 100/120  stability .9/.9
       balance gender .9, region .1; 6 segments, no noise
    b: silhouette .4/.4  davies_bouldin 0.5/0.7  calinski_harabasz 200/200  stability .9/.9
       balance gender .2, region .8; 6 segments (a switched-off section's setting differs
       between its seeds: still one configuration)
    h: silhouette .95/.97 davies_bouldin .2  calinski_harabasz 500  stability 1.0, 4 segments
       but 89% of the customers noise: degenerate, although best on every internal index
    c: one segment found, no internal metrics: degenerate
    d: FAILED with a segbench.error tag
  stability (.9 for a and b) and coverage (100% for a and b) do not vary: not ranked.
  ranks among a, b  silhouette a1 b2 · davies_bouldin b1 a2 · calinski_harabasz b1 a2 ·
                    gender a1 b2 · region b1 a2 → fairness term a 1.5, b 1.5
  composite a (1 + 2 + 2 + 1.5)/4 = 1.625, b (2 + 1 + 1 + 1.5)/4 = 1.375 → b, a; then the
  degenerate rows, h before c (h has the internal indices c lacks).
d2 · rfm, ground truth, one seed: k (two configurations, n_clusters 3: silhouette .6 ARI .70;
    n_clusters 4: silhouette .5 ARI .95 — the selection by silhouette keeps n_clusters 3, never
    the ground truth), g (ARI .89, AMI .80), w (ARI .89, AMI .85) and t, tuned (best.* params
    differ by seed), ARI .5/.6 → order w, g (ARI tie broken by AMI), k, t although k has the
    best silhouette.
d3 · rfm+text, ground truth: z with five seeds (ARI .99 1 1 .98 1: the t-interval is clipped at
    ARI's maximum 1); the seeds spell the expression "rfm+text" and "text + rfm": one table.
Not job runs: tuning trials (nested under a job, or tagged segbench.role=trial), the sweep
parent, a run of another study; and an earlier run of a's seed-1 configuration, superseded.
"""

import math
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
from segbench.leaderboard.charts import pareto_front
from segbench.leaderboard.markdown import render_markdown
from segbench.leaderboard.reruns import defining_params

T0 = 1_700_000_000_000


def make_run(client, exp, start, params, metrics, status="FINISHED", tags=None, parent=None):
    all_tags = {"segbench.dataset_fingerprint": f"fp-{params.get('dataset.name')}"}
    all_tags |= dict(tags or {})
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


def params(dataset, algo, seed, study="hand", features="rfm", **extra):
    return {
        "dataset.name": dataset,
        "features": features,
        "algo.name": algo,
        "seed": seed,
        "algo.random_state": seed,
        "study": study,
        "tracking.uri": "sqlite:///x.db",
        **extra,
    }


CLEAN = {"n_segments": 6.0, "noise_fraction": 0.0}


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
    job("a1_old", params("d1", "a", 1), {"silhouette": 0.1, "davies_bouldin": 9.0} | CLEAN)
    for seed, (sil, db, ch) in {1: (0.5, 1.0, 100.0), 2: (0.7, 1.2, 120.0)}.items():
        m = {"silhouette": sil, "davies_bouldin": db, "calinski_harabasz": ch, "stability": 0.9}
        fair = {"fairness.gender.balance": 0.9, "fairness.region.balance": 0.1}
        job(f"a{seed}", params("d1", "a", seed), m | fair | CLEAN)
    for seed, db in {1: 0.5, 2: 0.7}.items():
        m = {"silhouette": 0.4, "davies_bouldin": db, "calinski_harabasz": 200.0, "stability": 0.9}
        fair = {"fairness.gender.balance": 0.2, "fairness.region.balance": 0.8}
        # a switched-off section whose settings changed between seeds: still one configuration
        off = {"proxy.enabled": "False", "proxy.cv": 5 if seed == 1 else 3}
        job(f"b{seed}", params("d1", "b", seed, **off), m | fair | CLEAN)
    for seed, sil in {1: 0.95, 2: 0.97}.items():
        m = {"silhouette": sil, "davies_bouldin": 0.2, "calinski_harabasz": 500.0}
        m |= {"stability": 1.0, "n_segments": 4.0, "noise_fraction": 0.89}
        fair = {"fairness.gender.balance": 0.3, "fairness.region.balance": 0.3}
        job(f"h{seed}", params("d1", "h", seed), m | fair)
    for seed in (1, 2):
        fair = {"fairness.gender.balance": 0.5, "fairness.region.balance": 0.8}
        job(f"c{seed}", params("d1", "c", seed), {"n_segments": 1.0, "noise_fraction": 0.0} | fair)
    job(
        "d1",
        params("d1", "d", 1),
        {},
        status="FAILED",
        tags={"segbench.error": "DataError: algo.n_clusters=500 is larger than 300"},
    )
    truth = {"ari": 0.0, "ami": 0.0, "nmi": 0.0}
    for k, (sil, ari) in {3: (0.6, 0.70), 4: (0.5, 0.95)}.items():
        m = CLEAN | {"silhouette": sil, "ari": ari, "ami": ari - 0.05, "nmi": ari - 0.04}
        job(f"k{k}", params("d2", "k", 1, **{"algo.n_clusters": k}), m)
    job("g", params("d2", "g", 1), CLEAN | truth | {"silhouette": 0.3, "ari": 0.89, "ami": 0.80})
    job("w", params("d2", "w", 1), CLEAN | truth | {"silhouette": 0.2, "ari": 0.89, "ami": 0.85})
    for seed, (k, ari) in {1: (4, 0.5), 2: (5, 0.6)}.items():
        tuned = params("d2", "t", seed, **{"tune.name": "optuna", "best.algo.n_clusters": k})
        m = CLEAN | truth | {"silhouette": 0.1, "ari": ari}
        job(f"t{seed}", tuned, m, tags={"segbench.tune.best_number": "3"})
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
    for seed, ari in enumerate([0.99, 1.0, 1.0, 0.98, 1.0], start=1):
        spelled = "rfm+text" if seed % 2 else "text + rfm"
        job(f"z{seed}", params("d3", "z", seed, features=spelled), CLEAN | truth | {"ari": ari})
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


JOBS = ["a1", "a2", "b1", "b2", "h1", "h2", "c1", "c2", "d1", "k3", "k4", "g", "w", "t1", "t2"]
JOBS += [f"z{s}" for s in range(1, 6)]


def test_store_reading_keeps_job_runs_only(store, board):
    _, ids, _ = store
    assert set(board.runs["run_id"]) == {ids[k] for k in JOBS}  # no trial, parent, other study
    assert list(board.superseded["run_id"]) == [ids["a1_old"]]  # listed apart, not dropped
    assert list(board.superseded["superseded_by"]) == [ids["a1"]]
    assert set(board.cells) == {("d1", "rfm"), ("d2", "rfm"), ("d3", "rfm+text")}


def test_a_degenerate_run_never_wins(board):
    cell = board.cells[("d1", "rfm")]
    t = cell.table.set_index("algorithm")
    assert list(cell.table["algorithm"]) == ["b", "a", "h", "c"]
    assert t["degenerate"].to_dict() == {"b": False, "a": False, "h": True, "c": True}
    assert t.loc["h", "why"] == "89% noise" and t.loc["c", "why"] == "1 segment"
    # h is best on every internal index, yet ranked after every non-degenerate row, unranked
    assert t.loc["h", "silhouette"] == pytest.approx(0.96)
    assert t["rank"].to_dict() == {"b": 1.0, "a": 2.0, "h": 3.0, "c": 4.0}
    assert np.isnan(t.loc["h", "silhouette.rank"])
    assert t.loc["h", "coverage"] == pytest.approx(0.11)
    assert t.loc["a", "silhouette.rank"] == 1.0 and t.loc["b", "silhouette.rank"] == 2.0
    assert t.loc["b", "davies_bouldin.rank"] == 1.0  # lower is better
    assert t.loc["b", "calinski_harabasz.rank"] == 1.0
    assert t["composite"][["a", "b"]].to_dict() == pytest.approx({"a": 1.625, "b": 1.375})
    assert not cell.truth and cell.composite == [
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
        "fairness",
    ]
    lines = [line for line in render_markdown(board).splitlines() if "`rfm`" in line]
    assert lines[0].startswith("  - `rfm`: **b**, composite 1.38")


def test_columns_that_do_not_vary_are_not_ranked(board):
    cell = board.cells[("d1", "rfm")]
    assert cell.constant == {"stability": 0.9, "coverage": 1.0}
    assert "stability.rank" not in cell.table and "coverage.rank" not in cell.table
    assert cell.ranked == [
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
        "fairness.gender.balance",
        "fairness.region.balance",
    ]
    assert "Same in every row, not ranked: `stability` = 0.900, `coverage` = 1.00" in (
        render_markdown(board)
    )


def test_with_ground_truth_the_order_follows_ari(board):
    cell = board.cells[("d2", "rfm")]
    assert cell.truth and cell.ranked == ["ari", "ami", "nmi"]
    table = cell.table.set_index("algorithm")
    assert list(cell.table["algorithm"]) == ["w", "g", "k", "t"]  # k has the best silhouette
    assert table["ari.rank"].to_dict() == {"w": 1.5, "g": 1.5, "k": 3.0, "t": 4.0}
    assert "silhouette" in cell.context and "silhouette.rank" not in cell.table
    # the configuration is chosen by silhouette (an internal index), never by the ground truth
    assert table.loc["k", "configs"] == 2 and table.loc["k", "config"] == "algo.n_clusters=3"
    assert table.loc["k", "ari"] == pytest.approx(0.70)
    # tuned: best.* (tuning results) do not split seeds
    assert table.loc["t", "seeds"] == 2 and table.loc["t", "configs"] == 1
    md = render_markdown(board)
    assert "  - `rfm`: **w**, ARI 0.890, 6 segments; tied with g" in md


def test_few_seed_intervals_are_min_max_and_clipped(board, store):
    _, ids, _ = store
    a = board.cells[("d1", "rfm")].table.set_index("algorithm").loc["a"]
    assert a["seeds"] == 2 and a["silhouette"] == pytest.approx(0.6)
    assert (a["silhouette.low"], a["silhouette.high"]) == pytest.approx((0.5, 0.7))
    assert a["run_id"] == ids["a2"]  # best seed by silhouette
    z = board.cells[("d3", "rfm+text")].table.iloc[0]
    ari = np.array([0.99, 1.0, 1.0, 0.98, 1.0])
    half = stats.t.ppf(0.975, 4) * ari.std(ddof=1) / math.sqrt(5)
    assert z["ari.low"] == pytest.approx(ari.mean() - half)
    assert z["ari.high"] == 1.0 < ari.mean() + half  # clipped at ARI's maximum
    single = board.cells[("d2", "rfm")].table.set_index("algorithm")
    assert single.loc[["w", "g"], "ari.low"].isna().all()  # one seed: no interval
    md = render_markdown(board)
    assert "0.600 [0.500, 0.700] #1" in md  # a's silhouette: mean [min, max] #rank
    assert "±" not in md


def test_block_order_does_not_split_tables(board):
    z = board.cells[("d3", "rfm+text")].table
    assert len(z) == 1 and z.iloc[0]["seeds"] == 5 and z.iloc[0]["configs"] == 1
    assert defining_params({"features": "text + rfm"}) == {"features": "rfm+text"}


def test_settings_of_switched_off_sections_do_not_split_configurations(board):
    b = board.cells[("d1", "rfm")].table.set_index("algorithm").loc["b"]
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


def test_missing_metrics_stay_missing(board):
    md = render_markdown(board)
    row = next(line for line in md.splitlines() if re.match(r"\|\s+4 \| c ", line))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3] == "1"  # segments
    assert cells[4:7] == ["—", "—", "—"]  # silhouette, davies_bouldin, calinski_harabasz
    assert cells[-1] == "degenerate: 1 segment (2/2 seeds)"


def test_failed_runs_are_listed_with_their_error(board, store):
    _, ids, _ = store
    assert len(board.failed) == 1
    failed = board.failed.iloc[0]
    assert failed["run_id"] == ids["d1"] and failed["status"] == "FAILED"
    assert "larger than 300" in failed["error"]
    assert "DataError: algo.n_clusters=500" in render_markdown(board)
    assert "d" not in set(board.cells[("d1", "rfm")].table["algorithm"])


def test_overall_table_averages_ranks_over_datasets(board):
    overall = board.overall.set_index("algorithm")
    assert overall.loc["b", "all"] == 1.0 and overall.loc["w", "all"] == 1.5
    assert overall.loc["z", "rfm+text"] == 1.0 and overall.loc["c", "cells"] == 1
    # no algorithm ran in every cell: no test across cells, and the page says why
    assert isinstance(board.comparison, str) and "at least 2 cells" in board.comparison


def test_directions():
    assert direction("davies_bouldin") == "min" and direction("silhouette") == "max"
    assert direction("fairness.age_band.balance") == "max" and direction("coverage") == "max"
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
    assert len(by_parent) == len(JOBS) and len(superseded) == 1
    error = "DataError: algo.n_clusters=500 is larger than 300"
    by_tag, _ = load_runs(uri, tags={"segbench.error": error})
    assert list(by_tag["run_id"]) == [ids["d1"]]
    other, _ = load_runs(uri, experiments=["other"])
    assert list(other["params.study"]) == ["elsewhere"] and list(other["experiment"]) == ["other"]
    everything, superseded = load_runs(uri, keep_superseded=True)
    assert len(everything) == len(JOBS) + 2 and len(superseded) == 0  # + superseded + other


def test_the_database_reader_and_the_mlflow_client_agree(store):
    """The bulk SQL path reads what ``MlflowClient.search_runs`` reads."""
    from segbench.leaderboard.reruns import split_reruns
    from segbench.leaderboard.sqlstore import Selection
    from segbench.leaderboard.store import _client_runs, _standard, read_store

    uri, _, _ = store
    for selection in (Selection(study="hand"), Selection(experiments=["other"])):
        fast = split_reruns(_standard(read_store(uri, selection)[0]))[0]
        slow = split_reruns(_standard(_client_runs(uri, selection)[0]))[0]
        pd.testing.assert_frame_equal(fast, slow)


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
        self._h = tag in ("h1", "h2", "h3")

    def handle_data(self, data):
        if self._h:
            self.headings.append(data)
            self._h = False


def test_cli_writes_markdown_html_and_csv(store, tmp_path, capsys):
    import base64

    uri, _, _ = store
    out = tmp_path / "results" / "hand"
    assert main(["--tracking-uri", uri, "--study", "hand", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "21 job runs, 3 tables, 1 not finished, 1 superseded" in printed
    md = (out / "leaderboard.md").read_text()
    assert "## d1 · rfm" in md and "## d2 · rfm" in md and "## Overall" in md

    parser = Parsed()
    page = (out / "leaderboard.html").read_text()
    parser.feed(page)
    assert parser.tables == 3 + 3  # three cells; overall, not finished, superseded
    for chart in ("chart-forest", "chart-quality-fairness", "chart-rank-heatmap"):
        src = parser.images[chart]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<script" not in page  # nothing to fetch or run
    assert "d1 · rfm" in parser.headings

    every = read_runs_csv(str(out / "leaderboard.csv"))
    runs, superseded = load_runs(uri, study="hand")
    expected = pd.concat([runs, superseded], ignore_index=True)
    expected = expected.sort_values(["start_time", "run_id"], kind="stable")
    pd.testing.assert_frame_equal(every.reset_index(drop=True), expected.reset_index(drop=True))
    assert every["outcome"].value_counts().to_dict() == {
        "result": 19,
        "not finished": 1,
        "superseded": 1,
    }


def test_cli_reports_what_exists_when_nothing_matches(store, capsys):
    uri, _, _ = store
    assert main(["--tracking-uri", uri, "--study", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no runs match study='nope'" in err and "Studies there: elsewhere, hand" in err
    assert main(["--tracking-uri", uri, "--experiment", "missing"]) == 2
    assert "no MLflow experiment named 'missing'" in capsys.readouterr().err
