"""How much the segments tell about what customers will do next.

Outcomes
--------
- Datasets with next-period outcomes (``outcomes`` columns ``next_period_spend`` and
  ``churned``, e.g. ``synthetic``) use them with the run's own features and segments.
- Datasets with transactions and no such outcomes get a **temporal split**
  (:func:`temporal_split`): features from the transactions before a cutoff (recency measured at
  the cutoff), outcomes from the ``horizon_days`` after it — ``next_period_spend`` = spend in
  ``[cutoff, cutoff + horizon)`` and ``churned`` = no purchase in it. The cutoff defaults to
  the last transaction's day minus the horizon. The run's config (features, preprocessing,
  algorithm) is refitted on the customers seen before the cutoff, so nothing after the cutoff
  leaks into the features or the segments. (Texts carry no time: a ``text`` block still sees
  every text of those customers; the tag ``segbench.predictive.note`` says so.)

Predictors, compared out of fold (``folds``-fold cross-validation over customers, seeded):

- **segments**: a customer's prediction is the mean outcome of the *training-fold* customers of
  its segment (spend: mean spend; churn: churn rate as the score); an empty segment falls back
  to the training mean;
- **model**: scikit-learn's ``HistGradientBoostingRegressor`` / ``…Classifier`` on the same
  feature matrix (default hyperparameters, ``random_state = seed``).

So the gap between the two is what the segmentation gives up against a model of the same
features. Above ``max_customers`` a seeded sample of customers is used.

Metrics (stable names)::

    predictive.customers             customers evaluated
    predictive.spend.r2_segments     R² of next-period spend, segment means
    predictive.spend.r2_model        R² of next-period spend, gradient boosting
    predictive.spend.mae_segments    mean absolute error, segment means (currency units)
    predictive.spend.mae_model       mean absolute error, gradient boosting
    predictive.spend.r2_log_segments R² of log1p(spend) (both predictors fitted on log1p:
    predictive.spend.r2_log_model    spend is heavy-tailed and R² on it is outlier-driven)
    predictive.churn.rate            share of customers who churned
    predictive.churn.auc_segments    ROC AUC of churn, segment churn rate as the score
    predictive.churn.auc_model       ROC AUC of churn, gradient boosting probability

Campaign response (``outcomes`` column ``response``, e.g. ``marketing_campaign``): per
segment the response rate and its **lift** = rate / base rate (table
``predictive/response_by_segment.csv``), and::

    predictive.response.base_rate    share of all customers who responded
    predictive.response.max_lift     highest segment lift (lowest: min_lift)
    predictive.response.min_lift
    predictive.response.auc_segments ROC AUC of response, segment rate (out of fold)
    predictive.response.auc_model    ROC AUC of response, gradient boosting (out of fold)

AUCs are absent (not 0.5) when the outcome has one class only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, r2_score, roc_auc_score
from sklearn.model_selection import KFold

from segbench.data.model import CustomerData
from segbench.data.sampling import sample_rows
from segbench.errors import DataError

OUTCOME_COLUMNS = ("next_period_spend", "churned")


@dataclass
class PredictiveResult:
    """Metrics, per-segment tables and tags of the predictive evaluation."""

    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def temporal_split(
    data: CustomerData, cutoff: str | pd.Timestamp | None = None, horizon_days: int = 90
) -> tuple[CustomerData, pd.DataFrame, pd.Timestamp]:
    """``(data before cutoff, outcomes of its customers, cutoff)`` (rule in module docstring)."""
    if data.transactions is None or len(data.transactions) == 0:
        raise DataError(
            f"dataset '{data.name}' has no transactions, so there is no temporal split "
            "(predictive evaluation needs transactions or next-period outcomes)"
        )
    tx = data.transactions
    last_day = tx["timestamp"].max().normalize() + pd.Timedelta(days=1)
    horizon = pd.Timedelta(days=int(horizon_days))
    when = pd.Timestamp(cutoff) if cutoff is not None else last_day - horizon
    first = tx["timestamp"].min()
    if not first < when < last_day:
        raise DataError(
            f"dataset '{data.name}': predictive cutoff {when.date()} must fall inside the "
            f"transactions ({first.date()} to {last_day.date()})"
        )
    before = data.before(when)
    after = tx[(tx["timestamp"] >= when) & (tx["timestamp"] < when + horizon)]
    spend = (
        (after["quantity"].astype(float) * after["unit_price"].astype(float))
        .groupby(after["customer_id"].astype(str))
        .sum()
    )
    ids = before.customer_ids
    spend = spend.reindex(ids).fillna(0.0)
    bought = pd.Index(after["customer_id"].astype(str).unique())
    outcomes = pd.DataFrame(
        {"next_period_spend": spend.to_numpy(), "churned": ~ids.isin(bought)}, index=ids
    )
    return before, outcomes, when


def _folds(n: int, folds: int, seed: int):
    k = max(2, min(folds, n))
    return KFold(n_splits=k, shuffle=True, random_state=seed).split(np.arange(n))


def _segment_means(segments: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray):
    table = pd.Series(y[train]).groupby(segments[train]).mean()
    return pd.Series(segments[test]).map(table).fillna(float(y[train].mean())).to_numpy()


def out_of_fold(
    X: np.ndarray, segments: np.ndarray, y: np.ndarray, kind: str, folds: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions ``(segments, model)`` of ``y`` (regression or classification)."""
    seg_pred = np.zeros(len(y), dtype=np.float64)
    model_pred = np.zeros(len(y), dtype=np.float64)
    for train, test in _folds(len(y), folds, seed):
        seg_pred[test] = _segment_means(segments, y, train, test)
        if kind == "regression":
            model = HistGradientBoostingRegressor(random_state=seed).fit(X[train], y[train])
            model_pred[test] = model.predict(X[test])
        elif len(np.unique(y[train])) < 2:
            model_pred[test] = float(y[train].mean())
        else:
            model = HistGradientBoostingClassifier(random_state=seed).fit(X[train], y[train])
            model_pred[test] = model.predict_proba(X[test])[:, 1]
    return seg_pred, model_pred


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else None


def evaluate_outcomes(
    X: np.ndarray,
    segments: np.ndarray,
    outcomes: pd.DataFrame,
    folds: int = 5,
    seed: int = 0,
    max_customers: int = 100_000,
) -> PredictiveResult:
    """Spend and churn: segment means vs gradient boosting, out of fold (module docstring).

    ``outcomes`` rows align with ``X`` and ``segments``.
    """
    result = PredictiveResult()
    keep = sample_rows(len(X), max_customers, seed, sort=True)
    keep = np.arange(len(X)) if keep is None else keep
    X, segments = X[keep], np.asarray(segments)[keep]
    outcomes = outcomes.iloc[keep]
    m = result.metrics
    m["predictive.customers"] = float(len(keep))
    per = pd.DataFrame({"segment": segments})
    if "next_period_spend" in outcomes.columns:
        y = outcomes["next_period_spend"].to_numpy(dtype=np.float64)
        seg_pred, model_pred = out_of_fold(X, segments, y, "regression", folds, seed)
        m["predictive.spend.r2_segments"] = float(r2_score(y, seg_pred))
        m["predictive.spend.r2_model"] = float(r2_score(y, model_pred))
        m["predictive.spend.mae_segments"] = float(mean_absolute_error(y, seg_pred))
        m["predictive.spend.mae_model"] = float(mean_absolute_error(y, model_pred))
        ylog = np.log1p(np.clip(y, 0, None))
        seg_log, model_log = out_of_fold(X, segments, ylog, "regression", folds, seed)
        m["predictive.spend.r2_log_segments"] = float(r2_score(ylog, seg_log))
        m["predictive.spend.r2_log_model"] = float(r2_score(ylog, model_log))
        per["next_period_spend"] = y
    if "churned" in outcomes.columns:
        y = outcomes["churned"].astype(float).to_numpy()
        seg_pred, model_pred = out_of_fold(X, segments, y, "classification", folds, seed)
        m["predictive.churn.rate"] = float(y.mean())
        for name, score in (("segments", seg_pred), ("model", model_pred)):
            auc = _auc(y, score)
            if auc is not None:
                m[f"predictive.churn.auc_{name}"] = auc
        per["churned"] = y
    grouped = per.groupby("segment", sort=True)
    table = pd.DataFrame({"customers": grouped.size()})
    for column in ("next_period_spend", "churned"):
        if column in per.columns:
            label = "mean_next_period_spend" if column == "next_period_spend" else "churn_rate"
            table[label] = grouped[column].mean()
    result.tables["predictive/segment_outcomes.csv"] = table
    return result


def response_lift(
    X: np.ndarray,
    segments: np.ndarray,
    response: pd.Series,
    folds: int = 5,
    seed: int = 0,
) -> PredictiveResult:
    """Campaign response rate and lift per segment, and out-of-fold AUCs (module docstring)."""
    result = PredictiveResult()
    y = response.astype(float).to_numpy()
    segments = np.asarray(segments)
    base = float(y.mean())
    grouped = pd.Series(y).groupby(segments, sort=True)
    table = pd.DataFrame({"customers": grouped.size(), "responders": grouped.sum()})
    table["response_rate"] = table["responders"] / table["customers"]
    table["lift"] = table["response_rate"] / base if base > 0 else np.nan
    table.index.name = "segment"
    result.tables["predictive/response_by_segment.csv"] = table
    m = result.metrics
    m["predictive.response.base_rate"] = base
    if base > 0:
        m["predictive.response.max_lift"] = float(table["lift"].max())
        m["predictive.response.min_lift"] = float(table["lift"].min())
    seg_pred, model_pred = out_of_fold(X, segments, y, "classification", folds, seed)
    for name, score in (("segments", seg_pred), ("model", model_pred)):
        auc = _auc(y, score)
        if auc is not None:
            m[f"predictive.response.auc_{name}"] = auc
    return result
