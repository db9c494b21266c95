"""Choosing the number of segments: the elbow of inertia and the silhouette peak.

For each ``k`` in ``[k_min, k_max]`` a copy of the run's estimator with ``k`` segments is
fitted; the curve records inertia (when the estimator has it, as k-means does), BIC (when it
has it, as a Gaussian mixture does) and the silhouette.

Cost: on by default for the algorithms that take a number of segments, so bounded — the
curve is fitted on a seeded sample of at most ``analysis.k_selection.sample_size`` customers
(default 2,000; :func:`segbench.data.sampling.sample_rows`), whose silhouette is computed on
that whole sample, with at most ``analysis.k_selection.n_init`` restarts per fit (default 2;
the run's own ``n_init`` when lower). The curve's inertia is therefore the sample's: its
shape, not its scale, is comparable with the run's ``inertia``.

- **elbow** (Satopää et al. 2011, "Kneedle"): with ``k`` and inertia both scaled to [0, 1],
  the ``k`` farthest below the straight line from the first to the last point of the curve;
- **silhouette**: the ``k`` with the highest silhouette.

Metrics ``k_selection.elbow_k`` and ``k_selection.silhouette_k``; artifacts
``k_selection/curve.csv`` and ``k_selection/k_choice.png`` (both curves, both choices and the
run's own ``k`` marked).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from segbench.algorithms import K_PARAMS, fit_labels
from segbench.data.sampling import sample_rows
from segbench.errors import ConfigError
from segbench.evaluation.metrics import sampled_silhouette, silhouettes
from segbench.parallel.side_by_side import fit_side_by_side
from segbench.reporting.drawing import pyplot


def takes_k(estimator: Any) -> bool:
    """Whether the estimator has a number-of-segments parameter (k selection applies)."""
    return any(key in estimator.get_params(deep=False) for key in K_PARAMS)


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
    sample_size: int = 2_000,
    seed: int = 0,
    n_init: int | None = 2,
    sensitive: Any = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Inertia, BIC and silhouette for each ``k`` (a copy of ``estimator`` per ``k``), on a
    seeded sample of at most ``sample_size`` rows of ``X``, with at most ``n_init`` restarts
    (module docstring). The fits run side by side, one thread each
    (:func:`segbench.parallel.side_by_side.fit_side_by_side`; ``workers``: how many, ``None``
    the cores this process may use). ``sensitive``: the
    sensitive attributes of ``X``'s rows, for estimators that require them. The frame's
    ``attrs`` hold the sample's size (``customers``) and the restarts per fit (``n_init``,
    when the estimator has it).
    """
    key = k_parameter(estimator)
    rows_ = sample_rows(len(X), sample_size, seed, sort=True)
    if rows_ is not None:
        X = X[rows_]
        if sensitive is not None:
            sensitive = sensitive.iloc[rows_]
    k_max = min(k_max, len(X) - 1)
    if k_max < k_min:
        raise ConfigError(f"k selection needs k_min <= k_max; got {k_min}..{k_max}")
    base = clone(estimator)
    params = base.get_params(deep=False)
    if n_init is not None and isinstance(params.get("n_init"), int):
        base.set_params(n_init=min(int(n_init), params["n_init"]))
    fit_params = {"sensitive_features": sensitive} if sensitive is not None else {}

    def fit(k: int) -> tuple[np.ndarray, float, float]:
        model = clone(base).set_params(**{key: k})
        labels = fit_labels(model, X, **fit_params)
        bic = model.bic(X) if hasattr(model, "bic") else np.nan
        return labels, float(getattr(model, "inertia_", np.nan)), float(bic)

    ks = range(k_min, k_max + 1)
    # the largest k first: the costliest fits start first, so both cores end together
    fits = fit_side_by_side(fit, ks[::-1], workers)[::-1]
    rows, labelings = [], {}
    for k, (labels, inertia, bic) in zip(ks, fits, strict=True):
        silhouette = np.nan
        if (labels == -1).any():  # noise: on the segmented customers only
            silhouette, _ = sampled_silhouette(X, labels, len(X), seed)
        elif len(np.unique(labels)) >= 2:
            labelings[k] = labels
        rows.append({"k": k, "inertia": inertia, "bic": bic, "silhouette": silhouette})
    curve = pd.DataFrame(rows)
    # every k's silhouette on the whole sample, the distances computed once for all of them
    for k, values in zip(labelings, silhouettes(X, list(labelings.values())), strict=True):
        curve.loc[curve["k"] == k, "silhouette"] = float(np.mean(values))
    curve.attrs["customers"] = len(X)
    if "n_init" in params:
        curve.attrs["n_init"] = base.get_params(deep=False)["n_init"]
    return curve


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
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(10, 3.8))
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
        left.set_title("Elbow")
    elif "bic" in curve and curve["bic"].notna().all():
        left.plot(curve["k"], curve["bic"], "o-", color="steelblue")
        best = curve.loc[curve["bic"].idxmin()]
        left.plot([best["k"]], [best["bic"]], "o", ms=12, mfc="none", mec="crimson", mew=2)
        left.annotate(
            f"lowest BIC k={int(best['k'])}",
            (best["k"], best["bic"]),
            xytext=(8, 10),
            textcoords="offset points",
            color="crimson",
        )
        left.set_ylabel("BIC (lower is better)")
        left.set_title("BIC")
    else:
        left.text(0.5, 0.5, "no inertia for this algorithm", ha="center", va="center")
        left.set_title("Elbow")
    left.set_xlabel("k")
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
    customers = curve.attrs.get("customers")
    caption = f" (fitted on {customers:,} customers)" if customers else ""
    fig.suptitle((title or "Choice of k") + caption, fontsize=10)
    fig.tight_layout()
    return fig
