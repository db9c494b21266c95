"""The seeded sample of rows behind every step whose cost is bounded by a sample size.

Silhouette, stability, the projection plot, the predictive analysis and the assignment
surrogate each work on at most a documented number of customers; all draw that sample here,
so "a seeded sample of at most N" means the same everywhere.

>>> sample_rows(10, 3, seed=0).tolist()
[5, 9, 6]
>>> sample_rows(10, 20, seed=0) is None
True
"""

from __future__ import annotations

import numpy as np


def sample_rows(
    n: int, size: int, seed: int | np.random.Generator, sort: bool = False
) -> np.ndarray | None:
    """Positions of ``size`` of ``n`` rows drawn without replacement, or ``None`` (all rows)
    when ``n <= size``.

    ``seed`` is a seed or a :class:`numpy.random.Generator` to draw from (a step that draws
    more afterwards passes its generator). ``sort`` returns the positions in row order instead
    of draw order.
    """
    if n <= size:
        return None
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rows = rng.choice(n, size=size, replace=False)
    return np.sort(rows) if sort else rows


__all__ = ["sample_rows"]
