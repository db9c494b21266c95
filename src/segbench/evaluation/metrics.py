"""Metrics of one segmentation, with the stable names the leaderboard reads.

=====================  =========================================================
name                   meaning
=====================  =========================================================
``n_segments``         segments found, noise (label -1) excluded
``noise_fraction``     share of customers labelled noise (0 for partitioning methods)
``silhouette``         mean silhouette on non-noise points; sampled above
                       ``silhouette_sample_size`` (``silhouette_sample_size`` logged)
``silhouette_all``     mean silhouette over every customer, a noise customer counting 0
                       (Rousseeuw's value for a point with no cluster to compare):
                       ``silhouette × (1 − noise_fraction)``; equals ``silhouette`` without
                       noise. The benchmark protocol's selection criterion: unlike the
                       silhouette of the non-noise points, it cannot be raised by labelling
                       the hard customers noise
``davies_bouldin``     Davies–Bouldin index on non-noise points (lower is better)
``calinski_harabasz``  Calinski–Harabasz index on non-noise points
``ari`` ``ami`` ``nmi`` agreement with ground-truth labels, on the customers that have a
                       label (segbench's noise ``-1`` counts as a segment of its own; only
                       when the dataset has labels)
``labelled_customers`` how many customers the external indices were computed on
``bic`` ``aic``        for models that have them (GMM)
``inertia``            for models that have it (k-means)
=====================  =========================================================

Internal indices need at least two segments; with fewer they are absent (not zero) and
the reason is returned in ``notes["metrics_skipped"]``.

**Partial ground truth.** A customer whose label is missing — an empty cell, or the dataset's
noise label (``dataset.noise_label``, e.g. ``0`` in the clustbench suite) — is left out of the
external indices, as the clustbench benchmark scores them (Gagolewski 2022): the indices compare
the segmentation with the reference on the labelled customers only, and ``labelled_customers``
says how many there were (``notes["external_indices"]`` says how many were left out).

>>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
>>> truth = np.array(["a", "a", None, "b", "b", "b"], dtype=object)
>>> metrics, notes = evaluate(X, np.array([0, 0, 1, 1, 1, 1]), truth=truth)
>>> metrics["ari"], metrics["labelled_customers"], notes["external_indices"]
(1.0, 5.0, 'computed on the 5 of 6 customers with a ground-truth label (1 unlabelled or noise)')

Directions, families and ranges of these and every other metric:
:mod:`segbench.evaluation.registry`.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    normalized_mutual_info_score,
)
from sklearn.metrics.pairwise import euclidean_distances

from segbench.data.sampling import sample_rows


def _digest(array: np.ndarray) -> tuple[Any, ...]:
    """A content key of ``array`` (its shape, type and a BLAKE2 hash of its bytes)."""
    array = np.ascontiguousarray(array)
    data = array.view(np.uint8) if array.dtype != object else repr(array.tolist()).encode()
    return array.shape, array.dtype.str, hashlib.blake2b(data, digest_size=16).digest()


#: Bytes of distances held at once by :func:`silhouettes` (a block of rows against all points).
DISTANCE_BLOCK_BYTES = 64 * 2**20


def silhouettes(X: np.ndarray, labelings: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each point's silhouette under each of several labelings of the same points.

    Rousseeuw's silhouette as :func:`sklearn.metrics.silhouette_samples` computes it
    (Euclidean distances by scikit-learn's ``euclidean_distances``, a point alone in its
    segment scoring 0), with its work shared: the distances of each block of rows to every
    point (at most :data:`DISTANCE_BLOCK_BYTES`) are computed once, and every labeling's
    per-segment sums of them are one matrix product with the labelings' one-hot columns.
    scikit-learn recomputes the distances for each labeling and sums them with one
    ``bincount`` per point; the choice of k asks for nine labelings of one sample. Every
    labeling needs at least two segments (the caller checks).

    >>> X = np.array([[0.0], [0.1], [5.0], [5.2]])
    >>> [s.round(3) for s in silhouettes(X, [np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])])]
    [array([0.98 , 0.98 , 0.96 , 0.961]), array([ 0.  , -0.98,  0.49,  0.49])]
    """
    if not labelings:  # no distances to compute
        return []
    X = np.asarray(X, dtype=float)
    n = len(X)
    codes = [np.unique(np.asarray(labels), return_inverse=True)[1] for labels in labelings]
    widths = [int(c.max()) + 1 for c in codes]
    offsets = np.concatenate([[0], np.cumsum(widths)])
    onehot = np.zeros((n, int(offsets[-1])))
    for start, c in zip(offsets[:-1], codes, strict=True):
        onehot[np.arange(n), start + c] = 1.0
    sums = np.empty((n, onehot.shape[1]))
    squared = np.einsum("ij,ij->i", X, X)[np.newaxis, :]
    step = max(1, DISTANCE_BLOCK_BYTES // (8 * max(n, 1)))
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        block = euclidean_distances(X[lo:hi], X, Y_norm_squared=squared)
        block[np.arange(hi - lo), np.arange(lo, hi)] = 0.0  # as scikit-learn's chunks
        sums[lo:hi] = block @ onehot
    out = []
    every = np.arange(n)
    for start, width, c in zip(offsets[:-1], widths, codes, strict=True):
        part = sums[:, start : start + width]
        sizes = np.bincount(c, minlength=width).astype(float)
        own = part[every, c] / np.maximum(sizes[c] - 1.0, 1.0)
        others = part / sizes
        others[every, c] = np.inf
        nearest = others.min(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = (nearest - own) / np.maximum(own, nearest)
        values[sizes[c] == 1] = 0.0
        out.append(np.nan_to_num(values))
    return out


#: The last silhouette samples computed, key → result, oldest first (at most
#: :data:`KEPT_SAMPLES`). A run's scorer and its silhouette plot ask for the same one (an
#: O(sample²) computation), with the choice-of-k analysis's samples in between; the key is the
#: content of ``X`` and ``labels``, the sample size and the seed, so a different input is
#: never served it.
_SAMPLES: OrderedDict[Any, Any] = OrderedDict()
KEPT_SAMPLES = 16


def silhouette_sample(
    X: np.ndarray, labels: np.ndarray, sample_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The customers the silhouette is computed on, and each one's silhouette.

    Non-noise customers; above ``sample_size`` of them a seeded sample of that size
    (:func:`segbench.data.sampling.sample_rows`). Returns ``(row positions, silhouettes)``,
    or ``None`` when fewer than two segments are left. The logged ``silhouette`` is the mean
    of these values, and the fairness silhouette gap compares them by group. The last results
    are kept (:data:`_SAMPLES`): the same call again costs a hash of its inputs.
    """
    labels = np.asarray(labels)
    key = (_digest(np.asarray(X)), _digest(labels), int(sample_size), int(seed))
    if key in _SAMPLES:
        _SAMPLES.move_to_end(key)
        last = _SAMPLES[key]
        return None if last is None else (last[0].copy(), last[1].copy())
    rows = np.flatnonzero(labels != -1)
    picked = sample_rows(len(rows), sample_size, seed)
    if picked is not None:
        rows = rows[picked]
    result = None
    if len(np.unique(labels[rows])) >= 2:
        result = rows, silhouettes(X[rows], [labels[rows]])[0]
    _SAMPLES[key] = result
    while len(_SAMPLES) > KEPT_SAMPLES:
        _SAMPLES.popitem(last=False)
    return None if result is None else (result[0].copy(), result[1].copy())


def sampled_silhouette(
    X: np.ndarray, labels: np.ndarray, sample_size: int, seed: int
) -> tuple[float, int]:
    """Mean silhouette on at most ``sample_size`` non-noise points (seeded); returns
    ``(value, points used)``, the value NaN with fewer than two segments."""
    sample = silhouette_sample(X, labels, sample_size, seed)
    if sample is None:
        labels = np.asarray(labels)
        return float("nan"), min(int((labels != -1).sum()), sample_size)
    return float(np.mean(sample[1])), len(sample[0])


def external_indices(
    truth: np.ndarray, labels: np.ndarray, notes: dict[str, str] | None = None
) -> dict[str, float]:
    """``ari``, ``ami``, ``nmi`` and ``labelled_customers`` on the customers with a label.

    A missing value in ``truth`` (None, NaN) marks an unlabelled or noise customer, left out.
    Fewer than two labelled customers: no indices, and ``notes["external_indices"]`` says why.
    """
    truth = np.asarray(truth, dtype=object)
    labelled = ~pd.isna(truth)
    n = int(labelled.sum())
    out = {"labelled_customers": float(n)}
    if notes is not None and n < len(truth):
        notes["external_indices"] = (
            f"computed on the {n} of {len(truth)} customers with a ground-truth label "
            f"({len(truth) - n} unlabelled or noise)"
        )
    if n < 2:
        if notes is not None:
            notes["external_indices"] = (
                f"not computed: {n} of {len(truth)} customers have a ground-truth label "
                "(at least 2 are needed)"
            )
        return out
    # integer codes of the labels' text: the indices depend only on which customers share a
    # label, and sklearn sorts a million integers far faster than a million strings
    reference = pd.factorize(truth[labelled].astype(str))[0]
    found = pd.factorize(np.asarray(labels)[labelled])[0]
    out["ari"] = float(adjusted_rand_score(reference, found))
    out["ami"] = float(adjusted_mutual_info_score(reference, found))
    out["nmi"] = float(normalized_mutual_info_score(reference, found))
    return out


def information_criteria(model: Any, X: np.ndarray) -> tuple[float, float]:
    """``(model.bic(X), model.aic(X))`` with the data's log-likelihood computed once.

    scikit-learn's mixtures compute ``score(X)`` (a pass over every customer) in each of
    ``bic`` and ``aic``; with their formulas written out, one pass serves both and the values
    are the same. Models without ``score`` and ``_n_parameters`` are asked for each.

    >>> from sklearn.mixture import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> gmm = GaussianMixture(2, random_state=0).fit(X)
    >>> information_criteria(gmm, X) == (gmm.bic(X), gmm.aic(X))
    True
    """
    if not (hasattr(model, "score") and hasattr(model, "_n_parameters")):
        return float(model.bic(X)), float(model.aic(X))
    n, fitted = X.shape[0], model._n_parameters()
    deviance = -2 * model.score(X) * n  # as scikit-learn writes it, for the same rounding
    return (
        float(deviance + fitted * math.log(n)),
        float(deviance + 2 * fitted),
    )


def evaluate(
    X: np.ndarray,
    labels: np.ndarray,
    truth: np.ndarray | None = None,
    model: Any = None,
    silhouette_sample_size: int = 10_000,
    seed: int = 0,
    silhouettes: tuple[np.ndarray, np.ndarray] | None = None,
    only: Collection[str] | None = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """All metrics of a segmentation; returns ``(metrics, notes)``.

    ``silhouettes``: the result of :func:`silhouette_sample` when the caller already has it
    (it is computed here otherwise). ``only``: compute just these metrics (a tuning trial's
    objectives); ``n_segments`` and ``noise_fraction`` always.

    >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> sorted(evaluate(X, np.array([0, 0, 1, 1]), only={"davies_bouldin"})[0])
    ['davies_bouldin', 'n_segments', 'noise_fraction']
    """

    def wanted(*names: str) -> bool:
        return only is None or any(name in only for name in names)

    labels = np.asarray(labels)
    noise = labels == -1
    segments = np.unique(labels[~noise])
    metrics: dict[str, float] = {
        "n_segments": float(len(segments)),
        "noise_fraction": float(noise.mean()) if len(labels) else 0.0,
    }
    notes: dict[str, str] = {}
    if len(segments) >= 2:
        Xc, lc = X[~noise], labels[~noise]
        if wanted("silhouette", "silhouette_all", "silhouette_sample_size"):
            if silhouettes is None:
                silhouettes = silhouette_sample(X, labels, silhouette_sample_size, seed)
            if silhouettes is not None:
                metrics["silhouette"] = float(np.mean(silhouettes[1]))
                metrics["silhouette_all"] = metrics["silhouette"] * (
                    1.0 - metrics["noise_fraction"]
                )
            used = (
                len(silhouettes[0])
                if silhouettes is not None
                else min(len(lc), silhouette_sample_size)
            )
            metrics["silhouette_sample_size"] = float(used)
        if wanted("davies_bouldin"):
            metrics["davies_bouldin"] = float(davies_bouldin_score(Xc, lc))
        if wanted("calinski_harabasz"):
            metrics["calinski_harabasz"] = float(calinski_harabasz_score(Xc, lc))
    else:
        notes["metrics_skipped"] = (
            f"found {len(segments)} segment(s) (noise excluded); silhouette, davies_bouldin "
            "and calinski_harabasz need at least 2"
        )
    if truth is not None and wanted("ari", "ami", "nmi", "labelled_customers"):
        metrics.update(external_indices(truth, labels, notes))
    if model is not None:
        if hasattr(model, "bic") and hasattr(model, "aic") and wanted("bic", "aic"):
            metrics["bic"], metrics["aic"] = information_criteria(model, X)
        if hasattr(model, "inertia_") and wanted("inertia"):
            metrics["inertia"] = float(model.inertia_)
    return metrics, notes
