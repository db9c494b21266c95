"""segbench vs plain pandas + scikit-learn: RFM features → k-means → internal metrics.

The same job three ways, on the same in-memory data, in one process:

1. **plain**: a pandas groupby for recency/frequency/monetary, log1p, StandardScaler,
   KMeans (the config's ``n_init``), silhouette (sampled at 10k), Davies–Bouldin,
   Calinski–Harabasz;
2. **segbench stages**: ``FeaturePipeline`` → ``fit_segmentation`` → ``score`` (no MLflow);
3. **segbench run**: the whole ``run_experiment`` including MLflow logging (params, metrics,
   profiles, plots, assignments, model) and the default per-run extras (stability,
   assignment agreement, personalisation) to a SQLite store.

Fairness is off (``fairness=none``) so the stages do the same job as the plain script.

Usage: ``python benchmarks/bench_pipeline.py [--sizes 10000 100000] [--real]``
(``--real`` adds Online Retail from ``$SEGBENCH_DATA_DIR``). Prints a table with the ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from segbench.algorithms import fit_segmentation
from segbench.api import settings
from segbench.datasets import load_dataset
from segbench.experiment import build_features, run_experiment, scorer


def plain(tx: pd.DataFrame, when: pd.Timestamp, k: int, n_init: int, seed: int) -> float:
    tic = time.perf_counter()
    tx = tx.assign(amount=tx["quantity"] * tx["unit_price"])
    inv = tx.groupby(["customer_id", "invoice_id"], observed=True).agg(
        ts=("timestamp", "min"), amount=("amount", "sum")
    )
    rfm = inv.groupby(level=0, observed=True).agg(
        last=("ts", "max"), frequency=("amount", "size"), monetary=("amount", "sum")
    )
    rfm["recency"] = (when - rfm.pop("last")).dt.days
    X = StandardScaler().fit_transform(
        np.log1p(rfm[["recency", "frequency", "monetary"]].clip(lower=0))
    )
    labels = KMeans(k, n_init=n_init, random_state=seed).fit_predict(X)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(X), min(10_000, len(X)), replace=False)
    silhouette_score(X[idx], labels[idx])
    davies_bouldin_score(X, labels)
    calinski_harabasz_score(X, labels)
    return time.perf_counter() - tic


def stages(cfg, data) -> float:
    """segbench's stages for ``cfg`` on ``data`` (features, fit, score), timed."""
    tic = time.perf_counter()
    _, fm = build_features(cfg, data)
    scorer(cfg)(fm, data, fit_segmentation(cfg.algo, fm.X))
    return time.perf_counter() - tic


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--real", action="store_true")
    args = parser.parse_args()
    jobs = [
        (f"synthetic n={n}", ["dataset=synthetic", f"dataset.n_customers={n}"]) for n in args.sizes
    ]
    if args.real:
        jobs.append(("online_retail", ["dataset=online_retail"]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data_args in jobs:
            overrides = [
                *data_args,
                "features=rfm",
                "algo=kmeans",
                "algo.n_clusters=6",
                f"tracking.uri=sqlite:///{Path(tmp) / 'bench.db'}",
            ]
            cfg = settings(overrides)
            data = load_dataset(cfg.dataset)
            when = data.meta.analysis_date or data.transactions["timestamp"].max() + pd.Timedelta(
                days=1
            )

            n_init = cfg.algo.params["n_init"]
            with threadpool_limits(1, user_api="blas"):
                # one untimed call each first: first-use imports (~0.5 s) are not steady state
                plain(data.transactions, when, 6, n_init, cfg.seed)
                stages(cfg, data)
                t_plain = min(plain(data.transactions, when, 6, n_init, cfg.seed) for _ in range(3))
                t_stage = [stages(cfg, data) for _ in range(3)]
            run_experiment(cfg)  # warm the store (schema creation is a one-off ~2 s)
            tic = time.perf_counter()
            run_experiment(cfg)
            t_run = time.perf_counter() - tic
            rows.append(
                {
                    "job": name,
                    "customers": data.n_customers,
                    "plain_s": t_plain,
                    "segbench_stages_s": min(t_stage),
                    "segbench_run_s": t_run,
                    "stages/plain": min(t_stage) / t_plain,
                    "run/plain": t_run / t_plain,
                }
            )
    print(pd.DataFrame(rows).round(3).to_markdown(index=False))


if __name__ == "__main__":
    main()
