"""The feature-block contract.

A block turns :class:`~segbench.data.model.CustomerData` into numeric columns, one row per
customer, following scikit-learn's estimator contract (parameters in ``__init__``, no work
there, learned state in attributes ending in ``_``; ``get_params``, ``clone`` and parameter
validation through ``_parameter_constraints`` come from :class:`sklearn.base.BaseEstimator`).
Blocks return *unscaled* numbers; scaling, block weighting and reduction are the
preprocessing stage's job (:mod:`segbench.features.compose`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from numbers import Real
from typing import ClassVar

import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from segbench.data.model import CustomerData


class FeatureBlock(BaseEstimator, ABC):
    """Base class of feature blocks.

    Parameters
    ----------
    weight
        Relative weight of the block in the composed matrix (each block is scaled to a total
        variance of ``weight**2`` before composition, so 384 text dimensions do not drown three
        RFM columns).
    """

    #: Parts of :class:`CustomerData` the block reads; see :meth:`missing_part`.
    requires: tuple[str, ...] = ()
    _parameter_constraints: ClassVar[dict] = {"weight": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def missing_part(self, data: CustomerData) -> str | None:
        """The first required part ``data`` lacks, or ``None`` when the block can be fed."""
        for part in self.requires:
            if not data.has(part):
                return part
        return None

    def fit(self, data: CustomerData) -> FeatureBlock:
        """Learn what the block needs from ``data`` (e.g. category levels); default: nothing."""
        return self

    @abstractmethod
    def transform(self, data: CustomerData) -> pd.DataFrame:
        """Numeric features, index = ``data.customer_ids`` (same order), no missing values."""

    def fit_transform(self, data: CustomerData) -> pd.DataFrame:
        return self.fit(data).transform(data)

    def profile(self, data: CustomerData) -> pd.DataFrame:
        """Human-readable source columns for segment profiles (default: none)."""
        return pd.DataFrame(index=data.customer_ids)

    def features_and_profile(
        self, data: CustomerData, fit: bool
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Features (fitting first when ``fit``) and profile columns of ``data``.

        Blocks whose features and profile share an expensive intermediate (the RFM table)
        override this to compute it once.
        """
        features = self.fit_transform(data) if fit else self.transform(data)
        return features, self.profile(data)
