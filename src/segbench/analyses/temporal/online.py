"""Online updates: mini-batch k-means ``partial_fit`` on a transaction stream vs a full refit.

The transactions are replayed in time order in calendar batches (``batch_freq``, e.g. ``"M"``):

1. after the first ``warmup_batches`` batches, the feature pipeline is fitted on the customers
   seen so far and then **frozen** (an online system cannot rescale history at every batch),
   and ``MiniBatchKMeans(n_clusters, random_state=seed).partial_fit`` sees their feature rows;
2. after each later batch, the customers with a transaction in it get their features
   recomputed from their history so far (recency at the batch's end) with the frozen pipeline,
   and one ``partial_fit`` call sees those rows;
3. at the end, every customer's final features (frozen pipeline) are labelled by the online
   model, and compared with a **full refit**: a fresh pipeline fitted on all the data plus
   ``KMeans(n_clusters, n_init=4, random_state=seed)``, or a copy of the run's own estimator
   (class and parameters) when it is ``KMeans`` or ``MiniBatchKMeans``.

Features: by default each customer's whole history so far (cumulative RFM). Cumulative
features grow with time (frequency, spend, tenure) while ``partial_fit`` averages each centre
over every batch it saw, so the online centres lag behind; ``history_days`` instead computes
the features over a trailing window of that many days (at every batch and for the refit, which
then covers the customers active in the last window), which is stationary when behaviour is.

Timing: an update's time is the feature recomputation of its customers plus ``partial_fit``;
the refit's time is the pipeline's ``fit_transform`` on all the data plus the estimator's fit.
Slicing the stored data into the stream (which a live system would not do) is not timed.

Metrics (stable names)::

    temporal.online.batches                      batches replayed
    temporal.online.ari_vs_refit                 ARI(online labels, full-refit labels)
    temporal.online.ari_vs_refit_same_features   ARI(online labels, KMeans refit on the same
                                                 frozen features): the algorithm's share of
                                                 the difference, without the frozen scaling
    temporal.online.ari_refit_reseeded           ARI(full refit, the same refit with seed + 1):
                                                 how much two batch fits already differ (the
                                                 floor to read ari_vs_refit against)
    temporal.online.inertia_ratio                online inertia / refit inertia on the frozen
                                                 features (>= 1: the quality cost)
    temporal.online.update_seconds_mean          mean time of one update
    temporal.online.update_seconds_total         all updates together
    temporal.online.refit_seconds                one full refit
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score

from segbench.algorithms import build_estimator
from segbench.analyses.temporal.windows import time_windows
from segbench.data.model import CustomerData
from segbench.errors import DataError
from segbench.settings import AlgoSettings
from segbench.settings.base import coerce


@dataclass
class OnlineComparison:
    """Metrics and the per-batch table of the online-vs-refit comparison."""

    metrics: dict[str, float] = field(default_factory=dict)
    batches: pd.DataFrame = field(default_factory=pd.DataFrame)
    online_labels: pd.Series | None = None
    refit_labels: pd.Series | None = None


def _as_settings(algo: Any) -> AlgoSettings | None:
    """``algo`` as algorithm settings when it is a config (a mapping), else ``None``."""
    if isinstance(algo, AlgoSettings | Mapping):
        return coerce(AlgoSettings, algo, "algo")
    return None


def _refit_estimator(algo: Any, n_clusters: int, n: int, seed: int) -> Any:
    settings = _as_settings(algo)
    if settings is not None:
        if settings.target.endswith((".KMeans", ".MiniBatchKMeans")):
            return build_estimator(settings, n)
    elif isinstance(algo, KMeans | MiniBatchKMeans):
        return clone(algo)
    return KMeans(n_clusters=n_clusters, n_init=4, random_state=seed)


def n_clusters_of(algo: Any, default: int = 6) -> int:
    """The number of segments of a config or estimator (``n_clusters``/``n_components``)."""
    settings = _as_settings(algo)
    params = settings.params if settings is not None else algo.get_params(deep=False)
    for key in ("n_clusters", "n_components"):
        if params.get(key) is not None:
            return int(params[key])
    return default


def online_vs_refit(
    data: CustomerData,
    make_pipeline: Callable[[], Any],
    algo: Mapping[str, Any] | Any,
    batch_freq: str = "M",
    seed: int = 0,
    n_clusters: int | None = None,
    history_days: int | None = None,
    warmup_batches: int = 1,
) -> OnlineComparison:
    """Replay the transactions in batches with ``partial_fit``; compare with a full refit.

    ``algo``: the run's algorithm config or estimator (its class and parameters are used for
    the refit when it is k-means; its number of segments for the online model).
    """
    k = n_clusters if n_clusters is not None else n_clusters_of(algo)
    history = pd.Timedelta(days=int(history_days)) if history_days else None

    def seen_at(end: pd.Timestamp) -> CustomerData:
        return data.before(end) if history is None else data.window(end - history, end)

    batches = time_windows(data, batch_freq)
    if len(batches) < 2:
        raise DataError(
            f"dataset '{data.name}': online updates need at least two {batch_freq!r} batches; "
            f"the transactions span {len(batches)}"
        )
    tx = data.transactions
    model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=1, batch_size=1024)
    pipeline = None
    rows = []
    for i, batch in enumerate(batches):
        if i + 1 < warmup_batches:
            rows.append({"batch": batch.label, "customers_updated": 0, "update_seconds": 0.0})
            continue
        seen = seen_at(batch.end)
        if pipeline is None and seen.n_customers < k:
            rows.append({"batch": batch.label, "customers_updated": 0, "update_seconds": 0.0})
            continue
        in_batch = (tx["timestamp"] >= batch.start) & (tx["timestamp"] < batch.end)
        touched = pd.Index(tx.loc[in_batch, "customer_id"].astype(str).unique())
        touched = seen.customer_ids[seen.customer_ids.isin(touched)]
        if len(touched) == 0:
            rows.append({"batch": batch.label, "customers_updated": 0, "update_seconds": 0.0})
            continue
        tic = time.perf_counter()
        if pipeline is None:  # warm-up: fit and freeze the pipeline on what was seen so far
            pipeline = make_pipeline()
            X = pipeline.fit_transform(seen).X
        else:
            X = pipeline.transform(seen.subset(touched)).X
        model.partial_fit(X)
        rows.append(
            {
                "batch": batch.label,
                "customers_updated": len(X),
                "update_seconds": time.perf_counter() - tic,
            }
        )
    if pipeline is None:
        raise DataError(f"dataset '{data.name}': no batch had {k} customers to start from")
    table = pd.DataFrame(rows)

    final = data if history is None else seen_at(batches[-1].end)
    frozen = pipeline.transform(final).X
    online = model.predict(frozen)
    tic = time.perf_counter()
    fresh = make_pipeline()
    X_full = fresh.fit_transform(final).X
    estimator = _refit_estimator(algo, k, len(X_full), seed)
    refit = np.asarray(estimator.fit_predict(X_full))
    refit_seconds = time.perf_counter() - tic
    reseed = clone(estimator).set_params(random_state=seed + 1)
    other = np.asarray(reseed.fit_predict(X_full))
    same = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(frozen)
    online_inertia = float(-model.score(frozen))
    updates = table.loc[table["customers_updated"] > 0, "update_seconds"]
    metrics = {
        "temporal.online.batches": float(len(updates)),
        "temporal.online.ari_vs_refit": float(adjusted_rand_score(refit, online)),
        "temporal.online.ari_vs_refit_same_features": float(
            adjusted_rand_score(same.labels_, online)
        ),
        "temporal.online.ari_refit_reseeded": float(adjusted_rand_score(refit, other)),
        "temporal.online.inertia_ratio": online_inertia / float(same.inertia_),
        "temporal.online.update_seconds_mean": float(updates.mean()),
        "temporal.online.update_seconds_total": float(updates.sum()),
        "temporal.online.refit_seconds": float(refit_seconds),
    }
    ids = final.customer_ids.astype(str)
    return OnlineComparison(
        metrics, table, pd.Series(online, index=ids), pd.Series(refit, index=ids)
    )
