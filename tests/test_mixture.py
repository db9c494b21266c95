"""ParallelGaussianMixture (segbench.algorithms.mixture): scikit-learn's GaussianMixture with
its restarts in threads and its E-step in blocks gives scikit-learn's results bit for bit, and
keeps the estimator contract. No timing here: the figures are in ``benchmarks/bench_scale.py``.

The module's thresholds are lowered in these tests (``engaged``), so that blocks and threads
are used on data small enough for a test."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.utils.estimator_checks import check_estimator
from threadpoolctl import threadpool_limits

from segbench.algorithms import build_estimator
from segbench.algorithms import mixture as mixture_module
from segbench.algorithms.mixture import ParallelGaussianMixture
from segbench.evaluation.metrics import information_criteria

FITTED = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_cholesky_",
    "precisions_",
    "lower_bound_",
    "n_iter_",
    "converged_",
    "lower_bounds_",
    "n_features_in_",
)


@pytest.fixture
def engaged(monkeypatch):
    """Blocks of 64 rows and threads from 200 rows (instead of 16,384 and 100,000)."""
    monkeypatch.setattr(mixture_module, "BLOCK_ROWS", 64)
    monkeypatch.setattr(mixture_module, "PARALLEL_MIN_ROWS", 200)


def assert_identical(ours, theirs, X, ours_labels, their_labels):
    for name in FITTED:
        a, b = getattr(ours, name), getattr(theirs, name)
        assert type(a) is type(b), name
        assert np.array_equal(np.asarray(a), np.asarray(b)), name  # exact, not close
    assert np.array_equal(ours_labels, their_labels)
    assert np.array_equal(ours.predict(X), theirs.predict(X))
    assert np.array_equal(ours.predict_proba(X), theirs.predict_proba(X))
    assert np.array_equal(ours.score_samples(X), theirs.score_samples(X))
    assert ours.score(X) == theirs.score(X)
    assert (ours.bic(X), ours.aic(X)) == (theirs.bic(X), theirs.aic(X))


def fit_both(X, **params):
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        n_jobs = params.pop("n_jobs", 2)
        ours = ParallelGaussianMixture(**params, n_jobs=n_jobs)
        assert ours.threads_for(len(X)) == (1 if n_jobs == 1 else min(n_jobs, ours.n_init))
        ours_labels = ours.fit_predict(X)
    with warnings.catch_warnings(record=True) as their_warned:
        warnings.simplefilter("always")
        theirs = GaussianMixture(**params)
        their_labels = theirs.fit_predict(X)
    assert [(w.category, str(w.message)) for w in ours_warned] == [
        (w.category, str(w.message)) for w in their_warned
    ]
    assert_identical(ours, theirs, X, ours_labels, their_labels)
    return ours, theirs, ours_warned


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(
        1500, centers=4, n_features=3, cluster_std=[1.0, 2.5, 0.5, 1.5], random_state=3
    )
    return X


@pytest.mark.parametrize(
    "params",
    [
        {"n_components": 4, "n_init": 5, "random_state": 0},
        {"n_components": 6, "n_init": 4, "random_state": 7, "reg_covar": 0.01, "max_iter": 200},
        {"n_components": 3, "n_init": 3, "random_state": 1, "covariance_type": "diag"},
        {"n_components": 3, "n_init": 3, "random_state": 2, "covariance_type": "tied"},
        {"n_components": 5, "n_init": 3, "random_state": 3, "covariance_type": "spherical"},
        {"n_components": 4, "n_init": 4, "random_state": 4, "init_params": "random"},
        {"n_components": 4, "n_init": 4, "random_state": 5, "init_params": "k-means++"},
        {"n_components": 4, "n_init": 3, "random_state": 6, "init_params": "random_from_data"},
        {"n_components": 4, "n_init": 3, "random_state": 8, "n_jobs": 3},  # 3 threads
        {"n_components": 4, "n_init": 3, "random_state": 8, "n_jobs": 1},  # blocks alone
    ],
)
def test_identical_to_scikit_learn_on_a_small_dataset(engaged, blobs, params):
    fit_both(blobs, **params)


def test_identical_when_the_best_restart_did_not_converge(engaged, blobs):
    ours, _, warned = fit_both(blobs, n_components=6, n_init=3, random_state=0, max_iter=2)
    assert ours.converged_ is False and ours.n_iter_ == 2
    assert [w.category for w in warned] == [ConvergenceWarning]


def test_identical_in_float32(engaged, blobs):
    ours, _, _ = fit_both(blobs.astype(np.float32), n_components=4, n_init=3, random_state=0)
    assert ours.means_.dtype == np.float32


def test_identical_on_a_fortran_ordered_array(engaged, blobs):
    fit_both(np.asfortranarray(blobs), n_components=4, n_init=3, random_state=0)


def test_identical_with_given_initial_means(engaged, blobs):
    means = blobs[[0, 500, 1000, 1400]]
    fit_both(blobs, n_components=4, n_init=3, random_state=0, means_init=means)


def test_a_failed_restart_raises_scikit_learns_error(engaged):
    X = np.repeat(np.arange(3.0)[:, None], 200, axis=0) @ np.ones((1, 2))  # 3 points, 600 rows
    with pytest.raises(ValueError) as theirs:
        GaussianMixture(4, n_init=3, reg_covar=0, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(ValueError) as ours:
            ParallelGaussianMixture(4, n_init=3, reg_covar=0, random_state=0, n_jobs=2).fit(X)
    assert str(ours.value) == str(theirs.value)
    assert "ill-defined empirical covariance" in str(ours.value)


def test_restarts_leave_off_once_the_fit_stops(blobs):
    import threading

    run = ParallelGaussianMixture(4, random_state=0)
    run._check_parameters(blobs)
    run._initialize_parameters(blobs, np.random.RandomState(0))
    stop = threading.Event()
    assert mixture_module._em(run, blobs, stop)[2] >= 1  # iterations run while not stopped
    stop.set()
    with pytest.raises(mixture_module._Stopped):
        mixture_module._em(run, blobs, stop)


def test_identical_on_synthetic_customers_with_the_runs_hyperparameters(engaged, monkeypatch):
    """The realistic case: segbench's RFM features of 20,000 synthetic customers and
    ``conf/algo/gmm.yaml`` as it is (6 components, full covariances, reg_covar 0.01, 5
    restarts), blocks of 4,096 rows and threads from 10,000 rows."""
    from segbench.api import settings
    from segbench.datasets import load_dataset
    from segbench.experiment import build_features

    monkeypatch.setattr(mixture_module, "BLOCK_ROWS", 4096)
    monkeypatch.setattr(mixture_module, "PARALLEL_MIN_ROWS", 10_000)
    config = settings(["algo=gmm", "features=rfm", "dataset.n_customers=20000", "seed=11"])
    X = np.asarray(build_features(config, load_dataset(config.dataset))[1].X)
    ours = build_estimator(config.algo, len(X))
    assert type(ours) is ParallelGaussianMixture
    params = ours.get_params()
    assert params["n_init"] == 5 and params["n_jobs"] is None
    params.pop("n_jobs")
    with threadpool_limits(1, user_api="blas"):  # what a run sets (blas_threads=1)
        assert ours.threads_for(len(X)) == min(5, mixture_module.cores())
        ours_labels = ours.fit_predict(X)
        theirs = GaussianMixture(**params)
        assert_identical(ours, theirs, X, ours_labels, theirs.fit_predict(X))
    assert len(set(ours_labels.tolist())) == 6


def test_threads_follow_the_rule():
    model = ParallelGaussianMixture(3, n_init=5)
    cores = mixture_module.cores()
    with threadpool_limits(1, user_api="blas"):
        assert model.threads_for(1_000_000) == min(5, cores)
        assert model.threads_for(99_999) == 1  # below PARALLEL_MIN_ROWS: scikit-learn's loop
        assert model.set_params(n_jobs=3).threads_for(1_000_000) == 3
        assert model.set_params(n_jobs=-1).threads_for(1_000_000) == min(5, cores)
        assert model.set_params(n_jobs=1).threads_for(1_000_000) == 1
        assert model.set_params(n_jobs=None, n_init=1).threads_for(1_000_000) == 1
        assert model.set_params(n_init=5, verbose=1).threads_for(1_000_000) == 1
        assert model.set_params(verbose=0, max_iter=0).threads_for(1_000_000) == 1
    blas = mixture_module.blas_threads()
    if blas > 1:  # the library default of this machine: fewer threads for the restarts
        model.set_params(max_iter=100)
        assert model.threads_for(1_000_000) == max(1, min(5, cores // blas))


def test_a_warm_start_refit_is_scikit_learns_loop(engaged, blobs):
    ours = ParallelGaussianMixture(4, n_init=3, random_state=0, warm_start=True, n_jobs=2)
    theirs = GaussianMixture(4, n_init=3, random_state=0, warm_start=True)
    for _ in range(2):
        assert_identical(ours, theirs, blobs, ours.fit_predict(blobs), theirs.fit_predict(blobs))
    assert ours.threads_for(len(blobs)) == 1


def test_estimator_contract(engaged):
    check_estimator(ParallelGaussianMixture(n_init=2, n_jobs=2))


def test_clone_and_pickle_round_trip(engaged, blobs):
    model = ParallelGaussianMixture(4, n_init=3, random_state=0, n_jobs=2)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy.get_params()["n_jobs"] == 2
    model.fit(blobs)
    restored = pickle.loads(pickle.dumps(model))
    assert np.array_equal(restored.predict_proba(blobs), model.predict_proba(blobs))
    assert restored.bic(blobs) == model.bic(blobs)


def test_information_criteria_compute_the_likelihood_once_and_equal_scikit_learns(blobs):
    gmm = GaussianMixture(4, n_init=2, random_state=0).fit(blobs)
    calls = []
    score = gmm.score
    gmm.score = lambda X: calls.append(1) or score(X)
    bic, aic = information_criteria(gmm, blobs)
    assert len(calls) == 1
    del gmm.score
    assert bic == pytest.approx(gmm.bic(blobs), rel=1e-9)
    assert aic == pytest.approx(gmm.aic(blobs), rel=1e-9)
    assert (bic, aic) == (gmm.bic(blobs), gmm.aic(blobs))  # the same expression: exact


def test_information_criteria_of_a_model_without_a_likelihood_ask_the_model():
    class Criteria:
        def bic(self, X):
            return 1.0

        def aic(self, X):
            return 2.0

    assert information_criteria(Criteria(), np.zeros((3, 1))) == (1.0, 2.0)
