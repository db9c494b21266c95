"""The ``numeric`` block: plain numeric columns of the customers, as they are.

For data that is already numbers — a benchmark matrix (the ``clustbench`` dataset), a table of
measurements — where the ``demographics`` block (demographic columns only) or the ``rfm`` block
(purchases) would mean pretending. It reads ``data.customers``:

- every numeric column by default;
- ``columns``: a list of column names (each must exist and be numeric);
- ``pattern``: a regular expression the whole column name must match (``x\\d+``, ``spend_.*``).

Columns that are sensitive attributes (in ``data.sensitive``) are left out unless
``include_sensitive=True``. Missing values are set to the column's median (learned in
:meth:`~NumericBlock.fit`) and said on the console; infinite values are an error naming the
column. Scaling is the preprocessing stage's job (``preprocess.scaler``; ``common`` is the
clustbench benchmark's: every column centred, all scaled by one factor).

Example
-------
>>> import pandas as pd
>>> from segbench.data import CustomerData, DatasetMeta
>>> ids = pd.Index(["1", "2", "3"], name="customer_id")
>>> customers = pd.DataFrame({"x1": [0.0, 1, 2], "x2": [5.0, 5, 6], "kind": list("abc")}, index=ids)
>>> data = CustomerData(customers, DatasetMeta("toy"))
>>> NumericBlock().fit_transform(data).columns.tolist()
['x1', 'x2']
>>> NumericBlock(pattern=r"x[2-9]").fit_transform(data).columns.tolist()
['x2']
"""

from __future__ import annotations

import logging
import re
from typing import ClassVar

import numpy as np
import pandas as pd

from segbench.data.model import CustomerData
from segbench.errors import ConfigError, DataError
from segbench.features.base import FeatureBlock

log = logging.getLogger(__name__)


def _numeric(frame: pd.DataFrame) -> list[str]:
    return [
        str(c)
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


class NumericBlock(FeatureBlock):
    """Numeric customer columns (see the module docstring).

    Parameters
    ----------
    weight
        Block weight in the composed matrix.
    columns
        Column names to use (null: every numeric column, or those ``pattern`` matches).
    pattern
        Regular expression a column name must match in full (null: every numeric column).
    include_sensitive
        Also use columns that are sensitive attributes (off by default).
    """

    requires = ("customers",)

    _parameter_constraints: ClassVar[dict] = {
        **FeatureBlock._parameter_constraints,
        "columns": [list, tuple, None],
        "pattern": [str, None],
        "include_sensitive": ["boolean"],
    }

    def __init__(
        self,
        weight: float = 1.0,
        columns: list[str] | None = None,
        pattern: str | None = None,
        include_sensitive: bool = False,
    ) -> None:
        super().__init__(weight)
        self.columns = columns
        self.pattern = pattern
        self.include_sensitive = include_sensitive

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.columns is not None and self.pattern is not None:
            raise ConfigError(
                f"the 'columns' and 'pattern' parameters of NumericBlock choose columns in two "
                f"ways; give one of them (found columns={list(self.columns)!r} and "
                f"pattern={self.pattern!r})"
            )
        if self.columns is not None and len(self.columns) == 0:
            raise ConfigError(
                "the 'columns' parameter of NumericBlock is an empty list; give column names, "
                "or null for every numeric column"
            )
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as err:
                raise ConfigError(
                    f"the 'pattern' parameter of NumericBlock is not a regular expression: "
                    f"{self.pattern!r} ({err})"
                ) from None

    def _sensitive(self, data: CustomerData) -> set[str]:
        if self.include_sensitive or data.sensitive is None:
            return set()
        return {str(c) for c in data.sensitive.columns}

    def _choose(self, data: CustomerData) -> tuple[list[str], str]:
        """The columns to use, and (when there are none) why."""
        frame = data.customers
        numeric = _numeric(frame)
        sensitive = self._sensitive(data)
        if self.columns is not None:
            listed = [str(c) for c in self.columns]
            absent = [c for c in listed if c not in frame.columns]
            if absent:
                return [], (
                    f"the columns {absent} named by blocks.numeric.columns (its customer "
                    f"columns are {[str(c) for c in frame.columns][:40]})"
                )
            text = [c for c in listed if c not in numeric]
            if text:
                return [], f"numeric values in the columns {text} (they hold text)"
            chosen = [c for c in listed if c not in sensitive]
        elif self.pattern is not None:
            matched = [c for c in numeric if re.fullmatch(self.pattern, c)]
            if not matched:
                return [], (
                    f"numeric columns matching blocks.numeric.pattern={self.pattern!r} (its "
                    f"numeric columns are {numeric[:40]})"
                )
            chosen = [c for c in matched if c not in sensitive]
        else:
            if not numeric:
                return [], "numeric customer columns"
            chosen = [c for c in numeric if c not in sensitive]
        if not chosen:
            return [], (
                "non-sensitive numeric columns (the chosen ones are all sensitive attributes; "
                "set blocks.numeric.include_sensitive=true to use them anyway)"
            )
        return chosen, ""

    def missing_part(self, data: CustomerData) -> str | None:
        chosen, why = self._choose(data)
        return None if chosen else why

    def fit(self, data: CustomerData) -> NumericBlock:
        chosen, why = self._choose(data)
        if not chosen:
            raise DataError(f"dataset '{data.name}': the numeric block found no {why}")
        values = data.customers[chosen].astype(float)
        self._check_finite(values, data.name)
        self.columns_ = chosen
        self.medians_ = {c: float(values[c].median()) for c in chosen}
        empty = [c for c in chosen if np.isnan(self.medians_[c])]
        if empty:
            raise DataError(
                f"dataset '{data.name}': the columns {empty} have no values; the numeric block "
                "cannot use them (choose columns with blocks.numeric.columns or .pattern)"
            )
        return self

    @staticmethod
    def _check_finite(values: pd.DataFrame, name: str) -> None:
        infinite = [c for c in values.columns if np.isinf(values[c].to_numpy()).any()]
        if infinite:
            raise DataError(
                f"dataset '{name}': the columns {infinite} hold infinite values (inf or -inf); "
                "the numeric block expects finite numbers (a missing value may be left empty)"
            )

    def transform(self, data: CustomerData) -> pd.DataFrame:
        values = data.customers[self.columns_].astype(float)
        self._check_finite(values, data.name)
        missing = values.isna().sum()
        if missing.any():
            log.warning(
                "dataset '%s': the numeric block set %d missing values to the column median (%s)",
                data.name,
                int(missing.sum()),
                ", ".join(f"{c}: {int(n)}" for c, n in missing.items() if n),
            )
        return values.fillna(self.medians_).set_axis(data.customer_ids, axis=0)

    def profile(self, data: CustomerData) -> pd.DataFrame:
        return data.customers[self.columns_].astype(float).set_axis(data.customer_ids, axis=0)
