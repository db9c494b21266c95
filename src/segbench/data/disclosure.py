"""Small-cell suppression: which figures describe too few customers to be shown.

The rule of official statistics, applied to every table a run logs: a cell (a segment's
figures, a segment × group count, the share of a segment holding a 0/1 attribute, a product
or term) that describes more than zero but fewer than ``min_cell_size`` customers is not
shown (``privacy.min_cell_size``, :class:`segbench.settings.PrivacySettings`). This is not
k-anonymity: no customer record is ever published, only aggregates.

>>> small_cells([0, 3, 10, 25], min_cell_size=10).tolist()
[False, True, False, False]
>>> sorted(small_segments([0, 0, 1, 1, 1, 2], min_cell_size=3))
[0, 2]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def small_cells(counts: Iterable[float] | np.ndarray, min_cell_size: int) -> np.ndarray:
    """``True`` where a count is above zero and below ``min_cell_size`` (never when 0)."""
    values = np.asarray(list(counts) if not isinstance(counts, np.ndarray) else counts)
    values = values.astype(float)
    return (values > 0) & (values < min_cell_size)


def small_segments(labels: Iterable[int] | np.ndarray, min_cell_size: int) -> set[int]:
    """The segments (noise ``-1`` included) with fewer than ``min_cell_size`` customers."""
    segments, sizes = np.unique(np.asarray(labels), return_counts=True)
    return {int(s) for s in segments[small_cells(sizes, min_cell_size)]}


__all__ = ["small_cells", "small_segments"]
