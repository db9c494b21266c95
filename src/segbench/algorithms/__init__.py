"""Clustering algorithms from config: one YAML per algorithm in ``conf/algo/``.

An algorithm config holds ``name``, ``_target_`` (any estimator class with ``fit`` and
``labels_`` or ``fit_predict``), its hyperparameters, an optional ``search_space`` (used by
tuning) and an optional ``max_customers`` guard for O(n²) methods
(:class:`~segbench.settings.AlgoSettings`). Adding an algorithm is adding one YAML file.

The estimator's own parameter validation (scikit-learn's ``_parameter_constraints``) runs
when it is built, so a bad hyperparameter fails before any work with the estimator's message:

>>> build_estimator({"_target_": "sklearn.cluster.KMeans", "name": "kmeans", "n_clusters": 0})
Traceback (most recent call last):
...
segbench.errors.ConfigError: algorithm 'kmeans' (sklearn.cluster.KMeans) rejects its \
parameters: The 'n_clusters' parameter of KMeans must be an int in the range [1, inf). Got 0 \
instead. Set it with algo.<parameter>=<value>.

Estimators from other libraries that declare no constraints get segbench's, in
:data:`PARAMETER_CONSTRAINTS` and in scikit-learn's notation (the ``hdbscan`` library's
``HDBSCAN`` would otherwise refuse ``min_cluster_size=1`` only when it is fitted):

>>> build_estimator({"_target_": "hdbscan.HDBSCAN", "min_cluster_size": 1})
Traceback (most recent call last):
...
segbench.errors.ConfigError: algorithm 'HDBSCAN' (hdbscan.HDBSCAN) rejects its parameters: \
The 'min_cluster_size' parameter of HDBSCAN must be an int in the range [2, inf). Got 1 \
instead. Set it with algo.<parameter>=<value>.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import numpy as np
from hydra.utils import instantiate
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints

from segbench.errors import ConfigError, DataError
from segbench.settings import AlgoSettings
from segbench.settings.base import coerce

#: The sample the size guard's message suggests for the subsample-then-assign mode
#: (``algo.subsample``, :mod:`segbench.serving.subsample`): at a million customers the
#: quadratic methods then fit, assign and measure their agreement in about a minute or two on
#: two cores (Ward's agreement refit included), within 4 GB.
SUGGESTED_SUBSAMPLE = 10_000

#: Constructor parameters that set the number of segments.
K_PARAMS = ("n_clusters", "n_components")

#: Parameter constraints (scikit-learn's notation) of estimators whose library declares none,
#: by ``<top-level package>.<class name>``. Only parameters whose valid values the library
#: documents are listed; the others are left to the library.
PARAMETER_CONSTRAINTS: dict[str, dict[str, list[Any]]] = {
    # hdbscan 0.8 (McInnes, Healy & Astels): the checks its fit makes, made when built
    "hdbscan.HDBSCAN": {
        "min_cluster_size": [Interval(Integral, 2, None, closed="left")],
        "min_samples": [Interval(Integral, 1, None, closed="left"), None],
        "cluster_selection_epsilon": [Interval(Real, 0, None, closed="left")],
        "cluster_selection_persistence": [Interval(Real, 0, None, closed="left")],
        "max_cluster_size": [Interval(Integral, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "leaf_size": [Interval(Integral, 1, None, closed="left")],
        "algorithm": [
            StrOptions(
                {
                    "best",
                    "generic",
                    "prims_kdtree",
                    "prims_balltree",
                    "boruvka_kdtree",
                    "boruvka_balltree",
                }
            )
        ],
        "cluster_selection_method": [StrOptions({"eom", "leaf"})],
        "allow_single_cluster": ["boolean"],
        "prediction_data": ["boolean"],
        "gen_min_span_tree": ["boolean"],
        "approx_min_span_tree": ["boolean"],
        "match_reference_implementation": ["boolean"],
        "core_dist_n_jobs": [Integral],
    },
}


def parameter_constraints(estimator: Any) -> dict[str, list[Any]] | None:
    """The constraints of ``estimator``'s parameters: its own (scikit-learn's
    ``_parameter_constraints``), else segbench's (:data:`PARAMETER_CONSTRAINTS`), else None."""
    own = getattr(estimator, "_parameter_constraints", None)
    if own is not None:
        return None  # validated by the estimator itself
    kind = type(estimator)
    return PARAMETER_CONSTRAINTS.get(f"{kind.__module__.split('.')[0]}.{kind.__name__}")


def _validate_params(estimator: Any) -> None:
    if hasattr(estimator, "_parameter_constraints"):
        estimator._validate_params()
        return
    constraints = parameter_constraints(estimator)
    if constraints:
        params = {k: v for k, v in estimator.get_params(deep=False).items() if k in constraints}
        validate_parameter_constraints(constraints, params, caller_name=type(estimator).__name__)


def _settings(algo: AlgoSettings | Mapping[str, Any]) -> AlgoSettings:
    return coerce(AlgoSettings, algo, "algo")


def build_estimator(algo: AlgoSettings | Mapping[str, Any], n_customers: int | None = None) -> Any:
    """Instantiate the configured estimator and validate its parameters.

    With ``n_customers``, also refuse (with what to do instead) a dataset larger than the
    ``max_customers`` guard or smaller than the requested number of segments.
    """
    algo = _settings(algo)
    try:
        estimator = instantiate({"_target_": algo.target, **algo.params}, _convert_="all")
    except Exception as err:  # Hydra wraps the estimator's TypeError (an unknown keyword)
        cause = err.__cause__ or err
        raise ConfigError(
            f"cannot build algorithm '{algo.name}' ({algo.target}) from its parameters "
            f"{sorted(algo.params)}: {cause}"
        ) from None
    if hasattr(estimator, "_parameter_constraints") or parameter_constraints(estimator):
        try:
            _validate_params(estimator)
        except (TypeError, ValueError) as err:  # scikit-learn's InvalidParameterError
            raise ConfigError(
                f"algorithm '{algo.name}' ({algo.target}) rejects its parameters: {err} "
                "Set it with algo.<parameter>=<value>."
            ) from None
    if n_customers is not None:
        check_size(algo, n_customers)
    return estimator


def check_size(algo: AlgoSettings | Mapping[str, Any], n_customers: int) -> None:
    """Refuse an empty dataset, one above ``max_customers``, or fewer customers than segments."""
    algo = _settings(algo)
    if n_customers == 0:
        raise DataError("no customers to segment (the dataset is empty after cleaning)")
    if n_customers < 2:
        raise DataError(
            f"the dataset has {n_customers} customer after cleaning; a segmentation needs at "
            "least 2 customers (and more than the number of segments asked for)"
        )
    limit = algo.max_customers
    if limit is not None and n_customers > limit:
        raise DataError(
            f"algorithm '{algo.name}' costs O(n²) time or memory in customers and fits at most "
            f"{limit} customers (algo.max_customers); this dataset has {n_customers}. Fit it "
            "on a seeded sample and assign the other customers with "
            f"algo.subsample={min(limit, SUGGESTED_SUBSAMPLE)} "
            "(the subsample-then-assign mode: README, 'Performance'), or use algo=kmeans, "
            "algo=minibatch_kmeans or algo=gmm, which fit every customer in linear time; raise "
            f"algo.max_customers={n_customers} only if you have the time and memory."
        )
    for key in K_PARAMS:
        k = algo.params.get(key)
        if isinstance(k, int) and k > n_customers:
            raise DataError(
                f"algo.{key}={k} is larger than the number of customers ({n_customers}); "
                f"choose algo.{key} between 2 and {n_customers}"
            )


def fit_labels(estimator: Any, X: np.ndarray, **fit_params: Any) -> np.ndarray:
    """Fit ``estimator`` on ``X`` and return integer labels (``-1`` = noise)."""
    if hasattr(estimator, "fit_predict"):
        labels = estimator.fit_predict(X, **fit_params)
    else:
        labels = estimator.fit(X, **fit_params).labels_
    return np.asarray(labels, dtype=np.int64)


@dataclass
class Segmentation:
    """A fitted segmentation: the estimator, its labels (``-1`` = noise), the fit time, and
    what the way it was fitted adds to the run's metrics and notes (the subsample-then-assign
    mode's ``subsample.*``, :mod:`segbench.serving.subsample`)."""

    estimator: Any
    labels: np.ndarray
    fit_seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def fit_segmentation(
    algo: AlgoSettings | Mapping[str, Any], X: np.ndarray, sensitive: Any = None
) -> Segmentation:
    """Build the configured estimator for ``X`` (with its guards), fit it, time the fit.

    ``sensitive`` (the sensitive attributes of X's rows, e.g. a DataFrame) reaches only
    estimators that declare the class attribute ``requires_sensitive = True`` (fairness-aware
    ones such as :class:`~segbench.fairness.fair_kmeans.FairKMeans`), as
    ``fit(X, sensitive_features=sensitive)``; every other estimator sees X alone.
    """
    algo = _settings(algo)
    estimator = build_estimator(algo, len(X))
    fit_params = sensitive_fit_params(estimator, sensitive, algo.name)
    tic = time.perf_counter()
    labels = fit_labels(estimator, X, **fit_params)
    return Segmentation(estimator, labels, time.perf_counter() - tic)


def sensitive_fit_params(estimator: Any, sensitive: Any, name: str | None = None) -> dict:
    """``{"sensitive_features": sensitive}`` for estimators that declare
    ``requires_sensitive = True``, ``{}`` for every other; an error when one needs them and
    ``sensitive`` is None (the dataset has no sensitive part, or the caller passed none)."""
    if not getattr(estimator, "requires_sensitive", False):
        return {}
    if sensitive is None:
        raise ConfigError(
            f"algorithm '{name or type(estimator).__name__}' needs the customers' sensitive "
            "attributes, but none were given (the dataset has no sensitive part, or the "
            "caller did not pass sensitive=)"
        )
    return {"sensitive_features": sensitive}
