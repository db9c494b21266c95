"""Segments over time: CustomerData.window, matching, migration, drift, online vs refit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from segbench.analyses.temporal.migration import INACTIVE, migration_matrix, track_segments
from segbench.analyses.temporal.online import online_vs_refit
from segbench.analyses.temporal.windows import fit_windows, time_windows
from segbench.data.model import CustomerData, DatasetMeta
from segbench.errors import DataError
from segbench.evaluation.matching import (
    match_by_centroids,
    match_by_overlap,
    matched_accuracy,
    relabel,
)
from segbench.features import build_pipeline

KMEANS = {
    "name": "kmeans",
    "_target_": "sklearn.cluster.KMeans",
    "n_clusters": 3,
    "n_init": 3,
    "random_state": 0,
}
RFM_ONLY = {"rfm": {"_target_": "segbench.features.rfm.RFMBlock", "log_transform": True}}
STANDARD = {"scaler": "standard", "block_weighting": True, "reduce": None}


@pytest.fixture(autouse=True)
def _one_openmp_thread():
    """Small fits slow down 10-500x when OpenMP threads outnumber free cores (shared CI)."""
    with threadpool_limits(1, user_api="openmp"):
        yield


def make_pipeline():
    return build_pipeline("rfm", RFM_ONLY, STANDARD)


def stream(
    n: int = 240,
    months: int = 12,
    seed: int = 0,
    switch_month: int | None = None,
    change: dict[int, int] | None = None,
):
    """Three kinds of customers buying every month; from ``switch_month`` on, kind ``k``
    behaves like kind ``change[k]`` (default: kinds 0 and 2 swap)."""
    change = {0: 2, 2: 0} if change is None else change
    rng = np.random.default_rng(seed)
    rows = []
    kinds = np.arange(n) % 3
    for month in range(months):
        start = pd.Timestamp("2023-01-01") + pd.DateOffset(months=month)
        for c in range(n):
            kind = kinds[c]
            if switch_month is not None and month >= switch_month:
                kind = change.get(kind, kind)
            visits = (
                {0: 8, 1: 3, 2: 1}[kind] if rng.random() < {0: 0.95, 1: 0.95, 2: 0.6}[kind] else 0
            )
            for v in range(visits):
                rows.append(
                    (
                        f"C{c:04d}",
                        f"I{month}-{c}-{v}",
                        start + pd.Timedelta(days=int(rng.integers(0, 28))),
                        f"P{rng.integers(0, 5)}",
                        "item",
                        int(rng.integers(1, 4)),
                        float({0: 80.0, 1: 20.0, 2: 2.0}[kind] * rng.uniform(0.8, 1.2)),
                        "web",
                    )
                )
    tx = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "invoice_id",
            "timestamp",
            "product_id",
            "description",
            "quantity",
            "unit_price",
            "channel",
        ],
    )
    ids = pd.Index(sorted(tx["customer_id"].unique()), name="customer_id")
    return CustomerData(
        customers=pd.DataFrame(index=ids), meta=DatasetMeta(name="stream"), transactions=tx
    )


# -- CustomerData.window ------------------------------------------------------------------


def test_window_keeps_the_transactions_and_customers_of_the_period():
    data = stream(30, months=4)
    part = data.window("2023-02-01", "2023-03-01")
    tx = part.transactions
    assert tx["timestamp"].min() >= pd.Timestamp("2023-02-01")
    assert tx["timestamp"].max() < pd.Timestamp("2023-03-01")
    assert set(part.customer_ids) == set(tx["customer_id"])
    assert part.meta.analysis_date == pd.Timestamp("2023-03-01")
    assert part.meta.fingerprint and part.meta.fingerprint != data.meta.fingerprint
    assert data.transactions["timestamp"].max() >= pd.Timestamp("2023-04-01")  # source unchanged
    before = data.before("2023-02-01")
    assert before.transactions["timestamp"].max() < pd.Timestamp("2023-02-01")
    assert before.meta.analysis_date == pd.Timestamp("2023-02-01")


def test_window_needs_transactions():
    data = CustomerData(
        customers=pd.DataFrame(index=pd.Index(["a"], name="customer_id")),
        meta=DatasetMeta(name="flat"),
    )
    with pytest.raises(DataError, match="no transactions"):
        data.window(end="2024-01-01")


# -- matching -----------------------------------------------------------------------------


def test_overlap_matching_recovers_a_permutation_and_keeps_noise():
    reference = np.array([0, 0, 0, 1, 1, 2, 2, 2, -1])
    renamed = np.array([7, 7, 7, 4, 4, 9, 9, 5, -1])  # one customer moved 2 -> 5
    mapping = match_by_overlap(reference, renamed)
    assert mapping[7] == 0 and mapping[4] == 1 and mapping[9] == 2 and mapping[-1] == -1
    assert mapping[5] == 3  # no partner left: a fresh id
    assert matched_accuracy(reference, renamed) == pytest.approx(8 / 9)  # noise agrees too


def test_centroid_matching_pairs_nearest_centres():
    ref = {0: np.array([0.0, 0.0]), 1: np.array([10.0, 0.0])}
    new = {5: np.array([9.5, 0.2]), 6: np.array([0.3, -0.1]), 7: np.array([50.0, 50.0])}
    mapping = match_by_centroids(ref, new)
    assert mapping[5] == 1 and mapping[6] == 0 and mapping[7] == 2
    np.testing.assert_array_equal(relabel(np.array([6, 5, 7]), mapping), [0, 1, 2])


# -- migration ----------------------------------------------------------------------------


def test_migration_matrix_by_hand():
    previous = pd.Series([0, 0, 1, 1], index=["a", "b", "c", "d"])
    current = pd.Series([0, 1, 1, 0], index=["a", "b", "c", "e"])
    m = migration_matrix(previous, current)
    assert list(m.index) == ["0", "1", INACTIVE] and list(m.columns) == ["0", "1", INACTIVE]
    assert m.loc["0", "0"] == 1 and m.loc["0", "1"] == 1  # a stays, b moves
    assert m.loc["1", "1"] == 1 and m.loc["1", INACTIVE] == 1  # c stays, d leaves
    assert m.loc[INACTIVE, "0"] == 1  # e is new
    assert m.to_numpy().sum() == 5


def test_stable_behaviour_gives_stable_windows_and_no_drift():
    data = stream(240, months=12)
    fits, skipped = fit_windows(data, time_windows(data, "Q"), make_pipeline, KMEANS)
    assert [f.window.label for f in fits] == [
        "2023Q1",
        "2023Q2",
        "2023Q3",
        "2023Q4",
    ] and not skipped
    result = track_segments(fits, drift_ari=0.5, drift_share=0.15)
    assert result.metrics["temporal.windows"] == 4
    assert result.metrics["temporal.stability"] > 0.8
    assert result.metrics["temporal.stay_rate"] > 0.8
    assert result.drift_windows == []
    assert result.shares.shape[0] == 4


def test_a_mass_movement_shows_in_the_migration_not_as_drift():
    # kinds 0 and 2 swap behaviour from July: each window's segmentation has the same
    # structure (no drift), but two thirds of the customers change segment in Q3
    data = stream(240, months=12, switch_month=6)
    fits, _ = fit_windows(data, time_windows(data, "Q"), make_pipeline, KMEANS)
    result = track_segments(fits, drift_ari=0.5, drift_share=0.15)
    transition = {t.target: t for t in result.transitions}
    assert transition["2023Q3"].stay_rate < 0.5
    assert transition["2023Q2"].stay_rate > 0.8 and transition["2023Q4"].stay_rate > 0.8
    assert result.drift_windows == []
    m = transition["2023Q3"].matrix
    moved = sum(int(m.loc[r].drop(INACTIVE).idxmax() != r) for r in m.index if r != INACTIVE)
    assert moved == 2  # the biggest flow out of each swapped segment goes to the other
    # matching by membership hides it (the documented weakness of match="overlap")
    overlap = track_segments(fits, drift_ari=0.5, drift_share=0.15, match="overlap")
    assert {t.target: t for t in overlap.transitions}["2023Q3"].stay_rate > 0.8


def test_a_structural_change_is_flagged_as_drift_in_its_window():
    # from July the light buyers (kind 2) buy like the heavy ones (kind 0): the segment
    # shares and the segmentation itself change in Q3
    data = stream(240, months=12, switch_month=6, change={2: 0})
    fits, _ = fit_windows(data, time_windows(data, "Q"), make_pipeline, KMEANS)
    result = track_segments(fits, drift_ari=0.5, drift_share=0.15)
    assert "2023Q3" in result.drift_windows
    assert "2023Q2" not in result.drift_windows
    assert result.metrics["temporal.drift_windows"] >= 1


def test_drift_flag_follows_the_share_threshold():
    data = stream(240, months=12)
    fits, _ = fit_windows(data, time_windows(data, "Q"), make_pipeline, KMEANS)
    strict = track_segments(fits, drift_ari=0.0, drift_share=-1.0)  # any share change is drift
    assert strict.drift_windows == ["2023Q2", "2023Q3", "2023Q4"]
    assert strict.metrics["temporal.drift_windows"] == 3


def test_temporal_charts_draw(tmp_path):
    from segbench.analyses.temporal.charts import migration_heatmaps, share_chart

    data = stream(120, months=6)
    fits, _ = fit_windows(data, time_windows(data, "Q"), make_pipeline, KMEANS)
    result = track_segments(fits, drift_ari=1.01, drift_share=0.15)  # every window drifts
    fig = migration_heatmaps(result)
    assert "DRIFT" in fig.axes[0].get_title()
    fig.savefig(tmp_path / "m.png")
    share_chart(result).savefig(tmp_path / "s.png")


def test_unknown_window_frequency_is_a_clear_error():
    with pytest.raises(DataError, match="period alias"):
        time_windows(stream(10, months=2), "fortnight")


# -- online -------------------------------------------------------------------------------


def test_online_updates_agree_with_a_refit_on_a_stationary_stream():
    data = stream(300, months=8)
    result = online_vs_refit(data, make_pipeline, KMEANS, batch_freq="M", seed=0, history_days=60)
    m = result.metrics
    assert m["temporal.online.batches"] == 8
    assert m["temporal.online.ari_vs_refit"] > 0.8
    assert m["temporal.online.ari_vs_refit_same_features"] > 0.8
    assert 1.0 <= m["temporal.online.inertia_ratio"] < 1.6
    assert m["temporal.online.update_seconds_total"] > 0 and m["temporal.online.refit_seconds"] > 0
    assert list(result.batches.columns) == ["batch", "customers_updated", "update_seconds"]
    last_window = data.window(pd.Timestamp("2023-09-01") - pd.Timedelta(days=60), "2023-09-01")
    assert result.online_labels.index.equals(last_window.customer_ids.astype(str))


def test_cumulative_features_make_the_online_centres_lag():
    # the documented cost of cumulative features: partial_fit averages centres over every
    # batch while frequency and spend keep growing, so the online model drifts from a refit
    data = stream(300, months=8)
    cumulative = online_vs_refit(data, make_pipeline, KMEANS, batch_freq="M", seed=0).metrics
    trailing = online_vs_refit(data, make_pipeline, KMEANS, "M", 0, history_days=60).metrics
    assert cumulative["temporal.online.ari_vs_refit"] < trailing["temporal.online.ari_vs_refit"]
    assert cumulative["temporal.online.inertia_ratio"] > trailing["temporal.online.inertia_ratio"]


def test_warm_up_batches_fit_the_scaling_before_the_first_update():
    data = stream(120, months=5)
    result = online_vs_refit(data, make_pipeline, KMEANS, "M", 0, warmup_batches=3)
    updated = result.batches["customers_updated"].tolist()
    # January and February only warm up; everyone seen by the end of March comes in at once
    assert updated[:2] == [0, 0] and updated[2] == data.before("2023-04-01").n_customers
    assert result.metrics["temporal.online.batches"] == 3
    assert 0 < result.metrics["temporal.online.ari_refit_reseeded"] <= 1


def test_online_needs_two_batches():
    with pytest.raises(DataError, match="at least two"):
        online_vs_refit(stream(30, months=1), make_pipeline, KMEANS, batch_freq="Y")
