"""Independent small fits run side by side on the machine's cores, with the results of one
after another.

A run's extras refit its estimator many times on small samples: the choice of k once per k
(nine fits of 2,000 customers by default), stability once per resample (five). Each fit is
single-threaded at that size (the run caps the BLAS threads; OpenMP is capped here), so one
after another they leave the second core idle. :func:`fit_side_by_side` runs them in a pool of
threads instead (the libraries' numerical loops release the GIL) and returns their results in
order.

The results are the same as one after another, bit for bit, because each fit is a fresh clone
with its own seed: nothing is shared between fits, no fit draws from another's random state,
and each runs with one OpenMP and one BLAS thread either way. (A fit with two OpenMP threads
can differ in the last digit: scikit-learn's k-means sums its inertia by thread.) The first
error raised by a fit is raised here, once the fits already started have ended; the fits not
started are cancelled, as on an interruption.

>>> from sklearn.cluster import KMeans
>>> from sklearn.datasets import make_blobs
>>> X, _ = make_blobs(400, centers=3, random_state=0)
>>> def inertia(k):
...     return KMeans(k, n_init=2, random_state=0).fit(X).inertia_
>>> side = fit_side_by_side(inertia, [2, 3, 4], workers=2)
>>> side == fit_side_by_side(inertia, [2, 3, 4], workers=1)
True
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from sklearn import config_context, get_config
from threadpoolctl import threadpool_limits

from segbench.algorithms.mixture import cores

T = TypeVar("T")
R = TypeVar("R")


def fit_side_by_side(
    fit: Callable[[T], R], items: Iterable[T], workers: int | None = None
) -> list[R]:
    """``[fit(item) for item in items]``, the calls run in ``workers`` threads (``None``: the
    cores this process may use, :func:`segbench.algorithms.mixture.cores`), each library
    capped at one thread meanwhile (module docstring). Each call sees the caller's
    scikit-learn configuration, numpy error handling and context variables."""
    items = list(items)
    workers = min(len(items), workers or cores())
    with threadpool_limits(limits=1):
        if workers <= 1:
            return [fit(item) for item in items]
        settings, errors = get_config(), np.geterr()  # both are per thread

        def in_context(item: T) -> R:
            # OpenMP's thread count is set per calling thread: a worker sets its own
            with (
                config_context(**settings),
                np.errstate(**errors),
                threadpool_limits(limits=1, user_api="openmp"),
            ):
                return fit(item)

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segbench-fit")
        try:
            futures = [
                pool.submit(contextvars.copy_context().run, in_context, item) for item in items
            ]
            return [future.result() for future in futures]
        finally:  # an error or an interruption: the fits not started are not run
            pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["fit_side_by_side"]
