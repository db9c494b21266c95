"""The canonical data model every dataset adapter produces (docs/architecture.md).

Everything downstream of loading speaks only :class:`CustomerData`, never a dataset's raw
column names. Customer ids are pseudonymised strings; the ``customers`` frame is indexed by
``customer_id`` and every other part refers to it.

Example
-------
>>> import pandas as pd
>>> customers = pd.DataFrame({"age": [31, 45]}, index=pd.Index(["a", "b"], name="customer_id"))
>>> data = CustomerData(customers=customers, meta=DatasetMeta(name="toy"))
>>> data.n_customers, data.parts()
(2, ['customers'])
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from segbench.errors import DataError

TRANSACTION_COLUMNS = (
    "customer_id",
    "invoice_id",
    "timestamp",
    "product_id",
    "description",
    "quantity",
    "unit_price",
    "channel",
)
TEXT_COLUMNS = ("customer_id", "text")
OPTIONAL_PARTS = ("transactions", "texts", "sensitive", "labels", "outcomes")


@dataclass(frozen=True)
class CleaningStep:
    """One cleaning step of an adapter: what it removed and why."""

    step: str
    rows_before: int
    rows_after: int
    reason: str = ""

    @property
    def dropped(self) -> int:
        return self.rows_before - self.rows_after


@dataclass
class DatasetMeta:
    """Provenance of a dataset: name, source, licence, content fingerprint, cleaning report."""

    name: str
    source: str = ""
    licence: str = ""
    fingerprint: str = ""
    analysis_date: pd.Timestamp | None = None
    cleaning: list[CleaningStep] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def cleaning_report(self) -> pd.DataFrame:
        """The cleaning report as a table (one row per step)."""
        rows = [
            {
                "step": s.step,
                "rows_before": s.rows_before,
                "rows_after": s.rows_after,
                "dropped": s.dropped,
                "reason": s.reason,
            }
            for s in self.cleaning
        ]
        return pd.DataFrame(
            rows, columns=["step", "rows_before", "rows_after", "dropped", "reason"]
        )


@dataclass
class CustomerData:
    """One dataset in canonical form.

    Parameters
    ----------
    customers
        One row per customer, index ``customer_id`` (str); demographic and behaviour columns.
    meta
        Name, source, licence, fingerprint, analysis date and cleaning report.
    transactions
        Optional; columns :data:`TRANSACTION_COLUMNS` (``channel`` may be missing values).
    texts
        Optional; columns ``customer_id, text`` (several rows per customer allowed).
    sensitive
        Optional; index ``customer_id``; columns used only for fairness audits.
    labels
        Optional; ground-truth segment per customer (synthetic data), index ``customer_id``.
    outcomes
        Optional; later behaviour (next-period spend, campaign response), index ``customer_id``.
    demographic_columns
        Which columns of ``customers`` are demographics (the ``demographics`` block reads
        them); the other columns are behaviour. Precomputed RFM equivalents, when a dataset has
        no transactions, are the columns ``recency`` (days), ``frequency`` (purchases) and
        ``monetary`` (spend).
    """

    customers: pd.DataFrame
    meta: DatasetMeta
    transactions: pd.DataFrame | None = None
    texts: pd.DataFrame | None = None
    sensitive: pd.DataFrame | None = None
    labels: pd.Series | None = None
    outcomes: pd.DataFrame | None = None
    demographic_columns: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    @property
    def customer_ids(self) -> pd.Index:
        return self.customers.index

    def parts(self) -> list[str]:
        """Names of the parts this dataset has (``customers`` always first)."""
        present = ["customers"]
        for part in OPTIONAL_PARTS:
            value = getattr(self, part)
            if value is not None and len(value) > 0:
                present.append(part)
        return present

    def has(self, part: str) -> bool:
        if part == "demographics":
            return bool(self.demographic_columns)
        return part in self.parts()

    def validate(self) -> CustomerData:
        """Check the invariants of the model; raise :class:`DataError` naming what is wrong."""
        where = f"dataset '{self.name}'"
        if self.customers.index.name != "customer_id":
            raise DataError(
                f"{where}: customers must be indexed by 'customer_id', "
                f"found index {self.customers.index.name!r}"
            )
        if len(self.customers) == 0:
            raise DataError(f"{where}: no customers after loading and cleaning (empty dataset)")
        if not self.customers.index.is_unique:
            repeated = self.customers.index.duplicated()
            dup = self.customers.index[repeated][:3].tolist()
            raise DataError(
                f"{where}: customer_id must be unique; duplicated e.g. {dup}",
                public=f"{where}: customer_id must be unique; {int(repeated.sum())} duplicated ids",
            )
        for name, frame in (("customers", self.customers), ("outcomes", self.outcomes)):
            if frame is None:
                continue
            numeric = frame.select_dtypes("number")
            infinite = [c for c in numeric.columns if np.isinf(numeric[c].to_numpy(float)).any()]
            if infinite:
                raise DataError(
                    f"{where}: {name} columns {infinite} hold infinite values (inf or -inf); "
                    "expected finite numbers (a missing value may be left empty)"
                )
        if self.transactions is not None:
            missing = [c for c in TRANSACTION_COLUMNS if c not in self.transactions.columns]
            if missing:
                raise DataError(
                    f"{where}: transactions lack columns {missing}; "
                    f"expected {list(TRANSACTION_COLUMNS)}, found {list(self.transactions.columns)}"
                )
            if not pd.api.types.is_datetime64_any_dtype(self.transactions["timestamp"]):
                raise DataError(
                    f"{where}: transactions.timestamp must be datetime, "
                    f"found {self.transactions['timestamp'].dtype}"
                )
        if self.texts is not None:
            missing = [c for c in TEXT_COLUMNS if c not in self.texts.columns]
            if missing:
                raise DataError(
                    f"{where}: texts lack columns {missing}; found {list(self.texts.columns)}"
                )
        absent = [c for c in self.demographic_columns if c not in self.customers.columns]
        if absent:
            raise DataError(f"{where}: demographic_columns {absent} are not columns of customers")
        for part in ("sensitive", "outcomes", "labels"):
            value = getattr(self, part)
            if value is None or value.index.equals(self.customers.index):
                continue  # the usual case, without a lookup per customer
            if (self.customers.index.get_indexer(value.index) < 0).any():
                raise DataError(f"{where}: {part} refers to customer ids not in customers")
        return self

    def subset(self, customer_ids: pd.Index | np.ndarray | list[str]) -> CustomerData:
        """The same dataset restricted to ``customer_ids`` (in that order)."""
        ids = pd.Index(customer_ids, name="customer_id")

        def rows(frame: pd.DataFrame | pd.Series | None) -> pd.DataFrame | pd.Series | None:
            return None if frame is None else frame.reindex(ids)

        def members(frame: pd.DataFrame | None) -> pd.DataFrame | None:
            if frame is None:
                return None
            return frame[frame["customer_id"].isin(ids)].reset_index(drop=True)

        return replace(
            self,
            customers=self.customers.loc[ids],
            transactions=members(self.transactions),
            texts=members(self.texts),
            sensitive=rows(self.sensitive),
            labels=rows(self.labels),
            outcomes=rows(self.outcomes),
        )

    def window(
        self, start: pd.Timestamp | str | None = None, end: pd.Timestamp | str | None = None
    ) -> CustomerData:
        """The dataset as seen through the time window ``[start, end)`` of its transactions.

        Keeps the transactions with ``start <= timestamp < end`` (an open side when ``None``)
        and the customers with at least one of them (in the original order); every other
        part follows those customers. ``meta.analysis_date`` becomes ``end`` (so recency is
        measured from the window's end; unchanged when ``end`` is ``None``) and the
        fingerprint is recomputed. Texts carry no time, so they are kept whole for the
        customers kept. Raises :class:`DataError` without transactions.

        Example: ``data.window(end="2011-11-09")`` is everything before the cutoff.
        """
        if self.transactions is None:
            raise DataError(
                f"dataset '{self.name}' has no transactions, so it cannot be restricted to a "
                f"time window (it has: {', '.join(self.parts())})"
            )
        tx = self.transactions
        keep = np.ones(len(tx), dtype=bool)
        if start is not None:
            keep &= (tx["timestamp"] >= pd.Timestamp(start)).to_numpy()
        if end is not None:
            keep &= (tx["timestamp"] < pd.Timestamp(end)).to_numpy()
        present = pd.Index(tx.loc[keep, "customer_id"].astype(str).unique())
        ids = self.customer_ids[self.customer_ids.isin(present)]
        out = self.subset(ids)
        out.transactions = tx[keep & tx["customer_id"].astype(str).isin(ids).to_numpy()]
        out.transactions = out.transactions.reset_index(drop=True)
        out.meta = replace(
            self.meta,
            analysis_date=pd.Timestamp(end) if end is not None else self.meta.analysis_date,
            fingerprint=fingerprint_frames(out.customers, out.transactions),
            notes={**self.meta.notes, "window": [str(start), str(end)]},
        )
        return out

    def content_fingerprint(self) -> str:
        """The content hash of every part (what ``meta.fingerprint`` holds once loaded)."""
        parts = (self.transactions, self.texts, self.sensitive, self.labels, self.outcomes)
        return fingerprint_frames(self.customers, *parts)

    def before(self, cutoff: pd.Timestamp | str) -> CustomerData:
        """Everything before ``cutoff`` (see :meth:`window`); recency measured at ``cutoff``."""
        return self.window(None, cutoff)


def fingerprint_frames(*frames: pd.DataFrame | pd.Series | None) -> str:
    """A short, stable content hash of some frames (order, values, index and column names)."""
    digest = hashlib.sha256()
    for frame in frames:
        if frame is None:
            digest.update(b"<none>")
            continue
        obj = frame.to_frame() if isinstance(frame, pd.Series) else frame
        digest.update(repr(list(obj.columns)).encode())
        hashed = pd.util.hash_pandas_object(obj, index=True).to_numpy()
        digest.update(hashed.tobytes())
    return digest.hexdigest()[:16]
