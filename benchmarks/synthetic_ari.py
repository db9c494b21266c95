"""ARI against the planted segments, per algorithm × feature expression, on the synthetic data.

Shows how much each feature block (alone and combined) lets an algorithm recover the planted
segments; the figures behind the claim that the default synthetic data is realistic (no block
alone suffices) yet recoverable (all blocks together). Runs through segbench's own pipeline
(``segbench.api.run``) into a temporary MLflow store.

Usage: ``python benchmarks/synthetic_ari.py [--algos kmeans gmm] [--n 5000]``
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import pandas as pd

from segbench.api import run

BLOCKS = ("rfm", "demographics", "text")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--algos", nargs="+", default=["kmeans", "gmm", "agglomerative", "hdbscan"])
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    expressions = ["+".join(c) for r in (1, 2, 3) for c in itertools.combinations(BLOCKS, r)]
    table = pd.DataFrame(index=expressions, columns=args.algos, dtype=float)
    with tempfile.TemporaryDirectory() as tmp:
        for expression, algo in itertools.product(expressions, args.algos):
            result = run(
                [
                    f"algo={algo}",
                    f"features={expression}",
                    f"dataset.n_customers={args.n}",
                    f"tracking.uri=sqlite:///{Path(tmp) / 'ari.db'}",
                    "tracking.log_model=false",
                    "tracking.log_plots=false",
                    "blocks.text.progress=false",
                    # only ARI is read: skip the per-run extras
                    "fairness=none",
                    "evaluation.stability.enabled=false",
                    "analysis.assign.enabled=false",
                    "analysis.personalisation.enabled=false",
                ]
            )
            table.loc[expression, algo] = result.metrics["ari"]
    print(table.round(3).to_markdown())


if __name__ == "__main__":
    main()
