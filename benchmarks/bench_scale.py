"""segbench at a million customers against the plain way, each job in its own process.

Jobs (``--customers``, default 1,000,000 synthetic customers, ``features=rfm``):

- **generate**: ``SyntheticDataset(n_customers=N, cache=False).load()`` alone, generation
  and fingerprint (target ≤ 30 s); then **cache**: the first ``load()`` with the dataset cache
  on (generates and writes the entry to the benchmark's own ``SEGBENCH_CACHE_DIR``) and a
  second one (reads it);
- **kmeans, minibatch_kmeans, gmm**: the whole command ``python -m segbench
  dataset.n_customers=N features=rfm algo=<algo>`` with every default extra on (stability,
  assignment agreement, personalisation, k selection, fairness and the responsibility report,
  plots, the logged model), the dataset cached, against the plain way: the same dataset read
  from the same cache (``SyntheticDataset(n_customers=N).load()``, a hit), RFM by a pandas
  groupby, ``log1p``, ``StandardScaler`` and the scikit-learn estimator with the config's
  hyperparameters (targets ≤ 60 s and ≤ 4 GB);
- **hdbscan, dbscan, agglomerative** in the subsample-then-assign mode
  (``algo.subsample=<S>``, :mod:`segbench.serving.subsample`) against the plain way: the
  library fitted on a seeded sample of ``S`` customers and the others assigned by a 15-nearest-
  neighbour classifier (target ≤ 120 s).

Wall time and peak memory (maximum resident set size) come from ``/usr/bin/time -v`` around
each process, so imports and the MLflow store are included on both sides. Each segbench run
writes to a fresh SQLite store in a temporary folder. The machine's load (``uptime``) is
printed after every figure and with the table: on a shared machine the figures move with it.

Usage::

    python benchmarks/bench_scale.py [--customers 1000000] [--jobs generate kmeans ...]
        [--subsample 100000] [--json rows.json]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from rows import add_json_option, load, report, row

ROOT = Path(__file__).resolve().parents[1]
PLAIN_FIT = {
    "kmeans": "from sklearn.cluster import KMeans as E; e = E(6, n_init=10, random_state=0)",
    "minibatch_kmeans": "from sklearn.cluster import MiniBatchKMeans as E; "
    "e = E(6, batch_size=4096, n_init=3, random_state=0)",
    "gmm": "from sklearn.mixture import GaussianMixture as E; e = E(6, covariance_type='full', "
    "reg_covar=0.01, n_init=5, max_iter=200, random_state=0)",
    "hdbscan": "import hdbscan; e = hdbscan.HDBSCAN(min_cluster_size=max(5, int(0.02 * S)), "
    "min_samples=25)",
    "dbscan": "from sklearn.cluster import DBSCAN as E; e = E(eps=0.3, min_samples=6)",
    "agglomerative": "from sklearn.cluster import AgglomerativeClustering as E; e = E(6)",
}
SUBSAMPLED = ("hdbscan", "dbscan", "agglomerative")
#: Sample each subsampled method is fitted on by default (what the size guard suggests,
#: ``segbench.algorithms.SUGGESTED_SUBSAMPLE``).
SAMPLE = {"hdbscan": 10_000, "dbscan": 10_000, "agglomerative": 10_000}

PLAIN = """
import numpy as np, pandas as pd
from sklearn.preprocessing import StandardScaler
from segbench.datasets.synthetic import SyntheticDataset
N, S, seed = {n}, {s}, 0
data = SyntheticDataset(n_customers=N).load()
tx = data.transactions
when = data.meta.analysis_date
amount = tx["quantity"].to_numpy() * tx["unit_price"].to_numpy()
tx = pd.DataFrame({{"c": tx["customer_id"], "i": tx["invoice_id"], "t": tx["timestamp"],
                   "a": amount}})
inv = tx.groupby(["c", "i"], observed=True).agg(t=("t", "min"), a=("a", "sum"))
rfm = inv.groupby(level=0, observed=True).agg(last=("t", "max"), f=("a", "size"),
                                              m=("a", "sum"))
rfm["r"] = (when - rfm.pop("last")) / pd.Timedelta(days=1)
X = StandardScaler().fit_transform(np.log1p(rfm[["r", "f", "m"]].clip(lower=0)))
{fit}
if {subsampled}:
    from sklearn.neighbors import KNeighborsClassifier
    rows = np.random.default_rng(seed).choice(len(X), S, replace=False)
    sample_labels = e.fit_predict(X[rows])
    knn = KNeighborsClassifier(15, weights="distance").fit(X[rows], sample_labels)
    labels = knn.predict(X)
else:
    labels = e.fit_predict(X)
print("labels", len(labels))
"""


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GB) of ``command``, by ``/usr/bin/time -v``."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    parts = [float(p) for p in wall.group(1).split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return seconds, int(rss.group(1)) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--jobs", nargs="+", default=["generate", "kmeans", "minibatch_kmeans", "gmm", *SUBSAMPLED]
    )
    parser.add_argument("--subsample", type=int, default=None, help="sample of the subsample "
                        "mode (default: 10,000, what the guard suggests)")  # fmt: skip
    add_json_option(parser)
    args = parser.parse_args()
    n = args.customers
    python = sys.executable
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
               "SEGBENCH_CACHE_DIR": str(work / "cache")}  # fmt: skip
        load_code = (
            "from segbench.datasets.synthetic import SyntheticDataset; "
            f"SyntheticDataset(n_customers={n}, cache={{cache}}).load()"
        )
        if "generate" in args.jobs:
            seconds, peak = timed([python, "-c", load_code.format(cache=False)], work, env)
            rows.append(row(f"generate {n:,} customers", seconds, None, "s", "≤ 30 s"))
            rows.append(row(f"generate {n:,} customers, peak", peak, None, "GB", "—"))
            print(f"generate: {seconds:.1f} s, {peak:.2f} GB ({load()})", flush=True)
        # the first load writes the dataset cache the runs below read (not a figure of them)
        for what in ("first load, writes the cache", "cached load"):
            seconds, peak = timed([python, "-c", load_code.format(cache=True)], work, env)
            if "generate" in args.jobs:
                rows.append(row(f"{n:,} customers, {what}", seconds, None, "s", "—"))
            print(f"{what}: {seconds:.1f} s, {peak:.2f} GB ({load()})", flush=True)
        for job in args.jobs:
            if job == "generate":
                continue
            size = args.subsample or SAMPLE.get(job, 0)
            store = f"sqlite:///{work / f'{job}.db'}"
            command = [python, "-m", "segbench", f"dataset.n_customers={n}", "features=rfm",
                       f"algo={job}", f"tracking.uri={store}"]  # fmt: skip
            label = f"{n:,} customers, {job}"
            if job in SUBSAMPLED:
                command.append(f"algo.subsample={size}")
                label += f" (subsample {size:,})"
            seconds, peak = timed(command, work, env)
            plain_code = PLAIN.format(n=n, s=size, fit=PLAIN_FIT[job], subsampled=job in SUBSAMPLED)
            plain_seconds, plain_peak = timed([python, "-c", plain_code], work, env)
            target = "≤ 120 s" if job in SUBSAMPLED else "≤ 60 s"
            rows.append(row(label, seconds, plain_seconds, "s", target))
            rows.append(row(f"{label}, peak", peak, plain_peak, "GB", "≤ 4 GB"))
            print(f"{label}: {seconds:.1f} s / {peak:.2f} GB (plain {plain_seconds:.1f} s / "
                  f"{plain_peak:.2f} GB) ({load()})", flush=True)  # fmt: skip
    report(rows, args.json)


if __name__ == "__main__":
    main()
