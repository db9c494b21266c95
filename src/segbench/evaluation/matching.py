"""Matching the segments of two segmentations (Hungarian assignment).

Segment ids are arbitrary: segment 2 of one fit may be segment 0 of another. To compare two
segmentations (two time windows, a refit and the original), each segment of the new one is
paired with at most one segment of the reference by the Hungarian algorithm
(:func:`scipy.optimize.linear_sum_assignment`; Kuhn 1955, Munkres 1957), either

- on **member overlap**: maximise the number of customers in paired segments, over the
  customers both segmentations label (the contingency table ``C[i, j]`` = customers in
  reference segment ``i`` and new segment ``j``), or
- on **centroids**: minimise the sum of Euclidean distances between paired segment centroids
  in one common space.

Noise (label ``-1``) is never matched: it maps to ``-1``. A new segment left without a
partner (more segments than the reference has) keeps a fresh id above every reference id.

Example
-------
>>> import numpy as np
>>> mapping = match_by_overlap(np.array([0, 0, 1, 1]), np.array([5, 5, 3, 3]))
>>> {int(k): int(v) for k, v in sorted(mapping.items())}
{-1: -1, 3: 1, 5: 0}
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def _segments(labels: np.ndarray) -> np.ndarray:
    values = np.unique(np.asarray(labels))
    return values[values != -1]


def _complete(mapping: dict[int, int], new_segments: np.ndarray, ref_max: int) -> dict[int, int]:
    """Give unmatched new segments fresh ids (above ``ref_max``), in order."""
    fresh = max([ref_max, *mapping.values()], default=-1) + 1
    for seg in new_segments:
        if int(seg) not in mapping:
            mapping[int(seg)] = fresh
            fresh += 1
    mapping[-1] = -1
    return mapping


def match_by_overlap(reference: np.ndarray, new: np.ndarray) -> dict[int, int]:
    """Map each segment id of ``new`` to a segment id of ``reference`` (same customers, aligned).

    Maximises the number of customers whose paired segments agree; returns
    ``{new_id: reference_id}`` (noise ``-1 → -1``; unmatched new segments get fresh ids).
    """
    reference, new = np.asarray(reference), np.asarray(new)
    if reference.shape != new.shape:
        raise ValueError(
            f"labels to match must be aligned: {reference.shape} and {new.shape} differ"
        )
    ref_segs, new_segs = _segments(reference), _segments(new)
    ref_max = int(ref_segs.max()) if len(ref_segs) else -1
    if len(ref_segs) == 0 or len(new_segs) == 0:
        return _complete({}, new_segs, ref_max)
    ri = np.searchsorted(ref_segs, reference)
    ni = np.searchsorted(new_segs, new)
    both = (reference != -1) & (new != -1)
    table = np.zeros((len(ref_segs), len(new_segs)), dtype=np.int64)
    np.add.at(table, (ri[both], ni[both]), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = {int(new_segs[c]): int(ref_segs[r]) for r, c in zip(rows, cols, strict=True)}
    return _complete(mapping, new_segs, ref_max)


def match_by_centroids(
    reference_centroids: dict[int, np.ndarray], new_centroids: dict[int, np.ndarray]
) -> dict[int, int]:
    """Map new segment ids to reference ids minimising the total centroid distance."""
    ref_ids = sorted(k for k in reference_centroids if k != -1)
    new_ids = sorted(k for k in new_centroids if k != -1)
    ref_max = max(ref_ids, default=-1)
    if not ref_ids or not new_ids:
        return _complete({}, np.array(new_ids), ref_max)
    ref = np.vstack([reference_centroids[k] for k in ref_ids])
    cur = np.vstack([new_centroids[k] for k in new_ids])
    cost = np.linalg.norm(ref[:, None, :] - cur[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    mapping = {new_ids[c]: ref_ids[r] for r, c in zip(rows, cols, strict=True)}
    return _complete(mapping, np.array(new_ids), ref_max)


def relabel(labels: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """Apply a ``{old: new}`` mapping from :func:`match_by_overlap` to ``labels``."""
    values, inverse = np.unique(np.asarray(labels), return_inverse=True)
    mapped = np.array([mapping.get(int(v), int(v)) for v in values], dtype=np.int64)
    return mapped[inverse.reshape(-1)]


def matched_accuracy(reference: np.ndarray, new: np.ndarray) -> float:
    """Share of customers in the same segment once ``new``'s ids are matched to ``reference``."""
    mapping = match_by_overlap(reference, new)
    return float(np.mean(relabel(new, mapping) == np.asarray(reference)))
