"""Predictive value of segments: temporal split, segment means vs gradient boosting, response lift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from segbench.analyses.predictive import (
    evaluate_outcomes,
    out_of_fold,
    response_lift,
    temporal_split,
)
from segbench.data.model import CustomerData, DatasetMeta
from segbench.errors import DataError


@pytest.fixture(autouse=True)
def _one_openmp_thread():
    """Small fits slow down 10-500x when OpenMP threads outnumber free cores (shared CI)."""
    with threadpool_limits(1, user_api="openmp"):
        yield


def little_shop() -> CustomerData:
    """Three customers, hand-made lines around a 2024-04-01 cutoff."""
    tx = pd.DataFrame(
        [
            ("a", "i1", "2024-01-10", 2, 5.0),  # a: before only -> churns
            ("b", "i2", "2024-02-01", 1, 10.0),  # b: before and after (spend 3*4 + 1*8 = 20)
            ("b", "i3", "2024-04-05", 3, 4.0),
            ("b", "i4", "2024-06-20", 1, 8.0),
            ("b", "i5", "2024-07-15", 9, 9.0),  # after the 90-day horizon: not counted
            ("c", "i6", "2024-05-01", 1, 1.0),  # c: after only -> not a customer at the cutoff
        ],
        columns=["customer_id", "invoice_id", "timestamp", "quantity", "unit_price"],
    )
    tx["timestamp"] = pd.to_datetime(tx["timestamp"])
    tx = tx.assign(product_id="p", description="d", channel="web")
    customers = pd.DataFrame(index=pd.Index(["a", "b", "c"], name="customer_id"))
    return CustomerData(customers=customers, meta=DatasetMeta(name="shop"), transactions=tx)


def test_temporal_split_by_hand():
    before, outcomes, cutoff = temporal_split(little_shop(), "2024-04-01", horizon_days=90)
    assert cutoff == pd.Timestamp("2024-04-01")
    assert list(before.customer_ids) == ["a", "b"]
    assert before.meta.analysis_date == cutoff  # recency measured at the cutoff
    assert before.transactions["timestamp"].max() < cutoff
    assert outcomes.loc["a", "next_period_spend"] == 0 and bool(outcomes.loc["a", "churned"])
    assert outcomes.loc["b", "next_period_spend"] == pytest.approx(20.0)
    assert not bool(outcomes.loc["b", "churned"])


def test_default_cutoff_is_the_last_day_minus_the_horizon():
    _, _, cutoff = temporal_split(little_shop(), None, horizon_days=30)
    assert cutoff == pd.Timestamp("2024-07-16") - pd.Timedelta(days=30)


def test_a_cutoff_outside_the_data_is_refused():
    with pytest.raises(DataError, match="must fall inside"):
        temporal_split(little_shop(), "2030-01-01")


def test_segment_means_are_computed_out_of_fold():
    # each customer alone in its segment: the segment mean of the *other* folds is the
    # training mean, never its own value (no leak); powers of two: no mean of 8 of them is
    # one of them
    y = 2.0 ** np.arange(10)
    seg_pred, _ = out_of_fold(np.zeros((10, 1)), np.arange(10), y, "regression", folds=5)
    assert not np.any(seg_pred == y)


def planted(n: int = 900, seed: int = 0):
    """Spend and churn that depend on the segment, plus a feature the segments ignore."""
    rng = np.random.default_rng(seed)
    segments = np.arange(n) % 3
    extra = rng.normal(size=n)
    X = np.column_stack([segments + rng.normal(0, 0.1, n), extra])
    spend = np.array([10.0, 100.0, 400.0])[segments] * np.exp(rng.normal(0, 0.2, n))
    churned = rng.random(n) < np.array([0.8, 0.4, 0.05])[segments]
    return X, segments, pd.DataFrame({"next_period_spend": spend, "churned": churned})


def test_planted_segments_explain_spend_and_churn():
    X, segments, outcomes = planted()
    m = evaluate_outcomes(X, segments, outcomes, folds=5, seed=0).metrics
    assert m["predictive.customers"] == 900
    assert m["predictive.spend.r2_segments"] > 0.8
    assert m["predictive.spend.r2_model"] > 0.8
    assert m["predictive.churn.auc_segments"] > 0.75
    assert m["predictive.churn.rate"] == pytest.approx(outcomes["churned"].mean())


def test_random_segments_explain_nothing_but_the_model_still_does():
    X, _, outcomes = planted()
    noise = np.random.default_rng(1).integers(0, 3, len(X))
    m = evaluate_outcomes(X, noise, outcomes, folds=5, seed=0).metrics
    assert m["predictive.spend.r2_segments"] < 0.05
    assert m["predictive.spend.r2_model"] > 0.8
    assert abs(m["predictive.churn.auc_segments"] - 0.5) < 0.1
    assert m["predictive.churn.auc_model"] > 0.7


def test_response_rate_and_lift_by_hand():
    segments = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    response = pd.Series([1, 1, 0, 0, 0, 0, 0, 0, 0, 1])  # base 3/10
    result = response_lift(np.zeros((10, 1)), segments, response, folds=2, seed=0)
    table = result.tables["predictive/response_by_segment.csv"]
    assert table.loc[0, "response_rate"] == pytest.approx(0.5)
    assert table.loc[0, "lift"] == pytest.approx(0.5 / 0.3)
    assert table.loc[1, "lift"] == pytest.approx((1 / 6) / 0.3)
    assert result.metrics["predictive.response.base_rate"] == pytest.approx(0.3)
    assert result.metrics["predictive.response.max_lift"] == pytest.approx(0.5 / 0.3)


def test_a_run_logs_predictive_metrics_from_a_temporal_split(tracking_uri):
    from mlflow.tracking import MlflowClient

    from segbench.api import run

    result = run(
        [
            "dataset._target_=toydata.ToyDataset",
            "dataset.name=toy",
            "dataset.n_customers=300",
            f"tracking.uri={tracking_uri}",
            "features=rfm",
            "algo.n_clusters=3",
            "tracking.log_plots=false",
            "tracking.log_model=false",
            "analysis.predictive.enabled=true",
            "analysis.predictive.horizon_days=60",
            "evaluation.stability.enabled=false",
            "fairness=none",  # not under test here
        ]
    )
    stored = MlflowClient(tracking_uri).get_run(result.run_id).data
    for name in (
        "predictive.spend.r2_segments",
        "predictive.spend.r2_model",
        "predictive.churn.auc_segments",
        "predictive.churn.auc_model",
    ):
        assert name in stored.metrics, name
    assert stored.tags["segbench.predictive.source"] == "temporal split"
    assert stored.params["features"] == "rfm"


@pytest.mark.realdata
@pytest.mark.slow
def test_marketing_campaign_response_lift_per_segment(tracking_uri):
    import mlflow
    from mlflow.tracking import MlflowClient

    from datapaths import MARKETING, data_file
    from segbench.api import run

    data_file(MARKETING)  # skips, naming SEGBENCH_DATA_DIR, when the shared data is absent
    result = run(
        [
            "analysis.predictive.enabled=true",
            "dataset=marketing_campaign",
            "features=rfm+demographics",
            "algo.n_clusters=4",
            f"tracking.uri={tracking_uri}",
            "tracking.log_plots=false",
        ]
    )
    stored = MlflowClient(tracking_uri).get_run(result.run_id).data.metrics
    assert stored["predictive.response.base_rate"] == pytest.approx(0.149, abs=0.002)
    local = mlflow.artifacts.download_artifacts(
        run_id=result.run_id,
        artifact_path="predictive/response_by_segment.csv",
        tracking_uri=tracking_uri,
    )
    table = pd.read_csv(local)
    assert table["customers"].sum() == 2236
    weighted = (table["lift"] * table["customers"]).sum() / table["customers"].sum()
    assert weighted == pytest.approx(1.0)  # lifts average to 1 over customers
    assert stored["predictive.response.max_lift"] > 1.2  # the segments do separate responders


def test_a_dataset_with_next_period_outcomes_uses_them(tracking_uri):
    from mlflow.tracking import MlflowClient

    from segbench.api import run

    result = run(
        [
            "dataset=synthetic",
            "dataset.n_customers=800",
            f"tracking.uri={tracking_uri}",
            "features=rfm",
            "algo.n_clusters=6",
            "tracking.log_plots=false",
            "tracking.log_model=false",
            "evaluation.stability.enabled=false",
            "fairness=none",
            "analysis.personalisation.enabled=false",
            "analysis.predictive.enabled=true",
        ]
    )
    stored = MlflowClient(tracking_uri).get_run(result.run_id).data
    assert stored.tags["segbench.predictive.source"] == "dataset outcomes"
    assert stored.metrics["predictive.customers"] == 800
    # the planted segments carry their outcomes: churn is far from a coin flip
    assert stored.metrics["predictive.churn.auc_segments"] > 0.7
