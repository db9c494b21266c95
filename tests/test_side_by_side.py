"""Small fits run side by side (segbench.parallel.side_by_side): the choice of k and
stability give exactly what they give one fit after another."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

import segbench.parallel.side_by_side as side_by_side
from segbench.algorithms.mixture import ParallelGaussianMixture
from segbench.analyses.k_selection import k_curve
from segbench.evaluation.stability import stability
from segbench.parallel.side_by_side import fit_side_by_side

X, _ = make_blobs(1500, n_features=4, centers=5, random_state=3)
ESTIMATORS = [
    KMeans(5, n_init=3, random_state=0),
    ParallelGaussianMixture(5, n_init=2, reg_covar=0.01, random_state=0),
]


@pytest.fixture
def one_core(monkeypatch):
    """Two cores (the fits forked) until the returned function is called, then one."""
    monkeypatch.setattr(side_by_side, "cores", lambda: 2)

    def run_one_after_another():
        monkeypatch.setattr(side_by_side, "cores", lambda: 1)

    return run_one_after_another


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=["kmeans", "gmm"])
def test_the_choice_of_k_is_the_same_side_by_side(estimator, one_core):
    side = k_curve(estimator, X, 2, 8, sample_size=1000, seed=1)
    one_core()
    after = k_curve(estimator, X, 2, 8, sample_size=1000, seed=1)
    pd.testing.assert_frame_equal(side, after, check_exact=True)


@pytest.mark.parametrize("method", ["bootstrap", "seeds"])
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=["kmeans", "gmm"])
def test_stability_is_the_same_side_by_side(estimator, method, one_core):
    side = stability(estimator, X, n_resamples=4, method=method, max_samples=1000, seed=2)
    one_core()
    after = stability(estimator, X, n_resamples=4, method=method, max_samples=1000, seed=2)
    assert side.pair_scores == after.pair_scores and side.mean == after.mean


def test_fits_run_in_two_processes_and_an_error_is_raised_in_the_run():
    def fit(k):
        if k == 3:
            raise ValueError("k=3 cannot be fitted")
        return os.getpid(), KMeans(k, n_init=1, random_state=0).fit(X).inertia_

    pids = {pid for pid, _ in fit_side_by_side(fit, [2, 4, 5, 6], workers=2)}
    assert len(pids) == 2 and os.getpid() in pids
    with pytest.raises(ValueError, match="k=3"):  # fitted by the run itself (the last share)
        fit_side_by_side(fit, [2, 3, 4], workers=2)
    with pytest.raises(ValueError, match="k=3"):  # by the forked process
        fit_side_by_side(fit, [3, 2], workers=2)


def test_the_forked_fits_keep_the_callers_numpy_error_handling():
    def overflow(big):  # item 0 is the forked process's, item 1 the run's
        return np.exp(np.array([1000.0 if big else 1.0]))

    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        fit_side_by_side(overflow, [True, False], workers=2)
