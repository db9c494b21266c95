"""Tuning throughput: k-means on Online Retail RFM, trials per second, and what logging costs.

Three ways to run the same study (``algo.n_clusters`` in 2..12, objective silhouette, TPE,
seeded, so segbench's two variants evaluate the same trials), on the same feature matrix, in
one process:

1. **segbench, trial logging on**: :func:`tune_segmentation` with one nested MLflow run per
   trial (SQLite store), as ``python -m segbench dataset=online_retail features=rfm
   tune=optuna`` does;
2. **segbench, trial logging off**: the same with ``tune.log_trials=false``; the difference
   per trial is the overhead of per-trial logging;
3. **plain optuna + scikit-learn**: an Optuna study whose objective fits ``KMeans`` and
   returns ``silhouette_score`` (what a researcher writes by hand), replaying the same
   ``n_clusters`` values (enqueued; each distinct value once, as segbench fits each point of
   the space once) and the config's ``n_init``, in memory, no logging.
   segbench's trials compute what the objective needs (silhouette) and what feasibility
   needs, so the ratio is the cost of segbench's bookkeeping: trial runs, feasibility, the
   trial table (issue 14's target: throughput ≥ 0.8× plain with trial logging on).

Threads are capped to ``--threads`` (default 1) for all three. The per-study figures exclude the one-off parts (loading the data, building the features,
the baseline fit, the refit and the study artifacts): the trials' wall time is segbench's
``tune.seconds``. Variants alternate ``--repeats`` times; medians are printed. The logging
overhead is also timed directly, inside the three store calls of each trial's run (the
``tune.trial_logging_seconds`` metric), since on a shared machine the on − off difference of
two ~30 s studies is dominated by load noise.

Usage: ``SEGBENCH_DATA_DIR=/path/to/data python benchmarks/bench_tuning.py [--trials 30]
[--repeats 3] [--json rows.json]``
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from mlflow.tracking import MlflowClient
from rows import add_json_option, load, report, row
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from segbench.algorithms import fit_segmentation
from segbench.api import settings
from segbench.datasets import load_dataset
from segbench.experiment import build_features, scorer, study_spec
from segbench.fairness.scoring import sensitive_frame
from segbench.tracking import tracked_run
from segbench.tuning import parse_objectives, tune_segmentation


def segbench_study(
    overrides: list[str], data, features, pipeline
) -> tuple[float, dict[str, float], pd.DataFrame]:
    """Seconds of the trials, the run's metrics, and the study's trials table."""
    cfg = settings(overrides)
    with tracked_run(cfg.tracking.uri, cfg.tracking.experiment, run_name="bench") as run:
        tuned = tune_segmentation(study_spec(cfg), scorer(cfg), data, features, run, pipeline)
    path = MlflowClient(cfg.tracking.uri).download_artifacts(run.run_id, "tune/trials.csv")
    return tuned.metrics["tune.seconds"], tuned.metrics, pd.read_csv(path)


def plain_study(X: np.ndarray, ks: list[int], seed: int, n_init: int) -> float:
    """Seconds of an Optuna + scikit-learn loop over the same ``n_clusters`` values."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    for k in ks:
        study.enqueue_trial({"n_clusters": k})

    def objective(trial: optuna.Trial) -> float:
        k = trial.suggest_int("n_clusters", 2, 12)
        labels = KMeans(k, n_init=n_init, random_state=seed).fit_predict(X)
        return float(silhouette_score(X, labels))

    tic = time.perf_counter()
    study.optimize(objective, n_trials=len(ks))
    return time.perf_counter() - tic


def scoring_seconds(cfg, features, data, ks: list[int]) -> float:
    """Mean seconds of a trial's scorer (its objectives' metrics) over the trials' fits."""
    score = scorer(cfg).for_metrics([o.metric for o in parse_objectives(cfg.tune.objectives)])
    sensitive = sensitive_frame(data, features.index)
    times = []
    for k in ks:
        seg = fit_segmentation(cfg.algo.model_copy(update={"n_clusters": k}), features.X, sensitive)
        tic = time.perf_counter()
        score(features, data, seg)
        times.append(time.perf_counter() - tic)
    return float(np.mean(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OpenMP/BLAS threads (threadpoolctl); 0 = library defaults. On a shared 2-core "
        "machine k-means with the default OpenMP threads is ~40x slower (spin-waiting).",
    )
    add_json_option(parser)
    args = parser.parse_args()
    with threadpool_limits(limits=args.threads or None):
        measure(args)


def measure(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    n = args.trials
    with tempfile.TemporaryDirectory() as tmp:
        base = [
            "dataset=online_retail",
            "features=rfm",
            "algo=kmeans",
            "tune=optuna",
            f"tune.n_trials={n}",
            "tune.progress=none",
            "tune.baseline=false",
            "tracking.log_plots=false",
            f"tracking.uri=sqlite:///{Path(tmp) / 'bench.db'}",
        ]
        cfg = settings(base)
        tic = time.perf_counter()
        data = load_dataset(cfg.dataset)
        pipeline, features = build_features(cfg, data)
        print(
            f"Online Retail RFM: {features.shape[0]} customers × {features.shape[1]} features "
            f"(loaded and built in {time.perf_counter() - tic:.1f} s); {n} trials; "
            f"threads {args.threads or 'default'}; {args.repeats} repeats, medians"
        )
        with tracked_run(cfg.tracking.uri, cfg.tracking.experiment, run_name="warm-up"):
            pass  # the store's schema is a one-off (~2 s); not part of any figure
        on, off, plain, logging_s = [], [], [], []
        for _ in range(args.repeats):  # alternate, so load drifts hit both variants
            seconds, metrics_on, trials = segbench_study(base, data, features, pipeline)
            on.append(seconds)
            logging_s.append(metrics_on["tune.trial_logging_seconds"])
            ks = [int(k) for k in trials["params.algo.n_clusters"]]
            seconds, _, trials_off = segbench_study(
                [*base, "tune.log_trials=false"], data, features, pipeline
            )
            off.append(seconds)
            assert list(trials_off["params.algo.n_clusters"]) == ks, "seeded: the same trials"
            # segbench fits each point of the space once (a trial that draws an evaluated
            # point takes its result); the plain study fits the same points, once each
            evaluated = list(dict.fromkeys(ks))
            plain.append(
                plain_study(features.X, evaluated, int(cfg.seed), cfg.algo.params["n_init"])
            )
        fit_ms = 1000 * trials_off["metrics.fit_seconds"].mean()
        score_ms = 1000 * scoring_seconds(cfg, features, data, ks)
    t_on, t_off, t_plain = (float(np.median(v)) for v in (on, off, plain))
    table = pd.DataFrame(
        [
            {"variant": "segbench, trial logging on", "seconds": t_on},
            {"variant": "segbench, trial logging off", "seconds": t_off},
            {"variant": "plain optuna + sklearn", "seconds": t_plain},
        ]
    )
    table["trials"] = [n, n, len(evaluated)]
    table["trials/s"] = table["trials"] / table["seconds"]
    table["ms/trial"] = 1000 * table["seconds"] / table["trials"]
    table["points/s vs plain"] = t_plain / table["seconds"]
    print(table.round(3).to_markdown(index=False))
    log_ms = 1000 * float(np.median(logging_s)) / n
    off_ms = 1000 * t_off / n
    print(
        f"\nper-trial MLflow logging (3 batched store calls, timed inside them): {log_ms:.1f} "
        f"ms/trial = {100 * log_ms / off_ms:.1f} % of a trial without logging"
        f"\n  (on − off wall time: {1000 * (t_on - t_off) / n:+.1f} ms/trial; on a shared "
        "machine this difference is mostly noise: see the repeats)"
        f"\nsegbench trial without logging, {off_ms:.0f} ms: k-means fit {fit_ms:.0f} ms, "
        f"scoring {score_ms:.0f} ms (what the objective needs), "
        f"the rest (Optuna, bookkeeping, timing noise) {off_ms - fit_ms - score_ms:.0f} ms"
        f"\nbest silhouette {metrics_on['best.silhouette']:.3f} at k={int(metrics_on['n_segments'])}"
    )
    print(
        f"repeats (s): on {np.round(on, 2)}, off {np.round(off, 2)}, plain {np.round(plain, 2)}; "
        f"logging (s) {np.round(logging_s, 2)}; {load()}\n"
    )
    m = len(evaluated)
    print(
        f"the study's {n} trials evaluated {m} distinct points (the rest repeated one and took "
        f"its result); the plain study fits those {m} points. Throughput below: evaluated "
        f"points per second, segbench's over all {n} trials' time"
    )
    job = f"tuning k-means on Online Retail RFM ({m} points)"
    report(
        [
            row(f"{job}, trial logging on", m / t_on, m / t_plain, "trials/s", "≥ 0.8× plain"),
            row(f"{job}, trial logging off", m / t_off, m / t_plain, "trials/s", "—"),
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
