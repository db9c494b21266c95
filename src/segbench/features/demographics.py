"""The ``demographics`` block: numeric demographics as numbers, categorical ones one-hot.

Reads the columns ``data.demographic_columns`` of ``customers``. Columns that are also
sensitive attributes (present in ``data.sensitive``) are left out unless
``include_sensitive=True``. Category levels are learned in :meth:`fit`, so new customers get
the same columns (unseen levels are all-zero). Missing numeric values are imputed with the
median learned in :meth:`fit`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from segbench.data.model import CustomerData
from segbench.errors import DataError
from segbench.features.base import FeatureBlock


class DemographicsBlock(FeatureBlock):
    """Numeric and one-hot categorical demographics.

    Parameters
    ----------
    weight
        Block weight in the composed matrix.
    include_sensitive
        Also use demographic columns that are sensitive attributes (off by default).
    """

    requires = ("demographics",)

    _parameter_constraints: ClassVar[dict] = {
        **FeatureBlock._parameter_constraints,
        "include_sensitive": ["boolean"],
    }

    def __init__(self, weight: float = 1.0, include_sensitive: bool = False):
        super().__init__(weight)
        self.include_sensitive = include_sensitive

    def missing_part(self, data: CustomerData) -> str | None:
        missing = super().missing_part(data)
        if missing is None and not self._usable(data):
            return (
                f"non-sensitive demographics (its demographic columns "
                f"{list(data.demographic_columns)} are all sensitive attributes; set "
                "blocks.demographics.include_sensitive=true to use them anyway)"
            )
        return missing

    def _usable(self, data: CustomerData) -> list[str]:
        sensitive = set(data.sensitive.columns) if data.sensitive is not None else set()
        return [c for c in data.demographic_columns if self.include_sensitive or c not in sensitive]

    def _columns(self, data: CustomerData) -> list[str]:
        columns = self._usable(data)
        if not columns:
            raise DataError(
                f"dataset '{data.name}': every demographic column {list(data.demographic_columns)} "
                "is a sensitive attribute, so the demographics block has nothing to use; set "
                "blocks.demographics.include_sensitive=true to use them anyway"
            )
        return columns

    def fit(self, data: CustomerData) -> DemographicsBlock:
        frame = data.customers[self._columns(data)]
        self.numeric_ = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        self.medians_ = {c: float(frame[c].median()) for c in self.numeric_}
        self.levels_ = {
            c: sorted(frame[c].dropna().astype(str).unique().tolist())
            for c in frame.columns
            if c not in self.numeric_
        }
        return self

    def transform(self, data: CustomerData) -> pd.DataFrame:
        out = {}
        for c in self.numeric_:
            out[c] = data.customers[c].astype(float).fillna(self.medians_[c]).to_numpy()
        for c, levels in self.levels_.items():
            values = data.customers[c].astype(str).to_numpy()
            for level in levels:
                out[f"{c}={level}"] = (values == level).astype(np.float64)
        return pd.DataFrame(out, index=data.customer_ids)

    def profile(self, data: CustomerData) -> pd.DataFrame:
        return self.transform(data)
