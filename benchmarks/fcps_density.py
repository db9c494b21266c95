"""How many FCPS datasets HDBSCAN (and DBSCAN) solve with segbench's density defaults.

"Solved" means the reference number of clusters is found (label 0 of ``labels0`` is noise and
does not count). The features are scaled as segbench scales one block (every column
standardised, the block to total variance 1). Compares the ``auto`` defaults of
``conf/algo/hdbscan.yaml`` and ``dbscan.yaml`` (:mod:`segbench.algorithms.density`) with the
former fixed ones (HDBSCAN ``min_cluster_size=50, min_samples=10``; DBSCAN ``eps=0.5,
min_samples=10``). ARI is computed as the benchmark does: points of reference label 0 left
out, a predicted noise point counts as a cluster of its own.

Reads the battery from ``$SEGBENCH_DATA_DIR/clustbench/fcps`` (a plain whitespace-separated
matrix per dataset). Usage: ``python benchmarks/fcps_density.py``
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from sklearn.metrics import adjusted_rand_score

from segbench.algorithms import fit_segmentation
from segbench.configs import CONFIG_DIR

OLD = {
    "hdbscan": {"min_cluster_size": 50, "min_samples": 10},
    "dbscan": {"eps": 0.5, "min_samples": 10},
}


def battery() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = Path(os.environ.get("SEGBENCH_DATA_DIR", "data")) / "clustbench" / "fcps"
    out = {}
    for path in sorted(folder.glob("*.data.gz")):
        name = path.name.split(".")[0]
        X = np.loadtxt(path, ndmin=2)
        X = X[:, X.std(axis=0) > 0]
        y = np.loadtxt(folder / f"{name}.labels0.gz", dtype=int)
        out[name] = ((X - X.mean(0)) / X.std(0) / np.sqrt(X.shape[1]), y)
    if not out:
        raise SystemExit(f"no FCPS data in {folder} (set SEGBENCH_DATA_DIR)")
    return out


def algo(name: str) -> dict:
    cfg = OmegaConf.merge({"seed": 0}, {"algo": OmegaConf.load(CONFIG_DIR / f"algo/{name}.yaml")})
    return OmegaConf.to_container(cfg.algo, resolve=True)


def main() -> None:
    rows = []
    for name, (X, y) in battery().items():
        k_ref = len(set(y) - {0})
        for method in ("hdbscan", "dbscan"):
            for defaults, params in (("new", {}), ("old", OLD[method])):
                seg = fit_segmentation(algo(method) | params, X)
                found = len(set(seg.labels) - {-1})
                rows.append(
                    {
                        "dataset": name,
                        "n": len(X),
                        "K": k_ref,
                        "method": method,
                        "defaults": defaults,
                        "found": found,
                        "solved": found == k_ref,
                        "noise": round(float((seg.labels == -1).mean()), 3),
                        "ari": round(adjusted_rand_score(y[y > 0], seg.labels[y > 0]), 3),
                        "resolved": getattr(seg.estimator, "resolved_params_", params),
                    }
                )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    print()
    print(table.groupby(["method", "defaults"])["solved"].sum().to_string())


if __name__ == "__main__":
    main()
