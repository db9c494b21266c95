"""One segment identity per run: the run's segment ids and one naming scheme in every
artifact (card, profiles, personalisation, segments over time, plots), the migration Sankey
as a self-contained interactive page, and the choice-of-k chart on by default at a bounded
cost."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from segbench.analyses.temporal import charts
from segbench.analyses.temporal.migration import Reference, track_segments
from segbench.analyses.temporal.windows import fit_windows, time_windows
from segbench.reporting.drawing import Sketch, pyplot
from segbench.reporting.names import segment_label
from segbench.tracking.mlflow_run import RunTracker
from test_temporal import KMEANS, make_pipeline, stream


@pytest.fixture(autouse=True)
def _one_openmp_thread():
    with threadpool_limits(1, user_api="openmp"):
        yield


def figure_texts(fig) -> str:
    """Every text a reader sees on a matplotlib figure: titles, axis labels, tick labels,
    legend entries and annotations."""
    parts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        parts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        parts += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
        parts += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            parts += [t.get_text() for t in legend.get_texts()]
    return "\n".join(parts)


@pytest.fixture
def figures(monkeypatch) -> dict[str, str]:
    """The texts of each figure a run logs, read when it is handed to the tracker (a sketch
    drawn here once more; the real ``RunTracker.figure`` still logs it)."""
    seen: dict[str, str] = {}
    log_figure = RunTracker.figure

    def spy(self, fig, path):
        drawn = fig.draw(*fig.args, **fig.kwargs) if isinstance(fig, Sketch) else fig
        if drawn is not None:
            seen[path] = figure_texts(drawn)
            if drawn is not fig:
                pyplot().close(drawn)
        return log_figure(self, fig, path)

    monkeypatch.setattr(RunTracker, "figure", spy)
    return seen


def card_names(card: str) -> dict[int, str]:
    return {
        int(s): n for s, n in re.findall(r"^### Segment (\d+) — (.+)$", card, flags=re.MULTILINE)
    }


class _SankeyPage(HTMLParser):
    """What a Sankey page holds: node labels, node and flow counts, external resources and
    inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[str] = []
        self.nodes = self.flows = self.inline_scripts = 0
        self.external: list[str] = []
        self._in_label = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            if attrs.get(key):
                self.external.append(f"{tag} {key}={attrs[key]}")
        self.nodes += tag == "rect" and attrs.get("class") == "node"
        self.flows += tag == "path" and attrs.get("class") == "flow"
        self.inline_scripts += tag == "script" and not attrs.get("src")
        self._in_label = tag == "text" and attrs.get("class") != "column"

    def handle_data(self, data):
        if self._in_label:
            self.labels.append(data)
            self._in_label = False


def sankey_page(page: str) -> _SankeyPage:
    parsed = _SankeyPage()
    parsed.feed(page)
    parsed.close()
    return parsed


def check_one_identity(local: Path, figures: dict[str, str], temporal: bool = True) -> dict:
    """The run's names (its profiles') everywhere; returns them."""
    profiles = pd.read_csv(local / "profiles/segment_profiles.csv", index_col="segment")
    names = profiles["name"].to_dict()
    labels = {s: segment_label(s, names) for s in names}
    # segment card: one, the run's, with the run's names
    assert card_names((local / "segment_card.md").read_text()) == {
        s: n for s, n in names.items() if n != f"segment {s}"
    }
    assert not (local / "personalisation/segment_cards.md").exists()
    recs = pd.read_csv(local / "personalisation/recommendations.csv").set_index("segment")
    assert recs["name"].to_dict() == {s: names[s] for s in recs.index}
    # every plot writes segments with their names
    for path in (
        "plots/projection.png",
        "plots/segment_sizes.png",
        "plots/silhouette.png",
        "plots/profile_heatmap.png",
    ):
        assert all(label in figures[path] for label in labels.values()), (path, figures[path])
    if temporal:
        # the windows speak of the run's segments: its ids, its names, no naming of their own
        shares = pd.read_csv(local / "temporal/shares.csv", index_col="window")
        assert {int(c) for c in shares.columns} <= set(names)
        assert not (local / "temporal/segment_names.csv").exists()
        for path in ("temporal/shares.png", "temporal/migration.png"):
            for segment in shares.columns:
                assert labels[int(segment)] in figures[path], (path, segment)
        page = (local / "temporal/migration_sankey.html").read_text()
        assert set(sankey_page(page).labels) <= {*labels.values(), charts.INACTIVE_LABEL}
        assert "rows sum to 100 %" in figures["temporal/migration.png"]
        # small-cell suppression (privacy.min_cell_size, default 10) holds for migration too
        migration = pd.read_csv(local / "temporal/migration.csv")
        counts = migration["customers"].dropna()
        assert ((counts == 0) | (counts >= 10)).all()
    return names


def test_one_naming_scheme_across_a_synthetic_run_with_temporal_on(tracking_uri, figures):
    from segbench.api import run

    result = run(
        [
            f"tracking.uri={tracking_uri}",
            "dataset.n_customers=800",
            "features=rfm",
            "algo.n_clusters=4",
            "tracking.log_model=false",
            "evaluation.stability.enabled=false",
            "analysis.assign.enabled=false",
            "analysis.temporal.enabled=true",
            "analysis.temporal.freq=Q",
            "analysis.temporal.online.enabled=false",
        ]
    )
    local = Path(
        mlflow.artifacts.download_artifacts(run_id=result.run_id, tracking_uri=tracking_uri)
    )
    names = check_one_identity(local, figures)
    assert len(names) == 4 and all(not n.startswith("segment ") for n in names.values())
    # the synthetic data's fairness charts name the segments too
    fairness = [p for p in figures if p.startswith("plots/fairness_")]
    assert fairness and all(segment_label(0, names) in figures[p] for p in fairness)


def test_windows_take_the_run_segment_ids_whatever_the_run_numbered_them():
    data = stream(240, months=12)
    fits, _ = fit_windows(data, time_windows(data, "Q"), make_pipeline, KMEANS)
    pipeline = make_pipeline()
    X = pipeline.fit_transform(data).X
    raw = KMeans(3, n_init=3, random_state=0).fit_predict(X)
    ids = np.array([7, 3, 5])[raw]  # a run whose segments are numbered 7, 3, 5
    run = Reference(data.customer_ids.astype(str), X, ids, lambda d: pipeline.transform(d).X)
    for match in ("centroids", "overlap"):
        result = track_segments(fits, match=match, reference=run)
        assert {int(c) for c in result.shares.columns} == {3, 5, 7}, match
        # stable behaviour: a customer's segment in a window is mostly its segment in the run
        for labels in result.labels.values():
            same = labels == pd.Series(ids, index=data.customer_ids.astype(str)).loc[labels.index]
            assert same.mean() > 0.8, (match, same.mean())


def test_migration_heatmap_cells_are_row_shares_named_like_the_run():
    data = stream(120, months=6)
    fits, _ = fit_windows(data, time_windows(data, "Q"), make_pipeline, KMEANS)
    result = track_segments(fits)
    names = {0: "champions", 1: "lost", 2: "at risk"}
    fig = charts.migration_heatmaps(result, names)
    (t,) = result.transitions
    ax = fig.axes[0]
    cells = [float(x.get_text().rstrip("%")) for x in ax.texts]
    counts = t.matrix.to_numpy(dtype=float)
    shares = counts / counts.sum(axis=1, keepdims=True)
    expected = [round(100 * v) for v in shares[counts > 0]]
    assert cells == expected  # percentages of each row, as the title says
    text = figure_texts(fig)
    assert "0 · champions" in text and "not active" in text and "rows sum to 100 %" in text
    plt.close(fig)


def test_share_chart_legend_names_the_segments():
    data = stream(120, months=6)
    fits, _ = fit_windows(data, time_windows(data, "Q"), make_pipeline, KMEANS)
    result = track_segments(fits)
    fig = charts.share_chart(result, {0: "champions", 1: "lost"})
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[:2] == ["0 · champions", "1 · lost"] and legend[2] == "segment 2"
    plt.close(fig)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (Debian package 'chromium'); CI needs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def test_the_sankey_page_is_valid_self_contained_and_renders_offline(tmp_path):
    from segbench.tracking.privacy_scan import scan_store

    data = stream(120, months=9)
    fits, _ = fit_windows(data, time_windows(data, "Q"), make_pipeline, KMEANS)
    result = track_segments(fits)
    names = {0: "champions", 1: "lost", 2: "at risk"}
    page = charts.migration_sankey(result, names, "Segment migration · test")
    nodes, flows, _ = charts.sankey_parts(result, names)
    parsed = sankey_page(page)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert parsed.external == [] and parsed.inline_scripts == 1  # nothing to fetch
    assert (parsed.nodes, parsed.flows) == (len(nodes), len(flows)) and len(flows) > 6
    assert {"0 · champions", "1 · lost", "2 · at risk", "not active"} == set(parsed.labels)
    assert len(page) < 100_000
    # no numeric token a raw customer id could collide with (the store's privacy scan)
    path = tmp_path / "sankey.html"
    path.write_text(page)
    ids = [str(i) for i in range(12_346, 18_288)]  # Online Retail's raw customer ids
    assert scan_store([path], ids=ids, known_files=set()).findings == []
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: it must not need any
            f"--user-data-dir={profile}",
            "--virtual-time-budget=3000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # the browser ran the page's script (click-to-highlight) and drew every node and flow
    assert 'data-sankey="ready"' in dom
    rendered = sankey_page(dom)
    assert (rendered.nodes, rendered.flows) == (len(nodes), len(flows))


def test_the_choice_of_k_is_on_by_default_and_bounded():
    from segbench.analyses import k_selection as ks
    from segbench.api import settings

    s = settings([]).analysis.k_selection
    assert s.enabled and s.sample_size == 2_000 and s.n_init == 2
    assert not settings(["extras=lean"]).analysis.k_selection.enabled
    X = np.random.default_rng(0).normal(size=(5_000, 3))
    curve = ks.k_curve(KMeans(4, n_init=10, random_state=0), X, 2, 4, 500, seed=0, n_init=2)
    assert curve.attrs["customers"] == 500 and curve.attrs["n_init"] == 2
    assert curve["k"].tolist() == [2, 3, 4] and curve["silhouette"].notna().all()
    # the run's own n_init when lower
    curve = ks.k_curve(KMeans(4, n_init=1, random_state=0), X, 2, 3, 500, seed=0, n_init=2)
    assert curve.attrs["n_init"] == 1


def test_a_default_run_logs_the_k_chart_and_an_algorithm_without_k_skips_it(tracking_uri):
    from mlflow.tracking import MlflowClient

    from segbench.api import run

    common = [
        f"tracking.uri={tracking_uri}",
        "dataset.n_customers=600",
        "features=rfm",
        "tracking.log_model=false",
        "evaluation.stability.enabled=false",
        "analysis.assign.enabled=false",
        "analysis.personalisation.enabled=false",
    ]
    client = MlflowClient(tracking_uri)
    kmeans = run(common)
    stored = client.get_run(kmeans.run_id).data
    assert stored.metrics["k_selection.elbow_k"] >= 2 and "k_selection.seconds" in stored.metrics
    listed = {f.path for f in client.list_artifacts(kmeans.run_id, "k_selection")}
    assert listed == {"k_selection/curve.csv", "k_selection/k_choice.png"}
    hdbscan = run([*common, "algo=hdbscan"])
    stored = client.get_run(hdbscan.run_id).data
    assert "takes no number of segments" in stored.tags["segbench.k_selection.skipped"]
    assert not any(k.startswith("k_selection.") for k in stored.metrics)


def test_small_migration_cells_are_suppressed_in_every_temporal_artifact():
    from segbench.analyses.temporal.migration import migration_table

    data = stream(90, months=6, seed=3)
    fits, _ = fit_windows(data, time_windows(data, "Q"), make_pipeline, KMEANS)
    plain = track_segments(fits)
    (raw,) = plain.transitions
    k = 12
    assert ((raw.matrix > 0) & (raw.matrix < k)).to_numpy().any()  # there is something to hide
    result = track_segments(fits, min_cell_size=k)
    (t,) = result.transitions
    table = migration_table(result)
    counts = table["customers"].dropna().astype(int)
    assert ((counts == 0) | (counts >= k)).all() and table["customers"].isna().any()
    # complementary cells too: no row or column with exactly one cell hidden
    hidden = t.suppressed.to_numpy()
    assert all(row.sum() != 1 for row in hidden) and all(col.sum() != 1 for col in hidden.T)
    _, flows, left_out = charts.sankey_parts(result)
    assert min(f.value for f in flows) >= k and left_out == int(hidden.sum())
    fig = charts.migration_heatmaps(result)
    assert [x.get_text() for x in fig.axes[0].texts].count("–") == int(hidden.sum())
    plt.close(fig)
