"""Leaderboard time over a store of 1,000 runs, beside the plain way, as a ratio.

The store is a real MLflow SQLite store written through ``MlflowClient`` with runs shaped
like the reference benchmark's (``results/benchmark/``): 13 (dataset × feature expression)
cells × 7 algorithms × 11 seeds = 1,001 job runs under one sweep parent, each with the
params a default run logs (131), its metrics (~70: internal, external, stability, fairness
per attribute, surrogate, predictive, assignment, times) and its ``segbench.*`` tags; plus a
few FAILED and KILLED runs and nested tuning trials that the leaderboard must leave out.

Two ways to get from the store to a comparison, timed in one process:

1. **segbench**: ``python -m segbench.leaderboard --study bench`` as a function call: read the
   store, supersede, aggregate, rank, the Friedman/Nemenyi test, and write the Markdown, the
   HTML (with its charts) and the CSV;
2. **plain**: ``mlflow.search_runs(filter_string="params.study = 'bench'")`` and a pandas
   ``groupby([dataset, features, algorithm]).mean()`` of the metric columns (what a
   researcher writes by hand: no intervals, no ranks, no files).

Each is timed twice: in this process, ``--repeats`` times (default 3) after one warm-up call
of each (first-use imports are not steady state), and as a whole command in a fresh process
(``python -m segbench.leaderboard …`` against ``python -c`` of the plain way: imports
included), ``--repeats`` times. The minimum is reported, with the ratio segbench / plain. The
store is built once into ``--store`` (default: a temporary folder) and reused when it exists.

Usage: ``python benchmarks/bench_leaderboard.py [--runs 1000] [--repeats 3] [--store DIR]
[--profile]`` (``--profile`` prints the top of a cProfile of one segbench build).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from segbench.leaderboard.__main__ import main as leaderboard_main

CELLS = [
    ("synthetic", "rfm"),
    ("synthetic", "rfm+demographics"),
    ("synthetic", "rfm+text"),
    ("synthetic", "rfm+demographics+text"),
    ("online_retail", "rfm"),
    ("online_retail", "rfm+text"),
    ("marketing_campaign", "rfm"),
    ("marketing_campaign", "demographics"),
    ("marketing_campaign", "rfm+demographics"),
    ("mall_customers", "demographics"),
    ("clothing_reviews", "demographics"),
    ("clothing_reviews", "text"),
    ("clothing_reviews", "demographics+text"),
]
ALGORITHMS = [
    "kmeans",
    "minibatch_kmeans",
    "gmm",
    "agglomerative",
    "hdbscan",
    "dbscan",
    "fair_kmeans",
]
ATTRIBUTES = ("gender", "age_band", "region")
STUDY = "bench"


def run_params(dataset: str, features: str, algo: str, seed: int) -> dict[str, str]:
    """The params of one run: the 131 keys a default run logs, values of this cell."""
    params = {
        "algo._target_": f"segbench.algorithms.{algo}",
        "algo.name": algo,
        "algo.n_clusters": "6",
        "algo.random_state": str(seed),
        "algo.description": "",
        "algo.max_customers": "None",
        "dataset._target_": f"segbench.datasets.{dataset}",
        "dataset.name": dataset,
        "dataset.description": "",
        "dataset.seed": "0",
        "features": features,
        "seed": str(seed),
        "study": STUDY,
        "tracking.uri": "sqlite:///mlflow.db",
        "tracking.experiment": "segbench-bench",
        "tracking.log_model": "False",
        "tune.name": "none",
        "evaluation.stability.enabled": "True",
        "fairness.proxy.enabled": "False",
    }
    for block in ("rfm", "demographics", "text", "channels"):
        for key in ("weight", "_target_", "progress", "extended", "method", "model"):
            params[f"blocks.{block}.{key}"] = f"{block}-{key}"
    for section in ("predictive", "temporal", "assign", "personalisation", "k_selection"):
        for key in ("enabled", "max_customers", "min_customers", "folds", "top_n"):
            params[f"analysis.{section}.{key}"] = "False" if key == "enabled" else "5"
    i = 0
    while len(params) < 131:
        params[f"tune.option_{i}"] = str(i)
        i += 1
    return params


def run_metrics(rng: np.random.Generator, algo: str, has_truth: bool) -> dict[str, float]:
    """~70 metrics with plausible values."""
    base = 0.2 + 0.1 * ALGORITHMS.index(algo) / len(ALGORITHMS)
    m = {
        "silhouette": base + rng.normal(0, 0.02),
        "davies_bouldin": 1.5 - base + rng.normal(0, 0.05),
        "calinski_harabasz": 1000 * base + rng.normal(0, 20),
        "stability": min(1.0, 0.6 + base + rng.normal(0, 0.05)),
        "stability_std": abs(rng.normal(0, 0.05)),
        "stability_resamples": 5.0,
        "stability_sample_size": 2000.0,
        "n_segments": 6.0 if algo not in ("hdbscan", "dbscan") else float(rng.integers(1, 9)),
        "noise_fraction": 0.0 if algo not in ("hdbscan", "dbscan") else float(rng.uniform(0, 0.9)),
        "n_customers": 5000.0,
        "n_features": 8.0,
        "silhouette_sample_size": 5000.0,
        "fit_seconds": float(rng.uniform(0.1, 3)),
        "wall_seconds": float(rng.uniform(2, 10)),
        "privacy.small_segments": 0.0,
        "surrogate.fidelity": float(rng.uniform(0.7, 1)),
        "surrogate.fidelity_cv": float(rng.uniform(0.7, 1)),
        "surrogate.n_leaves": 8.0,
    }
    if has_truth:
        m |= {"ari": base + 0.5 + rng.normal(0, 0.03), "ami": base + 0.4, "nmi": base + 0.45}
    for attr in ATTRIBUTES:
        m |= {
            f"fairness.{attr}.balance": float(rng.uniform(0, 1)),
            f"fairness.{attr}.dp_difference": float(rng.uniform(0, 0.5)),
            f"fairness.{attr}.silhouette_gap": float(rng.uniform(0, 0.3)),
            f"fairness.{attr}.distribution_distance": float(rng.uniform(0, 0.5)),
        }
    for target in ("spend", "churn", "response"):
        for key in ("r2_segments", "r2_model", "auc_segments", "auc_model", "customers"):
            m[f"predictive.{target}.{key}"] = float(rng.uniform(0, 1))
    for key in ("agreement", "agreement_ari", "train_agreement", "holdout_customers"):
        m[f"assign.{key}"] = float(rng.uniform(0, 1))
    for key in ("stability", "stay_rate", "mean_share_tvd", "drift_windows", "windows"):
        m[f"temporal.{key}"] = float(rng.uniform(0, 1))
    for phase in ("load", "features", "fit", "score", "stability", "log", "analyses"):
        m[f"time.{phase}.seconds"] = float(rng.uniform(0, 2))
    return m


def build_store(path: Path, n_runs: int) -> str:
    """A SQLite store at ``path`` with about ``n_runs`` job runs of study ``bench``."""
    uri = f"sqlite:///{path}"
    client = MlflowClient(uri)
    exp = client.create_experiment("segbench-bench")
    t0 = 1_700_000_000_000
    parent = client.create_run(exp, start_time=t0, tags={"segbench.role": "sweep"})
    parent_id = parent.info.run_id
    client.set_tag(parent_id, "segbench.study", STUDY)
    seeds = max(1, round(n_runs / (len(CELLS) * len(ALGORITHMS))))
    rng = np.random.default_rng(0)
    t = t0
    for dataset, features in CELLS:
        for algo in ALGORITHMS:
            for seed in range(1, seeds + 1):
                t += 1000
                tags = {
                    "mlflow.parentRunId": parent_id,
                    "mlflow.runName": f"{algo} · {features} · {dataset}",
                    "segbench.dataset": dataset,
                    "segbench.features": features,
                    "segbench.algo": algo,
                    "segbench.seed": str(seed),
                    "segbench.version": "0.1.0",
                    "segbench.git_commit": "0" * 40,
                    "segbench.dataset_fingerprint": hashlib.sha1(dataset.encode()).hexdigest()[:16],
                    "segbench.role": "job",
                }
                run = client.create_run(exp, start_time=t, tags=tags)
                params = [Param(k, v) for k, v in run_params(dataset, features, algo, seed).items()]
                metrics = run_metrics(rng, algo, dataset == "synthetic")
                client.log_batch(
                    run.info.run_id,
                    metrics=[Metric(k, float(v), t, 0) for k, v in metrics.items()],
                    params=params[:100],
                )
                client.log_batch(run.info.run_id, params=params[100:])
                client.set_terminated(run.info.run_id, "FINISHED", end_time=t + 5000)
    # runs the leaderboard lists apart: a failed and a killed rerun, and nested trials
    for status in ("FAILED", "KILLED"):
        t += 1000
        run = client.create_run(exp, start_time=t, tags={"mlflow.parentRunId": parent_id})
        client.log_batch(
            run.info.run_id,
            params=[Param(k, v) for k, v in run_params(*CELLS[0], "kmeans", 1).items()][:100],
            tags=[RunTag("segbench.error", "DataError: planted")],
        )
        client.set_terminated(run.info.run_id, status, end_time=t + 10)
        trial = client.create_run(
            exp,
            start_time=t,
            tags={"mlflow.parentRunId": run.info.run_id, "segbench.role": "trial"},
        )
        client.set_terminated(trial.info.run_id, "FINISHED", end_time=t + 10)
    return uri


def segbench_once(uri: str, out: Path) -> float:
    tic = time.perf_counter()
    status = leaderboard_main(["--tracking-uri", uri, "--study", STUDY, "--out", str(out)])
    elapsed = time.perf_counter() - tic
    if status != 0:
        raise SystemExit(f"segbench.leaderboard exited {status}")
    return elapsed


def plain_once(uri: str) -> float:
    tic = time.perf_counter()
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(
        search_all_experiments=True, filter_string=f"params.study = '{STUDY}'"
    )
    metrics = [c for c in runs.columns if c.startswith("metrics.")]
    keys = ["params.dataset.name", "params.features", "params.algo.name"]
    table = runs.groupby(keys)[metrics].mean()
    assert len(table) >= len(CELLS) * len(ALGORITHMS)
    return time.perf_counter() - tic


PLAIN_SCRIPT = """
import sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
runs = mlflow.search_runs(search_all_experiments=True, filter_string="params.study = 'bench'")
metrics = [c for c in runs.columns if c.startswith("metrics.")]
runs.groupby(["params.dataset.name", "params.features", "params.algo.name"])[metrics].mean()
"""


def process_once(cmd: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    tic = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    return time.perf_counter() - tic


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--store", default=None, help="folder for the store (reused if present)")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--json", type=Path, help="also write the rows to this file (run_all.py)")
    args = p.parse_args()
    folder = Path(args.store or tempfile.mkdtemp(prefix="bench-leaderboard-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"mlflow-{args.runs}.db"
    if not db.exists():
        tic = time.perf_counter()
        build_store(db, args.runs)
        print(f"built {db} in {time.perf_counter() - tic:.0f} s")
    uri = f"sqlite:///{db}"
    out = folder / "results"
    segbench_once(uri, out)  # warm-up: imports, SQLAlchemy engine, matplotlib fonts
    plain_once(uri)
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        segbench_once(uri, out)
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(40)
        print(text.getvalue())
    ours, plain, ours_cmd, plain_cmd = [], [], [], []
    command = [sys.executable, "-m", "segbench.leaderboard", "--tracking-uri", uri]
    command += ["--study", STUDY, "--out", str(out)]
    for _ in range(args.repeats):
        ours.append(segbench_once(uri, out))
        plain.append(plain_once(uri))
        ours_cmd.append(process_once(command))
        plain_cmd.append(process_once([sys.executable, "-c", PLAIN_SCRIPT, uri]))
    load = os.getloadavg()
    print()
    print("| job | segbench | plain (mlflow.search_runs + pandas groupby) | ratio |")
    print("|---|---|---|---|")
    for what, a, b in (
        ("in one process", ours, plain),
        ("whole command, imports included", ours_cmd, plain_cmd),
    ):
        print(
            f"| leaderboard over {args.runs:,} runs, {what} (min of {args.repeats}) "
            f"| {min(a):.2f} s | {min(b):.2f} s | {min(a) / min(b):.2f}× |"
        )
    print(f"\nload average {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} (os.getloadavg)")
    if args.json:
        from rows import row

        job = f"leaderboard over {args.runs:,} runs"
        rows = [
            row(f"{job}, in one process", min(ours), min(plain), "s", "≤ 5 s"),
            row(f"{job}, whole command", min(ours_cmd), min(plain_cmd), "s", "—"),
        ]
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
