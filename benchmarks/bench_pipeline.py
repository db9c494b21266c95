"""segbench vs a plain pandas + scikit-learn script: the whole command, and the stages.

**Whole process** (the default; issue 14's target ≤ 2×): ``python -m segbench`` (the
default: synthetic data, 5,000 customers, RFM, k-means) and ``python -m segbench algo=gmm
features=rfm+text``, each timed as a fresh process from start to exit with every default
extra on (stability, profiles, plots, the model, assignment agreement, personalisation,
choice of k, the responsibility report), beside ``benchmarks/plain_segmentation.py`` run as
its own process on the same data: RFM with pandas, scaling, the same model, silhouette,
Davies–Bouldin, Calinski–Harabasz, a profile, labels to CSV. Both are warm: the store exists,
segbench's dataset and embedding caches are filled, and the plain script reads the same data
exported to Parquet (and, for text, the per-customer sentence embeddings segbench reads from
its cache). The two alternate ``--repeats`` times; medians and their ratio are printed, and
where segbench's time went (its ``time.<phase>`` metrics, and the process time outside the
run: interpreter, imports, Hydra, resolution).

**Stages** (``--sizes 10000 100000``; ``--real`` adds Online Retail): in one process on the
same in-memory data, the plain RFM → k-means → internal metrics against segbench's
``FeaturePipeline`` → ``fit_segmentation`` → ``score``, and a whole ``run_experiment``.

**Cold first run** (``--cold 3``, issue 13's target under 30 s): ``python -m segbench
algo=gmm features=rfm+text`` with empty caches (a fresh ``SEGBENCH_CACHE_DIR``, a fresh folder
for the store), beside the plain script embedding the review texts itself (``--embed``).

Usage: ``python benchmarks/bench_pipeline.py [--repeats 3] [--commands 0 1] [--cold 3]
[--sizes N ...] [--real] [--json rows.json]``. Ratios are robust to the machine's load (both sides run under it);
absolute seconds are not: the load is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rows import add_json_option, load, report, row

HERE = Path(__file__).resolve().parent
#: The commands timed whole (label, overrides, plain script's options).
COMMANDS = [
    ("`python -m segbench` (default)", [], ["--algo", "kmeans"]),
    (
        "`python -m segbench algo=gmm features=rfm+text`",
        ["algo=gmm", "features=rfm+text"],
        ["--algo", "gmm", "--text"],
    ),
]
QUIET = ["blocks.text.progress=false"]


def export(overrides: list[str], folder: Path) -> None:
    """Write the run's data for the plain script: transactions (Parquet), analysis date,
    customer order, model settings, and the per-customer embeddings when text is used."""
    from segbench.api import settings
    from segbench.datasets import load_dataset
    from segbench.features import build_blocks

    cfg = settings(overrides)
    data = load_dataset(cfg.dataset)
    tx = data.transactions[["customer_id", "invoice_id", "timestamp", "quantity", "unit_price"]]
    tx.astype({"customer_id": str, "invoice_id": str}).to_parquet(folder / "transactions.parquet")
    when = data.meta.analysis_date or tx["timestamp"].max() + pd.Timedelta(days=1)
    params = cfg.algo.params
    meta = {
        "analysis_date": str(when),
        "customer_ids": [str(c) for c in data.customer_ids],
        "seed": cfg.seed,
        "k": params.get("n_clusters", params.get("n_components")),
        "n_init": params["n_init"],
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    if "text" in cfg.blocks_used:
        block = build_blocks(cfg.blocks)["text"]
        block.set_params(progress=False)
        np.save(folder / "embeddings.npy", block._raw(data, fitting=True))
        texts = data.texts[["customer_id", "text"]].dropna().astype(str)
        texts = texts.assign(text=texts["text"].str.strip())
        texts[texts["text"] != ""].to_parquet(folder / "texts.parquet")


def timed(cmd: list[str], cwd: Path) -> float:
    """Wall seconds of ``cmd`` as a fresh process (it must succeed)."""
    tic = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - tic
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return seconds


def last_run_phases(store: str) -> dict[str, float]:
    """``time.*`` and ``wall_seconds`` of the latest run in ``store``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store)
    exp = client.get_experiment_by_name("segbench")
    (run,) = client.search_runs([exp.experiment_id], order_by=["start_time DESC"], max_results=1)
    return {
        k: v for k, v in run.data.metrics.items() if k.startswith("time.") or k == "wall_seconds"
    }


def whole_process(repeats: int, which: list[int] | None = None) -> list[dict]:
    rows = []
    commands = [c for i, c in enumerate(COMMANDS) if which is None or i in which]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = f"sqlite:///{folder / 'mlflow.db'}"
        for label, overrides, plain_args in commands:
            data_dir = folder / f"data{len(rows)}"
            data_dir.mkdir()
            export([*overrides, f"tracking.uri={store}"], data_dir)
            segbench = [sys.executable, "-m", "segbench", *overrides, *QUIET]
            segbench.append(f"tracking.uri={store}")
            plain = [sys.executable, str(HERE / "plain_segmentation.py"), str(data_dir)]
            plain += plain_args
            timed(segbench, folder)  # warm: the store, the caches, the file system
            timed(plain, folder)
            ours, theirs, outside = [], [], []
            for _ in range(repeats):  # alternate, so load drifts hit both
                ours.append(timed(segbench, folder))
                phases = last_run_phases(store)
                outside.append(ours[-1] - phases["wall_seconds"])
                theirs.append(timed(plain, folder))
            t_ours, t_plain = statistics.median(ours), statistics.median(theirs)
            rows.append(row(f"{label}, whole process", t_ours, t_plain, "s", "≤ 2× plain"))
            where = " · ".join(
                f"{k[5:]} {v:.2f}" for k, v in phases.items() if k.startswith("time.")
            )
            print(
                f"{label}: segbench {t_ours:.2f} s (outside the run: interpreter, imports, Hydra, "
                f"resolution {statistics.median(outside):.2f} s; last run's phases, s: {where}); "
                f"plain {t_plain:.2f} s; {load()}",
                flush=True,
            )
    return rows


def cold_start(repeats: int) -> list[dict]:
    """The README's first command from empty caches (a fresh ``SEGBENCH_CACHE_DIR`` and a
    fresh folder for the store), against the plain script embedding the texts itself."""
    overrides, plain_args = COMMANDS[1][1], COMMANDS[1][2]
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        export([*overrides, f"tracking.uri=sqlite:///{Path(tmp) / 'export.db'}"], data_dir)
        plain = [sys.executable, str(HERE / "plain_segmentation.py"), str(data_dir)]
        plain += [*plain_args, "--embed"]
        for i in range(repeats):  # alternate, so load drifts hit both
            fresh = Path(tmp) / f"cold{i}"
            (fresh / "cache").mkdir(parents=True)
            env = dict(os.environ, SEGBENCH_CACHE_DIR=str(fresh / "cache"))
            tic = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "segbench", *overrides, *QUIET],
                cwd=fresh,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"the cold run failed:\n{done.stderr[-3000:]}")
            ours.append(time.perf_counter() - tic)
            theirs.append(timed(plain, fresh))
            print(
                f"cold start {i + 1}: segbench {ours[-1]:.2f} s, plain {theirs[-1]:.2f} s; "
                f"{load()}",
                flush=True,
            )
    label = f"`python -m segbench {' '.join(overrides)}`, cold first run (empty caches)"
    spread = f"segbench {min(ours):.1f}–{max(ours):.1f} s over {repeats} runs"
    print(f"{label}: {spread}", flush=True)
    return [row(label, statistics.median(ours), statistics.median(theirs), "s", "< 30 s")]


# -- stages, in one process ---------------------------------------------------------------------


def plain_stages(tx: pd.DataFrame, when: pd.Timestamp, k: int, n_init: int, seed: int) -> float:
    from sklearn.cluster import KMeans
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
    from sklearn.preprocessing import StandardScaler

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


def stages(sizes: list[int], real: bool) -> list[dict]:
    from threadpoolctl import threadpool_limits

    from segbench.algorithms import fit_segmentation
    from segbench.api import settings
    from segbench.datasets import load_dataset
    from segbench.experiment import build_features, run_experiment, scorer

    def ours(cfg, data) -> float:
        tic = time.perf_counter()
        _, fm = build_features(cfg, data)
        scorer(cfg)(fm, data, fit_segmentation(cfg.algo, fm.X))
        return time.perf_counter() - tic

    jobs = [(f"synthetic n={n}", ["dataset=synthetic", f"dataset.n_customers={n}"]) for n in sizes]
    if real:
        jobs.append(("online_retail", ["dataset=online_retail"]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data_args in jobs:
            cfg = settings(
                [
                    *data_args,
                    "features=rfm",
                    "algo=kmeans",
                    f"tracking.uri=sqlite:///{Path(tmp) / 'bench.db'}",
                ]
            )
            data = load_dataset(cfg.dataset)
            when = data.meta.analysis_date or data.transactions["timestamp"].max() + pd.Timedelta(
                days=1
            )
            n_init, k = cfg.algo.params["n_init"], cfg.algo.params["n_clusters"]
            with threadpool_limits(1, user_api="blas"):
                plain_stages(data.transactions, when, k, n_init, cfg.seed)  # first-use imports
                ours(cfg, data)
                t_plain = min(
                    plain_stages(data.transactions, when, k, n_init, cfg.seed) for _ in range(3)
                )
                t_ours = min(ours(cfg, data) for _ in range(3))
            run_experiment(cfg)  # warm the store
            t_run = run_experiment(cfg).wall_seconds
            rows.append(row(f"stages (features, fit, score), {name}", t_ours, t_plain, "s", "—"))
            rows.append(row(f"run_experiment in a warm process, {name}", t_run, t_plain, "s", "—"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[])
    parser.add_argument("--real", action="store_true")
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-process rows")
    parser.add_argument(
        "--cold",
        type=int,
        default=3,
        help="cold first runs of the headline command (empty caches); 0 skips them",
    )
    parser.add_argument(
        "--commands",
        type=int,
        nargs="*",
        default=None,
        help="indices of the whole-process commands to time (0: default, 1: gmm + text); all",
    )
    add_json_option(parser)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = [] if args.no_whole else whole_process(args.repeats, args.commands)
    if args.cold:
        rows += cold_start(args.cold)
    if args.sizes or args.real:
        rows += stages(args.sizes, args.real)
    report(rows, args.json)


if __name__ == "__main__":
    main()
