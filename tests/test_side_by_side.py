"""Small fits run side by side (segbench.parallel.side_by_side): the choice of k and
stability give exactly what they give one fit after another."""

from __future__ import annotations

import os
import time

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
    run = os.getpid()

    def fit(k):  # long enough for both processes to take items
        time.sleep(0.1)
        return os.getpid(), KMeans(k, n_init=1, random_state=0).fit(X).inertia_

    side = fit_side_by_side(fit, [2, 4, 5, 6], workers=2)
    assert len({pid for pid, _ in side}) == 2 and run in {pid for pid, _ in side}

    def fails_in(where):
        def fit(k):
            time.sleep(0.1)
            if (os.getpid() == run) == (where == "run"):
                raise ValueError(f"k={k} cannot be fitted in the {where}")
            return k

        return fit

    for where in ("run", "forked process"):
        with pytest.raises(ValueError, match=where):
            fit_side_by_side(fails_in(where), [2, 3, 4, 5], workers=2)


def test_each_process_takes_the_next_item_when_it_is_free():
    def nap(seconds):
        time.sleep(seconds)
        return os.getpid()

    # the long item's process takes nothing else: the other takes the short ones meanwhile
    # (shares fixed in advance would give it one of them, and make it wait)
    pids = fit_side_by_side(nap, [1.0, 0.1, 0.1, 0.1], workers=2)
    assert pids[0] not in pids[1:] and len(set(pids[1:])) == 1


def test_the_forked_fits_keep_the_callers_numpy_error_handling():
    run = os.getpid()

    def overflow(_):  # overflows only in the forked process
        time.sleep(0.1)
        return np.exp(np.array([1000.0 if os.getpid() != run else 1.0]))

    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        fit_side_by_side(overflow, [0, 1, 2, 3], workers=2)


@pytest.mark.parametrize("algo", ["kmeans", "gmm"])
def test_the_choice_of_k_started_beside_the_fit_is_the_one_computed_after_it(algo, one_core):
    # one_core: two cores until called (so the curve is forked on any machine)
    from segbench.analyses.runner import started_early
    from segbench.api import settings
    from segbench.datasets import load_dataset
    from segbench.experiment import build_features
    from segbench.serving.subsample import fit_segmentation

    run = settings([f"algo={algo}", "dataset.n_customers=800"])
    data = load_dataset(run.dataset)
    _, features = build_features(run, data)
    with started_early(run.analysis, run.algo, data, features, run.seed) as early:
        assert early["k_selection"]._child is not None  # under way in a forked process
        seg = fit_segmentation(run.algo, features.X, None, run.seed)
        aside = early["k_selection"].result()
    s = run.analysis.k_selection
    after = k_curve(seg.estimator, features.X, s.k_min, s.k_max, s.sample_size, run.seed, s.n_init)
    pd.testing.assert_frame_equal(aside, after, check_exact=True)
    # the subsample-then-assign mode fits a wrapper: its curve is computed after the fit
    subsampled = settings([f"algo={algo}", "dataset.n_customers=800", "algo.subsample=300"])
    with started_early(subsampled.analysis, subsampled.algo, data, features, run.seed) as none:
        assert none == {}
