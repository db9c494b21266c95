"""Clustering algorithms from config: one YAML per algorithm in ``conf/algo/``.

An algorithm config holds ``name``, ``_target_`` (any estimator class with ``fit`` and
``labels_`` or ``fit_predict``), its hyperparameters, an optional ``search_space`` (used by
tuning) and an optional ``max_customers`` guard for O(n²) methods. Adding an algorithm is
adding one YAML file.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from segbench.errors import ConfigError, DataError

#: Keys of an algorithm config that are not constructor parameters.
RESERVED = ("name", "search_space", "max_customers", "description")
#: Constructor parameters that set the number of segments.
K_PARAMS = ("n_clusters", "n_components")


def estimator_params(algo_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor parameters of an algorithm config (reserved keys and _target_ removed)."""
    return {k: v for k, v in dict(algo_cfg).items() if k not in RESERVED and k != "_target_"}


def build_estimator(algo_cfg: Mapping[str, Any], n_customers: int) -> Any:
    """Instantiate the configured estimator, after checking it can run on ``n_customers``.

    Refuses (with what to do instead) when ``n_customers`` exceeds the config's
    ``max_customers`` guard or is smaller than the requested number of segments.
    """
    cfg = dict(algo_cfg)
    name = cfg.get("name", cfg.get("_target_", "algorithm"))
    if n_customers == 0:
        raise DataError("no customers to segment (the dataset is empty after cleaning)")
    limit = cfg.get("max_customers")
    if limit is not None and n_customers > int(limit):
        raise DataError(
            f"algorithm '{name}' needs O(n²) memory and time and is limited to {limit} "
            f"customers; this dataset has {n_customers}. Use algo=minibatch_kmeans, algo=gmm "
            f"or algo=hdbscan, sample the data, or raise algo.max_customers={n_customers} "
            "if you have the memory."
        )
    for key in K_PARAMS:
        k = cfg.get(key)
        if k is not None and int(k) > n_customers:
            raise DataError(
                f"algo.{key}={k} is larger than the number of customers ({n_customers}); "
                f"choose algo.{key} <= {n_customers}"
            )
    params = {k: v for k, v in cfg.items() if k not in RESERVED}
    try:
        return instantiate(params, _convert_="all")
    except InstantiationException as err:
        raise ConfigError(f"cannot build algorithm '{name}': {err}") from err


def fit_labels(estimator: Any, X: np.ndarray, **fit_params: Any) -> np.ndarray:
    """Fit ``estimator`` on ``X`` and return integer labels (``-1`` = noise)."""
    if hasattr(estimator, "fit_predict"):
        labels = estimator.fit_predict(X, **fit_params)
    else:
        labels = estimator.fit(X, **fit_params).labels_
    return np.asarray(labels, dtype=np.int64)


@dataclass
class Segmentation:
    """A fitted segmentation: the estimator, its labels (``-1`` = noise), the fit time."""

    estimator: Any
    labels: np.ndarray
    fit_seconds: float


def fit_segmentation(
    algo_cfg: Mapping[str, Any], X: np.ndarray, sensitive: Any = None
) -> Segmentation:
    """Build the configured estimator for ``X`` (with its guards), fit it, time the fit.

    ``sensitive`` (the sensitive attributes of X's rows, e.g. a DataFrame) reaches only
    estimators that declare the class attribute ``requires_sensitive = True`` (fairness-aware
    ones such as :class:`~segbench.algorithms.fair_kmeans.FairKMeans`), as
    ``fit(X, sensitive_features=sensitive)``; every other estimator sees X alone.
    """
    estimator = build_estimator(algo_cfg, len(X))
    fit_params = sensitive_fit_params(estimator, sensitive, algo_cfg.get("name"))
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
