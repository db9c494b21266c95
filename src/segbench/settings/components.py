"""The plug-in parts of a run: dataset adapter, algorithm, feature blocks, preprocessing.

A dataset, an algorithm and a feature block are each a class named by ``_target_`` with free
keyword arguments (one YAML file in ``conf/dataset/``, ``conf/algo/``, ``conf/block/`` adds
one); the class validates its own parameters when :mod:`segbench.configs` builds it at
composition. The keys below are the only ones segbench itself reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from segbench.settings.base import Component, Section


def _name_from_target(data: Any) -> Any:
    """Give a component without a ``name`` the name of its class."""
    if isinstance(data, dict) and not data.get("name") and data.get("_target_"):
        return {**data, "name": str(data["_target_"]).rsplit(".", 1)[-1]}
    return data


class DatasetSettings(Component):
    """A dataset adapter (:class:`segbench.datasets.base.DatasetAdapter`) and its options.

    The keys below are segbench's (not passed to the adapter); every other key is an option of
    the adapter's constructor.
    """

    name: str = ""
    """Name of the dataset in tags, titles and the leaderboard (default: the class name)."""
    description: str = ""
    """Provenance, for the reader of the config (not passed to the adapter)."""
    max_dropped_share: float = Field(0.5, ge=0.0, le=1.0)
    """Cleaning may drop at most this share of the file's rows, and at most this share of its
    customers; above it the run stops with an error that says what was dropped and why
    (1 = never stop). A cleaning step that drops 10 % or more is said on the console in any
    case (:func:`segbench.datasets.base.check_cleaning`)."""
    noise_label: str | int | None = None
    """The ground-truth label that marks noise or unlabelled customers (``0`` in the
    clustbench suite). Those customers are left out of the external indices (``ari``,
    ``ami``, ``nmi``), as the clustbench benchmark scores them; null = every label is a
    class."""

    _named = model_validator(mode="before")(_name_from_target)


class AlgoSettings(Component):
    """An estimator with ``fit`` and ``labels_`` (or ``fit_predict``) and its
    hyperparameters; the keys below are segbench's, every other key is a constructor
    argument."""

    name: str = ""
    """Name of the algorithm in tags, titles and the leaderboard (default: the class name)."""
    description: str = ""
    max_customers: int | None = Field(None, ge=1)
    """Refuse datasets larger than this (guard of O(n²) methods), before the fit, with a
    message that names ``subsample``."""
    subsample: int | None = Field(None, ge=20)
    """Subsample-then-assign mode (:mod:`segbench.serving.subsample`): above this many
    customers, fit on a seeded sample of this many and place the others with the project's
    assignment method, logging its agreement (``subsample.*``). null = fit every customer.
    Must not exceed ``max_customers``."""
    search_space: dict[str, Any] = Field(default_factory=dict)
    """What ``tune=optuna`` varies, by constructor argument:
    ``{n_clusters: {type: int, low: 2, high: 12}}`` (:mod:`segbench.tuning.space`)."""

    _named = model_validator(mode="before")(_name_from_target)

    @model_validator(mode="after")
    def _subsample_within_guard(self) -> AlgoSettings:
        limit, size = self.max_customers, self.subsample
        if limit is not None and size is not None and size > limit:
            raise ValueError(
                f"subsample={size} is above max_customers={limit}: the sample itself would be "
                f"refused; choose algo.subsample of at most {limit}"
            )
        return self


class BlockSettings(Component):
    """A feature block (:class:`segbench.features.base.FeatureBlock`) and its parameters."""


class PreprocessSettings(Section):
    """Scaling, block weighting and reduction of the composed feature matrix
    (:class:`segbench.features.compose.FeaturePipeline`)."""

    name: str = "standard"
    """Name of the chosen option of the ``preprocess`` group."""
    scaler: Literal["standard", "robust", "common", "none"] = "standard"
    """Scaling, fitted per block: per column (``standard``, ``robust``), or ``common``: every
    column centred, then all divided by one common factor so that the variance of all
    entries is 1 (the clustbench benchmark's "original" space:
    :class:`segbench.features.scaling.CommonScaler`)."""
    block_weighting: bool = True
    """Scale each block to the total variance ``weight**2`` (so 384 text dimensions do not
    drown three RFM columns)."""
    reduce: Literal["pca"] | None = None
    """Reduce the composed matrix (``pca``) or keep it (null)."""
    n_components: int | float | None = None
    """With ``reduce=pca``: a number of components, or a share of variance in (0, 1);
    null = 0.9."""

    @model_validator(mode="after")
    def _components(self) -> PreprocessSettings:
        n = self.n_components
        if n is None:
            return self
        if (
            isinstance(n, bool)
            or (isinstance(n, float) and not 0 < n < 1)
            or (isinstance(n, int) and not isinstance(n, bool) and n < 1)
        ):
            raise ValueError(
                f"n_components={n!r}: expected a number of components >= 1 or a share of "
                "variance in (0, 1)"
            )
        return self
