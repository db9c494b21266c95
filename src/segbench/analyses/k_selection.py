"""Choosing the number of segments: the elbow of inertia and the silhouette peak.

For each ``k`` in ``[k_min, k_max]`` a copy of the run's estimator with ``k`` segments is
fitted on the run's features; the curve records inertia (when the estimator has it, as
k-means does) and the silhouette (sampled like the run's, :func:`sampled_silhouette`).

- **elbow** (Satopää et al. 2011, "Kneedle"): with ``k`` and inertia both scaled to [0, 1],
  the ``k`` farthest below the straight line from the first to the last point of the curve;
- **silhouette**: the ``k`` with the highest silhouette.

Metrics ``k_selection.elbow_k`` and ``k_selection.silhouette_k``; artifacts
``k_selection/curve.csv`` and ``k_selection/k_choice.png`` (both curves, both choices and the
run's own ``k`` marked).
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.base import clone

from segbench.algorithms import K_PARAMS, fit_labels
from segbench.errors import ConfigError
from segbench.evaluation.metrics import sampled_silhouette


def k_parameter(estimator: Any) -> str:
    """The name of the estimator's number-of-segments parameter."""
    params = estimator.get_params(deep=False)
    for key in K_PARAMS:
        if key in params:
            return key
    raise ConfigError(
        f"{type(estimator).__name__} has no number-of-segments parameter "
        f"({' or '.join(K_PARAMS)}); k selection applies to k-means-like algorithms"
    )


def elbow(ks: np.ndarray, inertia: np.ndarray) -> int:
    """The Kneedle elbow of a decreasing curve (see the module docstring)."""
    ks, inertia = np.asarray(ks, float), np.asarray(inertia, float)
    if len(ks) < 3 or np.ptp(inertia) == 0:
        return int(ks[0])
    x = (ks - ks[0]) / np.ptp(ks)
    y = (inertia - inertia.min()) / np.ptp(inertia)
    line = 1.0 - x  # from (0, 1) to (1, 0) for a decreasing curve
    return int(ks[int(np.argmax(line - y))])


def k_curve(
    estimator: Any,
    X: np.ndarray,
    k_min: int = 2,
    k_max: int = 10,
    silhouette_sample_size: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Inertia and silhouette for each ``k`` (a copy of ``estimator`` per ``k``)."""
    key = k_parameter(estimator)
    k_max = min(k_max, len(X) - 1)
    if k_max < k_min:
        raise ConfigError(f"k selection needs k_min <= k_max; got {k_min}..{k_max}")
    rows = []
    for k in range(k_min, k_max + 1):
        model = clone(estimator).set_params(**{key: k})
        labels = fit_labels(model, X)
        silhouette, _ = sampled_silhouette(X, labels, silhouette_sample_size, seed)
        rows.append(
            {
                "k": k,
                "inertia": float(getattr(model, "inertia_", np.nan)),
                "silhouette": silhouette,
            }
        )
    return pd.DataFrame(rows)


def choices(curve: pd.DataFrame) -> dict[str, float]:
    """``{"k_selection.elbow_k": …, "k_selection.silhouette_k": …}`` of a curve."""
    out: dict[str, float] = {}
    if curve["inertia"].notna().all():
        out["k_selection.elbow_k"] = float(elbow(curve["k"], curve["inertia"]))
    if curve["silhouette"].notna().any():
        out["k_selection.silhouette_k"] = float(curve.loc[curve["silhouette"].idxmax(), "k"])
    return out


def k_choice_figure(curve: pd.DataFrame, run_k: int | None, title: str = ""):
    """Inertia (elbow marked) and silhouette (peak marked) against k; the run's k dashed."""
    picked = choices(curve)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    if curve["inertia"].notna().all():
        left.plot(curve["k"], curve["inertia"], "o-", color="steelblue")
        if "k_selection.elbow_k" in picked:
            k = picked["k_selection.elbow_k"]
            y = float(curve.loc[curve["k"] == k, "inertia"].iloc[0])
            left.plot([k], [y], "o", ms=12, mfc="none", mec="crimson", mew=2)
            left.annotate(
                f"elbow k={int(k)}",
                (k, y),
                xytext=(8, 10),
                textcoords="offset points",
                color="crimson",
            )
        left.set_ylabel("inertia (within-segment sum of squares)")
    else:
        left.text(0.5, 0.5, "no inertia for this algorithm", ha="center", va="center")
    left.set_xlabel("k")
    left.set_title("Elbow")
    right.plot(curve["k"], curve["silhouette"], "o-", color="darkgreen")
    if "k_selection.silhouette_k" in picked:
        k = picked["k_selection.silhouette_k"]
        y = float(curve.loc[curve["k"] == k, "silhouette"].iloc[0])
        right.plot([k], [y], "o", ms=12, mfc="none", mec="crimson", mew=2)
        right.annotate(
            f"best silhouette k={int(k)}",
            (k, y),
            xytext=(8, -14),
            textcoords="offset points",
            color="crimson",
        )
    right.set_xlabel("k")
    right.set_ylabel("silhouette")
    right.set_title("Silhouette")
    for ax in (left, right):
        if run_k is not None:
            ax.axvline(run_k, ls="--", color="grey", lw=1)
            ax.annotate(
                f"run k={run_k}",
                (run_k, 1),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12),
                textcoords="offset points",
                color="grey",
                fontsize=8,
            )
        ax.set_xticks(curve["k"])
    fig.suptitle(title or "Choice of k", fontsize=10)
    fig.tight_layout()
    return fig
