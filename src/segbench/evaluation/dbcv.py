"""Density-based clustering validation (DBCV) of a density-based segmentation.

Silhouette, Davies–Bouldin and Calinski–Harabasz reward compact, convex segments and are
computed without the noise; DBCV (Moulavi, Jaskowiak, Campello, Zimek & Sander 2014,
"Density-Based Clustering Validation", SDM) judges segments as density methods define them —
dense regions separated by sparse ones, of any shape — and counts noise against the score.
The scorer logs it for density methods only (:func:`is_density_based`: DBSCAN, HDBSCAN,
OPTICS and segbench's own :mod:`segbench.algorithms.density`).

Definition (``d`` = number of feature columns, distances Euclidean)
-------------------------------------------------------------------
For a point ``x`` of segment ``C`` (``n_C`` points), its all-points core distance is
``apts(x) = (Σ_{y ∈ C, y ≠ x} (1 / ‖x − y‖)^d / (n_C − 1))^(−1/d)``, an inverse-distance mean
over its own segment (computed in log space, so hundreds of dimensions do not overflow;
exact duplicates of ``x`` are left out of the sum, as in the reference implementation).
The mutual reachability distance is ``max(‖x − y‖, apts(x), apts(y))``. For each segment:

- density sparseness ``DSC(C)``: the largest edge of the minimum spanning tree of ``C`` under
  mutual reachability, among its internal edges (both ends of degree > 1; all edges when
  there is none, as the authors' MATLAB code does). Mutual reachability ties often (a point's
  reachability to each of its near neighbours is its own core distance), so many trees are
  minimal and the internal edges depend on which is taken; ties are broken by the raw
  distance, which makes the tree, and the score, independent of the order of the rows;
- density separation ``DSPC(C, C')``: the smallest mutual reachability distance between an
  internal vertex of ``C``'s tree and one of ``C'``'s (all vertices of a 2-point segment);
- validity ``V(C) = (min_{C'} DSPC(C, C') − DSC(C)) / max(min_{C'} DSPC(C, C'), DSC(C))``.

``DBCV = Σ_C (n_C / N) · V(C)`` with ``N`` every customer, noise included, so noise lowers
the score. It lies in ``[−1, 1]``, higher is better; it needs two segments (undefined with
one, so not logged). A segment of a single customer has no tree; it counts like noise.

Cost and sampling
-----------------
Exact DBCV needs every pairwise distance within each segment, O(n²). Above
``sample_size`` segmented customers it is computed on a seeded stratified sample: every
segment keeps the same share of its customers (at least 3, :func:`segbench.data.sampling.
sample_rows` within each), the weights ``n_C / N`` stay those of the whole data, and
``dbcv_sample_size`` records the customers used. Density estimates from a sample are coarser
than from all points, so a sampled DBCV is an estimate at the sample's resolution, not the
exact value (DBSCAN on 3,000 points in four blobs: 0.55 from 1,000 of them, 0.42 from all);
compare runs of similar size with the same sample size.

Example
-------
Two segments of three points on a line and one noise point (``d = 1``): the core distances
are 4/3 at the ends and 1 in the middle, so ``DSC = 4/3``, ``DSPC = 10`` and
``V = (10 − 4/3) / 10 = 13/15`` for both; six of the seven points are in segments:

>>> import numpy as np
>>> X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0], [100.0]])
>>> labels = np.array([0, 0, 0, 1, 1, 1, -1])
>>> round(dbcv_score(X, labels), 6), round(6 / 7 * 13 / 15, 6)
(0.742857, 0.742857)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import logsumexp
from sklearn.metrics import pairwise_distances

from segbench.data.sampling import sample_rows

#: Classes whose segmentations DBCV applies to, by name (anywhere in the estimator's MRO).
DENSITY_CLASSES = frozenset({"DBSCAN", "HDBSCAN", "OPTICS"})
#: Fewest points a segment keeps in a sample.
MIN_PER_SEGMENT = 3


def is_density_based(estimator: Any) -> bool:
    """Whether ``estimator`` is a density method (DBCV is logged for it).

    >>> from sklearn.cluster import DBSCAN, KMeans
    >>> is_density_based(DBSCAN()), is_density_based(KMeans())
    (True, False)
    """
    if estimator is None:
        return False
    if getattr(estimator, "density_based", False):
        return True
    return any(cls.__name__ in DENSITY_CLASSES for cls in type(estimator).__mro__)


def _core_distances(distances: np.ndarray, d: int) -> np.ndarray:
    """All-points core distances of one segment from its pairwise distance matrix."""
    m = len(distances)
    out = np.zeros(m)
    if m < 2:
        return out
    with np.errstate(divide="ignore"):
        logs = np.where(distances > 0, -d * np.log(distances), -np.inf)
    total = logsumexp(logs, axis=1)  # log Σ (1/dist)^d over the others (duplicates left out)
    finite = np.isfinite(total)
    out[finite] = np.exp(-(total[finite] - np.log(m - 1)) / d)
    return out


def _prim(weights: np.ndarray, ties: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum spanning tree of a complete graph with dense ``weights`` (zeros allowed), ties
    of ``weights`` broken by the smaller ``ties``: ``(edges, edge weights)``."""
    m = len(weights)
    in_tree = np.zeros(m, dtype=bool)
    in_tree[0] = True
    best, best_tie = weights[0].copy(), ties[0].copy()
    parent = np.zeros(m, dtype=np.int64)
    edges = np.empty((m - 1, 2), dtype=np.int64)
    edge_weights = np.empty(m - 1)
    for k in range(m - 1):
        free = ~in_tree
        low = best[free].min()
        candidates = np.flatnonzero(free & (best == low))
        v = int(candidates[np.argmin(best_tie[candidates])])
        edges[k], edge_weights[k] = (parent[v], v), best[v]
        in_tree[v] = True
        w, t = weights[v], ties[v]
        closer = ~in_tree & ((w < best) | ((w == best) & (t < best_tie)))
        best[closer], best_tie[closer], parent[closer] = w[closer], t[closer], v
    return edges, edge_weights


def _segment_tree(X: np.ndarray, d: int) -> tuple[np.ndarray, float, np.ndarray]:
    """``(core distances, DSC, internal vertices)`` of one segment's points ``X``."""
    distances = pairwise_distances(X)
    core = _core_distances(distances, d)
    reach = np.maximum(distances, np.maximum(core[:, None], core[None, :]))
    edges, weights = _prim(reach, distances)
    degree = np.bincount(edges.ravel(), minlength=len(X))
    internal = np.flatnonzero(degree > 1)
    if len(internal) == 0:  # a 2-point segment: its tree has no internal vertex
        internal = np.arange(len(X))
    both = np.isin(edges, internal).all(axis=1)
    sparseness = float(weights[both].max() if both.any() else weights.max())
    return core, sparseness, internal


def dbcv_score(
    X: np.ndarray,
    labels: np.ndarray,
    weights: dict[int, float] | None = None,
) -> float:
    """DBCV of ``labels`` (``-1`` = noise) on the points ``X``; NaN with fewer than two
    segments of at least two points.

    ``weights`` (segment → share of all customers) replaces the shares in ``X`` (a sample's
    segments weighted as in the whole data).
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    d = X.shape[1]
    segments = [s for s in np.unique(labels) if s != -1 and (labels == s).sum() >= 2]
    if len(segments) < 2:
        return float("nan")
    trees = {}
    for s in segments:
        points = X[labels == s]
        core, sparseness, internal = _segment_tree(points, d)
        trees[s] = (points[internal], core[internal], sparseness)
    separation = {s: np.inf for s in segments}
    for i, a in enumerate(segments):
        pa, ca, _ = trees[a]
        for b in segments[i + 1 :]:
            pb, cb, _ = trees[b]
            reach = np.maximum(pairwise_distances(pa, pb), np.maximum(ca[:, None], cb[None, :]))
            sep = float(reach.min())
            separation[a] = min(separation[a], sep)
            separation[b] = min(separation[b], sep)
    total = 0.0
    for s in segments:
        dsc, dspc = trees[s][2], separation[s]
        scale = max(dspc, dsc)
        validity = (dspc - dsc) / scale if scale > 0 else 0.0
        share = weights[s] if weights is not None else float((labels == s).mean())
        total += share * validity
    return float(total)


def sampled_dbcv(
    X: np.ndarray, labels: np.ndarray, sample_size: int, seed: int
) -> tuple[float, int]:
    """``(DBCV, customers used)``: exact up to ``sample_size`` segmented customers, above it on
    a seeded stratified sample (module docstring); the value NaN with fewer than two
    segments."""
    X = np.asarray(X)
    labels = np.asarray(labels)
    n = len(labels)
    clustered = np.flatnonzero(labels != -1)
    segments, sizes = np.unique(labels[clustered], return_counts=True)
    weights = {int(s): c / n for s, c in zip(segments, sizes, strict=True)}
    if len(clustered) <= sample_size:
        rows = clustered
    else:
        rng = np.random.default_rng(seed)
        share = sample_size / len(clustered)
        rows = []
        for s, size in zip(segments, sizes, strict=True):
            members = np.flatnonzero(labels == s)
            keep = min(size, max(MIN_PER_SEGMENT, round(share * size)))
            picked = sample_rows(size, keep, rng, sort=True)
            rows.append(members if picked is None else members[picked])
        rows = np.concatenate(rows)
    return dbcv_score(X[rows], labels[rows], weights), len(rows)


__all__ = ["dbcv_score", "is_density_based", "sampled_dbcv"]
