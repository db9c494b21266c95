"""DBSCAN and HDBSCAN whose defaults scale with the data.

A fixed ``min_cluster_size: 50`` turns all 212 points of a small dataset into noise and cuts
dozens of slivers out of 20,000 customers; a fixed ``eps: 0.5`` means something different in
every feature space. These two estimators accept ``"auto"`` for those parameters and resolve
it in :meth:`fit` from the data they are given. As in scikit-learn, the parameter keeps
``"auto"`` (so a clone, e.g. a stability refit on a resample, resolves it again for its own
data) and the value used is an attribute ending in ``_``; :attr:`resolved_params_` holds them
all and the fit logs them. The fitted library estimator is ``estimator_``.

Rules (``n`` = number of points fitted)
---------------------------------------
``min_cluster_size="auto"`` (HDBSCAN)
    ``max(5, ceil(0.02 · n))``: a segment holds at least 2 % of the customers (and at least
    5). 212 points → 5, 5,000 → 100, 1,000,000 → 20,000.
``min_samples="auto"`` (HDBSCAN)
    ``min(25, min_cluster_size)``: the neighbourhood that smooths the density estimate grows
    with the data (the library's own default is ``min_cluster_size``) up to 25 neighbours, so
    the cost of the neighbour searches stays bounded.
``min_samples="auto"`` (DBSCAN, ``d`` = number of feature columns)
    ``2 · d`` (Sander et al. 1998; Schubert et al. 2017), at least 5, at most 25 and at most
    ``max(5, ceil(0.02 · n))``: a core point needs more neighbours in more dimensions, and never
    more than 2 % of the points.
``eps="auto"`` (DBSCAN)
    The knee of the k-distance curve (Ester et al. 1996; Schubert et al. 2017): each point's
    distance to its ``min_samples``-th nearest neighbour (itself included, as DBSCAN counts
    it), sorted; the knee is found by Kneedle (Satopää et al. 2011, the ``kneed`` library).
    Points below it are dense enough to be core points; the steep tail above it is noise.
    Above ``knee_sample_size`` points the curve is drawn from a seeded sample of query points
    (:func:`segbench.data.sampling.sample_rows`) whose neighbours are searched among all
    points, so each distance is exact. Where Kneedle finds no knee (a curve without a bend)
    the 95th percentile of the k-distances is used, and the log says so.

On the FCPS battery (9 datasets, features standardised as segbench does) HDBSCAN with these
defaults finds the reference number of clusters in 8 of 9 datasets, against 5 with the former
fixed ``min_cluster_size=50, min_samples=10`` (``benchmarks/fcps_density.py``).

Example
-------
>>> from sklearn.datasets import make_blobs
>>> X, _ = make_blobs(600, centers=3, random_state=1)
>>> model = DBSCAN().fit(X)
>>> model.eps, round(model.eps_, 3), model.min_samples_, sorted(set(model.labels_.tolist()))
('auto', 0.689, 5, [-1, 0, 1, 2])
>>> HDBSCAN().fit(X).resolved_params_
{'min_cluster_size': 12, 'min_samples': 12}
"""

from __future__ import annotations

import logging
import math
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils._param_validation import Interval, StrOptions

from segbench.data.sampling import sample_rows
from segbench.errors import DataError

log = logging.getLogger(__name__)

#: Smallest segment share ``min_cluster_size="auto"`` asks for.
MIN_SEGMENT_SHARE = 0.02
#: Floor of ``min_cluster_size`` and ``min_samples`` under ``"auto"``.
MIN_POINTS = 5
#: Cap of ``min_samples`` under ``"auto"``.
MAX_MIN_SAMPLES = 25
#: Percentile of the k-distances used for ``eps`` when the curve has no knee.
FALLBACK_PERCENTILE = 95.0
#: Query points whose neighbours within ``eps`` estimate DBSCAN's neighbourhood size.
NEIGHBOUR_PROBES = 1000


def auto_min_cluster_size(n: int) -> int:
    """``max(5, ceil(0.02 · n))``, the ``"auto"`` rule of ``min_cluster_size``.

    >>> [auto_min_cluster_size(n) for n in (212, 5000, 1_000_000)]
    [5, 100, 20000]
    """
    return max(MIN_POINTS, math.ceil(MIN_SEGMENT_SHARE * n))


def auto_min_samples(n: int) -> int:
    """``min(25, max(5, ceil(0.02 · n)))``, HDBSCAN's ``"auto"`` rule of ``min_samples``.

    >>> [auto_min_samples(n) for n in (212, 800, 5000)]
    [5, 16, 25]
    """
    return min(MAX_MIN_SAMPLES, auto_min_cluster_size(n))


def auto_dbscan_min_samples(n: int, d: int) -> int:
    """``2·d`` clipped to ``[5, min(25, max(5, ceil(0.02 · n)))]``, DBSCAN's ``"auto"`` rule.

    >>> [auto_dbscan_min_samples(n, d) for n, d in ((5000, 3), (5000, 19), (212, 3), (212, 8))]
    [6, 25, 5, 5]
    """
    return max(MIN_POINTS, min(2 * d, auto_min_samples(n)))


def k_distances(
    X: np.ndarray, k: int, sample_size: int | None = None, seed: int = 0, **neighbors: Any
) -> np.ndarray:
    """Sorted distances of (a seeded sample of) the points to their ``k``-th nearest neighbour
    among all points, the point itself counted as the first (DBSCAN's convention)."""
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float64)
    k = min(k, len(X))
    rows = sample_rows(len(X), sample_size, seed) if sample_size else None
    index = NearestNeighbors(n_neighbors=k, **neighbors).fit(X)
    queries = X if rows is None else X[rows]
    distances, _ = index.kneighbors(queries, n_neighbors=k)
    return np.sort(distances[:, -1])


def neighbour_pairs(
    X: np.ndarray, eps: float, metric: str = "euclidean", p: float | None = None, seed: int = 0
) -> float:
    """Estimated number of (point, neighbour within ``eps``) pairs DBSCAN will hold in memory:
    ``n ×`` the mean neighbour count of a seeded sample of :data:`NEIGHBOUR_PROBES` points
    (counted by a KD- or ball tree without listing the neighbours). Exact below that size.

    >>> X = np.arange(100, dtype=float).reshape(-1, 1)
    >>> neighbour_pairs(X, 1.0), neighbour_pairs(X, 1000.0)
    (298.0, 10000.0)
    """
    from sklearn.neighbors import BallTree, KDTree

    X = np.asarray(X, dtype=np.float64)
    kwargs = {"p": 2 if p is None else p} if metric == "minkowski" else {}
    tree_class = KDTree if metric in KDTree.valid_metrics else BallTree
    if metric not in tree_class.valid_metrics:
        return float("nan")  # a metric no tree serves: DBSCAN computes it by brute force
    rows = sample_rows(len(X), NEIGHBOUR_PROBES, seed)
    queries = X if rows is None else X[rows]
    tree = tree_class(X, metric=metric, **kwargs)
    counts = tree.query_radius(queries, r=eps, count_only=True)
    return float(np.mean(counts) * len(X))


def knee_eps(distances: np.ndarray) -> tuple[float, str]:
    """``(eps, how)``: the Kneedle knee of sorted k-distances, or their 95th percentile when
    the curve has no knee; ``how`` says which (for the log)."""
    from kneed import KneeLocator

    distances = np.asarray(distances, dtype=np.float64)
    if len(distances) >= 3 and distances[-1] > distances[0]:
        locator = KneeLocator(
            np.arange(len(distances)), distances, curve="convex", direction="increasing"
        )
        if locator.knee is not None and distances[int(locator.knee)] > 0:
            return float(distances[int(locator.knee)]), "knee of the k-distance curve"
    value = float(np.percentile(distances, FALLBACK_PERCENTILE))
    if value <= 0:  # every point has k duplicates: any positive radius keeps them together
        value = float(distances[distances > 0].min()) if (distances > 0).any() else 1e-12
    return value, f"no knee found: {FALLBACK_PERCENTILE:g}th percentile of the k-distances"


class _Resolving(ClusterMixin, BaseEstimator):
    """Shared parts: the fitted library estimator, its labels, the resolved values."""

    #: Read by the scorer: density-based validity (DBCV) applies to this estimator.
    density_based: ClassVar[bool] = True

    def _finish(self, estimator: Any, resolved: dict[str, Any]) -> None:
        self.estimator_ = estimator
        self.labels_ = np.asarray(estimator.labels_)
        self.resolved_params_ = resolved
        for key, value in resolved.items():
            setattr(self, f"{key}_", value)
        self.n_features_in_ = int(getattr(estimator, "n_features_in_", 0) or 0)

    def fit_predict(self, X: np.ndarray, y: Any = None, **kwargs: Any) -> np.ndarray:
        return self.fit(X).labels_


class DBSCAN(_Resolving):
    """scikit-learn's DBSCAN with ``eps`` and ``min_samples`` that may be ``"auto"``.

    Parameters are those of :class:`sklearn.cluster.DBSCAN`; ``knee_sample_size`` bounds the
    points whose k-distance draws the knee, ``knee_random_state`` seeds that sample (not
    ``random_state``: the clustering itself is deterministic). Fitted:
    ``eps_``, ``min_samples_``, ``eps_rule_`` (how ``eps`` was chosen), ``labels_``,
    ``core_sample_indices_``, ``components_`` and ``estimator_``. ``max_neighbour_pairs``
    bounds the neighbourhoods DBSCAN holds in memory (:func:`neighbour_pairs`, estimated
    before the fit; ``None`` = no bound): a large ``eps`` is refused instead of exhausting
    memory.
    """

    _parameter_constraints: ClassVar[dict] = {
        "eps": [Interval(Real, 0.0, None, closed="neither"), StrOptions({"auto"})],
        "min_samples": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "metric": [str],
        "algorithm": [StrOptions({"auto", "ball_tree", "kd_tree", "brute"})],
        "leaf_size": [Interval(Integral, 1, None, closed="left")],
        "p": [Interval(Real, 0.0, None, closed="left"), None],
        "n_jobs": [Integral, None],
        "knee_sample_size": [Interval(Integral, 10, None, closed="left")],
        "knee_random_state": ["random_state"],
        "max_neighbour_pairs": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        eps: float | str = "auto",
        min_samples: int | str = "auto",
        metric: str = "euclidean",
        algorithm: str = "auto",
        leaf_size: int = 30,
        p: float | None = None,
        n_jobs: int | None = None,
        knee_sample_size: int = 20_000,
        knee_random_state: int | None = 0,
        max_neighbour_pairs: int | None = 100_000_000,
    ) -> None:
        self.eps = eps
        self.min_samples = min_samples
        self.metric = metric
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.n_jobs = n_jobs
        self.knee_sample_size = knee_sample_size
        self.knee_random_state = knee_random_state
        self.max_neighbour_pairs = max_neighbour_pairs

    def fit(self, X: np.ndarray, y: Any = None, sample_weight: Any = None) -> DBSCAN:
        from sklearn.cluster import DBSCAN as _DBSCAN

        self._validate_params()
        X = np.asarray(X, dtype=np.float64)
        n, d = X.shape
        min_samples = self.min_samples
        if min_samples == "auto":
            min_samples = auto_dbscan_min_samples(n, d)
        rule = "given"
        if self.eps == "auto":
            seed = self.knee_random_state if isinstance(self.knee_random_state, int) else 0
            curve = k_distances(
                X,
                min_samples,
                self.knee_sample_size,
                seed,
                metric=self.metric,
                p=2 if self.p is None else self.p,
                algorithm=self.algorithm,
                leaf_size=self.leaf_size,
                n_jobs=self.n_jobs,
            )
            eps, rule = knee_eps(curve)
            log.info(
                "DBSCAN: eps=auto → %.4g (%s of %d points, k=%d), min_samples=%s → %d",
                eps, rule, len(curve), min_samples, self.min_samples, min_samples,
            )  # fmt: skip
        else:
            eps = float(self.eps)
            if self.min_samples == "auto":
                log.info("DBSCAN: min_samples=auto → %d (%d points × %d)", min_samples, n, d)
        self._check_neighbourhoods(X, eps)
        estimator = _DBSCAN(
            eps=eps,
            min_samples=min_samples,
            metric=self.metric,
            algorithm=self.algorithm,
            leaf_size=self.leaf_size,
            p=self.p,
            n_jobs=self.n_jobs,
        ).fit(X, sample_weight=sample_weight)
        self._finish(estimator, {"eps": eps, "min_samples": int(min_samples)})
        self.eps_rule_ = rule
        self.core_sample_indices_ = estimator.core_sample_indices_
        self.components_ = estimator.components_
        return self

    def _check_neighbourhoods(self, X: np.ndarray, eps: float) -> None:
        """Refuse, before the fit, an ``eps`` whose neighbourhoods would not fit in memory:
        DBSCAN lists every point's neighbours within ``eps`` at once, so a radius that spans
        the data makes its memory quadratic in customers."""
        limit = self.max_neighbour_pairs
        if limit is None:
            return
        seed = self.knee_random_state if isinstance(self.knee_random_state, int) else 0
        pairs = neighbour_pairs(X, eps, self.metric, self.p, seed)
        if pairs > limit:
            share = pairs / (len(X) * len(X))
            raise DataError(
                f"DBSCAN with eps={eps:.4g} would hold about {pairs:.3g} neighbour pairs "
                f"(each of the {len(X)} customers has {share:.0%} of them within eps; about "
                f"{pairs * 8 / 1e9:.1f} GB), above algo.max_neighbour_pairs={limit}. Choose a "
                "smaller algo.eps (or eps=auto, the knee of the k-distance curve), fit a "
                "sample with algo.subsample=<n>, or raise algo.max_neighbour_pairs if you "
                "have the memory"
            )


class HDBSCAN(_Resolving):
    """The ``hdbscan`` library's HDBSCAN with ``min_cluster_size`` and ``min_samples`` that may
    be ``"auto"``.

    Parameters are those of :class:`hdbscan.HDBSCAN` (``min_samples=None`` keeps the library's
    own default, ``min_cluster_size``). Fitted: ``min_cluster_size_``, ``min_samples_``,
    ``labels_``, ``probabilities_`` and ``estimator_`` (the fitted ``hdbscan.HDBSCAN``, used to
    assign new customers by approximate prediction).
    """

    _parameter_constraints: ClassVar[dict] = {
        "min_cluster_size": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})],
        "min_samples": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
        "cluster_selection_method": [StrOptions({"eom", "leaf"})],
        "cluster_selection_epsilon": [Interval(Real, 0.0, None, closed="left")],
        "alpha": [Interval(Real, 0.0, None, closed="neither")],
        "metric": [str],
        "allow_single_cluster": ["boolean"],
        "prediction_data": ["boolean"],
        "core_dist_n_jobs": [Integral],
    }

    def __init__(
        self,
        min_cluster_size: int | str = "auto",
        min_samples: int | str | None = "auto",
        cluster_selection_method: str = "eom",
        cluster_selection_epsilon: float = 0.0,
        alpha: float = 1.0,
        metric: str = "euclidean",
        allow_single_cluster: bool = False,
        prediction_data: bool = False,
        core_dist_n_jobs: int = 4,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method
        self.cluster_selection_epsilon = cluster_selection_epsilon
        self.alpha = alpha
        self.metric = metric
        self.allow_single_cluster = allow_single_cluster
        self.prediction_data = prediction_data
        self.core_dist_n_jobs = core_dist_n_jobs

    def fit(self, X: np.ndarray, y: Any = None) -> HDBSCAN:
        import hdbscan

        self._validate_params()
        X = np.asarray(X, dtype=np.float64)
        n = len(X)
        size = self.min_cluster_size
        size = auto_min_cluster_size(n) if size == "auto" else int(size)
        samples = self.min_samples
        samples = min(auto_min_samples(n), size) if samples == "auto" else samples
        if "auto" in (self.min_cluster_size, self.min_samples):
            log.info(
                "HDBSCAN: min_cluster_size=%s → %d, min_samples=%s → %s (%d points)",
                self.min_cluster_size, size, self.min_samples, samples, n,
            )  # fmt: skip
        estimator = hdbscan.HDBSCAN(
            min_cluster_size=size,
            min_samples=samples,
            cluster_selection_method=self.cluster_selection_method,
            cluster_selection_epsilon=float(self.cluster_selection_epsilon),
            alpha=float(self.alpha),
            metric=self.metric,
            allow_single_cluster=self.allow_single_cluster,
            prediction_data=self.prediction_data,
            core_dist_n_jobs=self.core_dist_n_jobs,
        ).fit(X)
        self._finish(estimator, {"min_cluster_size": size, "min_samples": samples})
        self.probabilities_ = estimator.probabilities_
        return self


__all__ = [
    "DBSCAN",
    "HDBSCAN",
    "auto_dbscan_min_samples",
    "auto_min_cluster_size",
    "auto_min_samples",
    "k_distances",
    "knee_eps",
    "neighbour_pairs",
]
