"""scikit-learn's Gaussian mixture, with its restarts run side by side and its E-step in blocks.

:class:`ParallelGaussianMixture` is :class:`sklearn.mixture.GaussianMixture` with the same
parameters, the same results and two changes to how the work is carried out:

- **Restarts side by side.** ``fit`` runs ``n_init`` EM runs and keeps the most likely. The
  initialisations (k-means by default) draw from one random state, in order, so they are drawn
  one after another exactly as scikit-learn draws them; EM itself draws nothing, so the EM runs
  are independent and run in threads (numpy releases the GIL in its array loops) while the
  next initialisation is drawn. The best run is chosen with scikit-learn's rule (the first
  strictly higher lower bound wins) and the final E-step is scikit-learn's. ``n_jobs`` sets the
  threads; ``None`` takes the machine's cores left over by the BLAS threads in effect
  (``threadpoolctl``; a run sets them with ``blas_threads``), never more than ``n_init``. The
  threads are used only from :data:`PARALLEL_MIN_ROWS` rows, with ``n_init > 1``, no
  ``verbose``, ``max_iter > 0`` and no warm start; otherwise ``fit`` runs scikit-learn's loop.
- **The E-step in blocks of rows.** Every quantity of the E-step is computed row by row (a
  customer's log-density under each component, its log-sum-exp, its responsibilities), so
  computing it on blocks of :data:`BLOCK_ROWS` rows with scikit-learn's own code gives the
  same numbers while the temporaries stay in the processor's cache (8–17 % of the fit at a
  million customers). ``predict``, ``predict_proba``, ``score_samples``, ``score``, ``bic``
  and ``aic`` go through the same blocks.

The results equal scikit-learn's bit for bit: labels, ``weights_``, ``means_``,
``covariances_``, ``precisions_cholesky_``, ``lower_bound_``, ``lower_bounds_``, ``n_iter_``
and ``converged_`` (``tests/test_mixture.py`` compares them on small data, on synthetic
customers and across the parallel path). Two runs still agree only with the same OpenMP and
BLAS threads, as for scikit-learn itself (its k-means initialisation sums by thread).

What it saves, at a million customers × 3 RFM columns, 6 components, ``n_init=5``
(``conf/algo/gmm.yaml``), measured on two cores: scikit-learn's fit 34.2 s, with the E-step
in blocks on one thread 31.4 s, with the restarts in two threads 20.9 s (load 1.6; the blocks
alone saved 8–17 % across runs). When other processes hold the second core the threads gain
nothing (each gets half a core; 32.3 s against 31.0 s with one thread at load 3–5).

>>> import numpy as np
>>> from sklearn.datasets import make_blobs
>>> from sklearn.mixture import GaussianMixture
>>> X, _ = make_blobs(500, centers=3, random_state=0)
>>> ours = ParallelGaussianMixture(3, n_init=3, random_state=0, n_jobs=2)
>>> ours.threads_for(500), ours.threads_for(1_000_000)  # scikit-learn's loop below 100,000
(1, 2)
>>> theirs = GaussianMixture(3, n_init=3, random_state=0).fit(X)
>>> bool(np.array_equal(ours.fit(X).means_, theirs.means_))
True
>>> float(ours.lower_bound_) == float(theirs.lower_bound_), ours.n_iter_ == theirs.n_iter_
(True, True)
"""

from __future__ import annotations

import contextvars
import copy
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn import config_context, get_config
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from sklearn.utils.validation import _num_samples, validate_data
from threadpoolctl import threadpool_info

from segbench.parallel.side_by_side import cores

#: Rows of one block of the E-step: 16,384 rows × 6 components of float64 is 768 KiB, so the
#: E-step's temporaries stay in cache (at a million customers 4,096 and 65,536 were slower).
BLOCK_ROWS = 16_384

#: Rows from which the restarts run side by side: a restart then takes about half a second or
#: more, against microseconds to start a thread.
PARALLEL_MIN_ROWS = 100_000


def blas_threads() -> int:
    """Threads the BLAS libraries loaded in this process use now (1 when none is loaded)."""
    counts = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    return max(counts, default=1)


class _Stopped(Exception):
    """A restart left off because the fit stopped (another restart failed, an interrupt)."""


def _em(
    run: ParallelGaussianMixture, X: np.ndarray, stop: threading.Event | None = None
) -> tuple[Any, tuple, int, list, bool]:
    """One restart's EM iterations from ``run``'s initialisation, as scikit-learn's
    ``BaseMixture.fit_predict`` runs them (``max_iter > 0``, no warm start, no verbose):
    ``(lower bound, parameters, iterations, lower bounds, converged)``. Once ``stop`` is set
    it leaves off before the next iteration (:class:`_Stopped`)."""
    lower_bound = -np.inf
    current_lower_bounds = []
    converged = False
    n_iter = 0
    while n_iter < run.max_iter:
        if stop is not None and stop.is_set():
            raise _Stopped
        n_iter += 1
        prev_lower_bound = lower_bound
        log_prob_norm, log_resp = run._e_step(X)
        run._m_step(X, log_resp)
        lower_bound = run._compute_lower_bound(log_resp, log_prob_norm)
        current_lower_bounds.append(lower_bound)
        if abs(lower_bound - prev_lower_bound) < run.tol:
            converged = True
            break
    return lower_bound, run._get_parameters(), n_iter, current_lower_bounds, converged


class ParallelGaussianMixture(GaussianMixture):
    """:class:`sklearn.mixture.GaussianMixture` with its restarts in threads and its E-step
    in blocks of rows; the same results (see the module docstring).

    Parameters are scikit-learn's, plus ``n_jobs``: threads for the restarts (``None``: the
    cores left over by the BLAS threads in effect, at most ``n_init``; ``1``: one after
    another; negative: all cores but ``-n_jobs - 1``). It does not change any result.
    """

    _parameter_constraints: ClassVar[dict] = {
        **GaussianMixture._parameter_constraints,
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        n_jobs=None,
    ):
        super().__init__(
            n_components=n_components,
            covariance_type=covariance_type,
            tol=tol,
            reg_covar=reg_covar,
            max_iter=max_iter,
            n_init=n_init,
            init_params=init_params,
            weights_init=weights_init,
            means_init=means_init,
            precisions_init=precisions_init,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
            verbose_interval=verbose_interval,
        )
        self.n_jobs = n_jobs

    def threads_for(self, n_rows: int) -> int:
        """Threads ``fit`` runs the restarts in for ``n_rows`` rows (1: scikit-learn's own
        loop). See the module docstring for the rule."""
        warm = self.warm_start and hasattr(self, "converged_")
        if (
            self.n_init < 2
            or n_rows < PARALLEL_MIN_ROWS
            or self.max_iter == 0
            or self.verbose
            or warm
            or get_config()["array_api_dispatch"]
        ):
            return 1
        if self.n_jobs is None:
            wanted = cores() // max(1, blas_threads())
        elif self.n_jobs < 0:
            wanted = cores() + 1 + self.n_jobs
        else:
            wanted = self.n_jobs
        return max(1, min(int(wanted), self.n_init))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_predict(self, X, y=None):
        """Fit as :meth:`sklearn.mixture.GaussianMixture.fit_predict` does and return the
        labels of ``X``; the restarts run in :meth:`threads_for` threads."""
        threads = self.threads_for(_num_samples(X))
        if threads < 2:
            return super().fit_predict(X, y)
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        if X.shape[0] < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, "
                f"n_samples = {X.shape[0]}"
            )
        self._check_parameters(X)
        self.converged_ = False
        random_state = check_random_state(self.random_state)
        # workers see this thread's numpy error state and scikit-learn configuration
        config = get_config()

        stop = threading.Event()

        def restart(run: ParallelGaussianMixture) -> tuple:
            with config_context(**config):
                return _em(run, X, stop)

        pool = ThreadPoolExecutor(threads, thread_name_prefix="gmm-restart")
        try:
            futures = []
            for _ in range(self.n_init):
                run = copy.copy(self)  # the parameters, and fitted attributes of its own
                run._initialize_parameters(X, random_state)  # draws in scikit-learn's order
                futures.append(pool.submit(contextvars.copy_context().run, restart, run))
            results = [future.result() for future in futures]
        except BaseException:  # a restart failed, or an interrupt: the others leave off
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

        max_lower_bound = -np.inf
        for lower_bound, params, n_iter, lower_bounds, converged in results:
            if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
                max_lower_bound = lower_bound
                best_params, best_n_iter, best_lower_bounds = params, n_iter, lower_bounds
                self.converged_ = converged
        if not self.converged_:
            warnings.warn(
                (
                    "Best performing initialization did not converge. "
                    "Try different init parameters, or increase max_iter, "
                    "tol, or check for degenerate data."
                ),
                ConvergenceWarning,
                stacklevel=2,
            )
        self._set_parameters(best_params)
        self.n_iter_ = best_n_iter
        self.lower_bound_ = max_lower_bound
        self.lower_bounds_ = best_lower_bounds
        _, log_resp = self._e_step(X)
        return np.argmax(log_resp, axis=1)

    def _in_blocks(self, method: Any, X: Any) -> Any:
        """``method(X)`` (a row-wise computation returning arrays with one row per row of X)
        computed on blocks of :data:`BLOCK_ROWS` rows: the same numbers, cache-sized
        temporaries. Only a C-ordered array is cut (a block of it is C-ordered too, so numpy
        and BLAS take the same paths as on the whole); any other input is computed whole."""
        n = X.shape[0]
        if not isinstance(X, np.ndarray) or not X.flags.c_contiguous or n <= BLOCK_ROWS:
            return method(X)
        first = method(X[:BLOCK_ROWS])
        parts = first if isinstance(first, tuple) else (first,)
        outs = tuple(np.empty((n, *p.shape[1:]), dtype=p.dtype) for p in parts)
        for out, part in zip(outs, parts, strict=True):
            out[:BLOCK_ROWS] = part
        for start in range(BLOCK_ROWS, n, BLOCK_ROWS):
            block = method(X[start : start + BLOCK_ROWS])
            block = block if isinstance(block, tuple) else (block,)
            for out, part in zip(outs, block, strict=True):
                out[start : start + BLOCK_ROWS] = part
        return outs if isinstance(first, tuple) else outs[0]

    def _estimate_log_prob_resp(self, X, xp=None):
        parent = super()._estimate_log_prob_resp
        return self._in_blocks(lambda rows: parent(rows, xp=xp), X)

    def _estimate_weighted_log_prob(self, X, xp=None):
        parent = super()._estimate_weighted_log_prob
        return self._in_blocks(lambda rows: parent(rows, xp=xp), X)

    def score_samples(self, X):
        """The log-likelihood of each row of ``X``, as scikit-learn computes it, in blocks."""
        return self._in_blocks(super().score_samples, X)
