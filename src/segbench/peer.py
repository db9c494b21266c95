"""``python -m segbench.peer``: segbench beside published results (FCPS peer validation).

Runs the preset ``experiment=fcps_peer`` once per dataset of the FCPS battery (the Benchmark
Suite for Clustering Algorithms v1, Gagolewski 2022, copied to
``$SEGBENCH_DATA_DIR/clustbench/``) and per method whose partitions were published there
(:data:`METHODS`), at the dataset's reference number of clusters K, with the method's published
settings; then writes a table of segbench's ARI beside the published partition's ARI, both
computed as the benchmark computes them (points of reference label 0 left out; segbench's run
leaves them out through ``dataset.noise_label``).

.. code-block:: text

    python -m segbench.peer                          # every dataset × method
    python -m segbench.peer --datasets hepta,lsun --methods sklearn_kmeans
    python -m segbench.peer --out results/fcps_peer tracking.uri=sqlite:///peer.db

Options: ``--data`` (the battery's folder, default ``$SEGBENCH_DATA_DIR/clustbench``),
``--datasets``, ``--methods`` (comma-separated; default all), ``--out`` (default
``results/fcps_peer``; ``peer.md`` and ``peer.csv``), ``--tolerance`` (default 0.01: a row
*agrees* when the two ARIs differ by at most this); any other argument is a Hydra override for
every run. Exit status 0 when every row agrees, 1 when some do not (the table says which),
2 (one paragraph, no traceback) on a bad option or missing data.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from segbench.errors import ConfigError, SegbenchError

TOLERANCE = 0.01


@dataclass(frozen=True)
class Method:
    """A method of the published results, and how segbench runs it."""

    algo: str
    k_key: str
    overrides: tuple[str, ...]
    settings: str


#: The published methods (``results/<name>/``) and segbench's runs of them.
METHODS: dict[str, Method] = {
    "sklearn_kmeans": Method(
        "kmeans",
        "n_clusters",
        ("algo.n_init=10", "algo.random_state=123"),
        "KMeans(n_clusters=K, n_init=10, random_state=123)",
    ),
    "sklearn_gm": Method(
        "gmm",
        "n_components",
        (
            "algo.covariance_type=full",
            "algo.n_init=100",
            "algo.reg_covar=1e-6",
            "algo.max_iter=100",
            "algo.random_state=123",
        ),
        "GaussianMixture(n_components=K, n_init=100, random_state=123), scikit-learn's "
        "defaults otherwise (full covariances, reg_covar=1e-6, max_iter=100)",
    ),
    "fastcluster_ward": Method(
        "agglomerative",
        "n_clusters",
        ("algo.linkage=ward",),
        "Ward linkage cut at K clusters (scikit-learn's AgglomerativeClustering)",
    ),
}


@dataclass(frozen=True)
class Dataset:
    """One dataset of the battery: its data file, reference labels and K."""

    name: str
    data: Path
    labels: np.ndarray

    @property
    def k(self) -> int:
        return len(set(self.labels.tolist()) - {0})


def battery(folder: Path, names: Sequence[str] | None = None) -> list[Dataset]:
    """The FCPS datasets in ``folder/fcps`` (all, or ``names``), with labels ``labels0``."""
    fcps = folder / "fcps"
    found = sorted(p.name.split(".")[0] for p in fcps.glob("*.data.gz"))
    if not found:
        raise ConfigError(
            f"--data {folder}: expected the FCPS battery in {fcps} (<name>.data.gz and "
            "<name>.labels0.gz; see $SEGBENCH_DATA_DIR/clustbench/README.md); found no data file."
        )
    unknown = sorted(set(names or ()) - set(found))
    if unknown:
        raise ConfigError(f"--datasets: {', '.join(unknown)} not in {fcps}; found {found}")
    return [
        Dataset(n, fcps / f"{n}.data.gz", _labels(fcps / f"{n}.labels0.gz"))
        for n in found
        if not names or n in names
    ]


def _labels(path: Path, skip: int = 0) -> np.ndarray:
    return pd.read_csv(path, header=None, skiprows=skip)[0].to_numpy(dtype=int)


def published_ari(folder: Path, method: str, dataset: Dataset) -> float:
    """ARI of the published partition against the reference labels, label 0 left out.

    Raises :class:`ConfigError` when the result file is missing."""
    from sklearn.metrics import adjusted_rand_score

    path = folder / "results" / method / "fcps" / f"{dataset.name}.result{dataset.k}.gz"
    if not path.exists():
        raise ConfigError(f"no published result of {method} on {dataset.name}: {path} is missing")
    published = _labels(path, skip=1)  # the first line names the method
    keep = dataset.labels != 0
    return float(adjusted_rand_score(dataset.labels[keep], published[keep]))


def run_peer(
    folder: Path,
    datasets: Sequence[Dataset],
    methods: Sequence[str],
    overrides: Sequence[str] = (),
    tolerance: float = TOLERANCE,
) -> pd.DataFrame:
    """Run every dataset × method through ``experiment=fcps_peer``; one row each."""
    from segbench.api import run

    rows = []
    for data in datasets:
        for name in methods:
            method = METHODS[name]
            result = run(
                [
                    "experiment=fcps_peer",
                    f"algo={method.algo}",
                    f"dataset.path={data.data}",
                    f"algo.{method.k_key}={data.k}",
                    *method.overrides,
                    *overrides,
                ]
            )
            ours = float(result.metrics.get("ari", np.nan))
            theirs = published_ari(folder, name, data)
            rows.append(
                {
                    "dataset": data.name,
                    "n": len(data.labels),
                    "K": data.k,
                    "labelled": int(result.metrics.get("labelled_customers", np.nan)),
                    "method": name,
                    "segbench_ari": ours,
                    "published_ari": theirs,
                    "difference": ours - theirs,
                    "agrees": bool(abs(ours - theirs) <= tolerance),
                    "run_id": result.run_id,
                }
            )
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, tolerance: float, command: str) -> str:
    """The peer table with how it was made."""
    shown = table.assign(
        segbench_ari=table["segbench_ari"].map("{:.4f}".format),
        published_ari=table["published_ari"].map("{:.4f}".format),
        difference=table["difference"].map("{:+.4f}".format),
        agrees=table["agrees"].map({True: "yes", False: "**no**"}),
    )
    agree = int(table["agrees"].sum())
    per_method = "; ".join(
        f"{m} {int(g['agrees'].sum())}/{len(g)}" for m, g in table.groupby("method", sort=False)
    )
    settings = "\n".join(f"- `{name}`: {m.settings}" for name, m in METHODS.items())
    return f"""# FCPS peer validation: segbench beside the published partitions

Made by `{command}` (preset `conf/experiment/fcps_peer.yaml`).

The FCPS battery of the Benchmark Suite for Clustering Algorithms v1 (Gagolewski 2022,
doi:10.1016/j.softx.2022.101270) and the partitions published for it
(`clustering-results-v1`, `original/<method>/fcps/`), at the reference number of clusters K.
segbench reads each dataset through `dataset=clustbench`, preprocesses it as the benchmark did
(columns to mean 0, all scaled by one common factor: `preprocess.scaler=common`), runs the method
with the published settings, and scores as the benchmark does: points whose reference label is
0 (noise) are left out of the ARI (`labelled` counts the rest). `published_ari` is the ARI of the
published partition computed the same way.

{settings}

**{agree} of {len(table)} rows agree within {tolerance:g}** ({per_method}).
The benchmark also added white noise of sd 1e-6 × the overall sd before clustering (to break
ties), which segbench does not; a method whose result hangs on ties or on its random stream
(scikit-learn's versions differ from those of the published run) can land elsewhere.

{shown.to_markdown(index=False)}
"""


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m segbench.peer",
        description="segbench's k-means, GMM and Ward on the FCPS battery beside the published "
        "partitions' ARI.",
    )
    default = Path(os.environ.get("SEGBENCH_DATA_DIR", "data")) / "clustbench"
    parser.add_argument("--data", type=Path, default=default, help="the battery's folder")
    parser.add_argument("--datasets", default="", help="comma-separated (default: all)")
    parser.add_argument("--methods", default="", help=f"comma-separated of {list(METHODS)}")
    parser.add_argument("--out", type=Path, default=Path("results/fcps_peer"))
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    return parser.parse_known_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args, overrides = parse_args(argv)
    try:
        methods = [m for m in args.methods.split(",") if m] or list(METHODS)
        unknown = sorted(set(methods) - set(METHODS))
        if unknown:
            raise ConfigError(f"--methods: {', '.join(unknown)}; expected some of {list(METHODS)}")
        if not 0 <= args.tolerance < 1:
            raise ConfigError(f"--tolerance {args.tolerance}: expected a value in [0, 1)")
        datasets = battery(args.data, [d for d in args.datasets.split(",") if d] or None)
        table = run_peer(args.data, datasets, methods, overrides, args.tolerance)
        command = "python -m segbench.peer" + (" " + shlex.join(argv) if argv else "")
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "peer.md").write_text(
                markdown(table, args.tolerance, command), encoding="utf-8"
            )
            table.to_csv(args.out / "peer.csv", index=False)
        except OSError as err:
            raise ConfigError(f"--out {args.out}: cannot write there ({err.strerror}).") from None
    except SegbenchError as err:
        print(f"segbench.peer: error: {err}", file=sys.stderr)
        return 2
    print(markdown(table, args.tolerance, command))
    print(f"wrote {args.out / 'peer.md'} and {args.out / 'peer.csv'}")
    return 0 if table["agrees"].all() else 1


if __name__ == "__main__":
    sys.exit(main())
