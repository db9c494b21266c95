"""Stability of a segmentation: does the algorithm find the same segments on perturbed data?

Internal indices (silhouette, Davies–Bouldin, Calinski–Harabasz) reward compact, separated
groups whether or not they are real; an arbitrary partition of one blob can score well. A
segmentation worth acting on should also be *reproducible*: refitting the same algorithm with
the same hyperparameters on a resample of the customers should group them the same way
(Ben-Hur, Elisseeff & Guyon 2002, "A stability based method for discovering structure in
clustered data"; Hennig 2007, "Cluster-wise assessment of cluster stability"; von Luxburg
2010, "Clustering stability: an overview").

Definition
----------
From the feature matrix ``X`` a seeded base sample of at most ``max_samples`` rows is drawn
(all rows when there are fewer), so the cost is ``n_resamples`` fits on at most
``max_samples`` points whatever the number of customers. An unfitted copy of the run's
estimator (:func:`sklearn.base.clone`, same hyperparameters) is fitted ``B = n_resamples``
times, fit ``b`` on the rows ``S_b`` of the base sample chosen by ``method``:

``bootstrap``
    ``S_b`` drawn with replacement (size of the base sample); duplicates get the label of
    their first occurrence. Only the data vary; the estimator's own seed stays fixed.
``subsample``
    ``S_b`` drawn without replacement, a share ``subsample_fraction`` of the base sample.
``seeds``
    ``S_b`` is the whole base sample and fit ``b`` gets ``random_state = seed + b + 1``: the
    spread due to initialisation alone. Deterministic estimators (no ``random_state``
    parameter: DBSCAN, HDBSCAN, agglomerative) are skipped with a note, since their score
    would be a trivial 1.

For every pair ``b < c`` the labels are compared on the points both fits saw,
``S_b ∩ S_c``, by the adjusted Rand index (noise, label ``-1``, counts as a segment of its
own, as for the external indices)::

    stability = 2 / (B (B − 1)) · Σ_{b<c} ARI(labels_b[S_b ∩ S_c], labels_c[S_b ∩ S_c])

1 means every refit found the same partition; values near 0 mean agreement no better than
chance.

MLflow metrics (stable names, read by the leaderboard)
------------------------------------------------------
=========================  ==============================================================
``stability``              mean pairwise ARI defined above (higher is better)
``stability_std``          standard deviation of the pairwise ARIs
``stability_resamples``    number of fits ``B``
``stability_sample_size``  rows of the base sample
=========================  ==============================================================

Configured under ``evaluation.stability`` (:class:`segbench.settings.StabilitySettings`):
``enabled``, ``method``, ``n_resamples``, ``max_samples``, ``subsample_fraction``,
``threads``. It is computed once per run on the run's final estimator (after tuning, on the
refit best trial), not in tuning trials.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from segbench.algorithms import Segmentation, fit_labels
from segbench.data.sampling import sample_rows
from segbench.errors import ConfigError
from segbench.parallel.side_by_side import fit_side_by_side
from segbench.settings import StabilitySettings

METHODS = ("bootstrap", "subsample", "seeds")
#: Fewer rows than this and a resample cannot say anything about segments.
MIN_SAMPLES = 20


@dataclass(frozen=True)
class StabilityResult:
    """Mean and spread of the pairwise ARIs between ``n_fits`` refits."""

    mean: float
    std: float
    n_fits: int
    sample_size: int
    pair_scores: tuple[float, ...]

    def metrics(self) -> dict[str, float]:
        """The MLflow metrics (see the module docstring)."""
        return {
            "stability": self.mean,
            "stability_std": self.std,
            "stability_resamples": float(self.n_fits),
            "stability_sample_size": float(self.sample_size),
        }


def _draws(
    n: int, n_resamples: int, method: str, fraction: float, rng: np.random.Generator
) -> list[np.ndarray]:
    if method == "bootstrap":
        return [rng.integers(0, n, size=n) for _ in range(n_resamples)]
    if method == "subsample":
        size = max(2, round(fraction * n))
        return [np.sort(rng.choice(n, size=size, replace=False)) for _ in range(n_resamples)]
    return [np.arange(n) for _ in range(n_resamples)]


def _take(values: Any, rows: np.ndarray | None) -> Any:
    """Rows of a DataFrame/Series (positionally, index reset) or an array; all when None."""
    if rows is None:
        return values
    if hasattr(values, "iloc"):
        return values.iloc[rows].reset_index(drop=True)
    return np.asarray(values)[rows]


def _labels_by_row(rows: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique rows of a draw and the label of each (first occurrence of a duplicate)."""
    unique, first = np.unique(rows, return_index=True)
    return unique, np.asarray(labels)[first]


def stability(
    estimator: Any,
    X: np.ndarray,
    *,
    n_resamples: int = 5,
    method: str = "bootstrap",
    max_samples: int = 2000,
    subsample_fraction: float = 0.8,
    seed: int = 0,
    sensitive: Any = None,
    threads: int | None = 1,
) -> StabilityResult:
    """Mean pairwise ARI between refits of ``estimator`` on resamples of ``X``.

    ``estimator`` may be fitted or not: only its hyperparameters are used (it is cloned).
    ``sensitive`` (rows aligned with ``X``: a DataFrame or an array) is resampled with ``X``
    and passed as ``fit(X, sensitive_features=...)`` to estimators that declare
    ``requires_sensitive`` (fairness-aware ones), as :func:`segbench.algorithms.fit_segmentation`
    does. ``threads`` caps the OpenMP/BLAS threads of the refits (``None``: the libraries'
    default); small fits on a loaded machine run many times faster with one thread (k-means
    on 2,000 points here: 0.3 s with 1 thread, 6.5 s with 2 while other processes ran). With
    one thread each (the default), the refits run side by side on the machine's cores
    (:func:`segbench.parallel.side_by_side.fit_side_by_side`), with the same results.
    See the module docstring for the definition. Raises :class:`ConfigError` on invalid
    options and when ``method="seeds"`` is asked of an estimator without ``random_state``.

    >>> from sklearn.cluster import KMeans
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(300, centers=3, random_state=0)
    >>> stability(KMeans(3, n_init=2, random_state=0), X).mean > 0.9
    True
    """
    if method not in METHODS:
        raise ConfigError(
            f"evaluation.stability.method={method!r}; expected one of {', '.join(METHODS)}"
        )
    if int(n_resamples) < 2:
        raise ConfigError(
            f"evaluation.stability.n_resamples={n_resamples}; at least 2 fits are needed "
            "to compare segmentations"
        )
    if not 0.0 < float(subsample_fraction) <= 1.0:
        raise ConfigError(
            f"evaluation.stability.subsample_fraction={subsample_fraction}; expected (0, 1]"
        )
    if int(max_samples) < MIN_SAMPLES:
        raise ConfigError(
            f"evaluation.stability.max_samples={max_samples}; expected at least {MIN_SAMPLES}"
        )
    try:
        template = clone(estimator)
    except TypeError as err:
        raise ConfigError(
            f"cannot compute stability: {type(estimator).__name__} cannot be cloned "
            f"(scikit-learn estimator contract: get_params/set_params): {err}. "
            "Set evaluation.stability.enabled=false."
        ) from err
    needs_sensitive = bool(getattr(template, "requires_sensitive", False))
    if needs_sensitive and sensitive is None:
        raise ConfigError(
            f"{type(estimator).__name__} needs the customers' sensitive attributes to fit; "
            "pass sensitive= (rows aligned with X)"
        )
    has_seed = "random_state" in template.get_params()
    if method == "seeds" and not has_seed:
        raise ConfigError(
            f"evaluation.stability.method=seeds needs an estimator with a random_state; "
            f"{type(estimator).__name__} is deterministic. Use method=bootstrap or subsample."
        )

    X = np.asarray(X)
    rng = np.random.default_rng(seed)
    n = len(X)
    base = sample_rows(n, max_samples, rng, sort=True)
    Xs = X[base] if base is not None else X
    draws = _draws(len(Xs), int(n_resamples), method, subsample_fraction, rng)

    def refit(draw: tuple[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        b, rows = draw
        model = clone(template)
        if method == "seeds":
            model.set_params(random_state=int(seed) + b + 1)
        fit_params = {}
        if needs_sensitive:
            fit_params["sensitive_features"] = _take(_take(sensitive, base), rows)
        return _labels_by_row(rows, fit_labels(model, Xs[rows], **fit_params))

    if threads == 1:  # one thread each: side by side, the same results
        fits = fit_side_by_side(refit, enumerate(draws))
    else:
        with threadpool_limits(limits=threads):
            fits = [refit(draw) for draw in enumerate(draws)]

    scores = []
    for (rows_b, lab_b), (rows_c, lab_c) in combinations(fits, 2):
        shared, in_b, in_c = np.intersect1d(rows_b, rows_c, assume_unique=True, return_indices=True)
        if len(shared) >= 2:
            scores.append(float(adjusted_rand_score(lab_b[in_b], lab_c[in_c])))
    values = np.asarray(scores)
    return StabilityResult(
        mean=float(values.mean()),
        std=float(values.std()),
        n_fits=len(fits),
        sample_size=len(Xs),
        pair_scores=tuple(scores),
    )


def stability_metrics(
    settings: StabilitySettings,
    seg: Segmentation,
    X: np.ndarray,
    seed: int = 0,
    notes: MutableMapping[str, str] | None = None,
    sensitive: Any = None,
) -> dict[str, float]:
    """The stability metrics of a run's segmentation, as ``settings`` say.

    Uses the hyperparameters of ``seg.estimator``. Returns ``{}`` when stability is disabled
    or says nothing, with the reason in ``notes["stability_skipped"]`` (logged as the tag
    ``segbench.stability_skipped``): fewer than ``MIN_SAMPLES`` customers, a segmentation
    with fewer than two segments (every refit would agree trivially), ``method=seeds`` for a
    deterministic estimator, or a fairness-aware estimator (``requires_sensitive``) without
    ``sensitive`` (the sensitive attributes of X's rows).
    """
    if not settings.enabled:
        return {}
    method = settings.method
    n_segments = len(np.unique(seg.labels[seg.labels != -1]))
    skip = None
    if len(X) < MIN_SAMPLES:
        skip = f"{len(X)} customers; stability needs at least {MIN_SAMPLES}"
    elif n_segments < 2:
        skip = f"{n_segments} segment(s) found (noise excluded); every refit would agree trivially"
    elif method == "seeds" and "random_state" not in seg.estimator.get_params():
        skip = (
            f"method=seeds but {type(seg.estimator).__name__} has no random_state "
            "(deterministic: the score would be a trivial 1); use method=bootstrap or subsample"
        )
    elif getattr(seg.estimator, "requires_sensitive", False) and sensitive is None:
        skip = f"{type(seg.estimator).__name__} needs the sensitive attributes to refit"
    if skip is not None:
        if notes is not None:
            notes["stability_skipped"] = skip
        return {}
    result = stability(
        seg.estimator,
        X,
        n_resamples=settings.n_resamples,
        method=method,
        max_samples=settings.max_samples,
        subsample_fraction=settings.subsample_fraction,
        seed=seed,
        sensitive=sensitive,
        threads=settings.threads,
    )
    return result.metrics()


__all__ = ["METHODS", "StabilityResult", "stability", "stability_metrics"]
