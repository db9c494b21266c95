"""The ``channels`` block: each customer's share of purchases per sales channel.

Two sources, tried in this order:

1. **transactions** whose ``channel`` column has known values (not missing and not one of
   ``unknown_values``, case-insensitive): per customer and channel, the number of distinct
   invoices (``unit="invoices"``, default), of lines (``"lines"``) or the spend
   (``"spend"``, quantity × unit price, negative net spend counted as 0); lines with an
   unknown channel are ignored.
2. **customers columns** ``n_purchases_<channel>`` (e.g. marketing_campaign's web, catalog and
   store purchases). Channels in ``exclude`` are skipped: ``deals`` by default, because
   marketing_campaign's ``n_purchases_deals`` counts discounted purchases made through any
   channel, not a channel of its own.

Columns are ``share_<channel>`` (channels sorted, learned in :meth:`ChannelsBlock.fit`); each
row sums to 1. A customer without any purchase through a known channel gets the mean shares of
the customers seen in ``fit`` (neutral, rather than a row of zeros that would look like a
segment of its own); how many did is in ``n_without_purchases_``. A dataset with neither
source makes :meth:`ChannelsBlock.missing_part` say so before any work (online_retail has no
channel information; the synthetic data and marketing_campaign do).

Example
-------
>>> import pandas as pd
>>> from segbench.data.model import CustomerData, DatasetMeta
>>> customers = pd.DataFrame(
...     {"n_purchases_web": [3, 0], "n_purchases_store": [1, 4], "n_purchases_deals": [2, 0]},
...     index=pd.Index(["a", "b"], name="customer_id"))
>>> data = CustomerData(customers=customers, meta=DatasetMeta(name="toy"))
>>> ChannelsBlock().fit_transform(data).to_dict("index")
{'a': {'share_store': 0.25, 'share_web': 0.75}, 'b': {'share_store': 1.0, 'share_web': 0.0}}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import StrOptions

from segbench.data.model import CustomerData
from segbench.errors import ConfigError, DataError
from segbench.features.base import FeatureBlock

COUNT_PREFIX = "n_purchases_"
UNITS = ("invoices", "lines", "spend")
MISSING = (
    "channel information (a transactions 'channel' column with known values, or customers "
    "columns n_purchases_<channel>)"
)


class ChannelsBlock(FeatureBlock):
    """Share of purchases per channel (see the module docstring).

    Parameters
    ----------
    weight
        Block weight in the composed matrix.
    unit
        What a share counts with transactions: ``"invoices"``, ``"lines"`` or ``"spend"``.
    exclude
        Channel names skipped among ``n_purchases_<channel>`` columns.
    unknown_values
        Transaction channel values that mean "unknown" (compared lower-cased and stripped).
    """

    _parameter_constraints: ClassVar[dict] = {
        **FeatureBlock._parameter_constraints,
        "unit": [StrOptions(set(UNITS))],
        "exclude": ["array-like"],
        "unknown_values": ["array-like"],
    }

    def __init__(
        self,
        weight: float = 1.0,
        unit: str = "invoices",
        exclude: Sequence[str] = ("deals",),
        unknown_values: Sequence[str] = ("unknown", "", "nan", "none", "n/a"),
    ) -> None:
        super().__init__(weight)
        self.unit = unit
        self.exclude = tuple(exclude)
        self.unknown_values = tuple(unknown_values)

    # --- where the channels come from -------------------------------------------------------

    def _known_channel(self, transactions: pd.DataFrame) -> pd.Series:
        """Lower-cased, stripped channel per line; missing where unknown."""
        raw = transactions["channel"]
        known = raw.notna().to_numpy()
        text = raw.astype("str").str.strip()
        unknown = {v.strip().lower() for v in self.unknown_values}
        known = known & ~text.str.lower().isin(unknown).to_numpy()
        return text.where(known)

    def _count_columns(self, data: CustomerData) -> dict[str, str]:
        excluded = {e.lower() for e in self.exclude}
        return {
            c[len(COUNT_PREFIX) :]: c
            for c in data.customers.columns
            if c.startswith(COUNT_PREFIX)
            and c[len(COUNT_PREFIX) :].lower() not in excluded
            and pd.api.types.is_numeric_dtype(data.customers[c])
        }

    def source(self, data: CustomerData) -> str | None:
        """``"transactions"``, ``"customers"`` or ``None`` (no channel information)."""
        tx = data.transactions
        if (
            tx is not None
            and len(tx) > 0
            and "channel" in tx.columns
            and self._known_channel(tx).notna().any()
        ):
            return "transactions"
        if self._count_columns(data):
            return "customers"
        return None

    def missing_part(self, data: CustomerData) -> str | None:
        return None if self.source(data) is not None else MISSING

    # --- counts and shares ------------------------------------------------------------------

    def _counts(self, data: CustomerData, source: str) -> pd.DataFrame:
        """Non-negative purchase counts (or spend), index = customers, columns = channels."""
        if source == "customers":
            columns = self._count_columns(data)
            counts = data.customers[list(columns.values())].astype(float)
            counts.columns = list(columns)
            return counts.clip(lower=0).fillna(0.0)
        if self.unit not in UNITS:
            raise ConfigError(f"channels block: unit={self.unit!r} is not one of {list(UNITS)}")
        tx = data.transactions
        channel = self._known_channel(tx)
        keep = channel.notna().to_numpy()
        frame = pd.DataFrame(
            {
                "customer_id": tx["customer_id"].astype("str").to_numpy()[keep],
                "channel": channel.to_numpy()[keep],
            }
        )
        if self.unit == "invoices":
            frame["invoice_id"] = tx["invoice_id"].astype("str").to_numpy()[keep]
            frame = frame.drop_duplicates()
            frame["value"] = 1.0
        elif self.unit == "lines":
            frame["value"] = 1.0
        else:
            spend = tx["quantity"].to_numpy(dtype=float) * tx["unit_price"].to_numpy(dtype=float)
            frame["value"] = spend[keep]
        counts = frame.pivot_table(
            index="customer_id", columns="channel", values="value", aggfunc="sum", fill_value=0.0
        )
        counts.columns = [str(c) for c in counts.columns]
        return counts.clip(lower=0)

    def fit(self, data: CustomerData) -> ChannelsBlock:
        source = self.source(data)
        if source is None:
            raise DataError(f"dataset '{data.name}' cannot feed the 'channels' block: no {MISSING}")
        counts = self._counts(data, source).reindex(data.customer_ids).fillna(0.0)
        self.source_ = source
        self.channels_ = sorted(counts.columns)
        counts = counts[self.channels_]
        totals = counts.sum(axis=1)
        with_purchases = counts[totals > 0].div(totals[totals > 0], axis=0)
        if len(with_purchases):
            self.fill_ = with_purchases.mean().to_numpy()
        else:
            self.fill_ = np.full(len(self.channels_), 1.0 / len(self.channels_))
        self.n_without_purchases_ = int((totals <= 0).sum())
        return self

    def transform(self, data: CustomerData) -> pd.DataFrame:
        counts = self._counts(data, self.source_)
        counts = counts.reindex(index=data.customer_ids, columns=self.channels_).fillna(0.0)
        values = counts.to_numpy(dtype=float)
        totals = values.sum(axis=1, keepdims=True)
        shares = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
        empty = totals[:, 0] <= 0
        shares[empty] = self.fill_
        return pd.DataFrame(
            shares, index=data.customer_ids, columns=[f"share_{c}" for c in self.channels_]
        )

    def profile(self, data: CustomerData) -> pd.DataFrame:
        return self.transform(data)
